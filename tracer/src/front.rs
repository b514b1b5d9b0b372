//! `roar run` and `roar build`, whole, without a Python interpreter: find
//! the workspace, read its configuration, work out the filters and the
//! environment variables, start the command under the tracer in this
//! process, gather the git state and environment snapshot beside it (see
//! `context`), and print the report. Every other subcommand, `--help` and
//! the re-run of a step (`roar run @N`, whose step Python resolves before
//! handing it back here with `--step`) belong to roar's Python CLI.

use crate::config::Config;
use crate::context::{Gatherer, Notes, Plan};
use crate::env_snapshot::{self, PythonInfo};
use crate::filters;
use crate::git_state;
use crate::hash::{Algo, Also};
use crate::interpreters::Interpreters;
use crate::labels;
use crate::run::{self, Mechanism, RunOptions};
use crate::workspace::{Found, Workspace};
use std::ffi::OsString;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Instant;

/// Exit codes of roar's error classes (roar/errors.py).
const USAGE: i32 = 2;
const NOT_A_WORKSPACE: i32 = 3;
const TRACER_UNAVAILABLE: i32 = 7;

/// A failure shown as one `error:` line, with its exit code.
pub struct Failure(pub i32, pub String);

/// `roar run` / `roar build` as parsed: flags, then the command.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Request {
    pub quiet: bool,
    pub verbose: bool,
    /// `-n/--name`: the job's `name` label.
    pub name: Option<String>,
    /// `--hash`: digests asked for besides BLAKE3 (roar-cli's option).
    pub hashes: Vec<String>,
    /// A re-run (sent by Python's `roar run @N`): the step it replaces...
    pub step: Option<u64>,
    /// ...the job it supersedes, and the overrides it was given.
    pub supersedes: Option<String>,
    pub params: Vec<(String, String)>,
    pub command: Vec<OsString>,
}

/// roar-cli 0.4.7 chooses among three tracers; roar has one, so these names
/// are accepted and mean the same thing (roar/cli/run.py lists them in help).
const TRACER_NAMES: [&str; 4] = ["auto", "ebpf", "preload", "ptrace"];
/// roar-cli options that have no counterpart here, with the reason given.
const FOREIGN_OPTIONS: [(&str, &str); 3] = [
    (
        "--block-tag",
        "roar-cli's hereditary compliance tags are not part of roar",
    ),
    (
        "--add-tag",
        "roar-cli's hereditary compliance tags are not part of roar (use `roar label`)",
    ),
    ("--wandb-to-trackio", "roar does not reroute wandb"),
];
/// How a re-run comes back to Python: `run --rerun FLAGS -- @N OVERRIDES`.
const RERUN: &str = "--rerun";

/// Where `roar <args>` is done.
#[derive(Debug, PartialEq, Eq)]
pub enum Route {
    /// Here: `run`/`build` of a command (or a usage error to report).
    Front,
    /// Python resolves `roar run @N` first; it gets these words.
    Rerun(Vec<OsString>),
    /// Every other subcommand, and `--help`.
    Python,
}

pub fn route(args: &[OsString]) -> Route {
    let Some((sub, rest)) = args.split_first() else {
        return Route::Python;
    };
    if sub != "run" && sub != "build" {
        return Route::Python;
    }
    let help = rest
        .iter()
        .take_while(|a| a.as_bytes().starts_with(b"-") && a.as_bytes() != b"--")
        .any(|a| a == "-h" || a == "--help");
    if help {
        return Route::Python;
    }
    match parse(rest) {
        Ok(req) if req.step.is_none() && req.command[0].as_bytes().starts_with(b"@") => {
            let mut words = vec![sub.clone(), RERUN.into()];
            words.extend(req.quiet.then(|| "-q".into()));
            words.extend(req.verbose.then(|| "-v".into()));
            words.extend(req.name.iter().map(|n| format!("--name={n}").into()));
            words.extend(req.hashes.iter().map(|h| format!("--hash={h}").into()));
            words.push("--".into());
            words.extend(req.command);
            Route::Rerun(words)
        }
        _ => Route::Front,
    }
}

