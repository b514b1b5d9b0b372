//! Which files a composite (a directory written as a unit) holds: the walk
//! rule of docs/lineage.md §8, shared with Python's `roar/hashing.py` and
//! pinned by `tests/vectors/tree-walk/` (checked by `tests/tree_walk.rs`).

use crate::paths::{as_path, to_bytes};
use std::fs;
use std::os::unix::ffi::OsStrExt;

/// roar's own store: never part of an artifact.
const STORE_DIR: &[u8] = b".roar";

/// A file of a composite: (path relative to the directory, absolute path).
pub type TreeFile = (Vec<u8>, Vec<u8>);

/// Regular files under `dir` (and symlinks to regular files), relative
/// paths sorted bytewise; symlinked directories are not followed, dangling
/// links, FIFOs, sockets and devices are left out, and directories named
/// `.roar` are not entered.
pub fn walk(dir: &[u8]) -> Vec<TreeFile> {
    let base = if dir.ends_with(b"/") {
        dir.len()
    } else {
        dir.len() + 1
    };
    let mut found = Vec::new();
    let mut stack = vec![dir.to_vec()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = fs::read_dir(as_path(&d)) else {
            continue;
        };
        for entry in entries.flatten() {
            let abs = to_bytes(&entry.path());
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                if entry.file_name().as_bytes() != STORE_DIR {
                    stack.push(abs);
                }
            } else if kind.is_file() || (kind.is_symlink() && is_regular_file(&abs)) {
                found.push((abs[base..].to_vec(), abs));
            }
        }
    }
    found.sort();
    found
}

pub fn is_regular_file(path: &[u8]) -> bool {
    fs::metadata(as_path(path)).is_ok_and(|m| m.is_file())
}
