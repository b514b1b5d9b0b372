//! Which paths are not artifacts: system files, installed packages, caches,
//! temp, the store itself, and the project's own ignore patterns. Reads
//! under these prefixes go to a job's `filtered` list (paths only), so the
//! packages a job read can still be named, but never as artifacts.

use crate::config::Config;
use crate::env_snapshot::PythonInfo;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

const ALWAYS: &[&str] = &["/proc", "/sys", "/dev"];
const SYSTEM: &[&str] = &[
    "/usr",
    "/lib",
    "/lib32",
    "/lib64",
    "/bin",
    "/sbin",
    "/etc",
    "/run",
    "/var/lib",
    "/var/cache",
    "/opt",
];
const PYTHON_USER: &[&str] = &["~/.pyenv", "~/.local/lib"];
const TORCH_CACHE: &[&str] = &["~/.cache/torch", "~/.cache/triton", "~/.triton", "~/.nv"];

fn expand_user(p: &str) -> PathBuf {
    match (p.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => Path::new(&home).join(rest),
        _ => PathBuf::from(p),
    }
}

/// Symlinks resolved as far as the path exists, like `os.path.realpath`.
fn real(p: &Path) -> PathBuf {
    if let Ok(r) = std::fs::canonicalize(p) {
        return r;
    }
    match (p.parent(), p.file_name()) {
        (Some(parent), Some(name)) if parent != p => real(parent).join(name),
        _ => p.to_path_buf(),
    }
}

fn temp_dir() -> PathBuf {
    ["TMPDIR", "TEMP", "TMP"]
        .iter()
        .find_map(std::env::var_os)
        .map_or_else(|| PathBuf::from("/tmp"), PathBuf::from)
}

/// The prefixes whose reads are filtered, for a workspace at `root` and a
/// command whose Python interpreters (the command's, or the one on PATH)
/// are `pythons`. The workspace itself is never filtered (even inside /tmp
/// or a virtualenv), except its `.roar` store.
pub fn ignore_prefixes(config: &Config, root: &Path, pythons: &[&PythonInfo]) -> Vec<PathBuf> {
    let mut wanted: Vec<PathBuf> = ALWAYS.iter().map(PathBuf::from).collect();
    if config.flag("filters.ignore_system_reads") {
        wanted.extend(SYSTEM.iter().map(PathBuf::from));
    }
    if config.flag("filters.ignore_package_reads") {
        for py in pythons {
            wanted.extend(installation(py));
        }
        wanted.extend(PYTHON_USER.iter().map(|p| expand_user(p)));
    }
    if config.flag("filters.ignore_torch_cache") {
        wanted.extend(TORCH_CACHE.iter().map(|p| expand_user(p)));
    }
    if config.flag("filters.ignore_tmp_files") {
        wanted.extend([PathBuf::from("/tmp"), PathBuf::from("/var/tmp"), temp_dir()]);
    }
    wanted.push(real(root).join(".roar"));
    outside_workspace(root, wanted)
}

/// Where an interpreter's installation is: `sys.prefix`, `sys.base_prefix`
/// and its site-packages directories. Reads there are package reads.
fn installation(py: &PythonInfo) -> impl Iterator<Item = PathBuf> + '_ {
    [&py.prefix, &py.base_prefix]
        .into_iter()
        .chain(&py.site_packages)
        .map(|p| PathBuf::from(OsStr::from_bytes(p)))
}

/// The prefixes filtered once the job has executed the interpreter `py`
/// (`interpreters.rs`): its installation, as `ignore_prefixes` lists it
/// for an interpreter known at the start.
pub fn installation_prefixes(root: &Path, py: &PythonInfo) -> Vec<PathBuf> {
    outside_workspace(root, installation(py).collect())
}

/// `wanted` with symlinks resolved and duplicates dropped, without any
/// that holds the workspace at `root` (except its `.roar` store).
fn outside_workspace(root: &Path, wanted: Vec<PathBuf>) -> Vec<PathBuf> {
    let root = real(root);
    let store = root.join(".roar");
    let mut out: Vec<PathBuf> = Vec::new();
    for p in wanted {
        let p = real(&p);
        if root.starts_with(&p) && p != store {
            continue;
        }
        if !out.contains(&p) {
            out.push(p);
        }
    }
    out
}

/// The directories of editable projects (`pip install -e`) whose reads are
/// not data: a project outside the workspace is recorded as code, with its
/// git commit (`packages::read_by`), so its files are not inputs too. A
/// project inside the workspace (or holding it) is the workspace's own
/// code: its files stay inputs, as every workspace file is.
pub fn editable_prefixes(root: &Path, project_dirs: &[&[u8]]) -> Vec<PathBuf> {
    let root = real(root);
    project_dirs
        .iter()
        .map(|d| real(Path::new(OsStr::from_bytes(d))))
        .filter(|d| !d.starts_with(&root) && !root.starts_with(d))
        .collect()
}

