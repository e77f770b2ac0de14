//! Elements between their JSON form (numbers, booleans, strings) and the protocol's
//! raw form (little-endian bytes), for every fixed-size datatype. A JSON number
//! that the datatype cannot hold (a fraction for an integer type, a value out of
//! range) is refused by name rather than rounded or wrapped.

use bytes::{BufMut, Bytes, BytesMut};
use half::{bf16, f16};

use super::{Datatype, Refusal};

/// JSON elements, flattened in row-major order.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalars {
    /// Whole numbers (kept exact: token ids beyond 2^53 survive).
    Ints(Vec<i64>),
    /// Numbers of which at least one has a fraction or exponent, or exceeds i64.
    Floats(Vec<f64>),
    /// Booleans.
    Bools(Vec<bool>),
    /// Strings (BYTES elements).
    Strings(Vec<String>),
}

impl Scalars {
    /// Elements held.
    pub fn len(&self) -> usize {
        match self {
            Scalars::Ints(v) => v.len(),
            Scalars::Floats(v) => v.len(),
            Scalars::Bools(v) => v.len(),
            Scalars::Strings(v) => v.len(),
        }
    }

    /// Whether there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The raw little-endian form of `values` as `datatype` (a fixed-size one).
pub fn to_raw(name: &str, datatype: Datatype, values: &Scalars) -> Result<Bytes, Refusal> {
    let Some(size) = datatype.element_bytes() else {
        return Err(Refusal::bad_request(format!(
            "input '{name}': BYTES data must be strings"
        )));
    };
    let mut out = BytesMut::with_capacity(values.len() * size);
    let bad = |what: String| Refusal::bad_request(format!("input '{name}' ({datatype}): {what}"));
    match values {
        Scalars::Bools(v) => {
            if datatype != Datatype::Bool {
                return Err(bad("booleans given for a numeric datatype".into()));
            }
            v.iter().for_each(|&b| out.put_u8(b as u8));
        }
        Scalars::Strings(_) => return Err(bad("strings given for a numeric datatype".into())),
        Scalars::Ints(v) => {
            for &x in v {
                put_int(&mut out, datatype, x).map_err(bad)?;
            }
        }
        Scalars::Floats(v) => {
            for &x in v {
                put_float(&mut out, datatype, x).map_err(bad)?;
            }
        }
    }
    Ok(out.freeze())
}

fn put_int(out: &mut BytesMut, datatype: Datatype, x: i64) -> Result<(), String> {
    let oor = |_: std::num::TryFromIntError| format!("{x} is out of the datatype's range");
    match datatype {
        Datatype::Bool if x == 0 || x == 1 => out.put_u8(x as u8),
        Datatype::Bool => return Err(format!("{x} is not a boolean (0 or 1)")),
        Datatype::Uint8 => out.put_u8(u8::try_from(x).map_err(oor)?),
        Datatype::Uint16 => out.put_u16_le(u16::try_from(x).map_err(oor)?),
        Datatype::Uint32 => out.put_u32_le(u32::try_from(x).map_err(oor)?),
        Datatype::Uint64 => out.put_u64_le(u64::try_from(x).map_err(oor)?),
        Datatype::Int8 => out.put_i8(i8::try_from(x).map_err(oor)?),
        Datatype::Int16 => out.put_i16_le(i16::try_from(x).map_err(oor)?),
        Datatype::Int32 => out.put_i32_le(i32::try_from(x).map_err(oor)?),
        Datatype::Int64 => out.put_i64_le(x),
        _ => put_float(out, datatype, x as f64)?,
    }
    Ok(())
}

fn put_float(out: &mut BytesMut, datatype: Datatype, x: f64) -> Result<(), String> {
    match datatype {
        Datatype::Fp32 => out.put_f32_le(x as f32),
        Datatype::Fp64 => out.put_f64_le(x),
        Datatype::Fp16 => out.put_u16_le(f16::from_f64(x).to_bits()),
        Datatype::Bf16 => out.put_u16_le(bf16::from_f64(x).to_bits()),
        _ if x.fract() == 0.0 && x.abs() < 9.2e18 => put_int(out, datatype, x as i64)?,
        _ => return Err(format!("{x} is not a whole number")),
    }
    Ok(())
}

/// The elements of raw little-endian `data` as JSON numbers (booleans for BOOL).
pub fn to_json(datatype: Datatype, data: &[u8]) -> Vec<serde_json::Value> {
    use serde_json::Value;
    let Some(size) = datatype.element_bytes() else {
        return Vec::new();
    };
    let chunks = data.chunks_exact(size);
    let num = |x: f64| serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number);
    chunks
        .map(|c| match datatype {
            Datatype::Bool => Value::Bool(c[0] != 0),
            Datatype::Uint8 => Value::from(c[0]),
            Datatype::Int8 => Value::from(c[0] as i8),
            Datatype::Uint16 => Value::from(u16::from_le_bytes([c[0], c[1]])),
            Datatype::Int16 => Value::from(i16::from_le_bytes([c[0], c[1]])),
            Datatype::Uint32 => Value::from(u32::from_le_bytes(c.try_into().expect("4 bytes"))),
            Datatype::Int32 => Value::from(i32::from_le_bytes(c.try_into().expect("4 bytes"))),
            Datatype::Uint64 => Value::from(u64::from_le_bytes(c.try_into().expect("8 bytes"))),
            Datatype::Int64 => Value::from(i64::from_le_bytes(c.try_into().expect("8 bytes"))),
            Datatype::Fp32 => num(f32::from_le_bytes(c.try_into().expect("4 bytes")) as f64),
            Datatype::Fp64 => num(f64::from_le_bytes(c.try_into().expect("8 bytes"))),
            Datatype::Fp16 => num(f16::from_bits(u16::from_le_bytes([c[0], c[1]])).to_f64()),
            Datatype::Bf16 => num(bf16::from_bits(u16::from_le_bytes([c[0], c[1]])).to_f64()),
            Datatype::Bytes => unreachable!("BYTES has no fixed size"),
        })
        .collect()
}