/// Python's repr of a short text, for messages worded as the Python CLI words them.
fn quoted(text: &str) -> String {
    format!("'{text}'")
}

pub fn parse(args: &[OsString]) -> Result<Request, String> {
    let mut req = Request::default();
    let mut i = 0;
    while let Some(arg) = args.get(i).filter(|a| a.as_bytes().starts_with(b"-")) {
        let raw = arg.to_string_lossy();
        let (flag, inline) = match raw.split_once('=') {
            Some((f, v)) if raw.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
            _ => (raw.clone().into_owned(), None),
        };
        let value = |i: &mut usize| -> Result<String, String> {
            if let Some(v) = inline.clone() {
                return Ok(v);
            }
            *i += 1;
            args.get(*i)
                .map(|v| v.to_string_lossy().into_owned())
                .ok_or_else(|| format!("option {flag} needs a value (see roar run --help)"))
        };
        match flag.as_str() {
            "--" => {
                i += 1;
                break;
            }
            "-q" | "--quiet" => req.quiet = true,
            "-v" | "--verbose" | "-vv" => req.verbose = true,
            "-qv" | "-vq" => (req.quiet, req.verbose) = (true, true),
            "-n" | "--name" => req.name = Some(value(&mut i)?),
            f if f.starts_with("-n") && !f.starts_with("--") => req.name = Some(f[2..].to_owned()),
            "--hash" => {
                let algo = value(&mut i)?.to_lowercase();
                if algo != "blake3" && Algo::parse(&algo).is_none() {
                    let names = Algo::ALL.iter().map(|a| a.name());
                    return Err(format!(
                        "--hash takes one of {}, not {}",
                        ["blake3"]
                            .into_iter()
                            .chain(names)
                            .collect::<Vec<_>>()
                            .join(", "),
                        quoted(&algo)
                    ));
                }
                req.hashes.push(algo);
            }
            "--tracer" => {
                let tracer = value(&mut i)?;
                if !TRACER_NAMES.contains(&tracer.as_str()) {
                    return Err(format!(
                        "--tracer takes one of {}, not {}",
                        TRACER_NAMES.join(", "),
                        quoted(&tracer)
                    ));
                }
            }
            "--tracer-fallback" | "--no-tracer-fallback" => {}
            "--step" => {
                let n = value(&mut i)?;
                req.step = Some(
                    n.parse()
                        .map_err(|_| format!("--step takes a number, not {}", quoted(&n)))?,
                );
            }
            "--supersedes" => req.supersedes = Some(value(&mut i)?),
            "--param" => {
                let kv = value(&mut i)?;
                let (k, v) = kv
                    .split_once('=')
                    .ok_or_else(|| format!("--param takes NAME=VALUE, not {}", quoted(&kv)))?;
                req.params.push((k.to_owned(), v.to_owned()));
            }
            f => {
                if let Some((_, why)) = FOREIGN_OPTIONS.iter().find(|(o, _)| *o == f) {
                    return Err(format!("{f}: {why}"));
                }
                return Err(format!(
                    "unknown option {} for roar run (see roar run --help)",
                    quoted(f)
                ));
            }
        }
        i += 1;
    }
    req.command = args[i.min(args.len())..].to_vec();
    if req.command.is_empty() {
        return Err("roar run needs a command to run, e.g. `roar run python train.py`".into());
    }
    if req.name.as_ref().is_some_and(|n| n.trim().is_empty()) {
        return Err("-n/--name needs a non-empty name".into());
    }
    if req.step.is_some() != req.supersedes.is_some() {
        return Err("--step and --supersedes go together (roar run @N sets both)".into());
    }
    Ok(req)
}

/// Writes `error: message` on stderr (red on a terminal), as the Python CLI does.
fn error(message: &str) {
    let red = std::env::var_os("NO_COLOR").is_none() && unsafe { libc::isatty(2) } == 1;
    let mut err = std::io::stderr().lock();
    let _ = if red {
        writeln!(err, "\x1b[31merror:\x1b[0m {message}")
    } else {
        writeln!(err, "error: {message}")
    };
}

