//! The job's context (docs/object-format.md §3 `context`) as the `roar`
//! front end gathers it: beside the command, not before it. What is cheap
//! and needed to start (the environment variables, the session, the
//! interpreter) is known up front; the git state and the environment
//! snapshot are read on a thread started once the command has been
//! started, using the core the command leaves idle, and joined when it
//! has ended.
//!
//! The git state recorded must be the one at the start, even if the
//! command edits a tracked file at once: until it has been read, the
//! start gate holds the command's first change to any path in the work
//! tree (the trapped call waits, as it does while a file's old content is
//! hashed), so what was read is what was there when the command began.

use crate::env_snapshot::{self, PythonInfo};
use crate::filters;
use crate::git_state::{self, GitState};
use crate::gpu::UsageSampler;
use crate::object::{encode, Value};
use crate::packages::{self, Editable};
use crate::paths::is_under;
use crate::run::Beside;
use crate::secrets::Rules;
use anyhow::Result;
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// How long a change waits for the git state before it is let through
/// anyway (a work tree on a hung network filesystem must not hang the job).
const GATE_LIMIT: Duration = Duration::from_secs(60);

/// Holds changes under `root` until `open`.
pub struct StartGate {
    root: Option<Vec<u8>>,
    open: AtomicBool,
    lock: Mutex<bool>,
    opened: Condvar,
}

impl StartGate {
    /// A gate for the work tree at `root`; None: nothing to hold.
    pub fn new(root: Option<Vec<u8>>) -> StartGate {
        let open = root.is_none();
        StartGate {
            root,
            open: AtomicBool::new(open),
            lock: Mutex::new(open),
            opened: Condvar::new(),
        }
    }

    /// Called before the command first changes `path`; returns at once
    /// unless the path is in the work tree and its state is still being read.
    pub fn hold(&self, path: &[u8]) {
        if self.open.load(Ordering::Acquire) {
            return;
        }
        if !self.root.as_deref().is_some_and(|r| is_under(path, r)) {
            return;
        }
        let Ok(guard) = self.lock.lock() else { return };
        let _ = self
            .opened
            .wait_timeout_while(guard, GATE_LIMIT, |open| !*open);
    }

    pub fn open(&self) {
        if let Ok(mut open) = self.lock.lock() {
            *open = true;
        }
        self.open.store(true, Ordering::Release);
        self.opened.notify_all();
    }
}

/// Opens the gate however the reading thread ends (a panic included).
struct OpenOnDrop(Arc<StartGate>);

impl Drop for OpenOnDrop {
    fn drop(&mut self) {
        self.0.open();
    }
}

/// What is known before the command starts.
pub struct Plan {
    /// The `.roar` directory (objects are written under it).
    pub store: PathBuf,
    /// The command's working directory: its repository is the one recorded.
    pub cwd: PathBuf,
    /// The interpreter the command starts, if one could be seen.
    pub python: Option<PythonInfo>,
    /// The command's environment (redacted beside the command: compiling
    /// the secret rules takes milliseconds).
    pub env_vars: Vec<(Vec<u8>, Vec<u8>)>,
    pub session: String,
    /// A re-run's step and the overrides it was given.
    pub step: Option<u64>,
    pub params: Option<Vec<(String, String)>>,
    /// Already read before the start (when `run.require_clean` had to
    /// check it); None: read it beside the command.
    pub git: Option<Option<GitState>>,
}

/// What the front end reports after the run, besides the job.
#[derive(Debug, Default, Clone)]
pub struct Notes {
    pub dirty: bool,
    /// The repository names no remote: nobody else can fetch the code.
    pub no_remote: bool,
    /// HEAD's commit when no remote-tracking branch holds it (not pushed).
    pub unpushed: Option<String>,
    pub warnings: Vec<String>,
}

struct Gathered {
    git: Value,
    env: Value,
    editables: Vec<Editable>,
    env_vars: Vec<(Vec<u8>, Vec<u8>)>,
    notes: Notes,
}

