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

/// Refuses a tokenizer that agrees with the server on neither the warm-up's prompt
/// nor its answer: `prompt` and `answer` are (ours, the server's) counts, and a pair
/// agrees within 10 % (or 2 tokens). Either may differ alone for the right
/// tokenizer: a chat template adds tokens to the prompt that the client never sees,
/// and re-tokenising a decoded answer need not give back the tokens generated (a
/// model with random weights emits sequences that merge into far fewer). Another
/// model's vocabulary disagrees on both.
pub fn check_agrees(path: &Path, prompt: (u64, Option<u64>), answer: (u64, u64)) -> Result<()> {
    let agree = |ours: u64, server: u64| {
        let diff = ours.abs_diff(server);
        diff <= 2 || diff as f64 <= 0.1 * server as f64
    };
    if prompt.1.is_some_and(|server| agree(prompt.0, server)) || agree(answer.0, answer.1) {
        return Ok(());
    }
    let prompt_words = match prompt.1 {
        Some(server) => format!(
            "{} prompt tokens where the server counts {server}, and ",
            prompt.0
        ),
        None => String::new(),
    };
    Err(Error::config(
        "tokenizer",
        format!("{} counts {prompt_words}{} tokens in the warm-up answer where the server counts {}: it is not the tokenizer of the server's model; give that model's tokenizer.json, or leave --tokenizer out to count with the server's usage", path.display(), answer.0, answer.1),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tokenizer_must_agree_on_the_prompt_or_the_answer() {
        let p = Path::new("t.json");
        // A random model's answer re-tokenises into far fewer tokens; the prompt agrees.
        assert!(check_agrees(p, (40, Some(40)), (12, 32)).is_ok());
        // A chat template adds prompt tokens the client never sees; the answer agrees.
        assert!(check_agrees(p, (40, Some(60)), (31, 32)).is_ok());
        // Within 2 tokens is agreement even where 10 % is less.
        assert!(check_agrees(p, (0, None), (5, 3)).is_ok());
        let both = check_agrees(p, (160, Some(40)), (128, 32))
            .unwrap_err()
            .to_string();
        assert!(
            both.contains("160 prompt tokens where the server counts 40")
                && both.contains("128 tokens in the warm-up answer where the server counts 32"),
            "{both}"
        );
        let answer_only = check_agrees(p, (0, None), (128, 32))
            .unwrap_err()
            .to_string();
        assert!(!answer_only.contains("prompt tokens"), "{answer_only}");
    }
}
