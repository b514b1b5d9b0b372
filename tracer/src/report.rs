//! The JSON report handed back to the Python side (the CLI contract in
//! docs/tracer.md). Paths are bytes on Linux: a path that is valid UTF-8 is
//! a JSON string, any other is `{"hex": "..."}`.

use crate::job::{Artifact, Job};
use crate::session::Appended;
use serde_json::{json, Value};

pub fn path_value(path: &[u8]) -> Value {
    match std::str::from_utf8(path) {
        Ok(s) => Value::String(s.to_owned()),
        Err(_) => json!({ "hex": path.iter().map(|b| format!("{b:02x}")).collect::<String>() }),
    }
}

fn artifact_value(a: &Artifact) -> Value {
    let mut v =
        json!({ "path": path_value(&a.path), "hash": a.hash, "size": a.size, "kind": a.kind.word() });
    let digests = a.digests.hex();
    if !digests.is_empty() {
        v["digests"] = Value::Object(
            digests
                .into_iter()
                .map(|(algo, hex)| (algo.to_owned(), Value::String(hex)))
                .collect(),
        );
    }
    v
}

/// How the run was observed (additions to the brief's report shape).
pub struct Observation<'a> {
    /// `notify` or `ptrace`.
    pub mechanism: &'a str,
    /// Files hashed while the command ran that the end only confirmed.
    pub hashed_while_running: usize,
}

pub fn render(
    job_id: &str,
    job: &Job,
    trees: &[String],
    warnings: &[String],
    appended: Option<&Appended>,
    observation: &Observation,
) -> Vec<u8> {
    let mut report = json!({
        "job": job_id,
        "exit_code": job.exit_code,
        "signal": job.signal,
        "interrupted": job.interrupted,
        "started_ns": job.started_ns,
        "ended_ns": job.ended_ns,
        "inputs": job.inputs.iter().map(artifact_value).collect::<Vec<_>>(),
        "outputs": job.outputs.iter().map(artifact_value).collect::<Vec<_>>(),
        "filtered_count": job.filtered.len(),
        "trees": trees,
        "warnings": warnings,
        "mechanism": observation.mechanism,
        "hashed_while_running": observation.hashed_while_running,
    });
    if let Some(a) = appended {
        report["session"] = json!(a.session_ref);
        report["session_object"] = json!(a.session_object);
        report["step"] = json!(a.step);
        report["supersedes"] = json!(a.supersedes);
    }
    let mut bytes = serde_json::to_vec_pretty(&report).unwrap_or_default();
    bytes.push(b'\n');
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_utf8_paths_are_written_as_hex() {
        assert_eq!(path_value(b"/a/b"), json!("/a/b"));
        assert_eq!(path_value(b"/caf\xe9"), json!({"hex": "2f636166e9"}));
    }
}