/// Gathers the context beside the command (see the module's doc).
pub struct Gatherer {
    plan: Option<Plan>,
    gpus: Option<UsageSampler>,
    gate: Arc<StartGate>,
    thread: Option<JoinHandle<Gathered>>,
    notes: Arc<Mutex<Notes>>,
    session: String,
    step: Option<u64>,
    params: Option<Vec<(String, String)>>,
    /// The store's cache directory (dpkg answers are kept there).
    cache_dir: PathBuf,
    /// False when the context is finished before the command runs: the
    /// packages it reads are then not known (and not recorded).
    reads_known: bool,
    /// The command itself names an interpreter (the plan's): it is the
    /// job's. Else the first one its processes execute is.
    named_python: bool,
    /// Joined once the command has ended (`settle`).
    gathered: Option<Gathered>,
}

impl Gatherer {
    /// For a context finished before the command starts (handed to an
    /// external tracer): no `packages` field, they are derived when shown.
    pub fn before_the_run(mut self) -> Gatherer {
        self.reads_known = false;
        self
    }

    /// The gatherer, the gate the tracer must consult before a change, and
    /// where the notes appear once the context is finished.
    pub fn new(mut plan: Plan) -> (Gatherer, Arc<StartGate>, Arc<Mutex<Notes>>) {
        let root = match &plan.git {
            Some(_) => None, // read already: nothing to wait for
            None => git_state::find_work_tree(&plan.cwd).map(|r| {
                std::fs::canonicalize(&r)
                    .unwrap_or(r)
                    .into_os_string()
                    .into_encoded_bytes()
            }),
        };
        let gate = Arc::new(StartGate::new(root));
        let notes = Arc::new(Mutex::new(Notes::default()));
        let gatherer = Gatherer {
            cache_dir: plan.store.join("cache"),
            reads_known: true,
            named_python: plan.python.is_some(),
            gathered: None,
            session: std::mem::take(&mut plan.session),
            step: plan.step,
            params: plan.params.take(),
            plan: Some(plan),
            gpus: None,
            gate: gate.clone(),
            thread: None,
            notes: notes.clone(),
        };
        (gatherer, gate, notes)
    }
}

impl Gatherer {
    /// What the thread gathered (or, if it could not run, what is known without it).
    fn join(&mut self) -> Gathered {
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(g)) => g,
            _ => Gathered {
                git: Value::Null,
                env: Value::Null,
                editables: Vec::new(),
                env_vars: Rules::get()
                    .redact_env(self.plan.take().map(|p| p.env_vars).unwrap_or_default()),
                notes: Notes {
                    warnings: vec!["git state and environment not recorded".into()],
                    ..Notes::default()
                },
            },
        }
    }
}

fn block_signals() {
    // Process-directed signals (Ctrl-C, kill) must reach the thread that
    // observes the command, whose handlers forward them.
    // SAFETY: a full set on the stack, for this thread's mask only.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_BLOCK, &all, std::ptr::null_mut());
    }
}

fn gather(plan: Plan, gate: Arc<StartGate>) -> Gathered {
    block_signals();
    let open = OpenOnDrop(gate);
    let mut notes = Notes::default();
    let state = match plan.git {
        Some(state) => state,
        None => git_state::read(&plan.cwd).unwrap_or_else(|e| {
            notes
                .warnings
                .push(format!("git state not recorded: {e:#}"));
            None
        }),
    };
    drop(open); // the state at the start is in memory: changes may go on
    let env_vars = Rules::get().redact_env(plan.env_vars);
    notes.dirty = state.as_ref().is_some_and(GitState::dirty);
    if let Some(state) = &state {
        // What would keep the run from being reproduced elsewhere, while
        // it can still be fixed (read offline, beside the command).
        notes.no_remote = state.remote.is_none();
        if !notes.no_remote
            && git_state::remote_branch_holding(&plan.cwd, &state.commit) == Some(None)
        {
            notes.unpushed = Some(state.commit.clone());
        }
    }
    let git = match state.map(|s| s.to_value(&plan.store)).transpose() {
        Ok(v) => v.unwrap_or(Value::Null),
        Err(e) => {
            notes
                .warnings
                .push(format!("git state not recorded: {e:#}"));
            Value::Null
        }
    };
    let env = match env_snapshot::write_snapshot(plan.python.as_ref(), &plan.store) {
        Ok(id) => Value::Text(id),
        Err(e) => {
            notes
                .warnings
                .push(format!("environment not recorded: {e:#}"));
            Value::Null
        }
    };
    let editables = plan
        .python
        .as_ref()
        .map(|py| packages::editables(&py.site_packages))
        .unwrap_or_default();
    Gathered {
        git,
        env,
        editables,
        env_vars,
        notes,
    }
}

