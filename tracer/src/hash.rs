//! BLAKE3 of files, exactly what `b3sum` prints: many files in parallel
//! (rayon), big files memory-mapped and split across threads, and unchanged
//! files answered from the hash cache without being read. Files hashed
//! while the command runs (`crate::early`) are remembered by identity for
//! the rest of the run, so the end of the run only confirms them.
//!
//! Extra digests (md5, sha256, sha512: what checksum files, Hugging Face and
//! S3 ETags publish) are computed from the same bytes in the same read pass
//! when asked for (`Hasher::also`), and cached beside BLAKE3.

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

/// An extra digest algorithm, recorded beside BLAKE3 (never instead of it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Algo {
    Md5,
    Sha256,
    Sha512,
}

impl Algo {
    pub const ALL: [Algo; 3] = [Algo::Md5, Algo::Sha256, Algo::Sha512];

    /// The name recorded in a job's `digests` map (docs/object-format.md).
    pub fn name(self) -> &'static str {
        match self {
            Algo::Md5 => "md5",
            Algo::Sha256 => "sha256",
            Algo::Sha512 => "sha512",
        }
    }

    pub fn parse(word: &str) -> Option<Algo> {
        Algo::ALL
            .into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(word))
    }

    fn bit(self) -> u8 {
        match self {
            Algo::Md5 => 1,
            Algo::Sha256 => 2,
            Algo::Sha512 => 4,
        }
    }
}

/// The set of extra digests to compute (empty: BLAKE3 alone).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Also(u8);

impl Also {
    pub fn with(self, algo: Algo) -> Also {
        Also(self.0 | algo.bit())
    }

    pub fn contains(self, algo: Algo) -> bool {
        self.0 & algo.bit() != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

/// Extra digests of one file's bytes; `None` where not computed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Digests {
    pub md5: Option<[u8; 16]>,
    pub sha256: Option<[u8; 32]>,
    pub sha512: Option<[u8; 64]>,
}

impl Digests {
    fn get(&self, algo: Algo) -> Option<&[u8]> {
        match algo {
            Algo::Md5 => self.md5.as_ref().map(|d| &d[..]),
            Algo::Sha256 => self.sha256.as_ref().map(|d| &d[..]),
            Algo::Sha512 => self.sha512.as_ref().map(|d| &d[..]),
        }
    }

    /// Whether every algorithm of `also` is here.
    pub fn covers(&self, also: Also) -> bool {
        Algo::ALL
            .into_iter()
            .all(|a| !also.contains(a) || self.get(a).is_some())
    }

    /// Only the algorithms of `also`: a job records what was asked for, so
    /// the same request gives the same job whatever the cache held.
    pub fn only(self, also: Also) -> Digests {
        Digests {
            md5: self.md5.filter(|_| also.contains(Algo::Md5)),
            sha256: self.sha256.filter(|_| also.contains(Algo::Sha256)),
            sha512: self.sha512.filter(|_| also.contains(Algo::Sha512)),
        }
    }

    /// These digests, with `newer`'s where both have one.
    pub fn union(self, newer: Digests) -> Digests {
        Digests {
            md5: newer.md5.or(self.md5),
            sha256: newer.sha256.or(self.sha256),
            sha512: newer.sha512.or(self.sha512),
        }
    }

