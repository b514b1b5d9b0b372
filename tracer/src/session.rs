//! Appending the job to its session (docs/object-format.md §3 `session`, §6
//! refs): a session object whose parent is the ref's head, then a
//! compare-and-swap of the ref under the same lock protocol the Python side
//! uses. Done here so that `roar run` needs no object model in Python: the
//! process that observed the run records it, job and step, once.

use crate::object::{decode, Object, Value};
use crate::store;
use anyhow::{bail, ensure, Context, Result};
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const ZERO_ID: &str = "0000000000000000000000000000000000000000000000000000000000000000";
const LOCK_WAIT: Duration = Duration::from_secs(30);
const MAX_OBJECT: usize = 256 * 1024 * 1024;

/// What the caller asks for: which session, and for a re-run which step.
pub struct StepRequest {
    /// `refs/sessions/<name>`, or `HEAD` for the active session.
    pub session: String,
    pub step_kind: String,
    /// A re-run keeps its step number; otherwise the next one is taken.
    pub step: Option<u64>,
    pub supersedes: Option<String>,
}

/// The step that was recorded.
pub struct Appended {
    pub session_ref: String,
    pub session_object: String,
    pub step: u64,
}

pub fn append(store: &Path, job: &str, req: &StepRequest) -> Result<Appended> {
    let session_ref = if req.session == "HEAD" {
        head_target(store)?
    } else {
        req.session.clone()
    };
    ensure!(
        session_ref.starts_with("refs/sessions/") && !session_ref.contains(".."),
        "not a session ref: {session_ref:?}"
    );
    let ref_path = store.join(&session_ref);
    loop {
        let head = read_ref(&ref_path)?;
        let step = match req.step {
            Some(n) => n,
            None => next_step(store, head.as_deref(), &req.step_kind)?,
        };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as i128)
            .unwrap_or(0);
        let opt_text = |v: Option<&str>| v.map_or(Value::Null, Value::text);
        let body = Value::map(vec![
            ("parent", opt_text(head.as_deref())),
            ("job", Value::text(job)),
            ("step", Value::Int(i128::from(step))),
            ("step_kind", Value::text(&req.step_kind)),
            ("supersedes", opt_text(req.supersedes.as_deref())),
            ("time_ns", Value::Int(now)),
        ]);
        let id = store::write_object(store, &Object::new("session", &body)?)
            .context("cannot write the session object")?;
        let mut lock = RefLock::acquire(&ref_path)?;
        if read_ref(&ref_path)? != head {
            lock.release(); // another run appended first: build on its step
            continue;
        }
        let line = format!(
            "{} {} {} {} {}\n",
            head.as_deref().unwrap_or(ZERO_ID),
            id,
            now,
            req.step_kind,
            job
        );
        append_reflog(store, &session_ref, &line);
        lock.commit(&format!("{id}\n"))?;
        return Ok(Appended {
            session_ref,
            session_object: id,
            step,
        });
    }
}

fn head_target(store: &Path) -> Result<String> {
    let text = fs::read_to_string(store.join("HEAD")).context("cannot read .roar/HEAD")?;
    match text.trim().strip_prefix("ref: ") {
        Some(target) => Ok(target.to_owned()),
        None => bail!("HEAD does not name a ref: {:?}", text.trim()),
    }
}

fn read_ref(path: &Path) -> Result<Option<String>> {
    match fs::read_to_string(path) {
        Ok(text) => {
            let id = text.trim();
            ensure!(
                id.len() == 64
                    && id.bytes().all(|b| b.is_ascii_hexdigit())
                    && text == format!("{id}\n"),
                "ref {} is damaged",
                path.display()
            );
            Ok(Some(id.to_owned()))
        }
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read ref {}", path.display())),
    }
}

