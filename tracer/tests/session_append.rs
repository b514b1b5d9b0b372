//! Concurrent runs appending to one session: every job lands as its own
//! step, none is lost, none twice. The ref lock is contended on purpose:
//! many tracers finish at once, most lose the compare-and-swap, release the
//! lock and retry.

mod common;
use common::{Workspace, TRACER};
use roar_tracer::object::{decode, Value};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};

const RUNS: usize = 32;
const ROUNDS: usize = 8;

fn session_fields(store: &Path, id: &str) -> Vec<(String, Value)> {
    let frame = std::fs::read(store.join("objects").join(&id[..2]).join(&id[2..])).expect("object");
    let raw = zstd::decode_all(&frame[..]).expect("zstd");
    let nul = raw.iter().position(|&b| b == 0).expect("header");
    assert!(raw.starts_with(b"session "));
    match decode(&raw[nul + 1..]).expect("cbor") {
        Value::Map(fields) => fields,
        _ => panic!("not a map"),
    }
}

/// (job, step) of every session object on the chain, newest first.
fn chain(store: &Path) -> Vec<(String, i128)> {
    let head = std::fs::read_to_string(store.join("refs/sessions/main")).expect("ref");
    let mut cur = Some(head.trim().to_owned());
    let mut out = Vec::new();
    while let Some(id) = cur {
        let fields = session_fields(store, &id);
        let get = |k: &str| fields.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let (Some(Value::Text(job)), Some(Value::Int(step))) = (get("job"), get("step")) else {
            panic!("session object without job or step");
        };
        out.push((job, step));
        cur = match get("parent") {
            Some(Value::Text(p)) => Some(p),
            _ => None,
        };
    }
    out
}

#[test]
fn concurrent_runs_each_land_as_their_own_step() {
    let ws = Workspace::new();
    let store = ws.store();
    std::fs::create_dir_all(store.join("refs/sessions")).expect("mkdir");
    std::fs::write(store.join("HEAD"), "ref: refs/sessions/main\n").expect("HEAD");
    let mut jobs = BTreeSet::new();
    for round in 0..ROUNDS {
        let children: Vec<_> = (0..RUNS)
            .map(|i| {
                let report = ws.bins.path().join(format!("report-{round}-{i}.json"));
                let child = Command::new(TRACER)
                    .current_dir(ws.root())
                    .args(["run", "--session", "HEAD", "--store"])
                    .arg(&store)
                    .arg("--report")
                    .arg(&report)
                    .args(["--", "/bin/echo", &format!("{round}-{i}")])
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .expect("tracer starts");
                (child, report)
            })
            .collect();
        for (child, report) in children {
            let out = child.wait_with_output().expect("tracer ends");
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success() && stderr.is_empty(), "{stderr}");
            let report: serde_json::Value =
                serde_json::from_slice(&std::fs::read(&report).expect("report")).expect("json");
            jobs.insert(report["job"].as_str().expect("job id").to_owned());
        }
    }
    assert_eq!(jobs.len(), RUNS * ROUNDS);
    let steps = chain(&store);
    let on_chain: BTreeSet<String> = steps.iter().map(|(j, _)| j.clone()).collect();
    assert_eq!(on_chain, jobs, "every recorded job is on the session chain");
    let numbers: Vec<i128> = steps.iter().rev().map(|(_, n)| *n).collect();
    let expected: Vec<i128> = (1..=(RUNS * ROUNDS) as i128).collect();
    assert_eq!(numbers, expected, "steps are numbered 1.. in chain order");
    assert!(!store.join("refs/sessions/main.lock").exists());
}
