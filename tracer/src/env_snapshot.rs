//! The environment snapshot (docs/object-format.md §3 `env`): the machine,
//! and the Python interpreter a command starts with its installed packages,
//! stored once as a shared object. Reading it is a few stat calls on an
//! unchanged machine: the interpreter's answers are cached on its file's
//! identity, the snapshot's id on what could change it (kernel, cores,
//! interpreter, its site-packages directories' mtimes).

use crate::object::{Object, Value};
use crate::store;
use anyhow::{Context, Result};
use regex::Regex;
use serde_json::{json, Value as Json};
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::Read;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

/// What an interpreter says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PythonInfo {
    pub version: String,
    /// `sys.executable`: the real binary behind a venv link or a pyenv shim.
    pub executable: Vec<u8>,
    pub prefix: Vec<u8>,
    pub base_prefix: Vec<u8>,
    /// `site.getsitepackages()`.
    pub site_packages: Vec<Vec<u8>>,
}

fn python_name(name: &[u8]) -> bool {
    static NAME: OnceLock<regex::bytes::Regex> = OnceLock::new();
    NAME.get_or_init(|| regex::bytes::Regex::new(r"^python(\d(\.\d+)?)?$").expect("valid"))
        .is_match(name)
}

fn basename(path: &[u8]) -> &[u8] {
    path.rsplit(|&b| b == b'/').next().unwrap_or(path)
}

/// `name` looked up on `path_var` as the shell would (a name with a slash is itself).
pub fn which(name: &[u8], path_var: Option<&OsString>) -> Option<PathBuf> {
    if name.contains(&b'/') {
        return Some(PathBuf::from(OsString::from_vec(name.to_vec())));
    }
    let path_var = path_var?;
    std::env::split_paths(path_var)
        .map(|dir| dir.join(std::ffi::OsStr::from_bytes(name)))
        .find(|c| {
            c.metadata()
                .is_ok_and(|m| m.is_file() && m.mode() & 0o111 != 0)
        })
}

/// The Python interpreter a command will run, if it starts one we can see:
/// `python`, `python3`, `python3.11` by name, or a script whose `#!` line
/// names one (directly or through `env`).
pub fn resolve_python(argv: &[OsString], path_var: Option<&OsString>) -> Option<PathBuf> {
    let first = argv.first()?.as_bytes();
    let found = which(first, path_var);
    if python_name(basename(first)) {
        return Some(found.unwrap_or_else(|| PathBuf::from(OsString::from_vec(first.to_vec()))));
    }
    let mut head = [0u8; 128];
    let n = std::fs::File::open(found?).ok()?.read(&mut head).ok()?;
    let line = head[..n].strip_prefix(b"#!")?;
    let line = line.split(|&b| b == b'\n').next().unwrap_or(line);
    let mut words = line
        .split(|b| b.is_ascii_whitespace())
        .filter(|w| !w.is_empty());
    let mut interpreter = words.next()?;
    if interpreter.ends_with(b"/env") {
        interpreter = words.next()?;
    }
    python_name(basename(interpreter)).then(|| {
        which(interpreter, path_var)
            .unwrap_or_else(|| PathBuf::from(OsString::from_vec(interpreter.to_vec())))
    })
}

const PROBE: &str = "import json, site, sys; print(json.dumps({'version': '%d.%d.%d' % \
    sys.version_info[:3], 'executable': sys.executable, 'prefix': sys.prefix, \
    'base_prefix': sys.base_prefix, 'paths': site.getsitepackages()}))";

fn bytes_of(j: &Json) -> Option<Vec<u8>> {
    j.as_str().map(|s| s.as_bytes().to_vec())
}

fn parse_probe(j: &Json) -> Option<PythonInfo> {
    Some(PythonInfo {
        version: j["version"].as_str()?.to_owned(),
        executable: bytes_of(&j["executable"])?,
        prefix: bytes_of(&j["prefix"])?,
        base_prefix: bytes_of(&j["base_prefix"])?,
        site_packages: j["paths"]
            .as_array()?
            .iter()
            .map(bytes_of)
            .collect::<Option<_>>()?,
    })
}

fn stamp(meta: &std::fs::Metadata) -> String {
    format!(
        "{}:{}:{}",
        meta.ino(),
        meta.mtime() as i128 * 1_000_000_000 + meta.mtime_nsec() as i128,
        meta.size()
    )
}