fn warn(message: &str) {
    let _ = writeln!(std::io::stderr().lock(), "warning: {message}");
}

static PYTHON: OnceLock<Option<OsString>> = OnceLock::new();

/// Takes `$ROAR_PYTHON` (the interpreter of a Python caller that handed a
/// run over) out of the environment, so the command never sees it. Call
/// first, while the process has one thread.
pub fn adopt_python_caller() {
    let python = std::env::var_os("ROAR_PYTHON").filter(|p| !p.is_empty());
    std::env::remove_var("ROAR_PYTHON");
    let _ = PYTHON.set(python);
}

/// The command that runs roar's Python CLI: the calling interpreter's
/// `-m roar` when Python handed the run over, else the `roar-py` installed
/// beside this binary.
pub fn python_cli() -> Option<Command> {
    if let Some(python) = PYTHON.get().cloned().flatten() {
        let mut cmd = Command::new(python);
        cmd.args(["-m", "roar"]);
        return Some(cmd);
    }
    let me = std::env::current_exe().ok()?;
    let beside = me.parent()?.join("roar-py");
    beside.is_file().then(|| Command::new(beside))
}

/// Hands `roar <args>` to the Python CLI (replacing this process).
pub fn hand_to_python(args: &[OsString]) -> i32 {
    match python_cli() {
        Some(mut cmd) => {
            let err = cmd.args(args).exec();
            error(&format!("cannot start roar's Python CLI: {err}"));
            TRACER_UNAVAILABLE
        }
        None => {
            error("roar's Python CLI (roar-py) is not installed beside this roar; reinstall roar (pip install roar)");
            TRACER_UNAVAILABLE
        }
    }
}

/// `roar run` / `roar build` (`kind`), arguments after the subcommand.
pub fn main(kind: &str, args: &[OsString]) -> i32 {
    match record(kind, args) {
        Ok(code) => code,
        Err(Failure(code, message)) => {
            error(&message);
            code
        }
    }
}

/// A `roar: DEBUG roar: ...` line when `logging.level` is debug (as
/// roar/log.py formats Python's).
fn debug(config: &Config, message: impl FnOnce() -> String) {
    if config.text("logging.level") == "debug" {
        let _ = writeln!(std::io::stderr().lock(), "roar: DEBUG roar: {}", message());
    }
}

/// The workspace's configuration: the cache Python keeps, else Python's answer.
pub fn load_config(ws: &Workspace) -> Result<Config, Failure> {
    if let Some(config) = Config::cached(&ws.dir) {
        return Ok(config);
    }
    let mut python = python_cli().ok_or_else(|| {
        Failure(
            TRACER_UNAVAILABLE,
            "roar's Python CLI (roar-py) is not installed beside this roar; reinstall roar".into(),
        )
    })?;
    Config::from_python(&mut python, &ws.dir).map_err(|e| Failure(USAGE, format!("{e:#}")))
}

/// `$ROAR_TRACER`, else `tracer.path`: another tracer binary to run the
/// command under. None: this binary's own tracer.
fn external_tracer(config: &Config) -> Result<Option<PathBuf>, Failure> {
    let chosen = std::env::var_os("ROAR_TRACER")
        .filter(|v| !v.is_empty())
        .or_else(|| Some(OsString::from(config.text("tracer.path"))).filter(|v| !v.is_empty()));
    let Some(path) = chosen.map(PathBuf::from) else {
        return Ok(None);
    };
    let executable = std::fs::metadata(&path).is_ok_and(|m| {
        m.is_file() && std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o111 != 0
    });
    if !executable {
        return Err(Failure(
            TRACER_UNAVAILABLE,
            format!("tracer {} is not an executable file", path.display()),
        ));
    }
    let me = std::env::current_exe()
        .ok()
        .and_then(|p| std::fs::canonicalize(p).ok());
    Ok((std::fs::canonicalize(&path).ok() != me).then_some(path))
}

