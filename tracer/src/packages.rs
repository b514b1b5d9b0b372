//! Which installed distributions (pip), editable projects (code) and system
//! packages (dpkg) a job read, decided from the paths it read when it runs
//! (docs/object-format.md §3 `context.packages`). The one place that maps
//! a read path to what owns it; Python asks it through the `packages-read`
//! plumbing for jobs recorded before the field existed.
//!
//! - pip: a path under a `site-packages`/`dist-packages` directory belongs
//!   to the distribution whose `RECORD` lists it (exact file, else the
//!   deepest directory only one distribution's files are in, so namespace
//!   packages and single-module distributions such as `six` are told
//!   apart); a `__pycache__/*.pyc` counts as its source. Metadata
//!   (`*.dist-info`, `*.egg-info`) and `.pth` files are read by every
//!   interpreter start and by metadata scans: they are no evidence.
//! - code: a distribution installed editable (`pip install -e`, PEP 610
//!   `direct_url.json` with `dir_info.editable`) is recorded with its
//!   project's git state when the job read a file of the project, never as
//!   a pip package.
//! - dpkg: the owner in `/var/lib/dpkg/info/*.list` of any other path,
//!   with the installed version from the status file; answers are cached
//!   per machine state, so an unchanged system pays one stat.

use crate::git_state::{self, GitState};
use crate::object::Value;
use crate::paths::is_under;
use crate::store;
use regex::bytes::Regex;
use serde_json::{json, Value as Json};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::OnceLock;

const DPKG_INFO: &str = "/var/lib/dpkg/info";
const DPKG_STATUS: &str = "/var/lib/dpkg/status";
/// Paths no package owns (and the answers for which are not worth caching).
const NOT_PACKAGED: &[&[u8]] = &[b"/proc/", b"/sys/", b"/dev/"];
/// Past this many cached dpkg answers the cache starts over.
const DPKG_CACHE_LIMIT: usize = 200_000;
/// A RECORD longer than this is read only this far (bounds a hostile one).
const RECORD_LIMIT: u64 = 64 << 20;

/// (normalized name, version) from a `NAME-VERSION.dist-info` /
/// `.egg-info` directory name: `_` becomes `-`, lower case.
pub fn dist_name(dir_name: &str) -> Option<(String, String)> {
    static DIST: OnceLock<regex::Regex> = OnceLock::new();
    let re = DIST.get_or_init(|| {
        regex::Regex::new(r"^(.+?)-([^-]+)\.(dist|egg)-info$").expect("valid pattern")
    });
    let m = re.captures(dir_name)?;
    Some((m[1].replace('_', "-").to_lowercase(), m[2].to_owned()))
}

fn site_split(path: &[u8]) -> Option<(&[u8], &[u8])> {
    static SITE: OnceLock<Regex> = OnceLock::new();
    let re =
        SITE.get_or_init(|| Regex::new(r"^(.*/(?:site|dist)-packages)(?:/|$)").expect("valid"));
    let m = re.captures(path)?.get(1)?;
    let rest = &path[m.end()..];
    Some((m.as_bytes(), rest.strip_prefix(b"/").unwrap_or(rest)))
}

/// An editable install of the job's interpreter: a project checked out
/// somewhere, imported from its own directory.
#[derive(Debug, Clone)]
pub struct Editable {
    pub name: String,
    pub version: String,
    /// The project directory (`direct_url.json`'s `file://` URL).
    pub dir: Vec<u8>,
    pub git: Option<GitState>,
}

fn percent_decode(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| {
            std::str::from_utf8(h)
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        });
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