fn read_json(path: &Path) -> BTreeMap<String, Json> {
    std::fs::read(path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

fn write_json(path: &Path, map: &BTreeMap<String, Json>) {
    // A cache: a failed write only costs the next run the same work again.
    if let Ok(bytes) = serde_json::to_vec(map) {
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let _ = store::write_atomic(path, &bytes);
    }
}

/// Asks the interpreter itself (wrappers such as pyenv shims hide it), once
/// per interpreter file: the answer is cached in `cache_dir` on the file's
/// path and identity. None if it cannot be run or does not answer.
pub fn probe(python: &Path, cache_dir: &Path) -> Option<PythonInfo> {
    let absolute = std::path::absolute(python).ok()?;
    let meta = absolute.metadata().ok()?;
    let key = format!("{}:{}", absolute.display(), stamp(&meta));
    let cache = cache_dir.join("python-probe.json");
    let mut known = read_json(&cache);
    if let Some(info) = known.get(&key).and_then(parse_probe) {
        return Some(info);
    }
    let mut child = Command::new(&absolute)
        .args(["-I", "-c", PROBE])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let mut out = Vec::new();
    let reader = child.stdout.take()?;
    // Bounded: an interpreter that hangs is left behind, not waited for.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = reader;
        let mut buf = Vec::new();
        let _ = reader.read_to_end(&mut buf);
        let _ = tx.send(buf);
    });
    if let Ok(buf) = rx.recv_timeout(Duration::from_secs(30)) {
        out = buf;
    } else {
        let _ = child.kill();
    }
    let _ = child.wait();
    let answer: Json = serde_json::from_slice(&out).ok()?;
    let info = parse_probe(&answer)?;
    known.insert(key, answer);
    write_json(&cache, &known);
    Some(info)
}

/// (name, version) of every distribution installed in `dirs`, from the
/// `*.dist-info` / `*.egg-info` directory names; the first directory that
/// has a name wins, as on `sys.path`. Names are normalized (`_` to `-`,
/// lower case) and the list is sorted.
pub fn installed_packages(dirs: &[Vec<u8>]) -> Vec<(String, String)> {
    static DIST_INFO: OnceLock<Regex> = OnceLock::new();
    let re = DIST_INFO
        .get_or_init(|| Regex::new(r"^(.+?)-([^-]+)\.(dist|egg)-info$").expect("valid pattern"));
    let mut packages = BTreeMap::new();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(std::ffi::OsStr::from_bytes(dir)) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if let Some(m) = re.captures(name) {
                packages
                    .entry(m[1].replace('_', "-").to_lowercase())
                    .or_insert_with(|| m[2].to_owned());
            }
        }
    }
    packages.into_iter().collect()
}

fn first_value(path: &str, key: &str) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_once([':', '=']).map(|(_, v)| v))
        .map(|v| v.trim().trim_matches('"').to_owned())
}

fn cpu_count() -> i128 {
    // SAFETY: sysconf reads a constant of the running system.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    i128::from(n.max(1))
}

fn memory() -> i128 {
    // SAFETY: as above.
    let (page, pages) = unsafe {
        (
            libc::sysconf(libc::_SC_PAGESIZE),
            libc::sysconf(libc::_SC_PHYS_PAGES),
        )
    };
    if page > 0 && pages > 0 {
        i128::from(page) * i128::from(pages)
    } else {
        0
    }
}

fn uname() -> (String, String, String) {
    // SAFETY: uname fills a zeroed struct of C strings.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    if unsafe { libc::uname(&mut u) } != 0 {
        return ("Linux".into(), String::new(), String::new());
    }
    let text = |f: &[libc::c_char]| {
        let bytes: Vec<u8> = f
            .iter()
            .take_while(|&&c| c != 0)
            .map(|&c| c as u8)
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    };
    (text(&u.sysname), text(&u.release), text(&u.machine))
}

