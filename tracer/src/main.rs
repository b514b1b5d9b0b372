//! roar-tracer's command line (the contract the Python side calls):
//!
//!   roar-tracer --version
//!   roar-tracer --preflight [--json] [--command NAME]
//!   roar-tracer run --store DIR [--context FILE] [--type run|build] [--report FILE]
//!                   [--ignore-prefix P]... [--ignore-glob G]... [--session REF [--step N --supersedes JOB]] [--no-hash-cache] [--also-hash md5|sha256|sha512]... [--mechanism auto|notify|ptrace] -- COMMAND [ARGS...]
//!   roar-tracer hash [--num-threads N] FILE...   (b3sum's output, the tracer's hashing)
//!   roar-tracer append --store DIR --session REF --job ID [--type run|build] [--step N --supersedes JOB]
//!                   (appends a job written elsewhere, e.g. get and put, by the same re-run rule;
//!                    prints the new session object's id)
//!   roar-tracer git-state [--store DIR] [DIR]     (plumbing: the git context, JSON)
//!   roar-tracer remote-branch COMMIT [DIR]      (plumbing: is COMMIT pushed, JSON)
//!   roar-tracer python-env PYTHON                 (plumbing: an interpreter's packages, JSON)
//!   roar-tracer filters -- COMMAND...             (plumbing: what `roar run` filters, JSON)
//!   roar-tracer packages-read < PATHS\0...        (plumbing: who owns read paths, JSON)
//!
//! Installed as `roar` (any name but roar-tracer), the same binary is the
//! front end of `roar run` and `roar build` (`front`).

use lexopt::prelude::*;
use roar_tracer::run::{Mechanism, RunOptions, SETUP_FAILED};
use roar_tracer::{front, hash, plumbing, preflight, program, run, session};
use std::path::{Path, PathBuf};

fn main() {
    // One binary, two commands: installed as `roar` it is the front end of
    // `roar run` / `roar build` (and hands everything else to Python);
    // called as `roar-tracer` (inside the package) it is the tracer.
    let mut argv = std::env::args_os();
    let called = argv.next().map(PathBuf::from);
    if called.as_deref().and_then(|p| p.file_name()) != Some("roar-tracer".as_ref()) {
        let args: Vec<_> = argv.collect();
        front::adopt_python_caller();
        let code = match front::route(&args) {
            front::Route::Front => {
                let kind = args[0].to_string_lossy().into_owned();
                front::main(&kind, &args[1..])
            }
            front::Route::Rerun(words) => front::hand_to_python(&words),
            front::Route::Python => front::hand_to_python(&args),
        };
        std::process::exit(code);
    }
    let code = match parse() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("roar-tracer: {e}");
            eprintln!("usage: roar-tracer run --store DIR [--context FILE] [--type run|build] [--report FILE] [--ignore-prefix P]... [--ignore-glob G]... [--session REF [--step N --supersedes JOB]] [--no-hash-cache] [--also-hash md5|sha256|sha512]... [--mechanism auto|notify|ptrace] -- COMMAND [ARGS...]");
            SETUP_FAILED
        }
    };
    std::process::exit(code);
}

fn parse() -> Result<i32, lexopt::Error> {
    let mut parser = lexopt::Parser::from_env();
    match parser.next()? {
        Some(Long("version")) => {
            println!("roar-tracer {}", env!("CARGO_PKG_VERSION"));
            Ok(0)
        }
        Some(Long("preflight")) => {
            let mut json = false;
            let mut command = None;
            while let Some(arg) = parser.next()? {
                match arg {
                    Long("json") => json = true,
                    Long("command") => command = Some(parser.value()?),
                    other => return Err(other.unexpected()),
                }
            }
            let result = preflight::check(Mechanism::from_env()?);
            // What the mechanism found means for one program (nothing is run).
            let program = command.map(|c| program::check(&c, &result));
            if json {
                let mut out = result.value();
                if let Some(p) = &program {
                    out["command"] = p.json();
                }
                println!("{out}");
            } else {
                print!("{}", result.text());
                if let Some(p) = &program {
                    for c in &p.checks {
                        let verdict = if c.ok { "ok" } else { "fail" };
                        println!("command:   {}: {verdict} ({})", c.name, c.detail);
                    }
                }
            }
            let fits = program.as_ref().is_none_or(|p| p.ok());
            Ok(if result.ready() && fits { 0 } else { 1 })
        }
        Some(Value(cmd)) if cmd == "run" => parse_run(parser).map(run::run),
        Some(Value(cmd)) if cmd == "hash" => parse_hash(parser),
        Some(Value(cmd)) if cmd == "append" => parse_append(parser),
        Some(Value(cmd)) if cmd == "git-state" => {
            let mut store = None;
            let mut dir = PathBuf::from(".");
            while let Some(arg) = parser.next()? {
                match arg {
                    Long("store") => store = Some(PathBuf::from(parser.value()?)),
                    Value(d) => dir = PathBuf::from(d),
                    other => return Err(other.unexpected()),
                }
            }
            Ok(plumbing::git_state(store.as_deref(), &dir))
        }
        Some(Value(cmd)) if cmd == "remote-branch" => {
            let commit = parser.value()?.string()?;
            let dir = match parser.next()? {
                Some(Value(d)) => PathBuf::from(d),
                Some(other) => return Err(other.unexpected()),
                None => PathBuf::from("."),
            };
            Ok(plumbing::remote_branch(&commit, &dir))
        }
        Some(Value(cmd)) if cmd == "python-env" => {
            let python = parser.value()?;
            Ok(plumbing::python_env(Path::new(&python)))
        }
        Some(Value(cmd)) if cmd == "packages-read" => Ok(plumbing::packages_read()),
        Some(Value(cmd)) if cmd == "filters" => {
            let mut command: Vec<_> = parser.raw_args()?.collect();
            if command.first().is_some_and(|a| a == "--") {
                command.remove(0);
            }
            Ok(plumbing::filters(&command))
        }
        Some(other) => Err(other.unexpected()),
        None => Err("missing command: run, --preflight or --version".into()),
    }
}

