//! Counting tokens: with the model's own `tokenizer.json` (Hugging Face's
//! `tokenizers`, pure Rust), or from the server's `usage` field when no tokenizer
//! is given. A tokenizer is checked against the server's counts where the server
//! gives them, so that another model's tokenizer cannot skew every per-token figure.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Where a run's token counts come from (recorded in its report).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum TokenSource {
    /// The model's tokenizer, run by the client over the prompt and the text received.
    Tokenizer {
        /// The `tokenizer.json` file.
        path: PathBuf,
    },
    /// The server's own `usage` (streams ask for it with `stream_options.include_usage`).
    ServerUsage,
}

/// Counts tokens, or defers to the server.
pub enum TokenCounter {
    /// A loaded tokenizer.
    Tokenizer(Box<tokenizers::Tokenizer>, PathBuf),
    /// The server's counts.
    Usage,
}

impl TokenCounter {
    /// The tokenizer at `path`, or the server's counts without one.
    pub fn load(path: Option<&Path>) -> Result<Self> {
        let Some(path) = path else {
            return Ok(Self::Usage);
        };
        if !path.is_file() {
            return Err(Error::config(
                "tokenizer",
                format!("{}: no such file; give the model's tokenizer.json, or leave --tokenizer out to count with the server's usage", path.display()),
            ));
        }
        let tokenizer = tokenizers::Tokenizer::from_file(path).map_err(|e| {
            Error::config(
                "tokenizer",
                format!("{}: not a tokenizer.json that the tokenizers library reads ({e}); give the model's tokenizer.json (saved by transformers' save_pretrained)", path.display()),
            )
        })?;
        Ok(Self::Tokenizer(Box::new(tokenizer), path.to_path_buf()))
    }

    /// Tokens in `text` by the tokenizer; `None` when counting is the server's.
    pub fn count(&self, text: &str) -> Option<u64> {
        match self {
            Self::Tokenizer(t, _) => t.encode(text, false).ok().map(|e| e.len() as u64),
            Self::Usage => None,
        }
    }

    /// Where the counts come from.
    pub fn source(&self) -> TokenSource {
        match self {
            Self::Tokenizer(_, path) => TokenSource::Tokenizer { path: path.clone() },
            Self::Usage => TokenSource::ServerUsage,
        }
    }
}

/// Refuses a tokenizer whose count of an answer differs from the server's by more
/// than 10 % (and 2 tokens): re-tokenising decoded text may differ by a token or
/// two, another model's vocabulary by far more.
pub fn check_agrees(path: &Path, ours: u64, server: u64) -> Result<()> {
    let diff = ours.abs_diff(server);
    if diff > 2 && diff as f64 > 0.1 * server as f64 {
        return Err(Error::config(
            "tokenizer",
            format!("{} counts {ours} tokens in the warm-up answer where the server counts {server}: it is not the tokenizer of the server's model; give that model's tokenizer.json, or leave --tokenizer out to count with the server's usage", path.display()),
        ));
    }
    Ok(())
}