/// The editable installs in `site_dirs` (the job interpreter's
/// site-packages), each with the git state of its project. Read beside the
/// command: one small file per distribution, a git status per editable.
pub fn editables(site_dirs: &[Vec<u8>]) -> Vec<Editable> {
    let mut out = Vec::new();
    for site in site_dirs {
        let Ok(entries) = std::fs::read_dir(OsStr::from_bytes(site)) else {
            continue;
        };
        for entry in entries.flatten() {
            let file_name = entry.file_name();
            let Some((name, version)) = file_name.to_str().and_then(dist_name) else {
                continue;
            };
            let Ok(text) = std::fs::read(entry.path().join("direct_url.json")) else {
                continue;
            };
            let Ok(doc) = serde_json::from_slice::<Json>(&text) else {
                continue;
            };
            let editable = doc["dir_info"]["editable"].as_bool() == Some(true);
            let Some(dir) = doc["url"].as_str().and_then(|u| u.strip_prefix("file://")) else {
                continue;
            };
            let whole_disk = dir.trim_end_matches('/').is_empty();
            if !editable || whole_disk || out.iter().any(|e: &Editable| e.name == name) {
                continue;
            }
            let dir = percent_decode(dir);
            let git = git_state::read(Path::new(OsStr::from_bytes(&dir))).unwrap_or(None);
            out.push(Editable {
                name,
                version,
                dir,
                git,
            });
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// One site-packages directory: which distribution each installed file
/// (and each directory only one distribution's files are in) belongs to.
#[derive(Default)]
struct Site {
    dists: Vec<(String, String)>,
    editable: Vec<bool>,
    files: HashMap<Vec<u8>, usize>,
    /// usize::MAX: files of several distributions are in it.
    dirs: HashMap<Vec<u8>, usize>,
    /// Modules an `import` line of a `.pth` file runs at every interpreter start
    /// (setuptools' `_distutils_hack`, an editable install's finder): no evidence.
    startup: HashSet<Vec<u8>>,
}

/// The top-level modules the `import` lines of a `.pth` file load (site.py runs
/// those lines at start-up; every other line is a path): each `import m[.x][, n]`
/// statement and each `__import__('m')` on the line, as setuptools'
/// `distutils-precedence.pth` loads `_distutils_hack`.
fn pth_imports(text: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let top = |m: &[u8]| -> Option<Vec<u8>> {
        let m = m.trim_ascii();
        let t = m.split(|&b| b == b'.' || b.is_ascii_whitespace()).next()?;
        (!t.is_empty()).then(|| t.to_vec())
    };
    for line in text.split(|&b| b == b'\n') {
        let Some(rest) = line.strip_prefix(b"import") else {
            continue;
        };
        if !rest.first().is_some_and(u8::is_ascii_whitespace) {
            continue;
        }
        for statement in line.split(|&b| b == b';') {
            if let Some(names) = statement.trim_ascii().strip_prefix(b"import ") {
                out.extend(names.split(|&b| b == b',').filter_map(top));
            }
        }
        let mut tail = line;
        while let Some(at) = tail.windows(11).position(|w| w == b"__import__(") {
            tail = &tail[at + 11..];
            let quoted = tail.trim_ascii_start();
            if let Some(&q) = quoted.first().filter(|&&q| q == b'\'' || q == b'"') {
                let name = quoted[1..].split(|&b| b == q).next().unwrap_or_default();
                out.extend(top(name));
            }
        }
    }
    out
}

/// The top-level module a site-relative path belongs to: `m.py`, `m/...` and
/// `__pycache__/m.cpython-311.pyc` are `m`.
fn top_module(rel: &[u8]) -> &[u8] {
    let mut parts = rel.split(|&b| b == b'/');
    let first = parts.next().unwrap_or(rel);
    let name = if first == b"__pycache__" {
        parts.next().unwrap_or(first)
    } else {
        first
    };
    name.split(|&b| b == b'.').next().unwrap_or(name)
}

const SHARED: usize = usize::MAX;

fn read_limited(path: &Path) -> Option<Vec<u8>> {
    use std::io::Read;
    let mut out = Vec::new();
    std::fs::File::open(path)
        .ok()?
        .take(RECORD_LIMIT)
        .read_to_end(&mut out)
        .ok()?;
    Some(out)
}

/// The site-relative path of a RECORD (CSV) line's first field.
fn record_path(line: &[u8]) -> &[u8] {
    let field = match line.strip_prefix(b"\"") {
        Some(quoted) => quoted.split(|&b| b == b'"').next().unwrap_or(quoted),
        None => line.split(|&b| b == b',').next().unwrap_or(line),
    };
    field.strip_prefix(b"./").unwrap_or(field)
}

impl Site {
    fn read(site: &[u8]) -> Site {
        let mut s = Site::default();
        let site = Path::new(OsStr::from_bytes(site));
        let Ok(entries) = std::fs::read_dir(site) else {
            return s;
        };
        let mut names: Vec<_> = entries.flatten().map(|e| e.file_name()).collect();
        names.sort();
        for pth in names.iter().filter(|n| n.as_bytes().ends_with(b".pth")) {
            if let Some(text) = read_limited(&site.join(pth)) {
                s.startup.extend(pth_imports(&text));
            }
        }
        for dir_name in names {
            let Some((name, version)) = dir_name.to_str().and_then(dist_name) else {
                continue;
            };
            let meta = site.join(&dir_name);
            let index = s.dists.len();
            s.dists.push((name, version));
            s.editable
                .push(std::fs::read(meta.join("direct_url.json")).is_ok_and(|t| {
                    serde_json::from_slice::<Json>(&t)
                        .is_ok_and(|d| d["dir_info"]["editable"].as_bool() == Some(true))
                }));
            let mut listed: Vec<Vec<u8>> = Vec::new();
            if let Some(record) = read_limited(&meta.join("RECORD")) {
                listed.extend(
                    record
                        .split(|&b| b == b'\n')
                        .map(|l| record_path(l).to_vec()),
                );
            } else if let Some(files) = read_limited(&meta.join("installed-files.txt")) {
                // Relative to the .egg-info directory.
                listed.extend(files.split(|&b| b == b'\n').map(|l| {
                    l.strip_prefix(b"../")
                        .map_or_else(|| [dir_name.as_bytes(), b"/", l].concat(), <[u8]>::to_vec)
                }));
            }
            if listed.is_empty() {
                if let Some(tops) = read_limited(&meta.join("top_level.txt")) {
                    for top in tops
                        .split(|b| b.is_ascii_whitespace())
                        .filter(|t| !t.is_empty())
                    {
                        listed.push([top, b"/__init__.py"].concat());
                        listed.push([top, b".py"].concat());
                    }
                }
            }
            for path in listed {
                if path.is_empty() || path.starts_with(b"../") || path.starts_with(b"/") {
                    continue;
                }
                let mut dir = path.as_slice();
                while let Some(cut) = dir.iter().rposition(|&b| b == b'/') {
                    dir = &dir[..cut];
                    let slot = s.dirs.entry(dir.to_vec()).or_insert(index);
                    if *slot != index {
                        *slot = SHARED;
                    }
                }
                s.files.entry(path).or_insert(index);
            }
        }
        s
    }

    /// The distribution a read of `rel` (site-relative) is evidence of.
    fn owner(&self, rel: &[u8]) -> Option<usize> {
        let first = rel.split(|&b| b == b'/').next().unwrap_or(rel);
        if rel.is_empty()
            || first.ends_with(b".dist-info")
            || first.ends_with(b".egg-info")
            || rel.ends_with(b".pth")
            || self.startup.contains(top_module(rel))
        {
            return None;
        }
        if let Some(&i) = self.files.get(rel) {
            return Some(i);
        }
        // A module compiled after install: count the source it caches.
        if let Some(source) = pyc_source(rel) {
            if let Some(&i) = self.files.get(&source) {
                return Some(i);
            }
        }
        let mut dir = rel;
        loop {
            match self.dirs.get(dir) {
                Some(&SHARED) => return None,
                Some(&i) => return Some(i),
                None => {}
            }
            let cut = dir.iter().rposition(|&b| b == b'/')?;
            dir = &dir[..cut];
        }
    }
}

/// `a/__pycache__/m.cpython-311.pyc` -> `a/m.py`.
fn pyc_source(rel: &[u8]) -> Option<Vec<u8>> {
    let (dir, file) = match rel.iter().rposition(|&b| b == b'/') {
        Some(cut) => (&rel[..cut], &rel[cut + 1..]),
        None => return None,
    };
    let parent = dir.strip_suffix(b"__pycache__")?;
    if !file.ends_with(b".pyc") {
        return None;
    }
    let module = file.split(|&b| b == b'.').next()?;
    Some([parent, module, b".py"].concat())
}

/// What a job read, by owner.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Read {
    pub pip: Vec<(String, String)>,
    pub dpkg: Vec<(String, String)>,
    /// Indices into the editables given.
    pub code: Vec<usize>,
}

/// The owners of `paths` (everything the job read, inputs and filtered).
/// `cache_dir`: where dpkg answers are remembered (None: not at all).
pub fn read_by(paths: &[&[u8]], editables: &[Editable], cache_dir: Option<&Path>) -> Read {
    let mut sites: BTreeMap<Vec<u8>, Site> = BTreeMap::new();
    let mut pip = BTreeSet::new();
    let mut code = BTreeSet::new();
    let mut other: Vec<&[u8]> = Vec::new();
    for &path in paths {
        let Some((site, rel)) = site_split(path) else {
            // A project may hold its own venv: site-packages first.
            if let Some(i) = editables.iter().position(|e| is_under(path, &e.dir)) {
                code.insert(i);
            } else {
                other.push(path);
            }
            continue;
        };
        let index = sites
            .entry(site.to_vec())
            .or_insert_with(|| Site::read(site));
        if let Some(i) = index.owner(rel) {
            if !index.editable[i] {
                pip.insert(index.dists[i].clone());
            }
        }
    }
    Read {
        pip: pip.into_iter().collect(),
        dpkg: dpkg_owners(&other, cache_dir),
        code: code.into_iter().collect(),
    }
}

fn stamp(path: &str) -> Json {
    std::fs::metadata(path).map_or(Json::Null, |m| {
        json!(format!("{}:{}:{}", m.ino(), m.mtime(), m.mtime_nsec()))
    })
}

fn dpkg_versions(wanted: &HashSet<String>) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let Ok(text) = std::fs::read(DPKG_STATUS) else {
        return out;
    };
    let text = String::from_utf8_lossy(&text);
    for block in text.split("\n\n") {
        let field = |key: &str| {
            block
                .lines()
                .find_map(|l| l.strip_prefix(key).map(str::trim))
        };
        if let (Some(name), Some(version)) = (field("Package: "), field("Version: ")) {
            if wanted.contains(name) {
                out.insert(name.to_owned(), version.to_owned());
            }
        }
    }
    out
}

/// The dpkg packages owning `paths` (as given or with symlinks resolved:
/// `/lib` is `/usr/lib` on a merged-/usr system), with their versions.
fn dpkg_owners(paths: &[&[u8]], cache_dir: Option<&Path>) -> Vec<(String, String)> {
    if !Path::new(DPKG_INFO).is_dir() {
        return Vec::new();
    }
    let paths: Vec<&[u8]> = paths
        .iter()
        .copied()
        .filter(|p| p.starts_with(b"/") && !NOT_PACKAGED.iter().any(|n| p.starts_with(n)))
        .collect();
    if paths.is_empty() {
        return Vec::new();
    }
    let cache_file = cache_dir.map(|d| d.join("dpkg-owners.json"));
    let key = json!([stamp(DPKG_INFO), stamp(DPKG_STATUS)]);
    let mut cache: Json = cache_file
        .as_ref()
        .and_then(|f| std::fs::read(f).ok())
        .and_then(|b| serde_json::from_slice(&b).ok())
        .filter(|c: &Json| c["key"] == key && c["owners"].is_object())
        .unwrap_or_else(|| json!({"key": key, "owners": {}}));
    let text = |p: &[u8]| String::from_utf8_lossy(p).into_owned();
    let missing: Vec<&[u8]> = paths
        .iter()
        .copied()
        .filter(|p| cache["owners"].get(text(p)).is_none())
        .collect();
    if !missing.is_empty() {
        let found = scan_dpkg_lists(&missing);
        let owners = cache["owners"].as_object_mut().expect("an object");
        if owners.len() + missing.len() > DPKG_CACHE_LIMIT {
            owners.clear();
        }
        let names: HashSet<String> = found.values().cloned().collect();
        let versions = dpkg_versions(&names);
        for p in &missing {
            let answer = found.get(*p).map_or(Json::Null, |name| {
                json!([name, versions.get(name).cloned().unwrap_or_default()])
            });
            owners.insert(text(p), answer);
        }
        if let (Some(file), Ok(bytes)) = (&cache_file, serde_json::to_vec(&cache)) {
            // A cache: a failed write only costs the next run the same scan.
            let _ = std::fs::create_dir_all(file.parent().unwrap_or(Path::new(".")));
            let _ = store::write_atomic(file, &bytes);
        }
    }
    let mut out: BTreeSet<(String, String)> = BTreeSet::new();
    for p in &paths {
        if let Some([name, version]) = cache["owners"][text(p)].as_array().map(Vec::as_slice) {
            out.insert((
                name.as_str().unwrap_or_default().to_owned(),
                version.as_str().unwrap_or_default().to_owned(),
            ));
        }
    }
    out.into_iter().collect()
}

/// path -> owning package, for the paths some `*.list` file names.
fn scan_dpkg_lists(paths: &[&[u8]]) -> HashMap<Vec<u8>, String> {
    let mut wanted: HashMap<Vec<u8>, Vec<&[u8]>> = HashMap::new();
    for &p in paths {
        wanted.entry(p.to_vec()).or_default().push(p);
        if let Ok(real) = std::fs::canonicalize(OsStr::from_bytes(p)) {
            wanted
                .entry(real.into_os_string().into_encoded_bytes())
                .or_default()
                .push(p);
        }
    }
    let mut found = HashMap::new();
    let Ok(entries) = std::fs::read_dir(DPKG_INFO) else {
        return found;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(package) = name.to_str().and_then(|n| n.strip_suffix(".list")) else {
            continue;
        };
        let package = package.split(':').next().unwrap_or(package);
        let Ok(list) = std::fs::read(entry.path()) else {
            continue;
        };
        for line in list.split(|&b| b == b'\n') {
            if let Some(asked) = wanted.get(line) {
                for &p in asked {
                    found
                        .entry(p.to_vec())
                        .or_insert_with(|| package.to_owned());
                }
            }
        }
    }
    found
}

/// The job context's `packages` map (docs/object-format.md §3).
pub fn to_value(read: &Read, editables: &[Editable]) -> Value {
    let pairs = |list: &[(String, String)]| {
        Value::Array(
            list.iter()
                .map(|(n, v)| Value::Array(vec![Value::text(n), Value::text(v)]))
                .collect(),
        )
    };
    let code = read
        .code
        .iter()
        .filter_map(|&i| editables.get(i))
        .map(|e| {
            let git = e.git.as_ref().map_or(Value::Null, |g| {
                Value::map(vec![
                    ("repo", Value::Bytes(g.repo.clone())),
                    (
                        "remote",
                        g.remote.as_deref().map_or(Value::Null, Value::text),
                    ),
                    ("commit", Value::text(&g.commit)),
                    ("dirty", Value::Bool(g.dirty())),
                ])
            });
            Value::map(vec![
                ("name", Value::text(&e.name)),
                ("version", Value::text(&e.version)),
                ("path", Value::Bytes(e.dir.clone())),
                ("git", git),
            ])
        })
        .collect();
    Value::map(vec![
        ("pip", pairs(&read.pip)),
        ("dpkg", pairs(&read.dpkg)),
        ("code", Value::Array(code)),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }

    fn site() -> (tempfile::TempDir, Vec<u8>) {
        let dir = tempfile::tempdir().expect("tempdir");
        let site = dir.path().join("lib/python3.11/site-packages");
        let dist = |name: &str, record: &str| {
            write(&site.join(name).join("RECORD"), record);
        };
        dist(
            "six-1.16.0.dist-info",
            "six.py,sha256=x,1\n__pycache__/six.cpython-311.pyc,,\nsix-1.16.0.dist-info/RECORD,,\n",
        );
        dist(
            "threadpoolctl-3.5.0.dist-info",
            "threadpoolctl.py,sha256=x,1\n__pycache__/threadpoolctl.cpython-311.pyc,,\n",
        );
        dist(
            "protobuf-4.0.dist-info",
            "google/protobuf/__init__.py,,\ngoogle/protobuf/message.py,,\n",
        );
        dist(
            "googleapis_common_protos-1.6.dist-info",
            "google/api/__init__.py,,\ngoogle/api/http_pb2.py,,\n",
        );
        dist("pip-23.2.dist-info", "pip/__init__.py,,\n");
        dist(
            "mylib-0.1.dist-info",
            "__editable__.mylib-0.1.pth,,\n__editable___mylib_0_1_finder.py,,\n",
        );
        write(
            &site.join("mylib-0.1.dist-info/direct_url.json"),
            r#"{"url": "file:///src/my%20lib", "dir_info": {"editable": true}}"#,
        );
        let bytes = site.as_os_str().as_bytes().to_vec();
        (dir, bytes)
    }

    fn pip_of(site: &[u8], rels: &[&str]) -> Vec<(String, String)> {
        let paths: Vec<Vec<u8>> = rels
            .iter()
            .map(|r| [site, b"/", r.as_bytes()].concat())
            .collect();
        let refs: Vec<&[u8]> = paths.iter().map(Vec::as_slice).collect();
        read_by(&refs, &[], None).pip
    }

    fn names(list: &[(String, String)]) -> Vec<&str> {
        list.iter().map(|(n, _)| n.as_str()).collect()
    }

    #[test]
    fn modules_a_pth_file_imports_at_start_up_are_no_evidence() {
        let (_dir, site) = site();
        let root = Path::new(OsStr::from_bytes(&site));
        std::fs::create_dir_all(root.join("setuptools-65.5.0.dist-info")).unwrap();
        std::fs::write(
            root.join("setuptools-65.5.0.dist-info/RECORD"),
            "_distutils_hack/__init__.py,,\ndistutils-precedence.pth,,\nsetuptools/__init__.py,,\n",
        )
        .unwrap();
        std::fs::write(
            root.join("distutils-precedence.pth"),
            "import os; var = 'SETUPTOOLS_USE_DISTUTILS'; enabled = os.environ.get(var, 'local') \
             == 'local'; enabled and __import__('_distutils_hack').add_shim(); \n",
        )
        .unwrap();
        // every interpreter start reads the hook: not a use of setuptools
        let start = [
            "_distutils_hack/__init__.py",
            "_distutils_hack/__pycache__/__init__.cpython-311.pyc",
        ];
        assert!(pip_of(&site, &start).is_empty());
        // importing setuptools itself is
        assert_eq!(
            names(&pip_of(&site, &["setuptools/__init__.py"])),
            vec!["setuptools"]
        );
    }

    #[test]
    fn a_cached_single_module_is_its_own_distribution() {
        let (_dir, site) = site();
        let found = pip_of(&site, &["__pycache__/six.cpython-311.pyc"]);
        assert_eq!(found, vec![("six".to_owned(), "1.16.0".to_owned())]);
        // Compiled after install (not in RECORD): counted as its source.
        let found = pip_of(&site, &["__pycache__/threadpoolctl.cpython-311.opt-1.pyc"]);
        assert_eq!(names(&found), vec!["threadpoolctl"]);
    }

    #[test]
    fn namespace_packages_are_told_apart_and_their_root_is_nobodys() {
        let (_dir, site) = site();
        let found = pip_of(
            &site,
            &[
                "google/protobuf/__pycache__/message.cpython-311.pyc",
                "google/api/new.py",
            ],
        );
        assert_eq!(names(&found), vec!["googleapis-common-protos", "protobuf"]);
        assert!(pip_of(&site, &["google/other.py"]).is_empty());
    }

    #[test]
    fn metadata_and_startup_files_are_no_evidence() {
        let (_dir, site) = site();
        let found = pip_of(
            &site,
            &[
                "pip-23.2.dist-info/METADATA",
                "six-1.16.0.dist-info/RECORD",
                "__editable__.mylib-0.1.pth",
                "",
            ],
        );
        assert!(found.is_empty(), "{found:?}");
        // An editable's finder is its, but it is code, not a pip package.
        assert!(pip_of(&site, &["__editable___mylib_0_1_finder.py"]).is_empty());
    }

    #[test]
    fn an_editable_install_is_code_when_its_project_is_read() {
        let (_dir, site) = site();
        let found = editables(std::slice::from_ref(&site));
        assert_eq!(found.len(), 1);
        assert_eq!(
            (found[0].name.as_str(), found[0].dir.as_slice()),
            ("mylib", b"/src/my lib".as_slice())
        );
        let read: [&[u8]; 3] = [
            b"/src/my lib/mylib/core.py",
            b"/src/my library/x.py",
            b"/src/my lib/.venv/lib/python3.11/site-packages/six.py",
        ];
        let owners = read_by(&read, &found, None);
        assert_eq!(owners.code, vec![0]);
        assert!(owners.pip.is_empty());
        assert!(read_by(&read[1..], &found, None).code.is_empty());
    }
}
