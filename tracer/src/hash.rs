//! BLAKE3 of files, exactly what `b3sum` prints: many files in parallel
//! (rayon), big files memory-mapped and split across threads, and unchanged
//! files answered from the hash cache without being read.

use crate::hash_cache::{HashCache, Identity};
use rayon::prelude::*;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// Files at least this big are mapped and hashed on several threads.
const MMAP_AT: u64 = 1 << 20;
/// A hash is cached only if the file's ctime is this much older than the
/// moment we read it. Timestamps come from a coarse clock (one tick, a few
/// ms): a write in the same tick as our read could leave size, mtime and
/// ctime unchanged, so recent files are hashed again next time (git's
/// "racily clean" rule).
const SETTLED_NS: i64 = 100_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileHash {
    pub hash: [u8; 32],
    pub size: u64,
}

impl FileHash {
    pub fn hex(&self) -> String {
        blake3::Hash::from_bytes(self.hash).to_hex().to_string()
    }
}

pub struct Hasher {
    cache: Option<HashCache>,
}

fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

impl Hasher {
    pub fn new(cache: Option<HashCache>) -> Hasher {
        Hasher { cache }
    }

    /// Hashes one file; Ok(None) if the path is not a regular file (after
    /// following symlinks).
    pub fn hash_path(&self, path: &Path) -> io::Result<Option<FileHash>> {
        let meta = fs::metadata(path)?;
        if !meta.is_file() {
            return Ok(None);
        }
        let before = Identity::of(&meta);
        if let Some(hash) = self.cache.as_ref().and_then(|c| c.get(&before)) {
            return Ok(Some(FileHash {
                hash,
                size: before.size,
            }));
        }
        // O_NONBLOCK: a path swapped for a FIFO since the stat must not hang us.
        let file = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC)
            .open(path)?;
        let opened = file.metadata()?;
        if !opened.is_file() {
            return Ok(None);
        }
        let read_at = now_ns();
        let (hash, size) = hash_open_file(&file, opened.len())?;
        if let Some(cache) = &self.cache {
            let identity = Identity::of(&opened);
            let unchanged = file
                .metadata()
                .map(|m| Identity::of(&m) == identity)
                .unwrap_or(false);
            if unchanged && identity.size == size && identity.ctime_ns < read_at - SETTLED_NS {
                cache.put(identity, hash);
            }
        }
        Ok(Some(FileHash { hash, size }))
    }

    /// Hashes all `paths` in parallel, results in the same order.
    pub fn hash_many(&self, paths: &[PathBuf]) -> Vec<io::Result<Option<FileHash>>> {
        paths.par_iter().map(|p| self.hash_path(p)).collect()
    }

    pub fn flush_cache(&self) -> io::Result<()> {
        match &self.cache {
            Some(cache) => cache.flush(),
            None => Ok(()),
        }
    }
}

/// `roar-tracer hash`: prints `<hex>  <path>` per file like `b3sum`, so
/// the tracer's hashing can be checked and timed against it. Returns the
/// exit code: 1 if any file could not be hashed.
pub fn print_b3sum(paths: &[PathBuf]) -> i32 {
    let mut code = 0;
    for (path, got) in paths.iter().zip(Hasher::new(None).hash_many(paths)) {
        match got {
            Ok(Some(h)) => println!("{}  {}", h.hex(), path.display()),
            Ok(None) => {
                eprintln!("roar-tracer: {}: not a regular file", path.display());
                code = 1;
            }
            Err(e) => {
                eprintln!("roar-tracer: {}: {e}", path.display());
                code = 1;
            }
        }
    }
    code
}

fn hash_open_file(file: &File, len: u64) -> io::Result<([u8; 32], u64)> {
    let mut hasher = blake3::Hasher::new();
    if len >= MMAP_AT {
        // SAFETY: the map is read-only and dropped before returning; a
        // concurrent truncation could SIGBUS, the same risk b3sum takes.
        let map = unsafe { memmap2::Mmap::map(file)? };
        hasher.update_rayon(&map);
        return Ok((*hasher.finalize().as_bytes(), map.len() as u64));
    }
    let mut buf = Vec::with_capacity(len as usize + 1);
    let mut reader = file;
    reader.read_to_end(&mut buf)?;
    hasher.update(&buf);
    Ok((*hasher.finalize().as_bytes(), buf.len() as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_and_mapped_files_hash_like_b3sum() {
        let dir = tempfile::tempdir().unwrap();
        let small = dir.path().join("small");
        let big = dir.path().join("big");
        fs::write(&small, b"hello").unwrap();
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        fs::write(&big, &data).unwrap();
        let h = Hasher::new(None);
        let got = h.hash_many(&[small, big, dir.path().to_path_buf()]);
        assert_eq!(
            got[0].as_ref().unwrap().unwrap().hash,
            *blake3::hash(b"hello").as_bytes()
        );
        assert_eq!(
            got[1].as_ref().unwrap().unwrap().hash,
            *blake3::hash(&data).as_bytes()
        );
        assert_eq!(got[1].as_ref().unwrap().unwrap().size, 3_000_000);
        assert!(
            got[2].as_ref().unwrap().is_none(),
            "a directory is not a file"
        );
    }
}