    /// (algorithm name, lowercase hex), in the algorithms' order.
    pub fn hex(&self) -> Vec<(&'static str, String)> {
        Algo::ALL
            .into_iter()
            .filter_map(|a| Some((a.name(), hex(self.get(a)?))))
            .collect()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The running state of the extra digests over one read pass.
struct ExtraHasher {
    md5: Option<md5::Md5>,
    sha256: Option<sha2::Sha256>,
    sha512: Option<sha2::Sha512>,
}

impl ExtraHasher {
    fn new(also: Also) -> ExtraHasher {
        use sha2::Digest;
        ExtraHasher {
            md5: also.contains(Algo::Md5).then(md5::Md5::new),
            sha256: also.contains(Algo::Sha256).then(sha2::Sha256::new),
            sha512: also.contains(Algo::Sha512).then(sha2::Sha512::new),
        }
    }

    fn update(&mut self, data: &[u8]) {
        use sha2::Digest;
        if let Some(h) = &mut self.md5 {
            h.update(data);
        }
        if let Some(h) = &mut self.sha256 {
            h.update(data);
        }
        if let Some(h) = &mut self.sha512 {
            h.update(data);
        }
    }

    /// `update` with each digest on its own rayon task: on a mapped file they
    /// run beside each other and beside BLAKE3, so the slowest one sets the pace.
    fn update_parallel(&mut self, data: &[u8]) {
        use sha2::Digest;
        let ExtraHasher {
            md5,
            sha256,
            sha512,
        } = self;
        rayon::join(
            || md5.as_mut().map(|h| h.update(data)),
            || {
                rayon::join(
                    || sha256.as_mut().map(|h| h.update(data)),
                    || sha512.as_mut().map(|h| h.update(data)),
                )
            },
        );
    }

    fn finish(self) -> Digests {
        use sha2::Digest;
        Digests {
            md5: self.md5.map(|h| h.finalize().into()),
            sha256: self.sha256.map(|h| h.finalize().into()),
            sha512: self.sha512.map(|h| h.finalize().into()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileHash {
    pub hash: [u8; 32],
    pub size: u64,
    /// The extra digests the hasher was asked for (none by default).
    pub digests: Digests,
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
    /// Every digest of the hasher's `also`.
    digests: Digests,
    /// Taken when nobody had the file open for writing: good for outputs.
    no_writer: bool,
}

pub struct Hasher {
    cache: Option<HashCache>,
    /// Extra digests computed beside BLAKE3.
    also: Also,
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
            also: Also::default(),
            fresh: Mutex::new(HashMap::new()),
            fresh_hits: AtomicUsize::new(0),
        }
    }

    /// Also computes the digests of `also` for every file, in the same read
    /// pass as BLAKE3.
    pub fn also(mut self, also: Also) -> Hasher {
        self.also = also;
        self
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
            .map(|f| (f.hash, f.digests));
        if fresh.is_some() {
            self.fresh_hits.fetch_add(1, Ordering::Relaxed);
        }
        // Digests cached for this identity, even if not all that are asked
        // for: a read adds the missing ones and keeps these.
        let cached_digests = match &self.cache {
            Some(cache) if !self.also.is_empty() && fresh.is_none() => cache.get_digests(&before),
            _ => None,
        };
        let persistent = || {
            let cache = self.cache.as_ref()?;
            let hash = cache.get(&before)?;
            let digests = cached_digests.unwrap_or_default();
            digests.covers(self.also).then_some((hash, digests))
        };
        if let Some((hash, digests)) = fresh.or_else(persistent) {
            return Ok(Some(FileHash {
                hash,
                size: before.size,
                digests: digests.only(self.also),
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
        let hashed = hash_open_file(&file, before.size, pass, self.also);
        // One fstat after reading tells both whether we read a regular file
        // (the path may have been swapped for a FIFO or a directory since the
        // stat: their reads fail) and whether it is still the file we stat'ed,
        // unchanged: only then may the hash be cached.
        let after = Identity::of_file(&file)?;
        let Some(after) = after else {
            return Ok(None);
        };
        let (hash, size, digests) = hashed?;
        if after == before && after.size == size {
            if after.ctime_ns < read_at - SETTLED_IN_RUN_NS {
                if let Ok(mut fresh) = self.fresh.lock() {
                    let entry = fresh.entry(after).or_insert(Fresh {
                        hash,
                        digests,
                        no_writer: false,
                    });
                    entry.no_writer |= writer_free;
                }
            }
            if let Some(cache) = &self.cache {
                if after.ctime_ns < read_at - SETTLED_NS {
                    cache.put(after, hash);
                    if !self.also.is_empty() {
                        let known = cached_digests.unwrap_or_default();
                        cache.put_digests(after, known.union(digests));
                    }
                }
            }
        }
        Ok(Some(FileHash {
            hash,
            size,
            digests,
        }))
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

/// Bytes fed to every hasher at a time when a mapped file is hashed with
/// extra digests: BLAKE3 on the thread pool and the others on this thread
/// take the same chunk while it is still in the CPU's cache.
const CHUNK: usize = 4 << 20;

fn hash_open_file(
    file: &File,
    len: u64,
    pass: Pass,
    also: Also,
) -> io::Result<([u8; 32], u64, Digests)> {
    let mut hasher = blake3::Hasher::new();
    let mut extra = ExtraHasher::new(also);
    if len >= MMAP_AT && matches!(pass, Pass::Parallel) {
        // SAFETY: the map is read-only and dropped before returning; a
        // concurrent truncation could SIGBUS, the same risk b3sum takes.
        // Only at the end of the run, when the command's processes are gone.
        let map = unsafe { memmap2::Mmap::map(file)? };
        if also.is_empty() {
            hasher.update_rayon(&map);
        } else {
            for chunk in map.chunks(CHUNK) {
                rayon::join(|| hasher.update_rayon(chunk), || extra.update_parallel(chunk));
            }
        }
        return Ok((*hasher.finalize().as_bytes(), map.len() as u64, extra.finish()));
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
                    extra.update(&buf[..n]);
                    total += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        return Ok((*hasher.finalize().as_bytes(), total, extra.finish()));
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
    extra.update(&buf[..filled]);
    Ok((*hasher.finalize().as_bytes(), filled as u64, extra.finish()))
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

    fn sha256_hex(data: &[u8]) -> String {
        use sha2::Digest;
        hex(&sha2::Sha256::digest(data))
    }

    #[test]
    fn extra_digests_come_from_the_same_pass_small_and_mapped() {
        let dir = tempfile::tempdir().unwrap();
        let small = dir.path().join("small");
        let big = dir.path().join("big");
        fs::write(&small, b"hello").unwrap();
        let data: Vec<u8> = (0..9_000_000u32).map(|i| (i % 251) as u8).collect();
        fs::write(&big, &data).unwrap();
        let also = Also::default().with(Algo::Sha256).with(Algo::Md5);
        let h = Hasher::new(None).also(also);
        let got = h.hash_many(&[small.clone(), big.clone()]);
        let small_hash = got[0].as_ref().unwrap().unwrap();
        assert_eq!(small_hash.hash, *blake3::hash(b"hello").as_bytes());
        assert_eq!(
            small_hash.digests.hex(),
            vec![
                ("md5", "5d41402abc4b2a76b9719d911017c592".to_owned()),
                (
                    "sha256",
                    "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824".to_owned()
                ),
            ]
        );
        let big_hash = got[1].as_ref().unwrap().unwrap();
        assert_eq!(big_hash.hash, *blake3::hash(&data).as_bytes());
        assert_eq!(big_hash.digests.hex()[1].1, sha256_hex(&data));
        // Read while running (no map): the same digests.
        let read = h.hash_while_running(&big).unwrap().unwrap();
        assert_eq!(read.digests, big_hash.digests);
        // Without `also`, none.
        let plain = Hasher::new(None).hash_path(&small).unwrap().unwrap();
        assert!(plain.digests.hex().is_empty());
    }

    #[test]
    fn the_cache_keeps_every_digest_asked_for_and_answers_without_reading() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("store");
        let file = dir.path().join("model.bin");
        fs::write(&file, b"weights").unwrap();
        std::thread::sleep(std::time::Duration::from_millis(150)); // settled (SETTLED_NS)
        let id = Identity::of(&fs::metadata(&file).unwrap());
        let sha256 = Also::default().with(Algo::Sha256);
        let md5 = Also::default().with(Algo::Md5);
        for also in [sha256, md5] {
            let h = Hasher::new(Some(HashCache::at(&store))).also(also);
            assert!(h.hash_path(&file).unwrap().unwrap().digests.covers(also));
            h.flush_cache().unwrap();
        }
        // Asked for sha256, then md5: both kept, BLAKE3 too.
        let cache = HashCache::at(&store);
        let cached = cache.get_digests(&id).unwrap();
        assert_eq!(hex(&cached.sha256.unwrap()), sha256_hex(b"weights"));
        assert!(cached.md5.is_some());
        assert_eq!(cache.get(&id), Some(*blake3::hash(b"weights").as_bytes()));
        // A cached answer is used without reading: plant a marker and see it back.
        let planted = Digests {
            sha256: Some([7; 32]),
            ..cached
        };
        cache.put_digests(id, planted);
        cache.flush().unwrap();
        let h = Hasher::new(Some(HashCache::at(&store))).also(sha256);
        let got = h.hash_path(&file).unwrap().unwrap();
        assert_eq!(got.digests.sha256, Some([7; 32]));
        assert_eq!(got.digests.md5, None, "only what was asked for is returned");
        // sha512 was never cached: this lookup reads the file.
        let h = Hasher::new(Some(HashCache::at(&store))).also(sha256.with(Algo::Sha512));
        let got = h.hash_path(&file).unwrap().unwrap();
        assert_eq!(hex(&got.digests.sha256.unwrap()), sha256_hex(b"weights"));
        assert!(got.digests.sha512.is_some());
    }
}
