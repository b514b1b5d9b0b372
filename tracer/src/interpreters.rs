//! The Python interpreters a job's processes execute, however they were
//! reached: the command itself, a `#!` line, or `python` of a venv that a
//! shell script activated (`sh -c '. .venv/bin/activate && python t.py'`).
//! Each executed program is recognized by the rule that names the command's
//! interpreter (`env_snapshot::resolve_python`), probed once (the answer is
//! cached on the interpreter file's identity), and from then on its
//! installation's reads are package reads (`filters::installation_prefixes`),
//! never data inputs. The first one found is the job's interpreter when the
//! command itself names none (`context.rs`).

use crate::env_snapshot::{self, PythonInfo};
use crate::filters;
use std::collections::HashSet;
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;

#[derive(Clone)]
pub struct Interpreters {
    /// The workspace root: never filtered.
    root: PathBuf,
    /// Where probe answers are cached (the store's `cache/`).
    cache_dir: PathBuf,
    /// `filters.ignore_package_reads`: with it off, interpreters are still
    /// found (for the environment), but their reads are not filtered.
    filter_packages: bool,
    /// Programs already looked at, by the path they were executed as.
    seen: HashSet<Vec<u8>>,
    found: Vec<PythonInfo>,
}

impl Interpreters {
    pub fn new(root: PathBuf, cache_dir: PathBuf, filter_packages: bool) -> Interpreters {
        Interpreters {
            root,
            cache_dir,
            filter_packages,
            seen: HashSet::new(),
            found: Vec::new(),
        }
    }

    /// A process of the job is executing `path` (absolute): the prefixes
    /// whose reads are filtered from now on, as bytes (none unless it is an
    /// interpreter not met before). The first time an interpreter file is
    /// met in a workspace it is run once to be probed (tens of ms); after
    /// that, and for every other program, this costs a set lookup and, for
    /// a program not named `python*`, reading its first 128 bytes.
    pub fn executed(&mut self, path: &[u8]) -> Vec<Vec<u8>> {
        if !self.seen.insert(path.to_vec()) {
            return Vec::new();
        }
        let argv = [OsString::from_vec(path.to_vec())];
        // Without a PATH: an `env python3` line is seen when env executes it.
        let Some(python) = env_snapshot::resolve_python(&argv, None).filter(|p| p.is_absolute())
        else {
            return Vec::new();
        };
        let Some(info) = env_snapshot::probe(&python, &self.cache_dir) else {
            return Vec::new();
        };
        if self
            .found
            .iter()
            .any(|f| f.prefix == info.prefix && f.executable == info.executable)
        {
            return Vec::new();
        }
        let prefixes = if self.filter_packages {
            filters::installation_prefixes(&self.root, &info)
                .into_iter()
                .map(|p| p.into_os_string().into_vec())
                .collect()
        } else {
            Vec::new()
        };
        self.found.push(info);
        prefixes
    }

    /// The interpreters executed, in the order they were first executed.
    pub fn found(&self) -> &[PythonInfo] {
        &self.found
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_program_that_is_no_interpreter_is_looked_at_once_and_adds_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let script = dir.path().join("train.sh");
        std::fs::write(&script, "#!/bin/sh\necho\n").expect("write");
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let mut watch = Interpreters::new(dir.path().into(), dir.path().join("cache"), true);
        let path = script.as_os_str().as_bytes();
        assert!(watch.executed(path).is_empty());
        assert!(watch.executed(b"/nonexistent/bin/python3").is_empty());
        assert!(watch.found().is_empty());
        assert!(watch.seen.contains(path));
    }
}
