//! BLAKE3 of files, exactly what `b3sum` prints: many files in parallel
//! (rayon), big files memory-mapped and split across threads, and unchanged
//! files answered from the hash cache without being read. Files hashed
//! while the command runs (`crate::early`) are remembered by identity for
//! the rest of the run, so the end of the run only confirms them.

use crate::hash_cache::{HashCache, Identity};
use rayon::prelude::*;
use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

/// Files at least this big are mapped and hashed on several threads.
const MMAP_AT: u64 = 1 << 20;
/// A hash is cached only if the file's ctime is this much older than the
/// moment we read it. Timestamps come from a coarse clock (one tick, a few
/// ms): a write in the same tick as our read could leave size, mtime and
/// ctime unchanged, so recent files are hashed again next time (git's
/// "racily clean" rule).
const SETTLED_NS: i64 = 100_000_000;
/// The same rule within one run, where a hash taken while the command runs
/// stands in for reading the file again at the end: any write after our
/// read moves ctime past the one we saw as long as the two are further
/// apart than the coarse clock's tick (10 ms at HZ=100, the slowest).
pub const SETTLED_IN_RUN_NS: i64 = 20_000_000;

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

/// What a file is to the job, which decides which hashes taken earlier in
/// the run may stand in for reading it again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The job only read it: any earlier hash of the same identity (a writer
    /// outside the job is the same risk as at the end of the run).
    Input,
    /// The job wrote it: only a hash taken when nobody had it open for
    /// writing (see `no_writer`).
    Output,
}

#[derive(Debug, Clone, Copy)]
struct Fresh {
    hash: [u8; 32],
    /// Taken when nobody had the file open for writing: good for outputs.
    no_writer: bool,
}

pub struct Hasher {
    cache: Option<HashCache>,
    /// Hashes taken during this run, by the identity they are valid for.
    fresh: Mutex<HashMap<Identity, Fresh>>,
    /// How many lookups `fresh` answered.
    fresh_hits: AtomicUsize,
}

pub fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

impl Hasher {
    pub fn new(cache: Option<HashCache>) -> Hasher {
        Hasher {
            cache,
            fresh: Mutex::new(HashMap::new()),
            fresh_hits: AtomicUsize::new(0),
        }
    }

    /// Hashes one file; Ok(None) if the path is not a regular file (after
    /// following symlinks).
    pub fn hash_path(&self, path: &Path) -> io::Result<Option<FileHash>> {
        self.hash_known(path, None, Role::Input)
    }

    /// Like `hash_path`, reusing `stat`, a stat of `path` (following
    /// symlinks) the caller already took: a cache hit then costs no system
    /// call at all, a miss costs open, read and one fstat.
    pub fn hash_known(
        &self,
        path: &Path,
        stat: Option<fs::Metadata>,
        role: Role,
    ) -> io::Result<Option<FileHash>> {
        self.hash_file(path, stat, Pass::Parallel, role)
    }

    /// Hashes one file while the command runs: on the calling thread only
    /// (no rayon), and reading rather than mapping it, since the command may
    /// truncate it meanwhile (a mapped page past the end is a SIGBUS).
    pub fn hash_while_running(&self, path: &Path) -> io::Result<Option<FileHash>> {
        self.hash_file(path, None, Pass::Reading(None), Role::Input)
    }

    /// `hash_while_running` for the background hasher, given up
    /// (ErrorKind::Interrupted) as soon as `abandon` is set: the end of the
    /// run hashes faster on every core. An output is hashed only while
    /// nobody has it open for writing (else ErrorKind::WouldBlock).
    pub fn hash_in_background(
        &self,
        path: &Path,
        stat: fs::Metadata,
        abandon: &AtomicBool,
        role: Role,
    ) -> io::Result<Option<FileHash>> {
        self.hash_file(path, Some(stat), Pass::Reading(Some(abandon)), role)
    }

