//! Checkpoints written by `inferbench init-model`: a folder holding the weights as
//! safetensors and a small JSON file naming the architecture, so that a run needs
//! only the folder.

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tch::nn::VarStore;

use super::zoo::Architecture;
use crate::error::{Error, Result};
use crate::results::file::write_atomically;

/// File holding the weights inside a checkpoint folder.
pub const WEIGHTS_FILE: &str = "model.safetensors";
/// File naming the architecture inside a checkpoint folder.
pub const META_FILE: &str = "model.json";
const FORMAT: &str = "inferbench-checkpoint-v1";

/// What `model.json` says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointMeta {
    /// Always `inferbench-checkpoint-v1`.
    pub format: String,
    /// The architecture the weights belong to.
    pub arch: Architecture,
    /// The seed the random weights were drawn with.
    pub seed: u64,
}

/// Writes a checkpoint of `arch` with random weights drawn from `seed` into `dir`.
/// Files are written under temporary names and renamed, so an interrupted write
/// never leaves a checkpoint that looks complete. A checkpoint already in `dir` with
/// another architecture or seed is replaced only with `overwrite`.
pub fn write_random(arch: Architecture, seed: u64, dir: &Path, overwrite: bool) -> Result<PathBuf> {
    if !arch.has_weights() {
        return Err(Error::config(
            "model",
            format!("{} has no weights to write", arch.name()),
        ));
    }
    if !overwrite {
        refuse_to_replace(dir, arch, seed)?;
    }
    fs::create_dir_all(dir).map_err(|e| Error::io("cannot create model directory", dir, e))?;
    let vs = VarStore::new(tch::Device::Cpu);
    let _net = super::seeded(seed, || arch.build(&vs.root()));
    let weights = dir.join(WEIGHTS_FILE);
    let tmp_weights = dir.join(format!(".{WEIGHTS_FILE}.tmp.safetensors"));
    if let Err(e) = vs.save(&tmp_weights) {
        // A full disk: no piece of the weights is left behind, and the cause is said once.
        let _ = fs::remove_file(&tmp_weights);
        let why = e.to_string();
        let why = why.split(": safetensors error").next().unwrap_or(&why);
        return Err(Error::io(
            "cannot write the weights into",
            dir,
            std::io::Error::other(why.trim_start_matches("safetensors error ").to_string()),
        ));
    }
    let meta = CheckpointMeta {
        format: FORMAT.into(),
        arch,
        seed,
    };
    let json = serde_json::to_string_pretty(&meta).expect("metadata serialises; this is a bug");
    fs::rename(&tmp_weights, &weights).map_err(|e| Error::io("cannot write", &weights, e))?;
    // The metadata goes last: a folder without it is not a checkpoint.
    write_atomically(&dir.join(META_FILE), (json + "\n").as_bytes())?;
    Ok(weights)
}

/// An error when `dir` holds a checkpoint (or something that looks like one) other
/// than the one about to be written.
fn refuse_to_replace(dir: &Path, arch: Architecture, seed: u64) -> Result<()> {
    let existing = match fs::read_to_string(dir.join(META_FILE)) {
        Ok(text) => serde_json::from_str::<CheckpointMeta>(&text).ok(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if !dir.join(WEIGHTS_FILE).exists() {
                return Ok(());
            }
            None
        }
        Err(e) => return Err(Error::io("cannot read", dir.join(META_FILE), e)),
    };
    if existing
        .as_ref()
        .is_some_and(|m| m.arch == arch && m.seed == seed)
    {
        return Ok(());
    }
    let what = existing.map_or_else(
        || "files of an unknown checkpoint".to_string(),
        |m| format!("a {} checkpoint (seed {})", m.arch.name(), m.seed),
    );
    Err(Error::config(
        "out",
        format!(
            "{} already holds {what}; pass --force to replace it, or choose another --out",
            dir.display()
        ),
    ))
}

/// Reads and checks a checkpoint folder's metadata.
pub fn read_meta(dir: &Path) -> Result<CheckpointMeta> {
    let model_dir = |reason: String| Error::ModelDir {
        path: dir.to_path_buf(),
        reason,
    };
    if !dir.is_dir() {
        return Err(model_dir("does not exist or is not a directory".into()));
    }
    let meta_path = dir.join(META_FILE);
    let text = fs::read_to_string(&meta_path)
        .map_err(|e| model_dir(format!("cannot read {META_FILE} ({e})")))?;
    let meta: CheckpointMeta =
        serde_json::from_str(&text).map_err(|e| Error::CorruptCheckpoint {
            path: meta_path.clone(),
            reason: e.to_string(),
        })?;
    if meta.format != FORMAT {
        return Err(Error::CorruptCheckpoint {
            path: meta_path,
            reason: format!("format '{}', expected '{FORMAT}'", meta.format),
        });
    }
    if !dir.join(WEIGHTS_FILE).is_file() {
        return Err(model_dir(format!("{WEIGHTS_FILE} is missing")));
    }
    Ok(meta)
}

/// Loads a checkpoint's weights into `vs`, whose variables `arch.build` created.
pub fn load_weights(vs: &mut VarStore, dir: &Path) -> Result<()> {
    let path = dir.join(WEIGHTS_FILE);
    vs.load(&path).map_err(|e| Error::CorruptCheckpoint {
        path,
        reason: e.to_string(),
    })
}
