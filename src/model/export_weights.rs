//! The run's weights for the Python side of an export: written as a plain fp32
//! file the export script reads without numpy, and digested for the cache key (two
//! runs with the same seed or checkpoint agree).

use std::fmt::Write as _;
use std::path::Path;

use tch::nn::VarStore;
use tch::{Device, Kind};

use crate::error::{Error, Result};

/// Writes `vs`'s tensors as fp32 for the export script: `weights.bin` (little
/// endian, back to back) and `weights.json` (name, shape, byte offset of each).
pub(super) fn write_weights(vs: &VarStore, dir: &Path) -> Result<()> {
    let mut blob: Vec<u8> = Vec::new();
    let mut manifest = Vec::new();
    for (name, tensor) in sorted_variables(vs) {
        let flat = tensor
            .f_to_kind(Kind::Float)?
            .f_to_device(Device::Cpu)?
            .f_contiguous()?
            .f_flatten(0, -1)?;
        let values = Vec::<f32>::try_from(&flat)?;
        manifest.push(serde_json::json!({
            "name": name, "shape": tensor.size(), "offset": blob.len(),
        }));
        blob.extend(values.iter().flat_map(|v| v.to_le_bytes()));
    }
    let (bin, json) = (dir.join("weights.bin"), dir.join("weights.json"));
    std::fs::write(&bin, blob).map_err(|e| Error::io("cannot write", &bin, e))?;
    std::fs::write(&json, serde_json::Value::Array(manifest).to_string())
        .map_err(|e| Error::io("cannot write", &json, e))
}

fn sorted_variables(vs: &VarStore) -> Vec<(String, tch::Tensor)> {
    let mut vars: Vec<_> = vs.variables().into_iter().collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    vars
}

/// A digest of the weights' values: two runs with the same seed or checkpoint agree.
pub(super) fn weights_digest(vs: &VarStore) -> Result<String> {
    let mut text = String::new();
    for (name, t) in sorted_variables(vs) {
        let t = t.f_to_kind(Kind::Double)?;
        let sum = t.f_sum(Kind::Double)?.double_value(&[]);
        let squares = t.f_square()?.f_sum(Kind::Double)?.double_value(&[]);
        let _ = write!(
            text,
            "{name}{:?}{:x}{:x};",
            t.size(),
            sum.to_bits(),
            squares.to_bits()
        );
    }
    Ok(short_digest(&text))
}

/// 16 hex digits of SHA-256: a folder name for a key.
pub(super) fn short_digest(text: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(text.as_bytes());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}