    /// The one place a file's digest is computed: identity, fresh and
    /// persistent caches, one read pass, and what may be remembered.
    fn hash_file(
        &self,
        path: &Path,
        stat: Option<fs::Metadata>,
        pass: Pass,
        role: Role,
    ) -> io::Result<Option<FileHash>> {
        let meta = match stat {
            Some(meta) => meta,
            None => fs::metadata(path)?,
        };
        if !meta.is_file() {
            return Ok(None);
        }
        let before = Identity::of(&meta);
        let fresh = self
            .fresh
            .lock()
            .ok()
            .and_then(|f| f.get(&before).copied())
            .filter(|f| role == Role::Input || f.no_writer)
            .map(|f| f.hash);
        if fresh.is_some() {
            self.fresh_hits.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(hash) = fresh.or_else(|| self.cache.as_ref().and_then(|c| c.get(&before))) {
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
        let in_background = matches!(pass, Pass::Reading(Some(_)));
        let writer_free = in_background && role == Role::Output && no_writer(&file);
        if in_background && role == Role::Output && !writer_free {
            // Someone may be writing it through a mapping, which need not
            // move its ctime: what we read could not be trusted later.
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let read_at = now_ns();
        let hashed = hash_open_file(&file, before.size, pass);
        // One fstat after reading tells both whether we read a regular file
        // (the path may have been swapped for a FIFO or a directory since the
        // stat: their reads fail) and whether it is still the file we stat'ed,
        // unchanged: only then may the hash be cached.
        let after = Identity::of_file(&file)?;
        let Some(after) = after else {
            return Ok(None);
        };
        let (hash, size) = hashed?;
        if after == before && after.size == size {
            if after.ctime_ns < read_at - SETTLED_IN_RUN_NS {
                if let Ok(mut fresh) = self.fresh.lock() {
                    let entry = fresh.entry(after).or_insert(Fresh {
                        hash,
                        no_writer: false,
                    });
                    entry.no_writer |= writer_free;
                }
            }
            if let Some(cache) = &self.cache {
                if after.ctime_ns < read_at - SETTLED_NS {
                    cache.put(after, hash);
                }
            }
        }
        Ok(Some(FileHash { hash, size }))
    }

    /// Hashes all `paths` in parallel, results in the same order.
    pub fn hash_many(&self, paths: &[PathBuf]) -> Vec<io::Result<Option<FileHash>>> {
        paths.par_iter().map(|p| self.hash_path(p)).collect()
    }

    /// `hash_many` with the stats the caller already has (see `hash_known`).
    pub fn hash_many_known(
        &self,
        files: Vec<(PathBuf, Option<fs::Metadata>, Role)>,
    ) -> Vec<io::Result<Option<FileHash>>> {
        files
            .into_par_iter()
            .map(|(p, stat, role)| self.hash_known(&p, stat, role))
            .collect()
    }

    /// How many files were found already hashed during this run (by the
    /// background hasher, or by an earlier lookup of the same identity).
    pub fn hashed_earlier(&self) -> usize {
        self.fresh_hits.load(Ordering::Relaxed)
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

/// True when no process has `file` open for writing, a writable shared
/// mapping included: the kernel grants a read lease only then. A write
/// through a mapping made before now may leave mtime and ctime alone (a page
/// already dirty takes no fault), so a hash taken while such a writer lives
/// could later pass for current; writers that come later change ctime with
/// their first write. The lease is released at once, at normal priority so
/// that an open for writing that it would block is not kept waiting.
/// Leases need the file's owner or CAP_LEASE: otherwise, false.
fn no_writer(file: &File) -> bool {
    use std::os::fd::AsRawFd;
    let fd = file.as_raw_fd();
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: plain syscalls on our own thread and descriptor.
    unsafe {
        let policy = libc::sched_getscheduler(0);
        if policy == libc::SCHED_IDLE {
            libc::sched_setscheduler(0, libc::SCHED_OTHER, &param);
        }
        let leased = libc::fcntl(fd, libc::F_SETLEASE, libc::F_RDLCK) == 0;
        if leased {
            libc::fcntl(fd, libc::F_SETLEASE, libc::F_UNLCK);
        }
        if policy == libc::SCHED_IDLE {
            libc::sched_setscheduler(0, libc::SCHED_IDLE, &param);
        }
        leased
    }
}

/// How a file is read for hashing.
#[derive(Clone, Copy)]
enum Pass<'a> {
    /// Big files mapped and hashed on every core (once the command is gone).
    Parallel,
    /// Read on this thread, giving up when the flag (if any) is set.
    Reading(Option<&'a AtomicBool>),
}

fn hash_open_file(file: &File, len: u64, pass: Pass) -> io::Result<([u8; 32], u64)> {
    let mut hasher = blake3::Hasher::new();
    if len >= MMAP_AT && matches!(pass, Pass::Parallel) {
        // SAFETY: the map is read-only and dropped before returning; a
        // concurrent truncation could SIGBUS, the same risk b3sum takes.
        // Only at the end of the run, when the command's processes are gone.
        let map = unsafe { memmap2::Mmap::map(file)? };
        hasher.update_rayon(&map);
        return Ok((*hasher.finalize().as_bytes(), map.len() as u64));
    }
    if len >= MMAP_AT {
        // While the command runs it may truncate the file under us: read,
        // never map (a short read is harmless, a SIGBUS is not).
        let mut buf = vec![0u8; MMAP_AT as usize];
        let mut total = 0u64;
        let mut reader = file;
        loop {
            if let Pass::Reading(Some(abandon)) = pass {
                if abandon.load(Ordering::Relaxed) {
                    return Err(io::ErrorKind::Interrupted.into());
                }
            }
            match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    hasher.update(&buf[..n]);
                    total += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        return Ok((*hasher.finalize().as_bytes(), total));
    }
    // Not read_to_end: it stats the file again for a size hint. One byte of
    // room past the expected size lets the usual case end after two reads.
    let mut buf = vec![0u8; len as usize + 1];
    let mut filled = 0;
    let mut reader = file;
    loop {
        if filled == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    hasher.update(&buf[..filled]);
    Ok((*hasher.finalize().as_bytes(), filled as u64))
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