/// The next step number of `kind`: one past the newest step of that kind
/// that was not a re-run (as `roar.sessions.next_step_number`).
fn next_step(store: &Path, head: Option<&str>, kind: &str) -> Result<u64> {
    let mut cur = head.map(str::to_owned);
    while let Some(id) = cur {
        let fields = read_session(store, &id)?;
        let field = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v);
        let same_kind = matches!(field("step_kind"), Some(Value::Text(k)) if k == kind);
        let rerun = !matches!(field("supersedes"), Some(Value::Null) | None);
        if same_kind && !rerun {
            if let Some(Value::Int(n)) = field("step") {
                return Ok(u64::try_from(*n).context("step out of range")? + 1);
            }
        }
        cur = match field("parent") {
            Some(Value::Text(p)) => Some(p.clone()),
            _ => None,
        };
    }
    Ok(1)
}

/// A session object's fields, read from a loose object or a pack, verified.
fn read_session(store: &Path, id: &str) -> Result<Vec<(String, Value)>> {
    let frame = read_frame(store, id)?;
    let raw = zstd::bulk::decompress(&frame, MAX_OBJECT)
        .with_context(|| format!("object {id} is corrupt: bad zstd frame"))?;
    ensure!(
        blake3::hash(&raw).to_hex().as_str() == id,
        "object {id} is corrupt: its content hashes to another id"
    );
    let nul = raw
        .iter()
        .position(|&b| b == 0)
        .with_context(|| format!("object {id} has no header"))?;
    ensure!(
        raw.starts_with(b"session "),
        "object {id} is not a session object"
    );
    match decode(&raw[nul + 1..])? {
        Value::Map(fields) => Ok(fields),
        _ => bail!("session object {id} is not a map"),
    }
}

fn read_frame(store: &Path, id: &str) -> Result<Vec<u8>> {
    let loose = store.join("objects").join(&id[..2]).join(&id[2..]);
    match fs::read(&loose) {
        Ok(frame) => return Ok(frame),
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", loose.display())),
    }
    let raw_id: Vec<u8> = (0..32)
        .map(|i| u8::from_str_radix(&id[2 * i..2 * i + 2], 16))
        .collect::<Result<_, _>>()
        .context("bad object id")?;
    let pack_dir = store.join("objects").join("pack");
    let entries = match fs::read_dir(&pack_dir) {
        Ok(entries) => entries,
        Err(_) => bail!("object {id} is not in the store"),
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("idx") {
            continue;
        }
        if let Some(frame) = find_in_pack(&path, &raw_id)? {
            return Ok(frame);
        }
    }
    bail!("object {id} is not in the store")
}

/// Looks an id up in a pack index (docs/object-format.md §5) and reads its frame.
fn find_in_pack(idx_path: &Path, raw_id: &[u8]) -> Result<Option<Vec<u8>>> {
    const HEAD: usize = 12;
    const FANOUT: usize = 256 * 4;
    const RECORD: usize = 44;
    let idx = fs::read(idx_path).with_context(|| format!("cannot read {}", idx_path.display()))?;
    ensure!(
        idx.len() >= HEAD + FANOUT + 64 && &idx[..4] == b"RIDX",
        "bad pack index"
    );
    let be32 = |at: usize| u32::from_be_bytes([idx[at], idx[at + 1], idx[at + 2], idx[at + 3]]);
    let count = be32(8) as usize;
    ensure!(
        idx.len() == HEAD + FANOUT + count * RECORD + 64,
        "pack index size"
    );
    let first = raw_id[0] as usize;
    let mut lo = if first == 0 {
        0
    } else {
        be32(HEAD + 4 * (first - 1)) as usize
    };
    let mut hi = be32(HEAD + 4 * first) as usize;
    let record = |i: usize| HEAD + FANOUT + i * RECORD;
    while lo < hi {
        let mid = (lo + hi) / 2;
        let at = record(mid);
        match idx[at..at + 32].cmp(raw_id) {
            std::cmp::Ordering::Less => lo = mid + 1,
            std::cmp::Ordering::Greater => hi = mid,
            std::cmp::Ordering::Equal => {
                let off = u64::from_be_bytes(idx[at + 32..at + 40].try_into()?) + 36;
                let len = be32(at + 40) as usize;
                let mut pack = File::open(idx_path.with_extension("pack"))?;
                let mut frame = vec![0; len];
                use std::io::{Seek, SeekFrom};
                pack.seek(SeekFrom::Start(off))?;
                pack.read_exact(&mut frame)?;
                return Ok(Some(frame));
            }
        }
    }
    Ok(None)
}

