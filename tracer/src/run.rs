//! `roar-tracer run`: start the command under the tracer, wait for it and
//! all its descendants, classify and hash what it touched, store the job
//! (and tree) objects, write the report, and hand back the command's exit
//! code. Prints nothing on stdout; stderr only when something failed.

use crate::classify::Recorder;
use crate::context::StartGate;
use crate::hash::Hasher;
use crate::hash_cache::HashCache;
use crate::job::Job;
use crate::object::{self, Value};
use crate::paths::{absolute, to_bytes};
use crate::process::{self, LaunchError};
use crate::seccomp::Filter;
use crate::{report, session, signals, store, syscalls, tracer};
use anyhow::{bail, Context, Result};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

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
    pub command: Vec<OsString>,
    /// Work the caller does beside the command; its result replaces `context`.
    pub beside: Option<Box<dyn Beside>>,
    /// Consulted before the command first changes a path (see `StartGate`).
    pub start_gate: Option<Arc<StartGate>>,
}

/// Work a caller (the `roar` front end) does while the command runs: started
/// once the command has been started (the fork needs a single-threaded
/// tracer, so no thread may exist before), finished after it has ended;
/// what `finish` returns is the job's context, a canonical CBOR map. It is
/// given every path the command read (inputs, then filtered reads).
pub trait Beside {
    fn start(&mut self);
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

    let filter = Filter::new(syscalls::TRACED);
    signals::install().context("cannot install signal handlers")?;
    let started_ns = now_ns();
    let child = process::spawn(&program, &opts.command, &filter)
        .context("cannot start the command under ptrace")?;
    signals::set_root(child.pid);
    let mut beside = opts.beside.take();
    if let Some(b) = beside.as_mut() {
        b.start();
    }

    let hasher = Hasher::new(opts.hash_cache.then(|| HashCache::at(&opts.store)));
    let globs = opts
        .ignore_globs
        .iter()
        .map(|g| glob::Pattern::new(g).with_context(|| format!("bad --ignore-glob {g:?}")))
        .collect::<Result<Vec<_>>>()?;
    let mut recorder = Recorder::new(&hasher, prefixes)
        .with_ignore_globs(globs)
        .with_start_gate(opts.start_gate.clone());
    let exit = tracer::trace(child.pid, &mut recorder).context("tracing failed")?;
    let ended_ns = now_ns();
    if let Some(errno) = child.exec_error() {
        let err = std::io::Error::from_raw_os_error(errno);
        eprintln!("roar-tracer: cannot run {}: {err}", name.to_string_lossy());
        return Ok(if errno == libc::ENOENT { 127 } else { 126 });
    }

    // From here on the command has run: whatever fails, its exit code is
    // still ours; a missing report tells the caller no job was recorded.
    match record(
        &opts,
        &hasher,
        recorder,
        (beside, context),
        cwd,
        started_ns,
        ended_ns,
        exit,
    ) {
        Ok(()) => {}
        Err(e) => eprintln!("roar-tracer: the command ran but its job was not recorded: {e:#}"),
    }
    Ok(exit.exit_code)
}

#[allow(clippy::too_many_arguments)]
fn record(
    opts: &RunOptions,
    hasher: &Hasher,
    recorder: Recorder,
    (beside, context): (Option<Box<dyn Beside>>, Vec<u8>),
    cwd: Vec<u8>,
    started_ns: u64,
    ended_ns: u64,
    exit: tracer::Exit,
) -> Result<()> {
    let findings = recorder.finish()?;
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
        let rendered = report::render(&id, &job, &trees, &warnings, appended.as_ref());
        store::write_atomic(path, &rendered)
            .with_context(|| format!("cannot write report {}", path.display()))?;
    }
    Ok(())
}
