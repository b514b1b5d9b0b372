//! The tree-walk vector (tests/vectors/tree-walk.json, written by the
//! Python side): the tracer's composite walk finds the same files, hashes
//! them the same, and builds the same tree id as Python's roar/hashing.py.

use roar_tracer::hash::Hasher;
use roar_tracer::job::tree_object;
use roar_tracer::tree::walk;
use serde_json::Value as Json;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("fixture is readable") {
        let entry = entry.expect("entry");
        let dest = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_tree(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), &dest).expect("copy");
        }
    }
}

/// The fixture plus what git cannot hold, as the vector's "make" describes.
fn materialize(vector: &Json, into: &Path) {
    let vectors = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors");
    copy_tree(&vectors.join("tree-walk"), into);
    let make = &vector["make"];
    for pair in make["symlinks"].as_array().expect("symlinks") {
        let (name, target) = (pair[0].as_str().unwrap(), pair[1].as_str().unwrap());
        std::os::unix::fs::symlink(target, into.join(name)).expect("symlink");
    }
    for name in make["fifos"].as_array().expect("fifos") {
        let path = into.join(name.as_str().unwrap());
        let c = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0, "mkfifo");
    }
    for name in make["empty_dirs"].as_array().expect("empty_dirs") {
        std::fs::create_dir_all(into.join(name.as_str().unwrap())).expect("mkdir");
    }
    for pair in make["files"].as_array().expect("files") {
        let name = unhex(pair[0].as_str().unwrap());
        let content = unhex(pair[1].as_str().unwrap());
        std::fs::write(into.join(OsStr::from_bytes(&name)), content).expect("write");
    }
}

#[test]
fn the_walk_and_the_tree_id_match_the_vector() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors/tree-walk.json");
    let vector: Json =
        serde_json::from_str(&std::fs::read_to_string(path).expect("readable")).expect("JSON");
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("tree-walk");
    materialize(&vector, &dir);

    let files = walk(dir.as_os_str().as_bytes());
    let expected: Vec<Vec<u8>> = vector["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| unhex(e["path"]["$bytes"].as_str().unwrap()))
        .collect();
    let got: Vec<Vec<u8>> = files.iter().map(|(rel, _)| rel.clone()).collect();
    assert_eq!(got, expected);

    let hasher = Hasher::new(None);
    let entries: Vec<_> = files
        .iter()
        .map(|(rel, abs)| {
            let h = hasher
                .hash_path(Path::new(OsStr::from_bytes(abs)))
                .expect("hashable")
                .expect("a regular file");
            (rel.clone(), h)
        })
        .collect();
    for ((_, h), e) in entries.iter().zip(vector["entries"].as_array().unwrap()) {
        assert_eq!(h.hex(), e["hash"].as_str().unwrap());
        assert_eq!(h.size, e["size"].as_u64().unwrap());
    }
    let tree = tree_object(&entries).expect("a tree object");
    assert_eq!(tree.id(), vector["tree"].as_str().unwrap());
}