fn parse_hash(mut parser: lexopt::Parser) -> Result<i32, lexopt::Error> {
    let mut threads = None;
    let mut files = Vec::new();
    while let Some(arg) = parser.next()? {
        match arg {
            Long("num-threads") => threads = Some(parser.value()?.parse::<usize>()?),
            Value(file) => files.push(PathBuf::from(file)),
            other => return Err(other.unexpected()),
        }
    }
    if let Some(n) = threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()
            .map_err(|e| e.to_string())?;
    }
    Ok(hash::print_b3sum(&files))
}

fn parse_append(mut parser: lexopt::Parser) -> Result<i32, lexopt::Error> {
    let (mut store, mut job) = (None, None);
    let mut request = session::StepRequest {
        session: "HEAD".into(),
        step_kind: "run".into(),
        step: None,
        supersedes: None,
    };
    while let Some(arg) = parser.next()? {
        match arg {
            Long("store") => store = Some(PathBuf::from(parser.value()?)),
            Long("job") => job = Some(parser.value()?.string()?),
            Long("session") => request.session = parser.value()?.string()?,
            Long("type") => request.step_kind = parser.value()?.string()?,
            Long("step") => request.step = Some(parser.value()?.parse()?),
            Long("supersedes") => request.supersedes = Some(parser.value()?.string()?),
            other => return Err(other.unexpected()),
        }
    }
    let store = store.ok_or("--store DIR is required")?;
    let job = job.ok_or("--job ID is required")?;
    match session::append(&store, &job, &request) {
        Ok(appended) => {
            println!("{}", appended.session_object);
            Ok(0)
        }
        Err(e) => {
            eprintln!("roar-tracer: cannot append the step: {e:#}");
            Ok(1)
        }
    }
}

fn parse_run(mut parser: lexopt::Parser) -> Result<RunOptions, lexopt::Error> {
    let mut store = None;
    let mut opts = RunOptions {
        store: PathBuf::new(),
        context: None,
        job_type: "run".into(),
        report: None,
        ignore_prefixes: Vec::new(),
        ignore_globs: Vec::new(),
        session: None,
        step: None,
        supersedes: None,
        hash_cache: true,
        also: hash::Also::default(),
        mechanism: Mechanism::from_env()?,
        command: Vec::new(),
        beside: None,
        start_gate: None,
        interpreters: None,
    };
    while let Some(arg) = parser.next()? {
        match arg {
            Long("store") => store = Some(PathBuf::from(parser.value()?)),
            Long("context") => opts.context = Some(parser.value()?.into()),
            Long("type") => opts.job_type = parser.value()?.string()?,
            Long("report") => opts.report = Some(parser.value()?.into()),
            Long("ignore-prefix") => opts.ignore_prefixes.push(parser.value()?.into()),
            Long("ignore-glob") => opts.ignore_globs.push(parser.value()?.string()?),
            Long("no-hash-cache") => opts.hash_cache = false,
            Long("also-hash") => {
                let word = parser.value()?.string()?;
                let algo = hash::Algo::parse(&word).ok_or_else(|| {
                    format!("--also-hash takes md5, sha256 or sha512, not {word:?}")
                })?;
                opts.also = opts.also.with(algo);
            }
            Long("mechanism") => {
                let word = parser.value()?.string()?;
                opts.mechanism = Mechanism::parse(&word).ok_or_else(|| {
                    format!("--mechanism must be auto, notify or ptrace, not {word:?}")
                })?;
            }
            Long("session") => opts.session = Some(parser.value()?.string()?),
            Long("step") => opts.step = Some(parser.value()?.parse()?),
            Long("supersedes") => opts.supersedes = Some(parser.value()?.string()?),
            Value(first) => {
                // Everything from the command on is the command's, even
                // without `--`.
                opts.command.push(first);
                opts.command.extend(parser.raw_args()?);
            }
            other => return Err(other.unexpected()),
        }
    }
    opts.store = store.ok_or("--store DIR is required")?;
    if opts.command.is_empty() {
        return Err("no command given after --".into());
    }
    Ok(opts)
}
