//! Plumbing for the Python side, so that what the front end decides is
//! decided in one place: the git state of a directory (for get and put
//! jobs), whether a commit is pushed (for `roar register`'s checklist), what an interpreter has installed (for reproduction), the
//! filters `roar run` would pass (for the tracing benchmark), and which
//! packages own some read paths (for jobs recorded without `packages`). Each prints
//! one JSON document on stdout; a path is a string when it is UTF-8 and
//! `{"hex": ...}` otherwise, as in the run report.

use crate::env_snapshot;
use crate::front;
use crate::git_state;
use crate::object::Value;
use crate::packages;
use crate::report::path_value;
use crate::workspace::{Found, Workspace};
use serde_json::{json, Value as Json};
use std::ffi::OsString;
use std::path::Path;

fn print(doc: &Json) -> i32 {
    println!("{doc}");
    0
}

fn fail(what: &str) -> i32 {
    eprintln!("roar-tracer: {what}");
    1
}

/// `git-state [--store DIR] [DIR]`: the `git` context map of DIR (default:
/// the current directory), or null outside a repository; with `--store`, a
/// dirty tree's patch is stored there as a blob and named.
pub fn git_state(store: Option<&Path>, dir: &Path) -> i32 {
    let state = match git_state::read(dir) {
        Ok(state) => state,
        Err(e) => return fail(&format!("{e:#}")),
    };
    let Some(state) = state else {
        return print(&Json::Null);
    };
    let patch = match store {
        Some(store) => match state.to_value(store) {
            Ok(Value::Map(fields)) => {
                fields
                    .into_iter()
                    .find(|(k, _)| k == "patch")
                    .and_then(|(_, v)| match v {
                        Value::Text(id) => Some(id),
                        _ => None,
                    })
            }
            Ok(_) => None,
            Err(e) => return fail(&format!("{e:#}")),
        },
        None => None,
    };
    print(&json!({
        "repo": path_value(&state.repo),
        "remote": state.remote,
        "branch": state.branch,
        "commit": state.commit,
        "dirty": state.dirty(),
        "patch": patch,
    }))
}

/// `remote-branch COMMIT [DIR]`: the remote-tracking branch that holds
/// COMMIT in DIR's repository, by the rule `roar run` warns with
/// (`git_state::remote_branch_holding`): `{"branch": "origin/main"}`,
/// `{"branch": null}` when none does, or null when that cannot be told.
pub fn remote_branch(commit: &str, dir: &Path) -> i32 {
    match git_state::remote_branch_holding(dir, commit) {
        Some(branch) => print(&json!({ "branch": branch })),
        None => print(&Json::Null),
    }
}

/// `python-env PYTHON`: what the interpreter says of itself and the
/// distributions installed in its site-packages, or null if it cannot be
/// asked.
pub fn python_env(python: &Path) -> i32 {
    let scratch = std::env::temp_dir().join(format!("roar-probe-{}", std::process::id()));
    let info = env_snapshot::probe(python, &scratch);
    let _ = std::fs::remove_dir_all(&scratch);
    let Some(info) = info else {
        return print(&Json::Null);
    };
    let packages: Vec<Json> = env_snapshot::installed_packages(&info.site_packages)
        .into_iter()
        .map(|(n, v)| json!([n, v]))
        .collect();
    print(&json!({
        "version": info.version,
        "executable": path_value(&info.executable),
        "prefix": path_value(&info.prefix),
        "base_prefix": path_value(&info.base_prefix),
        "paths": info.site_packages.iter().map(|p| path_value(p)).collect::<Vec<_>>(),
        "packages": packages,
    }))
}

/// `filters -- COMMAND...`: the ignore prefixes and globs `roar run COMMAND`
/// would pass the tracer in the workspace of the current directory.
pub fn filters(command: &[OsString]) -> i32 {
    let cwd = match std::env::current_dir() {
        Ok(d) => d,
        Err(e) => return fail(&format!("cannot read the current directory: {e}")),
    };
    let ws = match Workspace::find(&cwd) {
        Ok(ws) => ws,
        Err(Found::Nothing(why)) => return fail(&why),
        Err(Found::Legacy) => return fail("a roar-cli workspace: `roar import` it first"),
    };
    let config = match front::load_config(&ws) {
        Ok(c) => c,
        Err(e) => return fail(&e.1),
    };
    let (_, prefixes, globs) =
        front::filters_for(&ws, &config, command, std::env::var_os("PATH").as_ref());
    print(&json!({
        "ignore_prefixes": prefixes.iter().map(|p| path_value(p.as_os_str().as_encoded_bytes())).collect::<Vec<_>>(),
        "ignore_globs": globs,
    }))
}

/// `packages-read`: the pip distributions and dpkg packages that own the
/// paths given on stdin (each ended by a NUL byte), as this machine has
/// them installed now: `{"pip": [[name, version], ...], "dpkg": [...]}`.
pub fn packages_read() -> i32 {
    use std::io::Read;
    let mut input = Vec::new();
    if let Err(e) = std::io::stdin().lock().read_to_end(&mut input) {
        return fail(&format!("cannot read the paths on stdin: {e}"));
    }
    let paths: Vec<&[u8]> = input.split(|&b| b == 0).filter(|p| !p.is_empty()).collect();
    let read = packages::read_by(&paths, &[], None);
    let pairs = |list: &[(String, String)]| -> Vec<Json> {
        list.iter().map(|(n, v)| json!([n, v])).collect()
    };
    print(&json!({"pip": pairs(&read.pip), "dpkg": pairs(&read.dpkg)}))
}
