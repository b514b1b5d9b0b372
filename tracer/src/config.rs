//! The workspace configuration as the Python side resolved it. roar's
//! options (their defaults, types and files) are defined once, in
//! `roar/config.py`; it keeps `.roar/cache/config.json`, the resolved value
//! of every option stamped with the files it was read from. The front end
//! reads that file, and when a source file has changed since (or the cache
//! is missing) asks Python for the values (`roar config list --json`),
//! which also refreshes the cache. Python's checks that decide something
//! for a run travel in the same record: the digests to record beside BLAKE3
//! (`roar.config.extra_digests`: `hash.primary`, `hash.also`).

use crate::hash::{Algo, Also};
use anyhow::{bail, Context, Result};
use serde_json::{Map, Value as Json};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;

/// The cache's layout version, shared with roar/config.py.
const CACHE_FORMAT: u64 = 3;

pub struct Config {
    values: Map<String, Json>,
    /// `hash.also` as Python checked it (sorted names), or why the
    /// configuration's hash settings are refused.
    digests: Result<Vec<String>, String>,
}

/// A source file's identity as roar/config.py stamps it: `ino:mtime_ns:size`,
/// or null when the file does not exist.
fn stamp(path: &Path) -> Json {
    match std::fs::metadata(path) {
        Ok(m) => Json::String(format!(
            "{}:{}:{}",
            m.ino(),
            m.mtime() as i128 * 1_000_000_000 + m.mtime_nsec() as i128,
            m.size()
        )),
        Err(_) => Json::Null,
    }
}

impl Config {
    pub fn from_values(values: Map<String, Json>) -> Config {
        Config {
            values,
            digests: Ok(Vec::new()),
        }
    }

    /// `digests` as the cache record holds it: `{"also": [NAME...]}` or
    /// `{"error": MESSAGE}`.
    fn verdict(digests: &Json) -> Option<Result<Vec<String>, String>> {
        if let Some(message) = digests["error"].as_str() {
            return Some(Err(message.to_owned()));
        }
        let names = digests["also"].as_array()?.iter();
        names
            .map(|n| n.as_str().map(str::to_owned))
            .collect::<Option<_>>()
            .map(Ok)
    }

    /// The resolved values in `store_dir/cache/config.json` if every file
    /// they came from is unchanged.
    pub fn cached(store_dir: &Path) -> Option<Config> {
        let bytes = std::fs::read(store_dir.join("cache").join("config.json")).ok()?;
        let doc: Json = serde_json::from_slice(&bytes).ok()?;
        if doc["format"].as_u64() != Some(CACHE_FORMAT) {
            return None;
        }
        for source in doc["sources"].as_array()? {
            let path = source.get(0)?.as_str()?;
            if source.get(1)? != &stamp(Path::new(path)) {
                return None;
            }
        }
        Some(Config {
            values: doc["resolved"].as_object()?.clone(),
            digests: Config::verdict(&doc["digests"])?,
        })
    }

    /// The values as `python` (a command that runs roar's Python CLI, e.g.
    /// `roar-py`) resolves them for the workspace of the current directory,
    /// whose store is `store_dir`: its answer refreshes the cache, which is
    /// read again (the cache alone carries Python's checks).
    pub fn from_python(python: &mut Command, store_dir: &Path) -> Result<Config> {
        let out = python
            .args(["config", "list", "--json"])
            .output()
            .context("cannot run roar's Python side to read the configuration")?;
        if !out.status.success() {
            // Its own message (a TOML error, say) is the one to show.
            bail!(
                "{}",
                String::from_utf8_lossy(&out.stderr)
                    .trim()
                    .trim_start_matches("error: ")
            );
        }
        Config::cached(store_dir).with_context(|| {
            format!(
                "roar's Python side did not keep {} (is the directory writable?)",
                store_dir.join("cache").join("config.json").display()
            )
        })
    }

    /// The digests to record beside BLAKE3: the configuration's `hash.also`
    /// (as Python checked it) and `asked` (`--hash`, lowercased, each one
    /// the front end accepts), without blake3. Err: the configuration's
    /// hash settings are refused, with Python's message.
    pub fn also_digests(&self, asked: &[String]) -> Result<Also, String> {
        let configured = self.digests.as_ref().map_err(String::clone)?;
        let mut also = Also::default();
        for name in configured.iter().chain(asked).filter(|n| *n != "blake3") {
            let algo = Algo::parse(name).ok_or_else(|| {
                let names: Vec<&str> = Algo::ALL.iter().map(|a| a.name()).collect();
                format!("hash.also takes {}, not '{name}'", names.join(", "))
            })?;
            also = also.with(algo);
        }
        Ok(also)
    }

    pub fn flag(&self, key: &str) -> bool {
        self.values
            .get(key)
            .and_then(Json::as_bool)
            .unwrap_or(false)
    }

    pub fn text(&self, key: &str) -> String {
        self.values
            .get(key)
            .and_then(Json::as_str)
            .unwrap_or_default()
            .to_owned()
    }

    pub fn list(&self, key: &str) -> Vec<String> {
        match self.values.get(key) {
            Some(Json::Array(items)) => items
                .iter()
                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                .collect(),
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cache_is_used_only_while_its_sources_are_unchanged() {
        let store = tempfile::tempdir().expect("tempdir");
        let toml = store.path().join("config.toml");
        std::fs::write(&toml, "[run]\nrequire_clean = true\n").expect("write");
        std::fs::create_dir(store.path().join("cache")).expect("mkdir");
        let doc = serde_json::json!({
            "format": CACHE_FORMAT,
            "sources": [[toml.to_str().expect("utf-8"), stamp(&toml)]],
            "data": {},
            "resolved": {"run.require_clean": true, "filters.ignore_patterns": ["a", "b"]},
            "digests": {"also": ["sha256"]},
        });
        std::fs::write(store.path().join("cache/config.json"), doc.to_string()).expect("write");
        let config = Config::cached(store.path()).expect("fresh cache");
        assert!(config.flag("run.require_clean"));
        assert_eq!(config.list("filters.ignore_patterns"), vec!["a", "b"]);
        let also = config
            .also_digests(&["md5".into(), "blake3".into()])
            .expect("checked");
        assert_eq!(
            Algo::ALL.map(|a| also.contains(a)),
            [true, true, false],
            "hash.also's sha256 and --hash md5; blake3 is always there"
        );
        std::fs::write(&toml, "[run]\nrequire_clean = false\n").expect("write");
        assert!(
            Config::cached(store.path()).is_none(),
            "an edited file makes it stale"
        );
    }

    #[test]
    fn refused_hash_settings_keep_pythons_message_and_a_record_without_a_verdict_is_stale() {
        let store = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(store.path().join("cache")).expect("mkdir");
        let write = |digests: Json| {
            let doc = serde_json::json!({
                "format": CACHE_FORMAT, "sources": [], "resolved": {}, "digests": digests,
            });
            std::fs::write(store.path().join("cache/config.json"), doc.to_string()).expect("write");
        };
        write(serde_json::json!({"error": "hash.primary = md5 in f: roar takes blake3 only"}));
        let config = Config::cached(store.path()).expect("fresh cache");
        assert_eq!(
            config.also_digests(&[]),
            Err("hash.primary = md5 in f: roar takes blake3 only".into())
        );
        write(Json::Null);
        assert!(Config::cached(store.path()).is_none());
    }
}
