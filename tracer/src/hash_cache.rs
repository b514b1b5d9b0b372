//! The persistent hash cache at `<store>/cache/hashes`: file identity
//! (device, inode, size, mtime_ns, ctime_ns) -> BLAKE3, so an unchanged file
//! is never re-read; and beside it `<store>/cache/digests`, identity -> the
//! extra digests (md5, sha256, sha512) asked for with `--also-hash`. Both
//! are derived indexes (safe to delete) with the same rules. The exact
//! formats, and why concurrent runs cannot corrupt them, are in
//! docs/hash-cache.md; Python reads the first with
//! `struct.unpack("<QQQqq32s8s")`.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::hash::{BuildHasherDefault, Hasher};
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use crate::hash::Digests;

pub const MAGIC: &[u8; 8] = b"RHCACHE1";
pub const RECORD_LEN: usize = 80;
/// The digests file: identity | present u8 | 7 zero bytes | md5[16] |
/// sha256[32] | sha512[64] | check[8].
pub const DIGESTS_MAGIC: &[u8; 8] = b"RDCACHE1";
pub const DIGESTS_RECORD_LEN: usize = 176;
/// Bytes of a record before its payload: the identity.
const KEY_LEN: usize = 40;
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

/// One kind of cache file: its magic and fixed record length. A record is
/// identity (40 bytes) | payload | check (8 bytes: the first 8 bytes of the
/// BLAKE3 of everything before it).
#[derive(Clone, Copy)]
struct Format {
    magic: &'static [u8; 8],
    len: usize,
}

const HASHES: Format = Format {
    magic: MAGIC,
    len: RECORD_LEN,
};
const DIGESTS: Format = Format {
    magic: DIGESTS_MAGIC,
    len: DIGESTS_RECORD_LEN,
};

impl Format {
    fn encode(self, id: &Identity, payload: &[u8]) -> Vec<u8> {
        let mut r = vec![0u8; self.len];
        r[0..8].copy_from_slice(&id.dev.to_le_bytes());
        r[8..16].copy_from_slice(&id.ino.to_le_bytes());
        r[16..24].copy_from_slice(&id.size.to_le_bytes());
        r[24..32].copy_from_slice(&id.mtime_ns.to_le_bytes());
        r[32..40].copy_from_slice(&id.ctime_ns.to_le_bytes());
        r[KEY_LEN..self.len - 8].copy_from_slice(payload);
        let check = blake3::hash(&r[..self.len - 8]);
        r[self.len - 8..].copy_from_slice(&check.as_bytes()[..8]);
        r
    }

    /// The identity and payload of one record; None if its checksum does
    /// not match (torn or corrupt).
    fn decode(self, r: &[u8]) -> Option<(Identity, &[u8])> {
        let body = self.len - 8;
        if r.len() != self.len || blake3::hash(&r[..body]).as_bytes()[..8] != r[body..] {
            return None;
        }
        Some((identity_at(r), &r[KEY_LEN..body]))
    }

    /// Every valid record of a file's bytes, oldest first. A partial record
    /// at the end (a crashed append) is ignored.
    fn decode_file(self, bytes: &[u8]) -> Vec<(Identity, Vec<u8>)> {
        if bytes.len() < self.magic.len() || &bytes[..self.magic.len()] != self.magic {
            return Vec::new();
        }
        bytes[self.magic.len()..]
            .chunks_exact(self.len)
            .filter_map(|r| self.decode(r).map(|(id, p)| (id, p.to_vec())))
            .collect()
    }
}

pub fn encode_record(id: &Identity, hash: &[u8; 32]) -> [u8; RECORD_LEN] {
    let mut r = [0u8; RECORD_LEN];
    r.copy_from_slice(&HASHES.encode(id, hash));
    r
}

/// Decodes one record; None if its checksum does not match (torn or corrupt).
pub fn decode_record(r: &[u8]) -> Option<(Identity, [u8; 32])> {
    let (id, payload) = HASHES.decode(r)?;
    Some((id, payload.try_into().ok()?))
}

/// Every valid record of a hashes file's bytes, oldest first. A partial
/// record at the end (a crashed append) is ignored.
pub fn decode_file(bytes: &[u8]) -> Vec<(Identity, [u8; 32])> {
    HASHES
        .decode_file(bytes)
        .into_iter()
        .filter_map(|(id, p)| Some((id, p.try_into().ok()?)))
        .collect()
}

/// The payload of a digests record (see `DIGESTS_RECORD_LEN`).
fn encode_digests(d: &Digests) -> Vec<u8> {
    let mut p = vec![0u8; DIGESTS_RECORD_LEN - KEY_LEN - 8];
    let mut present = 0u8;
    if let Some(md5) = d.md5 {
        present |= 1;
        p[8..24].copy_from_slice(&md5);
    }
    if let Some(sha256) = d.sha256 {
        present |= 2;
        p[24..56].copy_from_slice(&sha256);
    }
    if let Some(sha512) = d.sha512 {
        present |= 4;
        p[56..120].copy_from_slice(&sha512);
    }
    p[0] = present;
    p
}

