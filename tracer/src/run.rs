//! `roar-tracer run`: start the command under observation, wait for it and
//! all its descendants still attached to it, classify and hash what it
//! touched, store the job (and tree) objects, write the report, and hand
//! back the command's exit code. Prints nothing on stdout; on stderr only
//! what failed and what the user must know (a program that lost its
//! privileges, a detached process let go).
//!
//! The calling process becomes a child subreaper and gets signal handlers
//! for the duration (see `signals`), so a library caller should call `run`
//! from its main thread with nothing else forking meanwhile.

use crate::classify::{News, Recorder};
use crate::context::StartGate;
use crate::descendants::{self, Exit};
use crate::early::{self, Early};
use crate::env_snapshot::PythonInfo;
use crate::hash::{Also, Hasher};
use crate::hash_cache::HashCache;
use crate::interpreters::Interpreters;
use crate::job::Job;
use crate::object::{self, Value};
use crate::observe::{self, Event, Observer};
use crate::paths::{absolute, to_bytes};
use crate::process::{self, ChildFailure, LaunchError};
use crate::ptrace::Pid;
use crate::seccomp::{self, Filter, Trap};
use crate::{notify, ptrace_loop, report, session, signals, store, syscalls};
use anyhow::{bail, Context, Result};
use std::ffi::OsString;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// How trapped calls reach the tracer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    /// User notification where the kernel has it (5.5+), else ptrace.
    Auto,
    /// seccomp user notification: the command may itself use ptrace.
    Notify,
    /// ptrace (the fallback): nothing inside the job can use ptrace.
    Ptrace,
}

impl Mechanism {
    pub fn parse(word: &str) -> Option<Mechanism> {
        match word {
            "auto" => Some(Mechanism::Auto),
            "notify" => Some(Mechanism::Notify),
            "ptrace" => Some(Mechanism::Ptrace),
            _ => None,
        }
    }

    pub fn word(self) -> &'static str {
        match self {
            Mechanism::Auto => "auto",
            Mechanism::Notify => "notify",
            Mechanism::Ptrace => "ptrace",
        }
    }

    /// `ROAR_TRACER_MECHANISM` (auto, notify, ptrace), `Auto` if unset:
    /// lets a whole test suite or a user force the fallback.
    pub fn from_env() -> Result<Mechanism, String> {
        match std::env::var("ROAR_TRACER_MECHANISM") {
            Ok(word) if !word.is_empty() => Mechanism::parse(&word).ok_or_else(|| {
                format!("ROAR_TRACER_MECHANISM must be auto, notify or ptrace, not {word:?}")
            }),
            _ => Ok(Mechanism::Auto),
        }
    }

    /// `Auto` made concrete for this kernel.
    pub fn resolve(self) -> Mechanism {
        match self {
            Mechanism::Auto if seccomp::user_notif_available() => Mechanism::Notify,
            Mechanism::Auto => Mechanism::Ptrace,
            chosen => chosen,
        }
    }
}

pub struct RunOptions {
    pub store: PathBuf,
    pub context: Option<PathBuf>,
    pub job_type: String,
    pub report: Option<PathBuf>,
    pub ignore_prefixes: Vec<PathBuf>,
    /// Absolute glob patterns (a project's ignore patterns) filtered like prefixes.
    pub ignore_globs: Vec<String>,
    /// Append the job to this session (`HEAD`: the active one) after writing it.
    pub session: Option<String>,
    /// With `session`: a re-run keeps this step number and names the job it replaces.
    pub step: Option<u64>,
    pub supersedes: Option<String>,
    pub hash_cache: bool,
    /// Extra digests recorded beside BLAKE3 (`--also-hash`).
    pub also: Also,
    pub mechanism: Mechanism,
    pub command: Vec<OsString>,
    /// Work the caller does beside the command; its result replaces `context`.
    pub beside: Option<Box<dyn Beside>>,
    /// Consulted before the command first changes a path (see `StartGate`).
    pub start_gate: Option<Arc<StartGate>>,
    /// Recognizes the Python interpreters the command's processes execute
    /// and filters their installations' reads (`interpreters.rs`).
    pub interpreters: Option<Interpreters>,
}