impl Beside for Gatherer {
    fn start(&mut self) {
        // The command is a child of this process: its GPU work is below us.
        self.gpus = UsageSampler::start(std::process::id());
        if let Some(plan) = self.plan.take() {
            let gate = self.gate.clone();
            match std::thread::Builder::new()
                .name("roar-context".into())
                .spawn(move || gather(plan, gate))
            {
                Ok(handle) => self.thread = Some(handle),
                Err(_) => self.gate.open(), // finish() reports the missing state
            }
        }
    }

    fn settle(&mut self, interpreters: &[PythonInfo]) -> Vec<Vec<u8>> {
        let mut gathered = self.join();
        let store = self.cache_dir.parent().unwrap_or(&self.cache_dir);
        if let (false, Some(python)) = (self.named_python, interpreters.first()) {
            // The command named no interpreter but ran one (a venv activated
            // by a script): it is the job's, recorded as if named.
            match env_snapshot::write_snapshot(Some(python), store) {
                Ok(id) => gathered.env = Value::Text(id),
                Err(e) => gathered
                    .notes
                    .warnings
                    .push(format!("environment not recorded: {e:#}")),
            }
            gathered.editables = packages::editables(&python.site_packages);
        }
        let root = store.parent().unwrap_or(store);
        let dirs: Vec<&[u8]> = gathered
            .editables
            .iter()
            .map(|e| e.dir.as_slice())
            .collect();
        let prefixes = filters::editable_prefixes(root, &dirs)
            .into_iter()
            .map(|p| p.into_os_string().into_vec())
            .collect();
        self.gathered = Some(gathered);
        prefixes
    }

    fn finish(mut self: Box<Self>, read: &[&[u8]]) -> Result<Vec<u8>> {
        let gathered = match self.gathered.take() {
            Some(g) => g,
            None => self.join(),
        };
        if let Ok(mut notes) = self.notes.lock() {
            *notes = gathered.notes;
        }
        let pairs = |v: &[(Vec<u8>, Vec<u8>)]| {
            Value::Array(
                v.iter()
                    .map(|(k, v)| {
                        Value::Array(vec![Value::Bytes(k.clone()), Value::Bytes(v.clone())])
                    })
                    .collect(),
            )
        };
        let params = self.params.as_ref().map_or(Value::Null, |p| {
            Value::Map(p.iter().map(|(k, v)| (k.clone(), Value::text(v))).collect())
        });
        let mut fields = vec![
            ("git", gathered.git),
            ("env", gathered.env),
            ("env_vars", pairs(&gathered.env_vars)),
            ("session", Value::text(&self.session)),
            (
                "step",
                self.step.map_or(Value::Null, |s| Value::Int(i128::from(s))),
            ),
            ("params", params),
        ];
        if self.reads_known {
            let owners = packages::read_by(read, &gathered.editables, Some(&self.cache_dir));
            fields.push(("packages", packages::to_value(&owners, &gathered.editables)));
        }
        if let Some(sampler) = self.gpus.take() {
            // Only where an NVIDIA driver is: the GPUs its processes used.
            let used = sampler.stop().into_iter().map(Value::Text).collect();
            fields.push(("gpus_used", Value::Array(used)));
        }
        encode(&Value::map(fields))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn the_gate_holds_only_paths_in_the_work_tree_and_only_until_open() {
        let gate = Arc::new(StartGate::new(Some(b"/repo".to_vec())));
        let t = Instant::now();
        gate.hold(b"/elsewhere/out.bin");
        assert!(t.elapsed() < Duration::from_millis(50), "outside: not held");
        let opener = {
            let gate = gate.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(100));
                gate.open();
            })
        };
        let t = Instant::now();
        gate.hold(b"/repo/train.py");
        assert!(
            t.elapsed() >= Duration::from_millis(90),
            "inside: held until open"
        );
        opener.join().expect("joined");
        let t = Instant::now();
        gate.hold(b"/repo/train.py");
        assert!(t.elapsed() < Duration::from_millis(50), "open: not held");
    }
}
