//! The `job` and `tree` object schemas of docs/object-format.md §3, built
//! from what the tracer found.

use crate::hash::{Digests, FileHash};
use crate::object::{Object, Value};
use anyhow::Result;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArtifactKind {
    File,
    Tree,
}

impl ArtifactKind {
    pub fn word(self) -> &'static str {
        match self {
            ArtifactKind::File => "file",
            ArtifactKind::Tree => "tree",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    pub path: Vec<u8>,
    /// 64 lowercase hex: the file's BLAKE3, or the tree object's id.
    pub hash: String,
    pub size: u64,
    pub kind: ArtifactKind,
    /// Extra digests of a file's bytes (docs/object-format.md): written as
    /// the `digests` map, left out when there are none.
    pub digests: Digests,
}

impl Artifact {
    pub fn file(path: Vec<u8>, hash: &FileHash) -> Artifact {
        Artifact {
            path,
            hash: hash.hex(),
            size: hash.size,
            kind: ArtifactKind::File,
            digests: hash.digests,
        }
    }

    fn value(&self) -> Value {
        let mut fields = vec![
            ("path", Value::Bytes(self.path.clone())),
            ("hash", Value::text(&self.hash)),
            ("size", Value::Int(self.size as i128)),
            ("kind", Value::text(self.kind.word())),
        ];
        let digests = self.digests.hex();
        if !digests.is_empty() {
            let map = digests
                .into_iter()
                .map(|(algo, hex)| (algo, Value::Text(hex)))
                .collect();
            fields.push(("digests", Value::map(map)));
        }
        Value::map(fields)
    }
}

pub struct Job {
    pub job_type: String,
    pub argv: Vec<Vec<u8>>,
    pub cwd: Vec<u8>,
    pub started_ns: u64,
    pub ended_ns: u64,
    pub exit_code: i64,
    pub signal: Option<i64>,
    pub interrupted: bool,
    /// Sorted by path.
    pub inputs: Vec<Artifact>,
    /// Sorted by path.
    pub outputs: Vec<Artifact>,
    /// Sorted, unique.
    pub filtered: Vec<Vec<u8>>,
    /// One canonical CBOR map, embedded verbatim.
    pub context: Vec<u8>,
}

impl Job {
    pub fn to_object(&self) -> Result<Object> {
        let artifacts =
            |list: &[Artifact]| Value::Array(list.iter().map(Artifact::value).collect());
        let body = Value::map(vec![
            ("type", Value::text(&self.job_type)),
            (
                "argv",
                Value::Array(self.argv.iter().map(|a| Value::Bytes(a.clone())).collect()),
            ),
            ("cwd", Value::Bytes(self.cwd.clone())),
            ("started_ns", Value::Int(self.started_ns as i128)),
            ("ended_ns", Value::Int(self.ended_ns as i128)),
            ("exit_code", Value::Int(self.exit_code as i128)),
            (
                "signal",
                self.signal.map_or(Value::Null, |s| Value::Int(s as i128)),
            ),
            ("interrupted", Value::Bool(self.interrupted)),
            ("inputs", artifacts(&self.inputs)),
            ("outputs", artifacts(&self.outputs)),
            (
                "filtered",
                Value::Array(
                    self.filtered
                        .iter()
                        .map(|p| Value::Bytes(p.clone()))
                        .collect(),
                ),
            ),
            ("context", Value::Raw(self.context.clone())),
        ]);
        Object::new("job", &body)
    }
}

/// A composite's entries: (relative path, file hash), sorted by path.
pub fn tree_object(entries: &[(Vec<u8>, FileHash)]) -> Result<Object> {
    let list = entries
        .iter()
        .map(|(rel, h)| {
            Value::Array(vec![
                Value::Bytes(rel.clone()),
                Value::Text(h.hex()),
                Value::Int(h.size as i128),
            ])
        })
        .collect();
    Object::new("tree", &Value::map(vec![("entries", Value::Array(list))]))
}