/// Work a caller (the `roar` front end) does while the command runs: started
/// once, right after the command has been started (so no thread of it exists
/// at the first fork), finished after the command has ended; what `finish`
/// returns is the job's context, a canonical CBOR map. It is given every
/// path the command read (inputs, then filtered reads).
pub trait Beside {
    fn start(&mut self);
    /// The command has ended; `interpreters`: the Python interpreters its
    /// processes executed, in order. Returns more prefixes (absolute,
    /// symlinks resolved) whose reads are not data inputs because they are
    /// recorded otherwise (an editable project's files, as code).
    fn settle(&mut self, interpreters: &[PythonInfo]) -> Vec<Vec<u8>>;
    fn finish(self: Box<Self>, read: &[&[u8]]) -> Result<Vec<u8>>;
}

/// Exit code for the tracer's own usage and setup errors (nothing ran).
pub const SETUP_FAILED: i32 = 2;

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

fn read_context(path: Option<&Path>) -> Result<Vec<u8>> {
    let Some(path) = path else {
        return Ok(vec![0xa0]);
    };
    let bytes = std::fs::read(path)
        .with_context(|| format!("cannot read context file {}", path.display()))?;
    match object::decode(&bytes) {
        Ok(Value::Map(_)) => Ok(bytes),
        Ok(_) => bail!("context file {} is not a CBOR map", path.display()),
        Err(e) => bail!("context file {} is not canonical CBOR: {e}", path.display()),
    }
}

/// Absolute forms (as given and with symlinks resolved) of every prefix
/// whose reads are filtered: the store and the caller's ignore prefixes.
fn filtered_prefixes(cwd: &[u8], store: &Path, ignore: &[PathBuf]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for p in std::iter::once(store).chain(ignore.iter().map(PathBuf::as_path)) {
        out.push(absolute(cwd, &to_bytes(p)));
        if let Ok(real) = std::fs::canonicalize(p) {
            out.push(to_bytes(&real));
        }
    }
    out.sort();
    out.dedup();
    out
}

pub fn run(opts: RunOptions) -> i32 {
    match run_inner(opts) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("roar-tracer: {e:#}");
            SETUP_FAILED
        }
    }
}

/// What observing the command produced.
struct Observed<'h> {
    recorder: Recorder<'h>,
    exit: Exit,
    mechanism: Mechanism,
    /// Processes that detached themselves and still run, with the listener
    /// that must go on answering them.
    let_go: Vec<Pid>,
    listener: Option<OwnedFd>,
    failure: Option<ChildFailure>,
}

/// Everything the observation needs that does not change between tries.
struct Setup<'a> {
    program: &'a Path,
    command: &'a [OsString],
    keep_privileges: bool,
    prefixes: Vec<Vec<u8>>,
    globs: Vec<glob::Pattern>,
    start_gate: Option<Arc<StartGate>>,
    interpreters: Option<Interpreters>,
    /// The files behind the descriptors the command inherits.
    inherited: Vec<Event>,
}

