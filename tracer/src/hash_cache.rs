//! The persistent hash cache at `<store>/cache/hashes`: file identity
//! (device, inode, size, mtime_ns, ctime_ns) -> BLAKE3, so an unchanged file
//! is never re-read. It is a derived index (safe to delete). The exact
//! format, and why concurrent runs cannot corrupt it, is in
//! docs/hash-cache.md; Python reads it with `struct.unpack("<QQQqq32s8s")`.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::hash::{BuildHasherDefault, Hasher};
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

pub const MAGIC: &[u8; 8] = b"RHCACHE1";
pub const RECORD_LEN: usize = 80;
/// Past this size the file is compacted (duplicates dropped, oldest records
/// dropped beyond the cap) instead of appended to.
const COMPACT_AT: u64 = 64 << 20;
const KEEP_RECORDS: usize = 500_000;

/// What must be unchanged for a cached hash to still hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Identity {
    pub dev: u64,
    pub ino: u64,
    pub size: u64,
    pub mtime_ns: i64,
    pub ctime_ns: i64,
}

impl Identity {
    pub fn of(meta: &fs::Metadata) -> Identity {
        Identity {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime_ns: meta.mtime() * 1_000_000_000 + meta.mtime_nsec(),
            ctime_ns: meta.ctime() * 1_000_000_000 + meta.ctime_nsec(),
        }
    }

    /// The identity of an open file; None if it is not a regular file.
    pub fn of_file(file: &File) -> io::Result<Option<Identity>> {
        let meta = file.metadata()?;
        Ok(meta.is_file().then(|| Identity::of(&meta)))
    }
}

pub fn encode_record(id: &Identity, hash: &[u8; 32]) -> [u8; RECORD_LEN] {
    let mut r = [0u8; RECORD_LEN];
    r[0..8].copy_from_slice(&id.dev.to_le_bytes());
    r[8..16].copy_from_slice(&id.ino.to_le_bytes());
    r[16..24].copy_from_slice(&id.size.to_le_bytes());
    r[24..32].copy_from_slice(&id.mtime_ns.to_le_bytes());
    r[32..40].copy_from_slice(&id.ctime_ns.to_le_bytes());
    r[40..72].copy_from_slice(hash);
    let check = blake3::hash(&r[..72]);
    r[72..80].copy_from_slice(&check.as_bytes()[..8]);
    r
}

/// Decodes one record; None if its checksum does not match (torn or corrupt).
pub fn decode_record(r: &[u8]) -> Option<(Identity, [u8; 32])> {
    if r.len() != RECORD_LEN || blake3::hash(&r[..72]).as_bytes()[..8] != r[72..80] {
        return None;
    }
    let id = identity_at(r);
    let mut hash = [0u8; 32];
    hash.copy_from_slice(&r[40..72]);
    Some((id, hash))
}

/// Every valid record of a cache file's bytes, oldest first. A partial
/// record at the end (a crashed append) is ignored.
pub fn decode_file(bytes: &[u8]) -> Vec<(Identity, [u8; 32])> {
    if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
        return Vec::new();
    }
    bytes[MAGIC.len()..]
        .chunks_exact(RECORD_LEN)
        .filter_map(decode_record)
        .collect()
}

/// Identity keys are hashed with a multiply-rotate mix (FxHash's) rather
/// than SipHash: a lookup per input is on every job's critical path, and
/// inode numbers are not an input anyone can use to flood the table.
#[derive(Default, Clone, Copy)]
pub struct IdentityHasher(u64);

impl Hasher for IdentityHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_i64(&mut self, n: i64) {
        self.write_u64(n as u64);
    }
}

type IdentityMap<V> = HashMap<Identity, V, BuildHasherDefault<IdentityHasher>>;

/// The records of the cache file, indexed by identity. Checksums are
/// verified on lookup, not on load: a run looks up a few thousand files but
/// the file may hold 500,000 records.
struct Loaded {
    bytes: Vec<u8>,
    /// Identity -> offset of its last record in `bytes`.
    offsets: IdentityMap<usize>,
}

fn identity_at(r: &[u8]) -> Identity {
    let u = |i: usize| u64::from_le_bytes(r[i..i + 8].try_into().unwrap_or([0; 8]));
    Identity {
        dev: u(0),
        ino: u(8),
        size: u(16),
        mtime_ns: u(24) as i64,
        ctime_ns: u(32) as i64,
    }
}

impl Loaded {
    fn from_bytes(bytes: Vec<u8>) -> Loaded {
        let mut offsets = IdentityMap::default();
        if bytes.len() >= MAGIC.len() && &bytes[..MAGIC.len()] == MAGIC {
            let records = (bytes.len() - MAGIC.len()) / RECORD_LEN;
            offsets.reserve(records);
            for i in 0..records {
                let at = MAGIC.len() + i * RECORD_LEN;
                offsets.insert(identity_at(&bytes[at..at + RECORD_LEN]), at);
            }
        }
        Loaded { bytes, offsets }
    }

    /// The cached hash of `id`, if its last record is intact. A torn or
    /// corrupt last record hides an older one: a miss, which only costs
    /// hashing the file again.
    fn get(&self, id: &Identity) -> Option<[u8; 32]> {
        let at = *self.offsets.get(id)?;
        let (found, hash) = decode_record(&self.bytes[at..at + RECORD_LEN])?;
        (found == *id).then_some(hash)
    }
}

pub struct HashCache {
    path: PathBuf,
    known: OnceLock<Loaded>,
    fresh: Mutex<Vec<(Identity, [u8; 32])>>,
}