/// The interpreter `command` starts (probed, or None), and the prefixes
/// and globs whose reads are filtered. The prefixes of the interpreter the
/// command starts, or else of the one a script it runs would find first
/// on `path_var`, are among them.
pub fn filters_for(
    ws: &Workspace,
    config: &Config,
    command: &[OsString],
    path_var: Option<&OsString>,
) -> (Option<PythonInfo>, Vec<PathBuf>, Vec<String>) {
    let cache_dir = ws.dir.join("cache");
    let python = env_snapshot::resolve_python(command, path_var)
        .and_then(|p| env_snapshot::probe(&p, &cache_dir));
    let on_path = match &python {
        Some(_) => None,
        None => ["python3", "python"]
            .iter()
            .find_map(|n| env_snapshot::which(n.as_bytes(), path_var))
            .and_then(|p| env_snapshot::probe(&p, &cache_dir)),
    };
    let pythons: Vec<&PythonInfo> = python.iter().chain(on_path.iter()).collect();
    let mut prefixes = filters::ignore_prefixes(config, &ws.root, &pythons);
    let (project_prefixes, globs) = filters::project_patterns(config, &ws.root);
    prefixes.extend(project_prefixes);
    (python, prefixes, globs)
}

fn record(kind: &str, args: &[OsString]) -> Result<i32, Failure> {
    let req = parse(args).map_err(|m| Failure(USAGE, m))?;
    let cwd = std::env::current_dir()
        .map_err(|e| Failure(USAGE, format!("cannot read the current directory: {e}")))?;
    let ws = match Workspace::find(&cwd) {
        Ok(ws) => ws,
        // roar-cli's history waiting to be imported: Python offers that.
        Err(Found::Legacy) => {
            let mut all = vec![OsString::from(kind)];
            all.extend(args.iter().cloned());
            return Ok(hand_to_python(&all));
        }
        Err(Found::Nothing(why)) => return Err(Failure(NOT_A_WORKSPACE, why)),
    };
    let config = load_config(&ws)?;
    // hash.primary and hash.also as roar/config.py checked them, with --hash.
    let also = config
        .also_digests(&req.hashes)
        .map_err(|m| Failure(USAGE, m))?;
    let external = external_tracer(&config)?;
    let session = ws.head_target().map_err(|m| Failure(5, m))?;

    // The command's environment: ours plus the workspace's `roar env`.
    let persistent = ws.persistent_env();
    let mut env: Vec<(OsString, OsString)> = std::env::vars_os().collect();
    for (k, v) in &persistent {
        env.retain(|(name, _)| name != k.as_str());
        env.push((k.into(), v.into()));
    }
    let path_var = env
        .iter()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.clone());

    let (python, prefixes, globs) = filters_for(&ws, &config, &req.command, path_var.as_ref());

    let env_vars = env
        .iter()
        .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
        .collect();
    let git = if config.flag("run.require_clean") || external.is_some() {
        // Needed before the start: to refuse, or to hand over as a file.
        let state = git_state::read(&cwd).unwrap_or(None);
        if config.flag("run.require_clean") && state.as_ref().is_some_and(|s| s.dirty()) {
            return Err(Failure(
                USAGE,
                "the git work tree has uncommitted changes and run.require_clean is set; \
                 commit them or `roar config set run.require_clean false`"
                    .into(),
            ));
        }
        Some(state)
    } else {
        None
    };
    let plan = Plan {
        store: ws.dir.clone(),
        cwd: cwd.clone(),
        python,
        env_vars,
        session: session.clone(),
        step: req.step,
        params: req.supersedes.is_some().then(|| req.params.clone()),
        git,
    };
    for (k, v) in &persistent {
        // Single-threaded still: the command inherits it at its exec.
        std::env::set_var(k, v);
    }
    debug(&config, || {
        let tracer = external.as_deref().map_or_else(
            || {
                std::env::current_exe()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            },
            |p| p.display().to_string(),
        );
        let step = req
            .step
            .map_or_else(|| "None".to_owned(), |s| s.to_string());
        format!(
            "tracer {tracer} in {}, session {session}, step {step}",
            ws.root.display()
        )
    });
    let scratch = Scratch::new(&ws.dir)
        .map_err(|e| Failure(1, format!("cannot use {}: {e}", ws.dir.display())))?;
    let report_path = scratch.0.join("report.json");
    let mechanism = Mechanism::from_env().map_err(|e| Failure(USAGE, e))?;
    let started = Instant::now();
    let (code, notes) = match external {
        Some(tracer) => {
            let handover = Handover {
                store: &ws.dir,
                scratch: &scratch.0,
                session: &session,
                prefixes: &prefixes,
                globs: &globs,
                also,
            };
            external_run(&tracer, kind, &req, plan, &handover)
        }
        None => {
            let (gatherer, gate, notes) = Gatherer::new(plan);
            let code = run::run(RunOptions {
                store: ws.dir.clone(),
                context: None,
                job_type: kind.to_owned(),
                report: Some(report_path.clone()),
                ignore_prefixes: prefixes,
                ignore_globs: globs,
                session: Some(session),
                step: req.step,
                supersedes: req.supersedes.clone(),
                hash_cache: true,
                also,
                mechanism,
                command: req.command.clone(),
                beside: Some(Box::new(gatherer)),
                start_gate: Some(gate),
                interpreters: Some(Interpreters::new(
                    ws.root.clone(),
                    ws.dir.join("cache"),
                    config.flag("filters.ignore_package_reads"),
                )),
            });
            let notes = notes.lock().map(|n| n.clone()).unwrap_or_default();
            (code, notes)
        }
    };
    let elapsed = started.elapsed().as_secs_f64();
    let Some(report) = std::fs::read(&report_path)
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
    else {
        // The tracer already said why (command not found, not executable,
        // bad setup); anything else means the run was not recorded.
        if ![2, 126, 127].contains(&code) {
            warn("the tracer recorded no job for this run");
        }
        return Ok(code);
    };
    let job = report["job"].as_str().unwrap_or_default().to_owned();
    debug(&config, || {
        format!("tracer exit {code} after {elapsed:.3}s, job {job}")
    });
    if !req.quiet {
        reproducibility_warnings(&notes);
    }
    if let Some(name) = &req.name {
        if let Err(e) = labels::label_new_job(&ws.dir, &job, &[("name".into(), name.clone())]) {
            warn(&format!("the job was recorded but not named: {e:#}"));
        }
    }
    if req.verbose {
        for w in &notes.warnings {
            warn(w);
        }
    }
    if !(req.quiet || config.flag("output.quiet")) {
        print_report(kind, &report, elapsed, req.verbose);
    }
    Ok(code)
}

