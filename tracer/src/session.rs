//! Appending the job to its session (docs/object-format.md §3 `session`, §6
//! refs): a session object whose parent is the ref's head, then a
//! compare-and-swap of the ref under the same lock protocol the Python side
//! uses. Done here so that `roar run` needs no object model in Python: the
//! process that observed the run records it, job and step, once.
//!
//! This is also the one home of the re-run rule (docs/lineage.md §3): a job
//! appended without an explicit step re-runs the step whose newest execution
//! had the same step kind, argv and working directory. Every path appends
//! here (`roar run`, `roar build`, and `roar-tracer append` for Python's get
//! and put), and the decision is made against the head the compare-and-swap
//! checks, so concurrent runs cannot both miss a re-run or share a number.
//! What the decision needs from the chain is kept in a derived cache,
//! `.roar/cache/steps/<ref>`, caught up from the chain when the ref has
//! moved and rebuilt when it cannot be read.

use crate::object::{decode, Object, Value};
use crate::store;
use anyhow::{bail, ensure, Context, Result};
use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub(crate) const ZERO_ID: &str = "0000000000000000000000000000000000000000000000000000000000000000";
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
    /// The job this one re-runs, when it is a re-run.
    pub supersedes: Option<String>,
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
    let cache_path = store.join("cache").join("steps").join(&session_ref);
    let key = match req.step {
        Some(_) => None,
        None => Some(command_key(&req.step_kind, &read_command(store, job)?)),
    };
    let mut steps = Steps::load(&cache_path);
    loop {
        let head = read_ref(&ref_path)?;
        steps = steps.catch_up(store, head.as_deref())?;
        let (step, supersedes) = match (req.step, &key) {
            (Some(n), _) => (n, req.supersedes.clone()),
            (None, Some(k)) => match steps.rerun_of(k) {
                Some((n, live)) => (n, Some(live)),
                None => (steps.next(), None),
            },
            (None, None) => (steps.next(), None),
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
            ("supersedes", opt_text(supersedes.as_deref())),
            ("time_ns", Value::Int(now)),
        ]);
        let id = store::write_object(store, &Object::new("session", &body)?)
            .context("cannot write the session object")?;
        let mut lock = RefLock::acquire(&ref_path)?;
        if read_ref(&ref_path)? != head {
            lock.release(); // another run appended first: decide again on its step
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
        let key = match key {
            Some(k) => k,
            None => command_key(&req.step_kind, &read_command(store, job)?),
        };
        let as_loaded = steps.as_loaded;
        steps.apply(&id, job, &req.step_kind, step, key.clone());
        let lines = as_loaded.then(|| steps.step_lines(job, &req.step_kind, step, &key));
        steps.save(&cache_path, lines); // advisory: rebuilt from the chain when missing
        return Ok(Appended {
            session_ref,
            session_object: id,
            step,
            supersedes,
        });
    }
}

/// What identifies a command for the re-run rule: step kind, working
/// directory and argv, as bytes (BLAKE3 of an unambiguous encoding).
fn command_key(kind: &str, (argv, cwd): &(Vec<Vec<u8>>, Vec<u8>)) -> String {
    let mut h = blake3::Hasher::new();
    let mut field = |bytes: &[u8]| {
        h.update(&(bytes.len() as u64).to_be_bytes());
        h.update(bytes);
    };
    field(kind.as_bytes());
    field(cwd);
    for arg in argv {
        field(arg);
    }
    h.finalize().to_hex().to_string()
}

/// A job's argv and cwd, read from the store.
fn read_command(store: &Path, job: &str) -> Result<(Vec<Vec<u8>>, Vec<u8>)> {
    let fields = read_fields(store, job, "job")?;
    let field = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v);
    let argv = match field("argv") {
        Some(Value::Array(items)) => items
            .iter()
            .map(|a| match a {
                Value::Bytes(b) => Ok(b.clone()),
                _ => bail!("job {job} has an argv item that is not bytes"),
            })
            .collect::<Result<Vec<_>>>()?,
        _ => bail!("job {job} has no argv"),
    };
    let cwd = match field("cwd") {
        Some(Value::Bytes(b)) => b.clone(),
        _ => bail!("job {job} has no cwd"),
    };
    Ok((argv, cwd))
}