/// The `env` object for a run whose interpreter is `python` (None: the
/// command starts no Python we can see).
pub fn snapshot(python: Option<&PythonInfo>) -> Result<Object> {
    let (system, release, machine) = uname();
    let model = first_value("/proc/cpuinfo", "model name").unwrap_or(machine);
    let (python_value, packages) = match python {
        Some(info) => (
            Value::map(vec![
                ("version", Value::text(&info.version)),
                ("executable", Value::Bytes(info.executable.clone())),
            ]),
            installed_packages(&info.site_packages),
        ),
        None => (Value::Null, Vec::new()),
    };
    let distro = first_value("/etc/os-release", "PRETTY_NAME=").map_or(Value::Null, Value::Text);
    let body = Value::map(vec![
        (
            "os",
            Value::map(vec![
                ("system", Value::Text(system)),
                ("release", Value::Text(release)),
                ("distro", distro),
            ]),
        ),
        (
            "cpu",
            Value::map(vec![
                ("model", Value::Text(model)),
                ("cores", Value::Int(cpu_count())),
            ]),
        ),
        ("memory", Value::Int(memory())),
        ("gpus", Value::Array(crate::gpu::inventory())),
        ("python", python_value),
        (
            "packages",
            Value::Array(
                packages
                    .into_iter()
                    .map(|(n, v)| Value::Array(vec![Value::Text(n), Value::Text(v)]))
                    .collect(),
            ),
        ),
    ]);
    Object::new("env", &body)
}

/// Stores (once) the env object of a run and returns its id. Remembered in
/// `cache/env-snapshots.json` under what could change it, so an unchanged
/// machine pays a few stat calls.
pub fn write_snapshot(python: Option<&PythonInfo>, store_dir: &Path) -> Result<String> {
    let (_, release, _) = uname();
    let mut key = vec![
        json!(release),
        json!(cpu_count() as i64),
        json!(crate::gpu::driver_stamp()),
    ];
    if let Some(info) = python {
        key.push(json!(String::from_utf8_lossy(&info.executable)));
        for dir in &info.site_packages {
            let mtime = std::fs::metadata(std::ffi::OsStr::from_bytes(dir))
                .map(|m| json!(m.mtime() as i128 * 1_000_000_000 + m.mtime_nsec() as i128))
                .unwrap_or(Json::Null);
            key.push(mtime);
        }
    }
    let key = Json::Array(key).to_string();
    let cache = store_dir.join("cache").join("env-snapshots.json");
    let mut known = read_json(&cache);
    if let Some(id) = known.get(&key).and_then(Json::as_str) {
        if store::loose_path(store_dir, id).exists() {
            return Ok(id.to_owned());
        }
    }
    let id = store::write_object(store_dir, &snapshot(python)?)
        .context("cannot store the env object")?;
    known.insert(key, json!(id));
    write_json(&cache, &known);
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpreter_names_are_recognized() {
        for yes in ["python", "python3", "python3.11"] {
            assert!(python_name(yes.as_bytes()), "{yes}");
        }
        for no in ["python3.11-config", "pythonista", "ipython", "py"] {
            assert!(!python_name(no.as_bytes()), "{no}");
        }
    }

    #[test]
    fn a_script_names_its_interpreter_in_its_first_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let script = dir.path().join("train");
        std::fs::write(&script, "#!/usr/bin/env python3\nprint(1)\n").expect("write");
        let argv = vec![script.clone().into_os_string()];
        let found = resolve_python(&argv, Some(&OsString::from("/nonexistent")));
        assert_eq!(found, Some(PathBuf::from("python3")));
        std::fs::write(&script, "#!/bin/sh\necho\n").expect("write");
        assert_eq!(resolve_python(&argv, None), None);
    }

    #[test]
    fn dist_info_names_give_normalized_sorted_packages() {
        let dir = tempfile::tempdir().expect("tempdir");
        for d in [
            "Foo_Bar-1.2.dist-info",
            "abc-0.1.egg-info",
            "not_a_dist",
            "zz-9.dist-info",
        ] {
            std::fs::create_dir(dir.path().join(d)).expect("mkdir");
        }
        let other = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(other.path().join("foo_bar-7.0.dist-info")).expect("mkdir");
        let dirs = vec![
            dir.path().as_os_str().as_bytes().to_vec(),
            other.path().as_os_str().as_bytes().to_vec(),
        ];
        assert_eq!(
            installed_packages(&dirs),
            vec![
                ("abc".to_owned(), "0.1".to_owned()),
                ("foo-bar".to_owned(), "1.2".to_owned()),
                ("zz".to_owned(), "9".to_owned()),
            ]
        );
    }
}