fn run_inner(mut opts: RunOptions) -> Result<i32> {
    if opts.job_type != "run" && opts.job_type != "build" {
        bail!("--type must be run or build, not {:?}", opts.job_type);
    }
    let Some(name) = opts.command.first() else {
        bail!("no command given (roar-tracer run --store DIR -- COMMAND ...)")
    };
    let context = read_context(opts.context.as_deref())?;
    std::fs::create_dir_all(&opts.store)
        .with_context(|| format!("cannot create store {}", opts.store.display()))?;
    let cwd = to_bytes(&std::env::current_dir().context("cannot read the current directory")?);
    let prefixes = filtered_prefixes(&cwd, &opts.store, &opts.ignore_prefixes);

    let program = match process::resolve(name) {
        Ok(p) => p,
        Err(e) => {
            let why = match e {
                LaunchError::NotFound => "command not found",
                LaunchError::NotExecutable => "permission denied",
            };
            eprintln!("roar-tracer: {}: {why}", name.to_string_lossy());
            return Ok(e.exit_code());
        }
    };
    let globs = opts
        .ignore_globs
        .iter()
        .map(|g| glob::Pattern::new(g).with_context(|| format!("bad --ignore-glob {g:?}")))
        .collect::<Result<Vec<_>>>()?;
    let setup = Setup {
        program: &program,
        command: &opts.command,
        keep_privileges: seccomp::can_keep_privileges(),
        prefixes,
        globs,
        start_gate: opts.start_gate.clone(),
        interpreters: opts.interpreters.take(),
        inherited: observe::inherited_opens(),
    };

    descendants::become_subreaper().context("cannot become a child subreaper")?;
    signals::install().context("cannot install signal handlers")?;
    let hasher = Hasher::new(opts.hash_cache.then(|| HashCache::at(&opts.store))).also(opts.also);
    let started_ns = now_ns();
    let mut mechanism = opts.mechanism.resolve();
    let mut beside = opts.beside.take();
    let mut beside_started = false;
    let mut spawned = || {
        if let Some(b) = beside.as_mut().filter(|_| !beside_started) {
            b.start();
        }
        beside_started = true;
    };
    let observed = loop {
        match observe(&setup, &hasher, mechanism, &mut spawned)? {
            None if opts.mechanism == Mechanism::Auto => mechanism = Mechanism::Ptrace,
            None => bail!("this kernel cannot let a notified call continue (Linux 5.5+ needed); use --mechanism ptrace"),
            Some(observed) => break observed,
        }
    };
    let ended_ns = now_ns();
    match observed.failure {
        Some(ChildFailure::Exec(errno)) => {
            let err = std::io::Error::from_raw_os_error(errno);
            eprintln!("roar-tracer: cannot run {}: {err}", name.to_string_lossy());
            return Ok(if errno == libc::ENOENT { 127 } else { 126 });
        }
        Some(ChildFailure::Filter(errno)) => {
            let err = std::io::Error::from_raw_os_error(errno);
            bail!("cannot install the seccomp filter: {err}");
        }
        None => {}
    }
    let Observed {
        mut recorder,
        exit,
        mechanism,
        let_go,
        listener,
        ..
    } = observed;
    if !let_go.is_empty() {
        for pid in &let_go {
            let line = format!(
                "let go of {}: it detached itself and still runs; what it writes from now on is not recorded",
                descendants::describe(*pid)
            );
            eprintln!("roar: {line}");
            recorder.warnings.push(line);
        }
        if let Some(listener) = listener {
            notify::keep_answering(listener, &let_go)
                .context("cannot keep answering the detached processes")?;
        }
    }

    // From here on the command has run: whatever fails, its exit code is
    // still ours; a missing report tells the caller no job was recorded.
    let recorded = Recorded {
        started_ns,
        ended_ns,
        exit,
        mechanism,
    };
    match record(&opts, &hasher, recorder, (beside, context), cwd, recorded) {
        Ok(()) => {}
        Err(e) => eprintln!("roar-tracer: the command ran but its job was not recorded: {e:#}"),
    }
    Ok(exit.exit_code)
}