/// What would keep the run from being reproduced elsewhere, one short
/// line each, while it can still be fixed (roar/reproduce/checklist.py
/// checks the same before `roar register`).
fn reproducibility_warnings(notes: &Notes) {
    if notes.no_remote {
        warn("no git remote: others cannot fetch this code (`git remote add origin URL`)");
    }
    if let Some(commit) = &notes.unpushed {
        warn(&format!(
            "commit {} is on no remote branch: `git push` so others can reproduce this run",
            &commit[..commit.len().min(12)]
        ));
    }
    if notes.dirty {
        warn("git work tree is dirty; the patch is recorded with the job");
    }
}

/// A private directory under `.roar/tmp` for one run's report (and, for an
/// external tracer, its context), removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(store: &Path) -> std::io::Result<Scratch> {
        let mut nonce = [0u8; 4];
        // SAFETY: getrandom fills the 4-byte buffer it is given.
        unsafe { libc::getrandom(nonce.as_mut_ptr().cast(), nonce.len(), 0) };
        let name = format!("run-{}-{}", std::process::id(), u32::from_ne_bytes(nonce));
        let path = store.join("tmp").join(name);
        std::fs::create_dir_all(&path)?;
        Ok(Scratch(path))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What an external tracer is told besides the command.
struct Handover<'a> {
    store: &'a Path,
    scratch: &'a Path,
    session: &'a str,
    prefixes: &'a [PathBuf],
    globs: &'a [String],
    also: Also,
}

