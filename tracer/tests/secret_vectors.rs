//! tests/vectors/secrets.json, which Python checks too, against the rules
//! compiled into the front end: which names are secret, and each text with
//! its secrets (by shape) replaced. (Command lines are redacted only by
//! Python, for `roar register`; the front end redacts the environment.)

use roar_tracer::secrets::{Rules, REDACTED};
use serde_json::Value as Json;
use std::path::PathBuf;

fn vectors() -> Json {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors/secrets.json");
    serde_json::from_slice(&std::fs::read(path).expect("readable")).expect("json")
}

#[test]
fn every_name_case_is_judged_as_written() {
    let doc = vectors();
    let cases = doc["names"].as_array().expect("names");
    assert!(cases.len() >= 10);
    for case in cases {
        let name = case["name"].as_str().expect("name");
        let secret = case["secret"].as_bool().expect("secret");
        assert_eq!(
            Rules::get().is_secret_name(name.as_bytes()),
            secret,
            "{name}"
        );
    }
}

#[test]
fn every_text_case_is_redacted_as_written() {
    let doc = vectors();
    let cases = doc["texts"].as_array().expect("texts");
    assert!(cases.len() >= 10);
    for case in cases {
        let text = case["text"].as_str().expect("text").as_bytes();
        let mut redacted = text.to_vec();
        for (start, end) in Rules::get().secret_spans(text).into_iter().rev() {
            redacted.splice(start..end, REDACTED.iter().copied());
        }
        assert_eq!(
            String::from_utf8_lossy(&redacted),
            case["redacted"].as_str().expect("redacted"),
            "{}",
            String::from_utf8_lossy(text)
        );
    }
}
