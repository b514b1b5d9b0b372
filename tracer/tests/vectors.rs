//! The shared vectors of tests/vectors/objects.json (written by the Python
//! side) encoded by the Rust implementation: same bytes, same id, and the
//! decoder gives the value back. Job and tree vectors also go through the
//! tracer's own `Job` / `tree_object` builders, the code that writes real jobs.

use roar_tracer::hash::{Digests, FileHash};
use roar_tracer::job::{tree_object, Artifact, ArtifactKind, Job};
use roar_tracer::object::{decode, encode, Object, Value};
use serde_json::Value as Json;
use std::path::PathBuf;

fn vectors() -> Vec<Json> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors/objects.json");
    let text = std::fs::read_to_string(&path).expect("tests/vectors/objects.json is readable");
    let doc: Json = serde_json::from_str(&text).expect("vectors are JSON");
    doc["vectors"].as_array().expect("a vectors list").clone()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn to_value(j: &Json) -> Value {
    match j {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => Value::Int(n.to_string().parse().expect("an integer")),
        Json::String(s) => Value::Text(s.clone()),
        Json::Array(items) => Value::Array(items.iter().map(to_value).collect()),
        Json::Object(map) => match map.get("$bytes") {
            Some(Json::String(hex)) if map.len() == 1 => Value::Bytes(unhex(hex)),
            _ => Value::Map(map.iter().map(|(k, v)| (k.clone(), to_value(v))).collect()),
        },
    }
}

fn bytes(j: &Json) -> Vec<u8> {
    unhex(j["$bytes"].as_str().expect("a $bytes value"))
}

fn int(j: &Json) -> i128 {
    j.to_string().parse().expect("an integer")
}

fn artifact(j: &Json) -> Artifact {
    Artifact {
        path: bytes(&j["path"]),
        hash: j["hash"].as_str().expect("hash").to_owned(),
        size: int(&j["size"]) as u64,
        kind: if j["kind"] == "tree" {
            ArtifactKind::Tree
        } else {
            ArtifactKind::File
        },
        digests: digests(&j["digests"]),
    }
}

fn digests(j: &Json) -> Digests {
    let fixed = |algo: &str| j.get(algo).and_then(Json::as_str).map(unhex);
    Digests {
        md5: fixed("md5").map(|d| d.try_into().expect("16 bytes")),
        sha256: fixed("sha256").map(|d| d.try_into().expect("32 bytes")),
        sha512: fixed("sha512").map(|d| d.try_into().expect("64 bytes")),
    }
}

fn job_from(v: &Json) -> Job {
    Job {
        job_type: v["type"].as_str().expect("type").to_owned(),
        argv: v["argv"]
            .as_array()
            .expect("argv")
            .iter()
            .map(bytes)
            .collect(),
        cwd: bytes(&v["cwd"]),
        started_ns: int(&v["started_ns"]) as u64,
        ended_ns: int(&v["ended_ns"]) as u64,
        exit_code: int(&v["exit_code"]) as i64,
        signal: (!v["signal"].is_null()).then(|| int(&v["signal"]) as i64),
        interrupted: v["interrupted"].as_bool().expect("interrupted"),
        inputs: v["inputs"]
            .as_array()
            .expect("inputs")
            .iter()
            .map(artifact)
            .collect(),
        outputs: v["outputs"]
            .as_array()
            .expect("outputs")
            .iter()
            .map(artifact)
            .collect(),
        filtered: v["filtered"]
            .as_array()
            .expect("filtered")
            .iter()
            .map(bytes)
            .collect(),
        context: encode(&to_value(&v["context"])).expect("context encodes"),
    }
}

fn tree_from(v: &Json) -> Object {
    let entries: Vec<(Vec<u8>, FileHash)> = v["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| {
            let hash: [u8; 32] = unhex(e[1].as_str().expect("hash"))
                .try_into()
                .expect("32 bytes");
            (
                bytes(&e[0]),
                FileHash {
                    hash,
                    size: int(&e[2]) as u64,
                    digests: Digests::default(),
                },
            )
        })
        .collect();
    tree_object(&entries).expect("tree encodes")
}

fn kind_word(kind: &str) -> &'static str {
    ["job", "tree", "session", "label", "env", "blob"]
        .into_iter()
        .find(|k| *k == kind)
        .expect("known kind")
}

#[test]
fn every_vector_encodes_to_its_bytes_and_id_and_decodes_back() {
    let all = vectors();
    assert!(all.len() >= 5, "expected a real vector set");
    for v in &all {
        let name = v["name"].as_str().expect("name");
        let kind = kind_word(v["kind"].as_str().expect("kind"));
        let expected = unhex(v["object_hex"].as_str().expect("object_hex"));
        let object = if kind == "blob" {
            Object {
                kind,
                body: bytes(&v["value"]),
            }
        } else {
            let value = to_value(&v["value"]);
            let object = Object::new(kind, &value).expect("encodes");
            assert_eq!(
                decode(&object.body).expect("decodes"),
                sorted(value),
                "{name}: decode"
            );
            object
        };
        assert_eq!(object.bytes(), expected, "{name}: bytes");
        assert_eq!(object.id(), v["id"].as_str().expect("id"), "{name}: id");
    }
}

#[test]
fn job_and_tree_vectors_match_what_the_tracer_writes() {
    let mut seen = 0;
    for v in vectors() {
        let name = v["name"].as_str().expect("name");
        let object = match v["kind"].as_str() {
            Some("job") => job_from(&v["value"]).to_object().expect("job encodes"),
            Some("tree") => tree_from(&v["value"]),
            _ => continue,
        };
        seen += 1;
        assert_eq!(
            object.bytes(),
            unhex(v["object_hex"].as_str().expect("hex")),
            "{name}"
        );
        assert_eq!(object.id(), v["id"].as_str().expect("id"), "{name}");
    }
    assert!(seen >= 2, "the vector set has job and tree vectors");
}

/// The decoder returns map entries in canonical order; sort the expected
/// value the same way to compare.
fn sorted(v: Value) -> Value {
    match v {
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        Value::Map(entries) => {
            let mut entries: Vec<(String, Value)> =
                entries.into_iter().map(|(k, v)| (k, sorted(v))).collect();
            entries.sort_by(|a, b| (a.0.len(), a.0.as_bytes()).cmp(&(b.0.len(), b.0.as_bytes())));
            Value::Map(entries)
        }
        other => other,
    }
}
