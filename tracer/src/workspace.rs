//! Finding the workspace (`.roar/`) a run belongs to, as roar/workspace.py
//! does: `$ROAR_WORKSPACE`, else the nearest directory at or above the
//! current one holding `.roar/HEAD`.

use std::path::{Path, PathBuf};

pub const ROAR_DIR: &str = ".roar";
/// What fixes a damaged HEAD, said wherever one is met (roar/refs/refstore.py's HEAD_REPAIR).
pub const HEAD_REPAIR: &str = "`roar reset -y` points it at a new session (every session is kept)";

pub struct Workspace {
    pub root: PathBuf,
    /// `root/.roar`: objects, refs, config, caches.
    pub dir: PathBuf,
}

/// Why no workspace was found.
#[derive(Debug)]
pub enum Found {
    /// A roar-cli 0.4.7 workspace (`.roar/roar.db`) that roar has not imported.
    Legacy,
    /// Nothing: the message the Python CLI gives.
    Nothing(String),
}

impl Workspace {
    pub fn find(cwd: &Path) -> Result<Workspace, Found> {
        if let Some(env) = std::env::var_os("ROAR_WORKSPACE").filter(|v| !v.is_empty()) {
            let root = PathBuf::from(&env);
            if root.join(ROAR_DIR).is_dir() {
                return Ok(Workspace::at(root));
            }
            return Err(Found::Nothing(format!(
                "ROAR_WORKSPACE={} has no {ROAR_DIR}/ directory",
                root.display()
            )));
        }
        let here = std::fs::canonicalize(cwd).unwrap_or_else(|_| cwd.to_path_buf());
        for d in here.ancestors() {
            if d.join(ROAR_DIR).join("HEAD").is_file() {
                return Ok(Workspace::at(d.to_path_buf()));
            }
            if d.join(ROAR_DIR).join("roar.db").is_file() {
                return Err(Found::Legacy);
            }
        }
        Err(Found::Nothing(
            "not a roar workspace (no .roar/ here or above); run `roar init`".into(),
        ))
    }

    fn at(root: PathBuf) -> Workspace {
        let dir = root.join(ROAR_DIR);
        Workspace { root, dir }
    }

    /// The ref HEAD names (the active session), e.g. `refs/sessions/main`.
    pub fn head_target(&self) -> Result<String, String> {
        let text = std::fs::read_to_string(self.dir.join("HEAD"))
            .map_err(|e| format!("{} is unreadable: {e}", self.dir.join("HEAD").display()))?;
        match text.trim().strip_prefix("ref: ") {
            Some(target) => Ok(target.to_owned()),
            None => Err(format!(
                "HEAD does not name a ref: {:?}; {HEAD_REPAIR}",
                text.trim().chars().take(80).collect::<String>()
            )),
        }
    }

    /// `.roar/env.json`: variables `roar env set` adds to every run.
    pub fn persistent_env(&self) -> Vec<(String, String)> {
        let Ok(bytes) = std::fs::read(self.dir.join("env.json")) else {
            return Vec::new();
        };
        let Ok(serde_json::Value::Object(map)) = serde_json::from_slice(&bytes) else {
            return Vec::new();
        };
        map.into_iter()
            .filter_map(|(k, v)| v.as_str().map(|v| (k, v.to_owned())))
            .collect()
    }
}
