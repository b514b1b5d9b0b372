//! The command's life under the tracer: exit codes mirrored (128+N for a
//! signal), "not found" as 127, stdio untouched, SIGINT forwarded and the
//! job recorded as interrupted, a killed tracer taking the command with it,
//! and the stored job object readable from disk.

mod common;
use common::{hash, set, Workspace, TRACER};
use roar_tracer::object::{decode, Value};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn the_exit_code_is_mirrored() {
    let ws = Workspace::new();
    let out = ws.sh("exit 7");
    assert_eq!(out.output.status.code(), Some(7));
    assert_eq!(out.exit_code(), 7);
    assert_eq!(
        out.report.as_ref().expect("report")["signal"],
        serde_json::Value::Null
    );
}

#[test]
fn death_by_signal_is_128_plus_n_with_the_signal_recorded() {
    let ws = Workspace::new();
    let out = ws.sh("kill -TERM $$");
    assert_eq!(out.output.status.code(), Some(143));
    let report = out.report.as_ref().expect("report");
    assert_eq!(report["signal"], 15);
    assert_eq!(report["interrupted"], false);
}

#[test]
fn a_missing_command_exits_127_with_a_message_and_records_nothing() {
    let ws = Workspace::new();
    let out = ws.run_with(&["no-such-command-roar"], &[]);
    assert_eq!(out.output.status.code(), Some(127));
    assert!(String::from_utf8_lossy(&out.output.stderr)
        .contains("no-such-command-roar: command not found"));
    assert!(out.report.is_none());
}

#[test]
fn stdin_stdout_and_stderr_belong_to_the_command() {
    let ws = Workspace::new();
    let mut child = ws
        .command(
            &[
                "/bin/sh",
                "-c",
                "read line; echo \"out:$line\"; echo err >&2",
            ],
            &[],
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    use std::io::Write;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"hello\n")
        .expect("write");
    let out = child.wait_with_output().expect("wait");
    assert_eq!(
        out.stdout, b"out:hello\n",
        "the tracer prints nothing on stdout"
    );
    assert_eq!(out.stderr, b"err\n");
}

#[test]
fn sigint_to_the_tracer_reaches_the_command_and_the_job_is_interrupted() {
    let ws = Workspace::new();
    let script = "trap 'echo caught > caught.txt; exit 130' INT; echo ready > ready.txt; while :; do sleep 0.05; done";
    let mut child = ws
        .command(&["/bin/sh", "-c", script], &[])
        .spawn()
        .expect("spawn");
    let ready = ws.root().join("ready.txt");
    let start = Instant::now();
    while !ready.exists() && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(100));
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(130));
    assert_eq!(
        ws.read("caught.txt"),
        b"caught\n",
        "the command saw SIGINT exactly as sent"
    );
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(ws.bins.path().join("report.json")).expect("report"))
            .expect("json");
    assert_eq!(report["interrupted"], true);
    assert_eq!(report["exit_code"], 130);
    let outputs: Vec<&str> = report["outputs"]
        .as_array()
        .expect("outputs")
        .iter()
        .map(|a| a["path"].as_str().unwrap_or(""))
        .collect();
    assert!(outputs.contains(&ws.path("caught.txt").as_str()));
}

fn children_of(pid: u32) -> Vec<i32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