/// The run under another tracer binary (`tracer.path`, `$ROAR_TRACER`):
/// its command-line contract (docs/tracer.md), the context complete
/// before the start and handed over as a file.
fn external_run(
    tracer: &Path,
    kind: &str,
    req: &Request,
    plan: Plan,
    to: &Handover,
) -> (i32, Notes) {
    use crate::run::Beside;
    let (gatherer, _gate, notes) = Gatherer::new(plan);
    let mut gatherer = gatherer.before_the_run();
    gatherer.start();
    let context = match Box::new(gatherer).finish(&[]) {
        Ok(c) => c,
        Err(e) => {
            error(&format!("cannot build the job's context: {e:#}"));
            return (1, Notes::default());
        }
    };
    let context_path = to.scratch.join("context.cbor");
    if let Err(e) = std::fs::write(&context_path, context) {
        error(&format!("cannot write {}: {e}", context_path.display()));
        return (1, Notes::default());
    }
    let mut cmd = Command::new(tracer);
    cmd.arg0("roar-tracer")
        .args(["run", "--type", kind, "--store"])
        .arg(to.store)
        .arg("--context")
        .arg(&context_path)
        .arg("--report")
        .arg(to.scratch.join("report.json"))
        .args(["--session", to.session]);
    if let (Some(step), Some(job)) = (req.step, &req.supersedes) {
        cmd.args(["--step", &step.to_string(), "--supersedes", job]);
    }
    for p in to.prefixes {
        cmd.arg("--ignore-prefix").arg(p);
    }
    for g in to.globs {
        cmd.args(["--ignore-glob", g]);
    }
    for algo in Algo::ALL.into_iter().filter(|a| to.also.contains(*a)) {
        cmd.args(["--also-hash", algo.name()]);
    }
    cmd.arg("--").args(&req.command);
    let code = crate::signals::install()
        .map_err(|e| e.to_string())
        .and_then(|()| cmd.spawn().map_err(|e| e.to_string()))
        .map(|mut child| {
            crate::signals::set_root(child.id() as i32);
            child.wait().map_or(1, |s| {
                use std::os::unix::process::ExitStatusExt;
                s.code().unwrap_or_else(|| 128 + s.signal().unwrap_or(0))
            })
        });
    let code = code.unwrap_or_else(|e| {
        error(&format!("cannot run the tracer {}: {e}", tracer.display()));
        1
    });
    let notes = notes.lock().map(|n| n.clone()).unwrap_or_default();
    (code, notes)
}

