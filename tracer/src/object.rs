//! The object encoding of docs/object-format.md: deterministic CBOR bodies
//! behind a git-style `kind len\0` header, named by BLAKE3. This module is
//! the Rust half of the contract; `tests/vectors.rs` pins it against the
//! shared vectors that the Python side checks too.

use anyhow::{bail, ensure, Result};

/// A CBOR data item restricted to what the format allows (no floats, no tags).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// An integer in [-2^64, 2^64-1].
    Int(i128),
    Bytes(Vec<u8>),
    Text(String),
    Array(Vec<Value>),
    /// Text keys; the encoder sorts them, so callers may give any order.
    Map(Vec<(String, Value)>),
    Bool(bool),
    Null,
    /// An item that is already canonically encoded (the job's `context`),
    /// embedded verbatim.
    Raw(Vec<u8>),
}

impl Value {
    pub fn text(s: &str) -> Value {
        Value::Text(s.to_owned())
    }

    pub fn map(entries: Vec<(&str, Value)>) -> Value {
        Value::Map(
            entries
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
        )
    }
}

const MAX_INT: i128 = u64::MAX as i128;
const MIN_INT: i128 = -(u64::MAX as i128) - 1;

/// Encodes `value` in core deterministic encoding (RFC 8949 §4.2.1).
pub fn encode(value: &Value) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(256);
    encode_into(value, &mut out)?;
    Ok(out)
}

fn head(out: &mut Vec<u8>, major: u8, arg: u64) {
    let m = major << 5;
    // The shortest argument form is what makes the encoding deterministic.
    if arg < 24 {
        out.push(m | arg as u8);
    } else if arg <= u8::MAX as u64 {
        out.extend_from_slice(&[m | 24, arg as u8]);
    } else if arg <= u16::MAX as u64 {
        out.push(m | 25);
        out.extend_from_slice(&(arg as u16).to_be_bytes());
    } else if arg <= u32::MAX as u64 {
        out.push(m | 26);
        out.extend_from_slice(&(arg as u32).to_be_bytes());
    } else {
        out.push(m | 27);
        out.extend_from_slice(&arg.to_be_bytes());
    }
}

fn encode_into(value: &Value, out: &mut Vec<u8>) -> Result<()> {
    match value {
        Value::Int(n) => {
            ensure!(
                (MIN_INT..=MAX_INT).contains(n),
                "integer {n} out of CBOR range"
            );
            if *n >= 0 {
                head(out, 0, *n as u64);
            } else {
                head(out, 1, (-1 - *n) as u64);
            }
        }
        Value::Bytes(b) => {
            head(out, 2, b.len() as u64);
            out.extend_from_slice(b);
        }
        Value::Text(s) => {
            head(out, 3, s.len() as u64);
            out.extend_from_slice(s.as_bytes());
        }
        Value::Array(items) => {
            head(out, 4, items.len() as u64);
            for item in items {
                encode_into(item, out)?;
            }
        }
        Value::Map(entries) => {
            let mut encoded: Vec<(Vec<u8>, &Value)> = Vec::with_capacity(entries.len());
            for (k, v) in entries {
                encoded.push((encode(&Value::Text(k.clone()))?, v));
            }
            encoded.sort_by(|a, b| a.0.cmp(&b.0));
            for pair in encoded.windows(2) {
                ensure!(pair[0].0 != pair[1].0, "duplicate map key");
            }
            head(out, 5, encoded.len() as u64);
            for (k, v) in encoded {
                out.extend_from_slice(&k);
                encode_into(v, out)?;
            }
        }
        Value::Bool(false) => out.push(0xf4),
        Value::Bool(true) => out.push(0xf5),
        Value::Null => out.push(0xf6),
        Value::Raw(bytes) => out.extend_from_slice(bytes),
    }
    Ok(())
}

/// Decodes one canonical item that spans all of `bytes`, rejecting anything
/// the format forbids, so that decode-then-encode is the identity.
pub fn decode(bytes: &[u8]) -> Result<Value> {
    let mut pos = 0;
    let value = decode_at(bytes, &mut pos, 0)?;
    ensure!(pos == bytes.len(), "trailing bytes after CBOR item");
    Ok(value)
}

const MAX_DEPTH: usize = 64;

fn take<'a>(bytes: &'a [u8], pos: &mut usize, n: usize) -> Result<&'a [u8]> {
    let end = pos.checked_add(n).filter(|&e| e <= bytes.len());
    let Some(end) = end else {
        bail!("truncated CBOR")
    };
    let slice = &bytes[*pos..end];
    *pos = end;
    Ok(slice)
}

fn read_arg(bytes: &[u8], pos: &mut usize, info: u8) -> Result<u64> {
    let (arg, min) = match info {
        0..=23 => return Ok(info as u64),
        24 => (take(bytes, pos, 1)?[0] as u64, 24),
        25 => (
            u16::from_be_bytes(take(bytes, pos, 2)?.try_into()?) as u64,
            0x100,
        ),
        26 => (
            u32::from_be_bytes(take(bytes, pos, 4)?.try_into()?) as u64,
            0x1_0000,
        ),
        27 => (
            u64::from_be_bytes(take(bytes, pos, 8)?.try_into()?),
            0x1_0000_0000,
        ),
        _ => bail!("indefinite or reserved length"),
    };
    ensure!(arg >= min, "non-shortest CBOR argument");
    Ok(arg)
}

