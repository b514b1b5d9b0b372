//! What a secret looks like, for the environment variables a job records.
//! The rules are data, `roar/capture/secret_rules.json`, compiled in from
//! the very file roar/capture/secrets.py loads, read with the same meaning:
//! a name is upper-cased with `-` and `.` made `_` before the name patterns
//! search it; a value is secret if any value pattern is found in it.
//! `tests/vectors/secrets.json` pins that both readers decide alike.

use anyhow::{ensure, Context, Result};
use regex::bytes::{Regex, RegexBuilder};
use std::sync::OnceLock;

const RULES: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../roar/capture/secret_rules.json"
));

/// What replaces a secret value.
pub const REDACTED: &[u8] = b"<redacted>";

pub struct Rules {
    names: Regex,
    values: Vec<Regex>,
}

fn compile(pattern: &str) -> Result<Regex> {
    // Without Unicode mode, as Python's bytes patterns: `\s` and case
    // folding are ASCII, and a class may match any byte.
    RegexBuilder::new(pattern)
        .unicode(false)
        .build()
        .with_context(|| format!("secret rules: bad pattern {pattern:?}"))
}

impl Rules {
    fn parse(text: &str) -> Result<Rules> {
        let doc: serde_json::Value = serde_json::from_str(text).context("secret rules")?;
        ensure!(
            doc["redacted"].as_str().map(str::as_bytes) == Some(REDACTED),
            "secret rules: 'redacted' is not <redacted>"
        );
        let names = doc["secret_names"]
            .as_array()
            .context("secret rules: no secret_names")?
            .iter()
            .map(|p| p.as_str().map(|p| format!("(?:{p})")))
            .collect::<Option<Vec<_>>>()
            .context("secret rules: a name pattern is not text")?;
        let values = doc["secret_values"]
            .as_array()
            .context("secret rules: no secret_values")?
            .iter()
            .map(|v| {
                compile(
                    v["pattern"]
                        .as_str()
                        .context("secret rules: a pattern is not text")?,
                )
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Rules {
            names: compile(&names.join("|"))?,
            values,
        })
    }

    /// The rules roar was built with.
    pub fn get() -> &'static Rules {
        static ONCE: OnceLock<Rules> = OnceLock::new();
        // The file is compiled in: a bad one is a build defect, which the
        // unit and vector tests catch before anything ships.
        ONCE.get_or_init(|| Rules::parse(RULES).expect("valid built-in secret rules"))
    }

    /// Whether a variable, flag or key of this name holds a secret.
    pub fn is_secret_name(&self, name: &[u8]) -> bool {
        let normal: Vec<u8> = name
            .iter()
            .map(|&b| match b.to_ascii_uppercase() {
                b'-' | b'.' => b'_',
                other => other,
            })
            .collect();
        self.names.is_match(&normal)
    }

    /// Where in `text` there are secrets by their shape: [start, end) spans,
    /// sorted and merged. A pattern's group named `secret`, when it took
    /// part, is the secret; otherwise the whole match is.
    pub fn secret_spans(&self, text: &[u8]) -> Vec<(usize, usize)> {
        let mut spans = Vec::new();
        for pattern in &self.values {
            for caps in pattern.captures_iter(text) {
                let m = caps
                    .name("secret")
                    .or_else(|| caps.get(0))
                    .expect("group 0 always matches");
                spans.push((m.start(), m.end()));
            }
        }
        spans.sort_unstable();
        let mut merged: Vec<(usize, usize)> = Vec::new();
        for (start, end) in spans {
            match merged.last_mut() {
                Some(last) if start <= last.1 => last.1 = last.1.max(end),
                _ if end > start => merged.push((start, end)),
                _ => {}
            }
        }
        merged
    }

    pub fn is_secret(&self, name: &[u8], value: &[u8]) -> bool {
        self.is_secret_name(name) || !self.secret_spans(value).is_empty()
    }

    /// Sorted `[name, value]` pairs, each secret value replaced by `<redacted>`.
    pub fn redact_env<I>(&self, vars: I) -> Vec<(Vec<u8>, Vec<u8>)>
    where
        I: IntoIterator<Item = (Vec<u8>, Vec<u8>)>,
    {
        let mut out: Vec<_> = vars
            .into_iter()
            .map(|(k, v)| {
                let v = if self.is_secret(&k, &v) {
                    REDACTED.to_vec()
                } else {
                    v
                };
                (k, v)
            })
            .collect();
        out.sort();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_rules_parse() {
        assert!(Rules::parse(RULES).is_ok());
    }

    #[test]
    fn redaction_keeps_names_and_sorts() {
        let vars = vec![
            (b"Z".to_vec(), b"1".to_vec()),
            (b"MY_TOKEN".to_vec(), b"x".to_vec()),
        ];
        assert_eq!(
            Rules::get().redact_env(vars),
            vec![
                (b"MY_TOKEN".to_vec(), REDACTED.to_vec()),
                (b"Z".to_vec(), b"1".to_vec())
            ]
        );
    }
}