/// (prefixes, globs) from `filters.ignore_patterns`, made absolute: a
/// pattern without wildcards is a path under the workspace (a file or a
/// whole directory); `*.log` matches at any depth; `logs/*.txt` is
/// anchored at the workspace root, as in .gitignore. A pattern that is
/// already absolute (`/scratch`, `/data/*.tmp`) or starts at the home
/// directory (`~/.cache/wandb`) names that place itself.
pub fn project_patterns(config: &Config, root: &Path) -> (Vec<PathBuf>, Vec<String>) {
    let root = real(root);
    let root_text = root.to_string_lossy();
    let mut prefixes = Vec::new();
    let mut globs = Vec::new();
    for raw in config.list("filters.ignore_patterns") {
        let pattern = raw.trim();
        if pattern.is_empty() || pattern.starts_with('#') {
            continue;
        }
        let wildcard = pattern.contains(['*', '?', '[']);
        if pattern.starts_with('/') || pattern.starts_with("~/") {
            let place = expand_user(pattern.trim_end_matches('/'));
            if wildcard {
                globs.push(place.to_string_lossy().into_owned());
            } else if !root.starts_with(real(&place)) {
                // Never the workspace itself (or a directory holding it).
                prefixes.push(real(&place));
            }
            continue;
        }
        let pattern = pattern.trim_matches('/');
        let anchored = pattern.contains('/');
        if !wildcard {
            prefixes.push(root.join(pattern));
        } else if anchored {
            globs.push(format!("{root_text}/{pattern}"));
        } else {
            globs.push(format!("{root_text}/**/{pattern}"));
        }
    }
    (prefixes, globs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config(values: serde_json::Value) -> Config {
        Config::from_values(values.as_object().expect("object").clone())
    }

    #[test]
    fn the_workspace_is_never_filtered_but_its_store_is() {
        let ws = tempfile::tempdir().expect("tempdir"); // under /tmp
        let all = config(json!({"filters.ignore_system_reads": true,
            "filters.ignore_package_reads": false, "filters.ignore_torch_cache": false,
            "filters.ignore_tmp_files": true}));
        let prefixes = ignore_prefixes(&all, ws.path(), &[]);
        let root = real(ws.path());
        assert!(prefixes.contains(&root.join(".roar")));
        assert!(!prefixes
            .iter()
            .any(|p| root.starts_with(p) && *p != root.join(".roar")));
        assert!(prefixes.contains(&PathBuf::from("/usr")));
    }

    #[test]
    fn interpreter_prefixes_are_filtered_when_packages_are() {
        let ws = tempfile::tempdir().expect("tempdir");
        let py = PythonInfo {
            version: "3.11.0".into(),
            executable: b"/opt/venv/bin/python".to_vec(),
            prefix: b"/srv/venv".to_vec(),
            base_prefix: b"/srv/base".to_vec(),
            site_packages: vec![b"/srv/venv/lib/python3.11/site-packages".to_vec()],
        };
        let on = config(json!({"filters.ignore_package_reads": true}));
        let prefixes = ignore_prefixes(&on, ws.path(), &[&py]);
        assert!(prefixes.contains(&PathBuf::from("/srv/venv")));
        assert!(prefixes.contains(&PathBuf::from("/srv/base")));
        let off = config(json!({"filters.ignore_package_reads": false}));
        assert!(!ignore_prefixes(&off, ws.path(), &[&py]).contains(&PathBuf::from("/srv/venv")));
    }

    #[test]
    fn editable_projects_outside_the_workspace_are_filtered_inside_never() {
        let ws = tempfile::tempdir().expect("tempdir");
        let root = real(ws.path());
        let inside = root.join("libs/mylib");
        let ancestor = root.parent().expect("parent").to_path_buf();
        let dirs: Vec<Vec<u8>> = [Path::new("/srv/mylib"), &inside, &ancestor]
            .iter()
            .map(|p| p.as_os_str().as_bytes().to_vec())
            .collect();
        let dirs: Vec<&[u8]> = dirs.iter().map(Vec::as_slice).collect();
        assert_eq!(
            editable_prefixes(ws.path(), &dirs),
            vec![PathBuf::from("/srv/mylib")]
        );
    }

    #[test]
    fn patterns_become_prefixes_and_anchored_or_floating_globs() {
        let ws = tempfile::tempdir().expect("tempdir");
        let root = real(ws.path());
        let c = config(json!({"filters.ignore_patterns": [
            "wandb", "*.log", "cache/*.bin", "# note", "", "/scratch/run/", "/data/*.tmp", "/"
        ]}));
        let (prefixes, globs) = project_patterns(&c, ws.path());
        assert_eq!(
            prefixes,
            vec![root.join("wandb"), PathBuf::from("/scratch/run")]
        );
        let r = root.display();
        assert_eq!(
            globs,
            vec![
                format!("{r}/**/*.log"),
                format!("{r}/cache/*.bin"),
                "/data/*.tmp".to_owned()
            ]
        );
    }
}