fn decode_at(bytes: &[u8], pos: &mut usize, depth: usize) -> Result<Value> {
    ensure!(depth < MAX_DEPTH, "CBOR nested too deeply");
    let initial = take(bytes, pos, 1)?[0];
    let (major, info) = (initial >> 5, initial & 0x1f);
    if major == 7 {
        return match info {
            20 => Ok(Value::Bool(false)),
            21 => Ok(Value::Bool(true)),
            22 => Ok(Value::Null),
            _ => bail!("CBOR simple value or float not allowed"),
        };
    }
    let arg = read_arg(bytes, pos, info)?;
    let len = usize::try_from(arg).ok();
    Ok(match major {
        0 => Value::Int(arg as i128),
        1 => Value::Int(-1 - arg as i128),
        2 => Value::Bytes(take(bytes, pos, len.unwrap_or(usize::MAX))?.to_vec()),
        3 => {
            let raw = take(bytes, pos, len.unwrap_or(usize::MAX))?;
            Value::Text(String::from_utf8(raw.to_vec())?)
        }
        4 => {
            let n = len
                .filter(|&n| n <= bytes.len())
                .ok_or_else(|| anyhow::anyhow!("array too long"))?;
            let mut items = Vec::with_capacity(n);
            for _ in 0..n {
                items.push(decode_at(bytes, pos, depth + 1)?);
            }
            Value::Array(items)
        }
        5 => {
            let n = len
                .filter(|&n| n <= bytes.len())
                .ok_or_else(|| anyhow::anyhow!("map too long"))?;
            let mut entries = Vec::with_capacity(n);
            let mut previous: Option<&[u8]> = None;
            for _ in 0..n {
                let key_start = *pos;
                let key = decode_at(bytes, pos, depth + 1)?;
                let Value::Text(key) = key else {
                    bail!("CBOR map key is not text")
                };
                let key_bytes = &bytes[key_start..*pos];
                if let Some(prev) = previous {
                    ensure!(prev < key_bytes, "CBOR map keys unsorted or duplicated");
                }
                previous = Some(key_bytes);
                entries.push((key, decode_at(bytes, pos, depth + 1)?));
            }
            Value::Map(entries)
        }
        _ => bail!("CBOR tags not allowed"),
    })
}

/// An object: its kind word and its encoded body.
pub struct Object {
    pub kind: &'static str,
    pub body: Vec<u8>,
}

impl Object {
    pub fn new(kind: &'static str, body: &Value) -> Result<Object> {
        Ok(Object {
            kind,
            body: encode(body)?,
        })
    }

    /// `kind SP decimal(len) NUL || body`, the bytes that are hashed and stored.
    pub fn bytes(&self) -> Vec<u8> {
        let mut out = format!("{} {}\0", self.kind, self.body.len()).into_bytes();
        out.extend_from_slice(&self.body);
        out
    }

    pub fn id(&self) -> String {
        blake3::hash(&self.bytes()).to_hex().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sort_by_encoded_length_then_bytes() {
        let v = Value::map(vec![
            ("bb", Value::Int(1)),
            ("c", Value::Int(2)),
            ("a", Value::Int(3)),
        ]);
        let bytes = encode(&v).unwrap();
        assert_eq!(
            bytes,
            [0xa3, 0x61, b'a', 3, 0x61, b'c', 2, 0x62, b'b', b'b', 1]
        );
        assert_eq!(
            decode(&bytes).unwrap(),
            Value::map(vec![
                ("a", Value::Int(3)),
                ("c", Value::Int(2)),
                ("bb", Value::Int(1))
            ])
        );
    }

    #[test]
    fn integers_use_the_shortest_form_at_every_boundary() {
        for (n, hex) in [
            (0i128, "00"),
            (23, "17"),
            (24, "1818"),
            (255, "18ff"),
            (256, "190100"),
            (65536, "1a00010000"),
            (4294967296, "1b0000000100000000"),
            (-1, "20"),
            (-25, "3818"),
            (MIN_INT, "3bffffffffffffffff"),
        ] {
            let bytes = encode(&Value::Int(n)).unwrap();
            assert_eq!(hex_of(&bytes), hex, "{n}");
            assert_eq!(decode(&bytes).unwrap(), Value::Int(n));
        }
        assert!(encode(&Value::Int(MAX_INT + 1)).is_err());
    }

    #[test]
    fn decoder_rejects_non_canonical_input() {
        for bad in [
            "1817",
            "a2616101616101",
            "a2616201616101",
            "f93c00",
            "c000",
            "5f40ff",
            "a1010203",
        ] {
            let bytes: Vec<u8> = (0..bad.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&bad[i..i + 2], 16).unwrap())
                .collect();
            assert!(decode(&bytes).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn header_is_kind_space_length_nul() {
        let obj =
            Object::new("tree", &Value::map(vec![("entries", Value::Array(vec![]))])).unwrap();
        assert!(obj.bytes().starts_with(b"tree 10\0"));
    }

    fn hex_of(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
}
