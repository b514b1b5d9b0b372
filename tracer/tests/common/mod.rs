//! Shared fixture for the integration tests: a scratch workspace with its
//! own store, a way to compile small C programs, and a runner that calls the
//! built roar-tracer binary and reads back its report.
#![allow(dead_code)]

use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

pub const TRACER: &str = env!("CARGO_BIN_EXE_roar-tracer");

/// System locations whose reads are not artifacts in these tests.
const SYSTEM: &[&str] = &[
    "/usr",
    "/lib",
    "/lib64",
    "/bin",
    "/sbin",
    "/etc",
    "/root/.pyenv",
    "/opt",
];

pub struct Workspace {
    pub dir: tempfile::TempDir,
    root: PathBuf,
    /// Compiled test programs live outside the workspace and are ignored.
    pub bins: tempfile::TempDir,
}

pub struct Outcome {
    pub output: Output,
    pub report: Option<Json>,
    pub store: PathBuf,
}

pub fn hash(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
}

/// The real python3 binary (pyenv puts a shell-script shim first on PATH).
pub fn python() -> &'static str {
    static PY: OnceLock<String> = OnceLock::new();
    PY.get_or_init(|| {
        let out = Command::new("python3")
            .args(["-c", "import sys; print(sys.executable)"])
            .output()
            .expect("python3 runs");
        String::from_utf8(out.stdout)
            .expect("utf-8")
            .trim()
            .to_owned()
    })
}