#[test]
fn killing_the_tracer_with_sigkill_kills_the_command_too() {
    let ws = Workspace::new();
    let mut tracer = ws
        .command(&["/bin/sleep", "30"], &[])
        .spawn()
        .expect("spawn");
    let start = Instant::now();
    let mut kids = Vec::new();
    while kids.is_empty() && start.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(20));
        kids = children_of(tracer.id());
    }
    let sleeper = *kids.first().expect("the command is running");
    tracer.kill().expect("SIGKILL the tracer");
    tracer.wait().expect("reap");
    let start = Instant::now();
    // SAFETY: probing with signal 0.
    while unsafe { libc::kill(sleeper, 0) } == 0 && start.elapsed() < Duration::from_secs(5) {
        let stat = std::fs::read_to_string(format!("/proc/{sleeper}/stat")).unwrap_or_default();
        if stat.contains(") Z") {
            break; // a zombie waiting for init: dead
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let stat = std::fs::read_to_string(format!("/proc/{sleeper}/stat")).unwrap_or_default();
    assert!(
        stat.is_empty() || stat.contains(") Z"),
        "command still alive: {stat}"
    );
}

#[test]
fn the_stored_job_object_decodes_to_what_the_report_says() {
    let ws = Workspace::new();
    let h = ws.write("in.txt", b"abc");
    let context = roar_tracer::object::encode(&Value::map(vec![
        ("session", Value::text("main")),
        ("step", Value::Int(4)),
    ]))
    .expect("ctx");
    std::fs::write(ws.bins.path().join("ctx.cbor"), &context).expect("write ctx");
    let ctx_path = ws
        .bins
        .path()
        .join("ctx.cbor")
        .to_string_lossy()
        .into_owned();
    let out = ws.run_with(
        &["/bin/cp", "in.txt", "out.txt"],
        &["--context", &ctx_path, "--type", "build"],
    );
    let report = out.report.as_ref().expect("report");
    let id = report["job"].as_str().expect("id");
    let frame = std::fs::read(out.store.join("objects").join(&id[..2]).join(&id[2..]))
        .expect("object file");
    let raw = zstd::decode_all(&frame[..]).expect("zstd");
    let declared = zstd::zstd_safe::get_frame_content_size(&frame)
        .ok()
        .flatten();
    assert_eq!(
        declared,
        Some(raw.len() as u64),
        "the frame declares its content size"
    );
    assert_eq!(blake3::hash(&raw).to_hex().as_str(), id);
    let nul = raw.iter().position(|&b| b == 0).expect("header");
    let body = &raw[nul + 1..];
    assert_eq!(&raw[..nul], format!("job {}", body.len()).as_bytes());
    let Value::Map(fields) = decode(body).expect("canonical body") else {
        panic!("not a map")
    };
    let get = |k: &str| {
        fields
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
            .expect(k)
    };
    assert_eq!(get("type"), Value::text("build"));
    assert_eq!(
        get("argv"),
        Value::Array(vec![
            Value::Bytes(b"/bin/cp".to_vec()),
            Value::Bytes(b"in.txt".to_vec()),
            Value::Bytes(b"out.txt".to_vec())
        ])
    );
    assert_eq!(
        get("cwd"),
        Value::Bytes(ws.path("").trim_end_matches('/').as_bytes().to_vec())
    );
    assert_eq!(get("exit_code"), Value::Int(0));
    assert_eq!(get("context"), decode(&context).expect("ctx"));
    let artifact = |p: String, h: String, size: i128| {
        Value::Array(vec![Value::Map(vec![
            ("hash".into(), Value::Text(h)),
            ("kind".into(), Value::text("file")),
            ("path".into(), Value::Bytes(p.into_bytes())),
            ("size".into(), Value::Int(size)),
        ])])
    };
    assert_eq!(get("inputs"), artifact(ws.path("in.txt"), h.clone(), 3));
    assert_eq!(get("outputs"), artifact(ws.path("out.txt"), h, 3));
    assert_eq!(out.inputs(), set(&[(ws.path("in.txt"), hash(b"abc"))]));
}

#[test]
fn a_bad_context_file_is_refused_before_anything_runs() {
    let ws = Workspace::new();
    std::fs::write(ws.bins.path().join("bad.cbor"), [0xa1, 0x01, 0x02]).expect("write");
    let bad = ws
        .bins
        .path()
        .join("bad.cbor")
        .to_string_lossy()
        .into_owned();
    let out = ws.run_with(
        &["/bin/sh", "-c", "echo ran > ran.txt"],
        &["--context", &bad],
    );
    assert_eq!(out.output.status.code(), Some(2));
    assert!(!ws.root().join("ran.txt").exists());
}

#[test]
fn version_and_preflight_speak_the_contract() {
    let v = Command::new(TRACER).arg("--version").output().expect("run");
    assert_eq!(
        String::from_utf8_lossy(&v.stdout),
        format!("roar-tracer {}\n", env!("CARGO_PKG_VERSION"))
    );
    let p = Command::new(TRACER)
        .args(["--preflight", "--json"])
        .output()
        .expect("run");
    let j: serde_json::Value = serde_json::from_slice(&p.stdout).expect("json");
    for key in ["ready", "ptrace", "seccomp", "kernel", "arch", "problems"] {
        assert!(j.get(key).is_some(), "{key} missing");
    }
    assert_eq!(
        p.status.code(),
        Some(if j["ready"] == true { 0 } else { 1 })
    );
}

#[test]
fn hash_prints_what_b3sum_prints() {
    let ws = Workspace::new();
    let big_bytes: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let (small_hash, big_hash) = (ws.write("small", b"hello"), ws.write("big", &big_bytes));
    let (small, big) = (ws.path("small"), ws.path("big"));
    let out = Command::new(TRACER)
        .args(["hash", "--num-threads", "2", &small, &big])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("{small_hash}  {small}\n{big_hash}  {big}\n")
    );
    let missing = Command::new(TRACER)
        .args(["hash", &ws.path("nope")])
        .output()
        .expect("run");
    assert_eq!(missing.status.code(), Some(1));
}

#[test]
fn unchanged_inputs_are_answered_from_the_hash_cache_and_changed_ones_are_not() {
    let ws = Workspace::new();
    for i in 0..50 {
        ws.write(&format!("in/{i}"), format!("file {i}").as_bytes());
    }
    // Cached hashes need settled timestamps (docs/hash-cache.md).
    std::thread::sleep(Duration::from_millis(150));
    let out = ws.sh("cat in/* > /dev/null");
    assert_eq!(out.inputs().len(), 50);
    let cache = std::fs::read(out.store.join("cache/hashes")).expect("cache written");
    assert_eq!(roar_tracer::hash_cache::decode_file(&cache).len(), 50);
    ws.write("in/7", b"changed!");
    let again = ws.sh("cat in/* > /dev/null");
    assert_eq!(again.inputs()[&ws.path("in/7")], hash(b"changed!"));
    assert_eq!(again.inputs()[&ws.path("in/8")], hash(b"file 8"));
}