/// What the re-run rule and the numbering need from a session chain, as of
/// session object `head`: the highest step of each kind, the newest job of
/// each step, and the step of each command's newest execution.
#[derive(Default)]
struct Steps {
    head: Option<String>,
    max: BTreeMap<String, u64>,
    live: BTreeMap<(String, u64), String>,
    commands: HashMap<String, (String, u64)>,
    /// Lines read from the cache file: when they far outnumber the entries,
    /// the next save rewrites the file instead of appending to it.
    lines: usize,
    /// Whether these steps are exactly the file's (nothing caught up since).
    as_loaded: bool,
}

const CACHE_HEADER: &str = "roar-steps 1";

impl Steps {
    /// One counter for every kind, as roar-cli numbers (`@B1 @2 @3`): one past
    /// the highest step of any kind.
    fn next(&self) -> u64 {
        self.max.values().copied().max().unwrap_or(0) + 1
    }

    /// The step a command re-runs, and that step's live job.
    fn rerun_of(&self, key: &str) -> Option<(u64, String)> {
        let (kind, step) = self.commands.get(key)?;
        let live = self.live.get(&(kind.clone(), *step))?;
        Some((*step, live.clone()))
    }

    fn apply(&mut self, id: &str, job: &str, kind: &str, step: u64, key: String) {
        let max = self.max.entry(kind.to_owned()).or_insert(0);
        *max = (*max).max(step);
        self.live.insert((kind.to_owned(), step), job.to_owned());
        self.commands.insert(key, (kind.to_owned(), step));
        self.head = Some(id.to_owned());
    }

    /// These steps brought up to `head`: the objects since the known head are
    /// applied; a head the walk never meets (after `roar pop`) means a rebuild.
    fn catch_up(mut self, store: &Path, head: Option<&str>) -> Result<Steps> {
        if self.head.as_deref() == head {
            return Ok(self);
        }
        self.as_loaded = false;
        let mut newer = Vec::new();
        let mut cur = head.map(str::to_owned);
        let mut met = false;
        while let Some(id) = cur {
            if self.head.as_deref() == Some(id.as_str()) {
                met = true;
                break;
            }
            let fields = read_fields(store, &id, "session")?;
            let field = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v);
            let (job, kind, step) = match (field("job"), field("step_kind"), field("step")) {
                (Some(Value::Text(j)), Some(Value::Text(k)), Some(Value::Int(n))) => (
                    j.clone(),
                    k.clone(),
                    u64::try_from(*n).context("step out of range")?,
                ),
                _ => bail!("session object {id} lacks job, step_kind or step"),
            };
            cur = match field("parent") {
                Some(Value::Text(p)) => Some(p.clone()),
                _ => None,
            };
            newer.push((id, job, kind, step));
        }
        let mut steps = if met {
            self
        } else {
            Steps {
                lines: usize::MAX, // rebuilt: the file is rewritten
                ..Steps::default()
            }
        };
        for (id, job, kind, step) in newer.into_iter().rev() {
            let key = command_key(&kind, &read_command(store, &job)?);
            steps.apply(&id, &job, &kind, step, key);
        }
        steps.head = head.map(str::to_owned);
        Ok(steps)
    }

    /// The cache at `path`, or an empty state when it is missing or unreadable.
    fn load(path: &Path) -> Steps {
        match fs::read_to_string(path)
            .ok()
            .and_then(|text| Steps::parse(&text))
        {
            Some(steps) => Steps {
                as_loaded: true,
                ..steps
            },
            None => Steps {
                lines: usize::MAX, // missing or unreadable: written whole
                ..Steps::default()
            },
        }
    }

    /// Lines are assignments applied in order (a later one wins), so an append
    /// adds its few lines at the end instead of rewriting the file.
    fn parse(text: &str) -> Option<Steps> {
        let mut lines = text.lines();
        if lines.next()? != CACHE_HEADER {
            return None;
        }
        let mut steps = Steps::default();
        for line in lines {
            steps.lines += 1;
            let (tag, rest) = line.split_once(' ')?;
            match tag {
                "head" if is_id(rest) => steps.head = Some(rest.to_owned()),
                "max" => {
                    let (kind, n) = rest.split_once(' ')?;
                    steps.max.insert(kind.to_owned(), n.parse().ok()?);
                }
                "live" => {
                    let (kind, rest) = rest.split_once(' ')?;
                    let (n, job) = rest.split_once(' ')?;
                    if !is_id(job) {
                        return None;
                    }
                    steps
                        .live
                        .insert((kind.to_owned(), n.parse().ok()?), job.to_owned());
                }
                "command" => {
                    let (kind, rest) = rest.split_once(' ')?;
                    let (n, key) = rest.split_once(' ')?;
                    if !is_id(key) {
                        return None;
                    }
                    steps
                        .commands
                        .insert(key.to_owned(), (kind.to_owned(), n.parse().ok()?));
                }
                _ => return None,
            }
        }
        steps.head.as_ref()?;
        Some(steps)
    }

    /// What one applied step adds to the file.
    fn step_lines(&self, job: &str, kind: &str, step: u64, key: &str) -> String {
        let max = self.max.get(kind).copied().unwrap_or(step);
        let head = self.head.as_deref().unwrap_or_default();
        format!(
            "live {kind} {step} {job}\ncommand {kind} {step} {key}\nmax {kind} {max}\nhead {head}\n"
        )
    }

    /// Writes the whole state (after a rebuild, or when appended lines have
    /// piled up); otherwise appends the lines of the step just applied.
    fn save(&self, path: &Path, appended: Option<String>) {
        let entries = self.max.len() + self.live.len() + self.commands.len() + 1;
        if let (Some(lines), true) = (&appended, self.lines < 2 * entries + 64) {
            // One O_APPEND write: concurrent appenders never interleave within it,
            // and lines out of chain order only leave a head that is caught up again.
            if let Ok(mut f) = OpenOptions::new().append(true).open(path) {
                if f.write_all(lines.as_bytes()).is_ok() {
                    return;
                }
            }
        }
        let Some(head) = &self.head else { return };
        let mut text = String::with_capacity(64 + 100 * entries);
        text.push_str(CACHE_HEADER);
        text.push('\n');
        for ((kind, n), job) in &self.live {
            text.push_str(&format!("live {kind} {n} {job}\n"));
        }
        for (key, (kind, n)) in &self.commands {
            text.push_str(&format!("command {kind} {n} {key}\n"));
        }
        for (kind, n) in &self.max {
            text.push_str(&format!("max {kind} {n}\n"));
        }
        text.push_str(&format!("head {head}\n"));
        if let Some(dir) = path.parent() {
            let _ = fs::create_dir_all(dir);
        }
        let _ = store::write_atomic(path, text.as_bytes());
    }
}

