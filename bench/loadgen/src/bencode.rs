//! Just enough bencode for rtpengine's ng control protocol: dictionaries, lists, byte strings, integers.

use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Bytes(Vec<u8>),
    Int(i64),
    List(Vec<Value>),
    Dict(BTreeMap<Vec<u8>, Value>),
}

impl Value {
    pub fn s(v: &str) -> Value {
        Value::Bytes(v.as_bytes().to_vec())
    }

    pub fn list(v: &[&str]) -> Value {
        Value::List(v.iter().map(|s| Value::s(s)).collect())
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Dict(d) => d.get(key.as_bytes()),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Bytes(b) => std::str::from_utf8(b).ok(),
            _ => None,
        }
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Value::Bytes(b) => {
                out.extend_from_slice(b.len().to_string().as_bytes());
                out.push(b':');
                out.extend_from_slice(b);
            }
            Value::Int(i) => {
                out.push(b'i');
                out.extend_from_slice(i.to_string().as_bytes());
                out.push(b'e');
            }
            Value::List(l) => {
                out.push(b'l');
                for v in l {
                    v.encode(out);
                }
                out.push(b'e');
            }
            Value::Dict(d) => {
                out.push(b'd');
                for (k, v) in d {
                    Value::Bytes(k.clone()).encode(out);
                    v.encode(out);
                }
                out.push(b'e');
            }
        }
    }

    /// Decodes one value; returns it and the bytes left.
    pub fn decode(b: &[u8]) -> Option<(Value, &[u8])> {
        match *b.first()? {
            b'i' => {
                let end = b.iter().position(|&c| c == b'e')?;
                let n = std::str::from_utf8(&b[1..end]).ok()?.parse().ok()?;
                Some((Value::Int(n), &b[end + 1..]))
            }
            b'l' => {
                let mut rest = &b[1..];
                let mut l = Vec::new();
                while *rest.first()? != b'e' {
                    let (v, r) = Value::decode(rest)?;
                    l.push(v);
                    rest = r;
                }
                Some((Value::List(l), &rest[1..]))
            }
            b'd' => {
                let mut rest = &b[1..];
                let mut d = BTreeMap::new();
                while *rest.first()? != b'e' {
                    let (k, r) = Value::decode(rest)?;
                    let Value::Bytes(k) = k else { return None };
                    let (v, r) = Value::decode(r)?;
                    d.insert(k, v);
                    rest = r;
                }
                Some((Value::Dict(d), &rest[1..]))
            }
            b'0'..=b'9' => {
                let colon = b.iter().position(|&c| c == b':')?;
                let n: usize = std::str::from_utf8(&b[..colon]).ok()?.parse().ok()?;
                let body = b.get(colon + 1..colon + 1 + n)?;
                Some((Value::Bytes(body.to_vec()), &b[colon + 1 + n..]))
            }
            _ => None,
        }
    }
}

/// Builds a dictionary from (key, value) pairs.
pub fn dict(pairs: Vec<(&str, Value)>) -> Value {
    Value::Dict(
        pairs
            .into_iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), v))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let v = dict(vec![
            ("command", Value::s("offer")),
            ("flags", Value::list(&["a", "b"])),
            ("n", Value::Int(-3)),
        ]);
        let mut out = Vec::new();
        v.encode(&mut out);
        assert_eq!(&out[..], b"d7:command5:offer5:flagsl1:a1:be1:ni-3ee");
        let (back, rest) = Value::decode(&out).unwrap();
        assert!(rest.is_empty());
        assert_eq!(back, v);
    }
}