impl HashCache {
    pub fn at(store: &Path) -> HashCache {
        HashCache {
            path: store.join("cache").join("hashes"),
            known: OnceLock::new(),
            fresh: Mutex::new(Vec::new()),
        }
    }

    /// Loaded on first use, so a run that hashes nothing never reads it.
    fn known(&self) -> &Loaded {
        self.known
            .get_or_init(|| Loaded::from_bytes(fs::read(&self.path).unwrap_or_default()))
    }

    pub fn get(&self, id: &Identity) -> Option<[u8; 32]> {
        self.known().get(id)
    }

    pub fn put(&self, id: Identity, hash: [u8; 32]) {
        if let Ok(mut fresh) = self.fresh.lock() {
            fresh.push((id, hash));
        }
    }

    /// Appends this run's new records in one write. Errors are returned so
    /// the caller can ignore them: losing cache entries costs only time.
    pub fn flush(&self) -> io::Result<()> {
        let fresh = match self.fresh.lock() {
            Ok(mut fresh) => std::mem::take(&mut *fresh),
            Err(_) => return Ok(()),
        };
        if fresh.is_empty() {
            return Ok(());
        }
        let dir = self.path.parent().unwrap_or(Path::new("."));
        fs::create_dir_all(dir)?;
        let mut file = match OpenOptions::new()
            .append(true)
            .custom_flags(libc::O_CLOEXEC)
            .open(&self.path)
        {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return self.rewrite(Vec::new(), fresh)
            }
            Err(e) => return Err(e),
        };
        let len = file.metadata()?.len();
        let aligned = len >= MAGIC.len() as u64
            && (len - MAGIC.len() as u64).is_multiple_of(RECORD_LEN as u64);
        if !aligned || len > COMPACT_AT {
            let mut bytes = Vec::new();
            File::open(&self.path)?.read_to_end(&mut bytes)?;
            return self.rewrite(decode_file(&bytes), fresh);
        }
        let mut buf = Vec::with_capacity(fresh.len() * RECORD_LEN);
        for (id, hash) in &fresh {
            buf.extend_from_slice(&encode_record(id, hash));
        }
        // One write(2) with O_APPEND: concurrent appenders never interleave
        // inside a record on a local filesystem.
        file.write_all(&buf)
    }

    /// Writes a fresh file (temp + rename): a reader sees the old file or the
    /// new one, never a mixture.
    fn rewrite(
        &self,
        old: Vec<(Identity, [u8; 32])>,
        fresh: Vec<(Identity, [u8; 32])>,
    ) -> io::Result<()> {
        let mut latest: HashMap<Identity, ([u8; 32], usize)> = HashMap::new();
        for (i, (id, hash)) in old.into_iter().chain(fresh).enumerate() {
            latest.insert(id, (hash, i));
        }
        let mut records: Vec<_> = latest.into_iter().collect();
        records.sort_by_key(|(_, (_, i))| *i);
        let skip = records.len().saturating_sub(KEEP_RECORDS);
        let mut buf = Vec::with_capacity(MAGIC.len() + (records.len() - skip) * RECORD_LEN);
        buf.extend_from_slice(MAGIC);
        for (id, (hash, _)) in records.into_iter().skip(skip) {
            buf.extend_from_slice(&encode_record(&id, &hash));
        }
        let tmp = self
            .path
            .with_file_name(format!(".hashes.{}.tmp", std::process::id()));
        fs::write(&tmp, &buf)?;
        fs::rename(&tmp, &self.path).inspect_err(|_| {
            let _ = fs::remove_file(&tmp);
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u64) -> Identity {
        Identity {
            dev: 1,
            ino: n,
            size: 10,
            mtime_ns: -5,
            ctime_ns: 7,
        }
    }

    #[test]
    fn records_round_trip_and_corruption_is_detected() {
        let mut r = encode_record(&id(3), &[9; 32]);
        assert_eq!(decode_record(&r), Some((id(3), [9; 32])));
        r[50] ^= 1;
        assert_eq!(decode_record(&r), None);
    }

    #[test]
    fn appends_survive_a_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let cache = HashCache::at(dir.path());
        cache.put(id(1), [1; 32]);
        cache.flush().unwrap();
        // A crash in the middle of an append leaves half a record.
        let path = dir.path().join("cache/hashes");
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(&[0xaa; 30]).unwrap();
        let cache = HashCache::at(dir.path());
        cache.put(id(2), [2; 32]);
        cache.flush().unwrap();
        let cache = HashCache::at(dir.path());
        assert_eq!(cache.get(&id(1)), Some([1; 32]));
        assert_eq!(cache.get(&id(2)), Some([2; 32]));
        assert!((fs::metadata(&path).unwrap().len() - 8).is_multiple_of(RECORD_LEN as u64));
    }

    #[test]
    fn a_corrupt_record_is_a_miss_never_a_wrong_hash() {
        let dir = tempfile::tempdir().unwrap();
        let cache = HashCache::at(dir.path());
        cache.put(id(1), [1; 32]);
        cache.put(id(2), [2; 32]);
        cache.flush().unwrap();
        let path = dir.path().join("cache/hashes");
        let mut bytes = fs::read(&path).unwrap();
        bytes[8 + 50] ^= 1; // inside the hash of id(1)'s record
        fs::write(&path, &bytes).unwrap();
        let cache = HashCache::at(dir.path());
        assert_eq!(cache.get(&id(1)), None);
        assert_eq!(cache.get(&id(2)), Some([2; 32]));
    }
}