/// Recorded text as a terminal may show it, by roar/display.py's rule (the
/// one escaping; `printable` there): C0 and C1 controls, DEL and the
/// bidirectional overrides become visible escapes (`\e`, `\n`, `\x07`,
/// `\u202e`), bytes that are not UTF-8 `\xNN`; a backslash stays as is.
pub fn display_path(path: &[u8]) -> String {
    fn unsafe_char(c: char) -> bool {
        matches!(c, '\u{00}'..='\u{1f}' | '\u{7f}'..='\u{9f}' | '\u{061c}' | '\u{200e}' | '\u{200f}'
            | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    }
    let mut out = String::new();
    for chunk in path.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\u{1b}' => out.push_str("\\e"),
                c if unsafe_char(c) && (c as u32) < 0x100 => {
                    out.push_str(&format!("\\x{:02x}", c as u32))
                }
                c if unsafe_char(c) => out.push_str(&format!("\\u{:04x}", c as u32)),
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// A report path (`"text"` or `{"hex": ...}`, docs/tracer.md) as bytes.
fn report_path(v: &serde_json::Value) -> Vec<u8> {
    match v {
        serde_json::Value::String(s) => s.as_bytes().to_vec(),
        other => {
            let hex = other["hex"].as_str().unwrap_or_default().as_bytes();
            hex.chunks(2)
                .filter_map(|p| u8::from_str_radix(std::str::from_utf8(p).ok()?, 16).ok())
                .collect()
        }
    }
}

fn print_report(kind: &str, report: &serde_json::Value, elapsed: f64, verbose: bool) {
    let empty = Vec::new();
    let inputs = report["inputs"].as_array().unwrap_or(&empty);
    let outputs = report["outputs"].as_array().unwrap_or(&empty);
    let number = report["step"]
        .as_u64()
        .map_or_else(|| "?".to_owned(), |n| n.to_string());
    let label = if kind == "build" {
        format!("@B{number}")
    } else {
        format!("@{number}")
    };
    let code = report["exit_code"].as_i64().unwrap_or(0);
    let status = if report["interrupted"].as_bool() == Some(true) {
        "interrupted".to_owned()
    } else if code == 0 {
        "ok".to_owned()
    } else {
        format!("exit {code}")
    };
    let job = report["job"].as_str().unwrap_or_default();
    // The tracer's append decided it replaced a step (same command, same place).
    let rerun = if report["supersedes"].is_string() {
        format!("  (re-run of {label})")
    } else {
        String::new()
    };
    let mut lines = vec![format!(
        "roar: {label} job {}  {status}  {elapsed:.2}s  read {}  wrote {}{rerun}",
        &job[..job.len().min(12)],
        inputs.len(),
        outputs.len()
    )];
    let listed: Vec<(&str, &serde_json::Value)> = if verbose {
        inputs
            .iter()
            .map(|a| ("in ", a))
            .chain(outputs.iter().map(|a| ("out", a)))
            .collect()
    } else {
        outputs.iter().take(10).map(|a| ("out", a)).collect()
    };
    for (role, art) in listed {
        let hash = art["hash"].as_str().unwrap_or_default();
        lines.push(format!(
            "  {role} {}  {}",
            &hash[..hash.len().min(12)],
            display_path(&report_path(&art["path"]))
        ));
    }
    if !verbose && outputs.len() > 10 {
        lines.push(format!(
            "  ... {} more (roar show {label})",
            outputs.len() - 10
        ));
    }
    let _ = writeln!(std::io::stderr().lock(), "{}", lines.join("\n"));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os_args(words: &[&str]) -> Vec<OsString> {
        words.iter().map(OsString::from).collect()
    }

    #[test]
    fn run_of_a_command_is_ours_help_and_steps_are_pythons() {
        assert_eq!(route(&os_args(&["run", "python", "x.py"])), Route::Front);
        assert_eq!(
            route(&os_args(&["build", "-q", "--", "make"])),
            Route::Front
        );
        assert_eq!(
            route(&os_args(&["run", "-n", "@odd", "true"])),
            Route::Front
        );
        assert_eq!(route(&os_args(&["run", "--bogus", "x"])), Route::Front);
        assert_eq!(route(&os_args(&["run", "--help"])), Route::Python);
        assert_eq!(route(&os_args(&["log"])), Route::Python);
        assert_eq!(route(&os_args(&[])), Route::Python);
        assert_eq!(
            route(&os_args(&[
                "run", "-v", "--name", "again", "--hash", "SHA256", "@2", "--lr=1"
            ])),
            Route::Rerun(os_args(&[
                "run",
                "--rerun",
                "-v",
                "--name=again",
                "--hash=sha256",
                "--",
                "@2",
                "--lr=1"
            ]))
        );
        let resolved = ["run", "--step", "2", "--supersedes", "ab", "--", "@odd"];
        assert_eq!(route(&os_args(&resolved)), Route::Front);
    }

    #[test]
    fn flags_come_before_the_command_and_the_rest_is_its() {
        let req = parse(&os_args(&["-q", "python", "-v", "x.py"])).expect("parses");
        assert!(req.quiet && !req.verbose);
        assert_eq!(req.command, os_args(&["python", "-v", "x.py"]));
        let req = parse(&os_args(&["-vq", "--", "-weird"])).expect("parses");
        assert!(req.quiet && req.verbose);
        assert_eq!(req.command, os_args(&["-weird"]));
        assert!(parse(&os_args(&["--frobnicate", "x"]))
            .unwrap_err()
            .contains("unknown option '--frobnicate'"));
        let named = parse(&os_args(&[
            "-nprep",
            "--hash=md5",
            "--tracer",
            "ebpf",
            "ls",
        ]))
        .expect("parses");
        assert_eq!(
            (named.name.as_deref(), named.hashes.clone()),
            (Some("prep"), vec!["md5".into()])
        );
        let refused = [
            (vec!["-n"], "needs a value"),
            (vec!["--hash", "crc32", "ls"], "--hash takes one of"),
            (vec!["--tracer=strace", "ls"], "--tracer takes one of"),
            (vec!["--add-tag", "license=MIT", "ls"], "compliance tags"),
            (vec!["-n", " ", "ls"], "non-empty"),
        ];
        for (args, message) in refused {
            let err = parse(&os_args(&args)).unwrap_err();
            assert!(err.contains(message), "{args:?}: {err}");
        }
        assert!(parse(&os_args(&["-q"]))
            .unwrap_err()
            .contains("needs a command"));
        let rerun = parse(&os_args(&[
            "--step",
            "2",
            "--supersedes",
            "abc",
            "--param",
            "lr=0.1",
            "--",
            "python",
            "t.py",
        ]))
        .expect("parses");
        assert_eq!(
            (rerun.step, rerun.supersedes.as_deref()),
            (Some(2), Some("abc"))
        );
        assert_eq!(rerun.params, vec![("lr".to_owned(), "0.1".to_owned())]);
    }

    #[test]
    fn roar_cli_spellings_of_the_options_parse() {
        // (args, command, name, quiet, verbose, hashes), as roar-cli 0.4.7 takes them.
        type Case<'a> = (
            &'a [&'a str],
            &'a [&'a str],
            Option<&'a str>,
            bool,
            bool,
            &'a [&'a str],
        );
        let cases: [Case; 4] = [
            (
                &["-n", "training", "python", "t.py", "--lr=1"],
                &["python", "t.py", "--lr=1"],
                Some("training"),
                false,
                false,
                &[],
            ),
            (
                &["--name=x", "--hash", "sha256", "-q", "--", "-x"],
                &["-x"],
                Some("x"),
                true,
                false,
                &["sha256"],
            ),
            (
                &[
                    "-ntrain",
                    "-vv",
                    "--tracer",
                    "preload",
                    "--no-tracer-fallback",
                    "ls",
                ],
                &["ls"],
                Some("train"),
                false,
                true,
                &[],
            ),
            (
                &["--hash=MD5", "ls", "-n", "y"],
                &["ls", "-n", "y"],
                None,
                false,
                false,
                &["md5"],
            ),
        ];
        for (args, command, name, quiet, verbose, hashes) in cases {
            let req = parse(&os_args(args)).expect("parses");
            assert_eq!(req.command, os_args(command), "{args:?}");
            assert_eq!(req.name.as_deref(), name, "{args:?}");
            assert_eq!((req.quiet, req.verbose), (quiet, verbose), "{args:?}");
            assert_eq!(
                req.hashes,
                hashes.iter().map(|h| h.to_string()).collect::<Vec<_>>()
            );
        }
    }

    #[test]
    fn paths_are_shown_as_roar_display_printable_shows_them() {
        // The cases of roar/display.py's rule.
        assert_eq!(display_path(b"/data/caf\xc3\xa9.csv"), "/data/café.csv");
        assert_eq!(display_path(b"/data/caf\xe9.csv"), "/data/caf\\xe9.csv");
        assert_eq!(display_path(b"/a\x1b[31mred"), "/a\\e[31mred");
        assert_eq!(display_path(b"a\nb\tc\x07\\"), "a\\nb\\tc\\x07\\");
        assert_eq!(
            display_path("x\u{202e}y\u{85}".as_bytes()),
            "x\\u202ey\\x85"
        );
    }
}