fn append_reflog(store: &Path, session_ref: &str, line: &str) {
    // Advisory, as in Python: a lost line never fails a recorded run.
    let path = store.join("logs").join(session_ref);
    if let Some(dir) = path.parent() {
        let _ = fs::create_dir_all(dir);
    }
    if let Ok(mut f) = OpenOptions::new().append(true).create(true).open(&path) {
        let _ = f.write_all(line.as_bytes());
    }
}

/// `<ref>.lock`: created under a private name, flocked, then hard-linked
/// into place, so a lock file whose flock can be taken belongs to a dead
/// updater and is taken over (the protocol of roar/refs/lock.py).
struct RefLock {
    ref_path: PathBuf,
    path: PathBuf,
    file: Option<File>,
}

impl RefLock {
    fn acquire(ref_path: &Path) -> Result<RefLock> {
        let name = ref_path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let path = ref_path.with_file_name(format!("{name}.lock"));
        if let Some(dir) = ref_path.parent() {
            fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        }
        let deadline = Instant::now() + LOCK_WAIT;
        let mut delay = Duration::from_micros(200);
        loop {
            if let Some(file) = Self::create(&path)? {
                return Ok(RefLock {
                    ref_path: ref_path.to_owned(),
                    path,
                    file: Some(file),
                });
            }
            if let Some(file) = Self::take_over(&path) {
                return Ok(RefLock {
                    ref_path: ref_path.to_owned(),
                    path,
                    file: Some(file),
                });
            }
            ensure!(
                Instant::now() < deadline,
                "{} stayed locked for 30 s",
                path.display()
            );
            std::thread::sleep(delay);
            delay = (delay * 2).min(Duration::from_millis(20));
        }
    }

    fn create(path: &Path) -> Result<Option<File>> {
        let private = path.with_file_name(format!(
            "{}.{}.{:x}",
            path.file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default(),
            std::process::id(),
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0)
        ));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(&private)
            .with_context(|| format!("cannot create {}", private.display()))?;
        // SAFETY: flock on a descriptor this function owns.
        let locked = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } == 0;
        let linked = locked && fs::hard_link(&private, path).is_ok();
        let _ = fs::remove_file(&private);
        Ok(linked.then_some(file))
    }

    fn take_over(path: &Path) -> Option<File> {
        let file = OpenOptions::new().read(true).write(true).open(path).ok()?;
        // SAFETY: flock on a descriptor this function owns.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            return None; // a live holder
        }
        // Flocked: its holder died, or it committed after we opened it.
        let same = match (file.metadata(), fs::metadata(path)) {
            (Ok(a), Ok(b)) => a.ino() == b.ino() && a.dev() == b.dev(),
            _ => false,
        };
        if same && file.set_len(0).is_ok() {
            Some(file)
        } else {
            None
        }
    }

    fn commit(&mut self, content: &str) -> Result<()> {
        let mut file = self.file.take().context("ref lock committed twice")?;
        file.write_all(content.as_bytes())
            .and_then(|_| file.sync_all())
            .and_then(|_| fs::rename(&self.path, &self.ref_path))
            .with_context(|| format!("cannot update {}", self.ref_path.display()))
    }

    fn release(&mut self) {
        if self.file.take().is_some() {
            let _ = fs::remove_file(&self.path);
        }
    }
}

impl Drop for RefLock {
    fn drop(&mut self) {
        self.release();
    }
}