impl Workspace {
    pub fn new() -> Workspace {
        let dir = tempfile::Builder::new()
            .prefix("roar-ws")
            .tempdir()
            .expect("tempdir");
        let root = std::fs::canonicalize(dir.path()).expect("canonical");
        let bins = tempfile::Builder::new()
            .prefix("roar-bins")
            .tempdir()
            .expect("tempdir");
        Workspace { dir, root, bins }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn path(&self, rel: &str) -> String {
        self.root.join(rel).to_string_lossy().into_owned()
    }

    /// Writes a file and returns its BLAKE3.
    pub fn write(&self, rel: &str, content: &[u8]) -> String {
        let p = self.root.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(&p, content).expect("write");
        hash(content)
    }

    pub fn read(&self, rel: &str) -> Vec<u8> {
        std::fs::read(self.root.join(rel)).expect("read")
    }

    /// Compiles C `source` with `cc` (extra flags such as -static or
    /// -pthread) and returns the binary's path.
    pub fn cc(&self, name: &str, source: &str, flags: &[&str]) -> String {
        let src = self.bins.path().join(format!("{name}.c"));
        let bin = self.bins.path().join(name);
        std::fs::write(&src, source).expect("write source");
        let out = Command::new("cc")
            .args(flags)
            .arg("-O1")
            .arg("-o")
            .arg(&bin)
            .arg(&src)
            .output()
            .expect("cc runs");
        assert!(
            out.status.success(),
            "cc failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        bin.to_string_lossy().into_owned()
    }

    pub fn store(&self) -> PathBuf {
        self.bins.path().join("store")
    }

    pub fn command(&self, argv: &[&str], extra: &[&str]) -> Command {
        let mut cmd = Command::new(TRACER);
        cmd.current_dir(self.root())
            .arg("run")
            .arg("--store")
            .arg(self.store());
        cmd.arg("--report")
            .arg(self.bins.path().join("report.json"));
        for p in SYSTEM {
            cmd.args(["--ignore-prefix", p]);
        }
        cmd.arg("--ignore-prefix").arg(self.bins.path());
        cmd.args(extra).arg("--").args(argv);
        cmd
    }

    pub fn run_with(&self, argv: &[&str], extra: &[&str]) -> Outcome {
        let report_path = self.bins.path().join("report.json");
        let _ = std::fs::remove_file(&report_path);
        let output = self.command(argv, extra).output().expect("tracer runs");
        let report: Option<Json> = std::fs::read(&report_path)
            .ok()
            .map(|b| serde_json::from_slice(&b).expect("report is JSON"));
        // The suite runs once per mechanism (the Makefile sets the variable
        // for the ptrace fallback): make sure it really ran under it.
        if let (Some(r), Ok(forced)) = (&report, std::env::var("ROAR_TRACER_MECHANISM")) {
            assert_eq!(
                r["mechanism"],
                forced.as_str(),
                "ran under the wrong mechanism"
            );
        }
        Outcome {
            output,
            report,
            store: self.store(),
        }
    }

    pub fn run(&self, argv: &[&str]) -> Outcome {
        let out = self.run_with(argv, &[]);
        assert!(
            out.report.is_some(),
            "no report; exit {:?}, stderr: {}",
            out.output.status,
            String::from_utf8_lossy(&out.output.stderr)
        );
        out
    }

    pub fn sh(&self, script: &str) -> Outcome {
        self.run(&["/bin/sh", "-c", script])
    }

    pub fn py(&self, script: &str) -> Outcome {
        self.run(&[python(), "-I", "-c", script])
    }
}

impl Outcome {
    fn artifacts(&self, key: &str) -> BTreeMap<String, String> {
        let report = self.report.as_ref().expect("a report");
        report[key]
            .as_array()
            .expect("a list")
            .iter()
            .map(|a| {
                (
                    a["path"].as_str().expect("utf-8 path").to_owned(),
                    a["hash"].as_str().expect("hash").to_owned(),
                )
            })
            .collect()
    }

    pub fn inputs(&self) -> BTreeMap<String, String> {
        self.artifacts("inputs")
    }

    pub fn outputs(&self) -> BTreeMap<String, String> {
        self.artifacts("outputs")
    }

    pub fn exit_code(&self) -> i64 {
        self.report.as_ref().expect("a report")["exit_code"]
            .as_i64()
            .expect("exit_code")
    }

    pub fn kind_of(&self, path: &str) -> String {
        let report = self.report.as_ref().expect("a report");
        report["outputs"]
            .as_array()
            .expect("outputs")
            .iter()
            .find(|a| a["path"] == path)
            .map(|a| a["kind"].as_str().unwrap_or("").to_owned())
            .unwrap_or_default()
    }
}

/// Ground truth as written in a test: (path, hash) pairs.
pub fn set(pairs: &[(String, String)]) -> BTreeMap<String, String> {
    pairs.iter().cloned().collect()
}

/// The same command run untraced in one workspace and traced in another,
/// both prepared alike: the untraced run is the ground truth.
pub struct SideBySide {
    pub plain_ws: Workspace,
    pub plain: Output,
    pub traced_ws: Workspace,
    pub traced: Outcome,
}

impl Workspace {
    /// Runs `argv` untraced, in the workspace root.
    pub fn untraced(&self, argv: &[String]) -> Output {
        Command::new(&argv[0])
            .args(&argv[1..])
            .current_dir(self.root())
            .output()
            .expect("untraced command runs")
    }

    /// Every regular file under the root: relative path -> content.
    pub fn files(&self) -> BTreeMap<String, Vec<u8>> {
        let mut out = BTreeMap::new();
        let mut stack = vec![self.root().to_path_buf()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).expect("read_dir").flatten() {
                let path = entry.path();
                let kind = entry.file_type().expect("file type");
                if kind.is_dir() {
                    stack.push(path);
                } else if kind.is_file() {
                    let rel = path
                        .strip_prefix(self.root())
                        .expect("under root")
                        .to_string_lossy()
                        .into_owned();
                    out.insert(rel, std::fs::read(&path).unwrap_or_default());
                }
            }
        }
        out
    }
}

/// Prepares two workspaces with `setup` (which returns the command line,
/// possibly naming files it compiled into that workspace), runs the command
/// untraced in one and under the tracer (with `extra` options) in the other.
pub fn side_by_side(extra: &[&str], setup: impl Fn(&Workspace) -> Vec<String>) -> SideBySide {
    let plain_ws = Workspace::new();
    let plain_argv = setup(&plain_ws);
    let traced_ws = Workspace::new();
    let traced_argv = setup(&traced_ws);
    let plain = plain_ws.untraced(&plain_argv);
    let argv: Vec<&str> = traced_argv.iter().map(String::as_str).collect();
    let traced = traced_ws.run_with(&argv, extra);
    SideBySide {
        plain_ws,
        plain,
        traced_ws,
        traced,
    }
}

impl SideBySide {
    /// Same exit status, same stdout, and the same files on disk (content
    /// compared, except for the files named in `vary`, whose content may
    /// differ between any two runs: only their presence is compared).
    pub fn assert_same_except(&self, vary: &[&str]) {
        let code = |s: &std::process::ExitStatus| {
            use std::os::unix::process::ExitStatusExt;
            s.code().unwrap_or_else(|| 128 + s.signal().unwrap_or(0))
        };
        assert_eq!(
            code(&self.traced.output.status),
            code(&self.plain.status),
            "exit status differs; traced stderr: {}",
            String::from_utf8_lossy(&self.traced.output.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&self.traced.output.stdout),
            String::from_utf8_lossy(&self.plain.stdout),
            "stdout differs"
        );
        let mut plain = self.plain_ws.files();
        let mut traced = self.traced_ws.files();
        for name in vary {
            for files in [&mut plain, &mut traced] {
                if let Some(content) = files.get_mut(*name) {
                    content.clear();
                }
            }
        }
        assert_eq!(
            traced.keys().collect::<Vec<_>>(),
            plain.keys().collect::<Vec<_>>(),
            "different files on disk"
        );
        assert_eq!(traced, plain, "different file contents on disk");
    }

    pub fn assert_same(&self) {
        self.assert_same_except(&[]);
    }
}