fn decode_digests(p: &[u8]) -> Option<Digests> {
    let present = *p.first()?;
    if present & !7 != 0 || p.len() != DIGESTS_RECORD_LEN - KEY_LEN - 8 {
        return None;
    }
    Some(Digests {
        md5: (present & 1 != 0).then(|| p[8..24].try_into().ok()).flatten(),
        sha256: (present & 2 != 0).then(|| p[24..56].try_into().ok()).flatten(),
        sha512: (present & 4 != 0).then(|| p[56..120].try_into().ok()).flatten(),
    })
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

/// The records of a cache file, indexed by identity. Checksums are
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
    fn from_bytes(bytes: Vec<u8>, format: Format) -> Loaded {
        let mut offsets = IdentityMap::default();
        let magic = format.magic.len();
        if bytes.len() >= magic && &bytes[..magic] == format.magic {
            let records = (bytes.len() - magic) / format.len;
            offsets.reserve(records);
            for i in 0..records {
                let at = magic + i * format.len;
                offsets.insert(identity_at(&bytes[at..at + format.len]), at);
            }
        }
        Loaded { bytes, offsets }
    }

    /// The payload cached for `id`, if its last record is intact. A torn or
    /// corrupt last record hides an older one: a miss, which only costs
    /// hashing the file again.
    fn get(&self, id: &Identity, format: Format) -> Option<&[u8]> {
        let at = *self.offsets.get(id)?;
        let (found, payload) = format.decode(&self.bytes[at..at + format.len])?;
        (found == *id).then_some(payload)
    }
}

/// One cache file: loaded on first use, appended to at `flush`.
struct RecordFile {
    path: PathBuf,
    format: Format,
    known: OnceLock<Loaded>,
    fresh: Mutex<Vec<(Identity, Vec<u8>)>>,
}

impl RecordFile {
    fn new(path: PathBuf, format: Format) -> RecordFile {
        RecordFile {
            path,
            format,
            known: OnceLock::new(),
            fresh: Mutex::new(Vec::new()),
        }
    }

    /// Loaded on first use, so a run that hashes nothing never reads it.
    fn known(&self) -> &Loaded {
        self.known.get_or_init(|| {
            Loaded::from_bytes(fs::read(&self.path).unwrap_or_default(), self.format)
        })
    }

    fn get(&self, id: &Identity) -> Option<&[u8]> {
        self.known().get(id, self.format)
    }

    fn put(&self, id: Identity, payload: Vec<u8>) {
        if let Ok(mut fresh) = self.fresh.lock() {
            fresh.push((id, payload));
        }
    }

    /// Appends this run's new records in one write. Errors are returned so
    /// the caller can ignore them: losing cache entries costs only time.
    fn flush(&self) -> io::Result<()> {
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
        let magic = self.format.magic.len() as u64;
        let aligned = len >= magic && (len - magic).is_multiple_of(self.format.len as u64);
        if !aligned || len > COMPACT_AT {
            let mut bytes = Vec::new();
            File::open(&self.path)?.read_to_end(&mut bytes)?;
            return self.rewrite(self.format.decode_file(&bytes), fresh);
        }
        let mut buf = Vec::with_capacity(fresh.len() * self.format.len);
        for (id, payload) in &fresh {
            buf.extend_from_slice(&self.format.encode(id, payload));
        }
        // One write(2) with O_APPEND: concurrent appenders never interleave
        // inside a record on a local filesystem.
        file.write_all(&buf)
    }

    /// Writes a fresh file (temp + rename): a reader sees the old file or the
    /// new one, never a mixture.
    fn rewrite(
        &self,
        old: Vec<(Identity, Vec<u8>)>,
        fresh: Vec<(Identity, Vec<u8>)>,
    ) -> io::Result<()> {
        let mut latest: HashMap<Identity, (Vec<u8>, usize)> = HashMap::new();
        for (i, (id, payload)) in old.into_iter().chain(fresh).enumerate() {
            latest.insert(id, (payload, i));
        }
        let mut records: Vec<_> = latest.into_iter().collect();
        records.sort_by_key(|(_, (_, i))| *i);
        let skip = records.len().saturating_sub(KEEP_RECORDS);
        let mut buf =
            Vec::with_capacity(self.format.magic.len() + (records.len() - skip) * self.format.len);
        buf.extend_from_slice(self.format.magic);
        for (id, (payload, _)) in records.into_iter().skip(skip) {
            buf.extend_from_slice(&self.format.encode(&id, &payload));
        }
        let name = self
            .path
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let tmp = self
            .path
            .with_file_name(format!(".{name}.{}.tmp", std::process::id()));
        fs::write(&tmp, &buf)?;
        fs::rename(&tmp, &self.path).inspect_err(|_| {
            let _ = fs::remove_file(&tmp);
        })
    }
}

/// The store's hash cache: BLAKE3 by identity (`cache/hashes`) and the
/// extra digests by identity (`cache/digests`, read only when asked for).
pub struct HashCache {
    hashes: RecordFile,
    digests: RecordFile,
}

impl HashCache {
    pub fn at(store: &Path) -> HashCache {
        let dir = store.join("cache");
        HashCache {
            hashes: RecordFile::new(dir.join("hashes"), HASHES),
            digests: RecordFile::new(dir.join("digests"), DIGESTS),
        }
    }

    pub fn get(&self, id: &Identity) -> Option<[u8; 32]> {
        self.hashes.get(id)?.try_into().ok()
    }

    pub fn put(&self, id: Identity, hash: [u8; 32]) {
        self.hashes.put(id, hash.to_vec());
    }

    /// The extra digests cached for `id` (any subset of md5, sha256, sha512).
    pub fn get_digests(&self, id: &Identity) -> Option<Digests> {
        decode_digests(self.digests.get(id)?)
    }

    /// Caches `digests` for `id`, replacing what was cached for it: pass
    /// the union with what `get_digests` returned to keep both.
    pub fn put_digests(&self, id: Identity, digests: Digests) {
        self.digests.put(id, encode_digests(&digests));
    }

    /// Appends this run's new records to both files. Errors are returned so
    /// the caller can ignore them: losing cache entries costs only time.
    pub fn flush(&self) -> io::Result<()> {
        let hashes = self.hashes.flush();
        self.digests.flush()?;
        hashes
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