fn is_id(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn head_target(store: &Path) -> Result<String> {
    let text = fs::read_to_string(store.join("HEAD")).context("cannot read .roar/HEAD")?;
    match text.trim().strip_prefix("ref: ") {
        Some(target) => Ok(target.to_owned()),
        None => bail!(
            "HEAD does not name a ref: {:?}; {}",
            text.trim().chars().take(80).collect::<String>(),
            crate::workspace::HEAD_REPAIR
        ),
    }
}

pub(crate) fn read_ref(path: &Path) -> Result<Option<String>> {
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

/// An object's fields, read from a loose object or a pack, verified to be of `kind`.
fn read_fields(store: &Path, id: &str, kind: &str) -> Result<Vec<(String, Value)>> {
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
        raw.starts_with(format!("{kind} ").as_bytes()),
        "object {id} is not a {kind} object"
    );
    match decode(&raw[nul + 1..])? {
        Value::Map(fields) => Ok(fields),
        _ => bail!("{kind} object {id} is not a map"),
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

pub(crate) fn append_reflog(store: &Path, session_ref: &str, line: &str) {
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
pub(crate) struct RefLock {
    ref_path: PathBuf,
    path: PathBuf,
    file: Option<File>,
}

impl RefLock {
    pub(crate) fn acquire(ref_path: &Path) -> Result<RefLock> {
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

    pub(crate) fn commit(&mut self, content: &str) -> Result<()> {
        let mut file = self.file.take().context("ref lock committed twice")?;
        file.write_all(content.as_bytes())
            .and_then(|_| file.sync_all())
            .and_then(|_| fs::rename(&self.path, &self.ref_path))
            .with_context(|| format!("cannot update {}", self.ref_path.display()))
    }

    fn release(&mut self) {
        // Unlink while still holding the flock, then close: closed first, a
        // waiter could flock this file, find it still named `.lock`, take it
        // over as a dead holder's, and then lose it to this unlink (two runs
        // each believing they held the lock; one append failed).
        if let Some(file) = self.file.take() {
            let _ = fs::remove_file(&self.path);
            drop(file);
        }
    }
}

impl Drop for RefLock {
    fn drop(&mut self) {
        self.release();
    }
}