/// Raw little-endian data as f64 values (for checks and post-processing); `None`
/// for BOOL and BYTES.
pub fn to_f64(datatype: Datatype, data: &[u8]) -> Option<Vec<f64>> {
    if matches!(datatype, Datatype::Bool | Datatype::Bytes) {
        return None;
    }
    Some(
        to_json(datatype, data)
            .iter()
            .map(|v| v.as_f64().unwrap_or(f64::NAN))
            .collect(),
    )
}

/// BYTES elements in the raw form: each a 4-byte little-endian length, then its bytes.
pub fn strings_to_raw(elements: &[Bytes]) -> Bytes {
    let len = elements.iter().map(|e| 4 + e.len()).sum();
    let mut out = BytesMut::with_capacity(len);
    for e in elements {
        out.put_u32_le(e.len() as u32);
        out.put_slice(e);
    }
    out.freeze()
}

/// BYTES elements out of the raw form; an error naming the tensor for a length that
/// runs past the data.
pub fn strings_from_raw(name: &str, mut raw: Bytes) -> Result<Vec<Bytes>, Refusal> {
    let mut out = Vec::new();
    while !raw.is_empty() {
        if raw.len() < 4 {
            return Err(Refusal::bad_request(format!(
                "input '{name}': BYTES data ends inside an element's 4-byte length"
            )));
        }
        let len = u32::from_le_bytes(raw[..4].try_into().expect("4 bytes")) as usize;
        if raw.len() - 4 < len {
            return Err(Refusal::bad_request(format!(
                "input '{name}': a BYTES element of {len} bytes runs past the data ({} left)",
                raw.len() - 4
            )));
        }
        let _ = raw.split_to(4);
        out.push(raw.split_to(len));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_become_little_endian_elements_and_back() {
        let raw = to_raw("x", Datatype::Fp32, &Scalars::Floats(vec![1.5, -2.0])).unwrap();
        assert_eq!(
            &raw[..],
            &[1.5f32.to_le_bytes(), (-2.0f32).to_le_bytes()].concat()[..]
        );
        let back = to_json(Datatype::Fp32, &raw);
        assert_eq!(back, vec![serde_json::json!(1.5), serde_json::json!(-2.0)]);
        let ids = to_raw("ids", Datatype::Int64, &Scalars::Ints(vec![30521, 7])).unwrap();
        assert_eq!(to_f64(Datatype::Int64, &ids), Some(vec![30521.0, 7.0]));
        let half = to_raw("h", Datatype::Fp16, &Scalars::Ints(vec![3])).unwrap();
        assert_eq!(to_json(Datatype::Fp16, &half), vec![serde_json::json!(3.0)]);
    }

    #[test]
    fn values_a_datatype_cannot_hold_are_refused() {
        let err = to_raw("ids", Datatype::Int64, &Scalars::Floats(vec![1.5])).unwrap_err();
        assert!(err.message.contains("not a whole number"), "{err}");
        let err = to_raw("px", Datatype::Uint8, &Scalars::Ints(vec![256])).unwrap_err();
        assert!(err.message.contains("out of the datatype's range"), "{err}");
        let err = to_raw("x", Datatype::Fp32, &Scalars::Strings(vec!["a".into()])).unwrap_err();
        assert!(err.message.contains("strings"), "{err}");
    }

    #[test]
    fn byte_strings_round_trip_and_a_bad_length_is_named() {
        let elements = vec![Bytes::from_static(b"jpeg"), Bytes::from_static(b"")];
        let raw = strings_to_raw(&elements);
        assert_eq!(raw.len(), 4 + 4 + 4);
        assert_eq!(strings_from_raw("img", raw.clone()).unwrap(), elements);
        let cut = raw.slice(..6);
        let err = strings_from_raw("img", cut).unwrap_err();
        assert!(err.message.contains("runs past the data"), "{err}");
    }
}