/// Starts the command under `mechanism` and observes it to the end;
/// `spawned` is called once the command's process exists. None: the kernel
/// turned out not to support user notification fully; nothing of the
/// command ran.
fn observe<'h>(
    setup: &Setup,
    hasher: &'h Hasher,
    mechanism: Mechanism,
    spawned: &mut dyn FnMut(),
) -> Result<Option<Observed<'h>>> {
    let trap = if mechanism == Mechanism::Notify {
        Trap::Notify
    } else {
        Trap::Ptrace
    };
    let filter = Filter::new(syscalls::TRACED, trap);
    let child = match process::spawn(setup.program, setup.command, &filter, setup.keep_privileges) {
        Ok(child) => child,
        Err(e) if trap == Trap::Notify && e.raw_os_error().is_some() => {
            // The kernel refused a listener filter: the fallback will do.
            return Ok(None);
        }
        Err(e) => return Err(e).context("cannot start the command"),
    };
    signals::set_root(child.pid);
    spawned();
    let mut recorder = Recorder::new(hasher, setup.prefixes.clone())
        .with_ignore_globs(setup.globs.clone())
        .with_start_gate(setup.start_gate.clone())
        .with_interpreters(setup.interpreters.clone());
    let resources = early::Resources::new().context("cannot start hashing")?;
    let mut observer = Observer::new(&mut recorder, trap == Trap::Ptrace, !setup.keep_privileges);
    // Before the command runs (it waits in its first trapped call, the
    // exec): a writable one's state now is what the command must change.
    for event in &setup.inherited {
        observer.record(event.clone());
    }
    let outcome = std::thread::scope(|scope| {
        let mut early = Early::start(scope, &resources, hasher);
        let mut after_each = |obs: &mut Observer| {
            obs.recorder.news(|news, path| match news {
                News::Read => early.input(path),
                News::Written => early.output(path),
            });
        };
        let outcome = match (trap, child.listener.as_ref()) {
            (Trap::Notify, Some(listener)) => {
                notify::supervise(child.pid, listener, &mut observer, &mut after_each)
            }
            _ => ptrace_loop::trace(child.pid, &mut observer, &mut after_each).map(|exit| {
                notify::Outcome::Ended {
                    exit,
                    let_go: Vec::new(),
                }
            }),
        };
        early.stop();
        outcome
    })
    .context("observing the command failed")?;
    observer.finish();
    match outcome {
        notify::Outcome::NoContinue => Ok(None),
        notify::Outcome::Ended { exit, let_go } => Ok(Some(Observed {
            recorder,
            exit,
            mechanism,
            let_go,
            failure: child.failure(),
            listener: child.listener,
        })),
    }
}

/// When and how the command ran.
struct Recorded {
    started_ns: u64,
    ended_ns: u64,
    exit: Exit,
    mechanism: Mechanism,
}

fn record(
    opts: &RunOptions,
    hasher: &Hasher,
    mut recorder: Recorder,
    (mut beside, context): (Option<Box<dyn Beside>>, Vec<u8>),
    cwd: Vec<u8>,
    run: Recorded,
) -> Result<()> {
    let Recorded {
        started_ns,
        ended_ns,
        exit,
        mechanism,
    } = run;
    let hashed_before = hasher.hashed_earlier();
    if let Some(b) = beside.as_mut() {
        let more = b.settle(recorder.interpreters());
        recorder.filter_also(more);
    }
    let findings = recorder.finish()?;
    let hashed_while_running = hasher.hashed_earlier() - hashed_before;
    let context = match beside {
        Some(b) => {
            let read: Vec<&[u8]> = (findings.inputs.iter().map(|a| a.path.as_slice()))
                .chain(findings.filtered.iter().map(Vec::as_slice))
                .collect();
            b.finish(&read)?
        }
        None => context,
    };
    let mut warnings = findings.warnings;
    let mut trees = Vec::new();
    for tree in &findings.trees {
        trees.push(store::write_object(&opts.store, tree).context("cannot write a tree object")?);
    }
    let job = Job {
        job_type: opts.job_type.clone(),
        argv: opts
            .command
            .iter()
            .map(|a| to_bytes(Path::new(a)))
            .collect(),
        cwd,
        started_ns,
        ended_ns,
        exit_code: exit.exit_code as i64,
        signal: exit.signal.map(i64::from),
        interrupted: signals::interruption().is_some(),
        inputs: findings.inputs,
        outputs: findings.outputs,
        filtered: findings.filtered,
        context,
    };
    let id = store::write_object(&opts.store, &job.to_object()?)
        .context("cannot write the job object")?;
    if let Err(e) = hasher.flush_cache() {
        warnings.push(format!("hash cache not updated: {e}"));
    }
    let appended = match &opts.session {
        Some(session) => {
            let request = session::StepRequest {
                session: session.clone(),
                step_kind: opts.job_type.clone(),
                step: opts.step,
                supersedes: opts.supersedes.clone(),
            };
            Some(session::append(&opts.store, &id, &request).context("cannot append the step")?)
        }
        None => None,
    };
    if let Some(path) = &opts.report {
        let rendered = report::render(
            &id,
            &job,
            &trees,
            &warnings,
            appended.as_ref(),
            &report::Observation {
                mechanism: mechanism.word(),
                hashed_while_running,
            },
        );
        store::write_atomic(path, &rendered)
            .with_context(|| format!("cannot write report {}", path.display()))?;
    }
    Ok(())
}
