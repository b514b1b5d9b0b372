//! Writing loose objects into the store (docs/object-format.md §4): one
//! zstd frame that declares its content size, written to a temporary name in
//! the final directory, fsynced and renamed, so a reader (or a `kill -9`)
//! never meets a partial object.

use crate::object::Object;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Where the loose copy of object `id` lives (it may be packed instead).
pub fn loose_path(store: &Path, id: &str) -> PathBuf {
    store.join("objects").join(&id[..2]).join(&id[2..])
}

pub fn write_object(store: &Path, object: &Object) -> io::Result<String> {
    let id = object.id();
    let path = loose_path(store, &id);
    if path.exists() {
        return Ok(id);
    }
    let dir = path.parent().unwrap_or(store);
    fs::create_dir_all(dir)?;
    // The bulk API knows the input size, so the frame header carries it.
    let frame = zstd::bulk::compress(&object.bytes(), 3)?;
    let tmp = dir.join(format!(".tmp-{}-{}", std::process::id(), &id[2..18]));
    let mut file = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
    let written = file
        .write_all(&frame)
        .and_then(|_| file.sync_all())
        .and_then(|_| fs::rename(&tmp, &path));
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written.map(|_| id)
}

/// Writes `bytes` to `path` atomically (temp file beside it, then rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let written = fs::write(&tmp, bytes).and_then(|_| fs::rename(&tmp, path));
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written
}
