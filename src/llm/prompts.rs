//! What a run asks: prompts from a ShareGPT-format file (filtered by length as the
//! model-server-agnostic benchmark does) or a synthetic set with a stated length
//! distribution, drawn into a request sequence from a seed, so that the same seed
//! sends the same prompts in the same order to the same models.
//!
//! Lengths are in tokens when the run has a tokenizer (`--tokenizer`), and in
//! whitespace-separated words when it has not; the report says which.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::pipeline::arrivals::SplitMix64;

/// A length, fixed or uniform over an inclusive range: `128` or `64..256`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lengths {
    /// Smallest.
    pub min: u32,
    /// Largest (inclusive).
    pub max: u32,
}

impl Lengths {
    /// Parses `N` or `A..B` (1 ≤ A ≤ B); `field` names the flag in errors.
    pub fn parse(field: &'static str, text: &str) -> Result<Self> {
        let bad = || {
            Error::config(field, format!("'{text}': expected a length N or a range A..B of whole numbers, 1 <= A <= B (e.g. 128 or 64..256)"))
        };
        let num = |t: &str| t.trim().parse::<u32>().map_err(|_| bad());
        let (min, max) = match text.split_once("..") {
            Some((a, b)) => (num(a)?, num(b)?),
            None => (num(text)?, num(text)?),
        };
        if min == 0 || min > max {
            return Err(bad());
        }
        Ok(Self { min, max })
    }

    fn draw(&self, rng: &mut SplitMix64) -> u32 {
        self.min + (rng.next_u64() % u64::from(self.max - self.min + 1)) as u32
    }
}

/// Where prompts come from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum PromptSource {
    /// Generated: words drawn from a fixed list, lengths uniform over the ranges.
    Synthetic {
        /// Prompt length (words, or tokens with a tokenizer: see the module docs).
        input: Lengths,
        /// Output tokens asked for (`max_tokens`).
        output: Lengths,
    },
    /// The first human turn of each conversation as the prompt, the gpt turn's length
    /// as `max_tokens`; conversations longer than the limits are left out.
    ShareGpt {
        /// The JSON file.
        path: PathBuf,
        /// Longest prompt kept.
        max_input_length: u32,
        /// Longest answer kept.
        max_output_length: u32,
    },
}

/// One prompt of the pool.
#[derive(Debug, Clone, PartialEq)]
pub struct Prompt {
    /// What is sent.
    pub text: String,
    /// Output tokens asked for (`max_tokens`).
    pub max_tokens: u32,
}

/// Common English words, each one GPT-2 token with its leading space, so that a
/// synthetic prompt's length in words is close to its length in tokens.
const WORDS: &[&str] = &[
    "the", "of", "and", "to", "in", "is", "that", "for", "it", "as", "was", "with", "be", "by",
    "on", "not", "he", "this", "are", "or", "his", "from", "at", "which", "but", "have", "an",
    "had", "they", "you", "were", "their", "one", "all", "we", "can", "her", "has", "there",
    "been", "if", "more", "when", "will", "would", "who", "so", "no",
];

/// `n` requests' prompts, drawn from `source` with `seed`; `length` measures a text
/// (tokens or words). Errors name the file and what is wrong with it.
pub fn draw(
    source: &PromptSource,
    n: usize,
    seed: u64,
    length: &dyn Fn(&str) -> usize,
) -> Result<Vec<Prompt>> {
    let mut rng = SplitMix64(seed ^ 0x9e0a_7e5e_ed00_0001);
    match source {
        PromptSource::Synthetic { input, output } => Ok((0..n)
            .map(|_| {
                let target = input.draw(&mut rng);
                // The words from a seed of their own, so that the output lengths
                // drawn next do not depend on how the words tokenise.
                let mut words = SplitMix64(rng.next_u64());
                Prompt {
                    text: synthetic(target, &mut words, length),
                    max_tokens: output.draw(&mut rng),
                }
            })
            .collect()),
        PromptSource::ShareGpt {
            path,
            max_input_length,
            max_output_length,
        } => {
            let pool = sharegpt(path, *max_input_length, *max_output_length, length)?;
            Ok((0..n)
                .map(|_| pool[(rng.next_u64() % pool.len() as u64) as usize].clone())
                .collect())
        }
    }
}

/// A prompt `target` units long by `length` (tokens with a tokenizer, words
/// without): a word a unit first (each of [`WORDS`] is one GPT-2 token), then a word
/// dropped while over and added while under. Another tokenizer may split a word in
/// two; the loop then tries other words, and after a bounded number of tries it
/// keeps the longest text not over the target (a `max` length is a limit).
fn synthetic(target: u32, rng: &mut SplitMix64, length: &dyn Fn(&str) -> usize) -> String {
    let mut pick = || WORDS[(rng.next_u64() % WORDS.len() as u64) as usize];
    let target = target as usize;
    let mut words: Vec<&str> = (0..target).map(|_| pick()).collect();
    // The longest text under the target so far, and its length.
    let mut best_under: Option<(usize, String)> = None;
    for _ in 0..4 * target + 16 {
        let text = words.join(" ");
        let n = length(&text);
        if n == target {
            return text;
        }
        if n < target {
            if best_under.as_ref().is_none_or(|(b, _)| *b < n) {
                best_under = Some((n, text));
            }
            words.push(pick());
        } else if words.len() > 1 {
            words.pop();
        } else {
            break;
        }
    }
    best_under.map_or_else(|| words.join(" "), |(_, text)| text)
}

/// The conversations of a ShareGPT file that fit the limits (prompts and answers of
/// fewer than 4 units are left out too, as the benchmark does: too short to time).
pub fn sharegpt(
    path: &Path,
    max_input: u32,
    max_output: u32,
    length: &dyn Fn(&str) -> usize,
) -> Result<Vec<Prompt>> {
    let shape = "expected ShareGPT's shape: a JSON array of {\"conversations\": [{\"from\": \"human\", \"value\": \"…\"}, {\"from\": \"gpt\", \"value\": \"…\"}, …]}";
    let bad = |why: String| Error::config("prompts", format!("{}: {why}", path.display()));
    let text = std::fs::read_to_string(path).map_err(|e| bad(format!("cannot read it ({e})")))?;
    if text.trim().is_empty() {
        return Err(bad(format!("the file is empty; {shape}")));
    }
    let value: Value =
        serde_json::from_str(&text).map_err(|e| bad(format!("not JSON ({e}); {shape}")))?;
    let entries = value
        .as_array()
        .ok_or_else(|| bad(format!("the top level is not an array; {shape}")))?;
    if entries.is_empty() {
        return Err(bad(format!("the array is empty; {shape}")));
    }
    let mut pool = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        let turns = entry
            .get("conversations")
            .and_then(Value::as_array)
            .ok_or_else(|| bad(format!("entry {i} has no \"conversations\" array; {shape}")))?;
        let turn = |k: usize| {
            turns
                .get(k)
                .and_then(|t| Some((t.get("from")?.as_str()?, t.get("value")?.as_str()?)))
        };
        // A conversation with fewer than two turns has no answer to size the output.
        let (Some((_, prompt)), Some((_, answer))) = (turn(0), turn(1)) else {
            if turns
                .iter()
                .any(|t| t.get("value").is_some_and(|v| !v.is_string()))
            {
                return Err(bad(format!(
                    "entry {i}: a turn's \"value\" is not a string; {shape}"
                )));
            }
            continue;
        };
        let (input, output) = (length(prompt), length(answer));
        if input < 4 || output < 4 || input > max_input as usize || output > max_output as usize {
            continue;
        }
        pool.push(Prompt {
            text: prompt.to_string(),
            max_tokens: output as u32,
        });
    }
    if pool.is_empty() {
        return Err(bad(format!(
            "none of its {} conversations has a prompt of 4..={max_input} and an answer of 4..={max_output}; raise --max-input-length or --max-output-length",
            entries.len()
        )));
    }
    Ok(pool)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(t: &str) -> usize {
        t.split_whitespace().count()
    }

    #[test]
    fn the_same_seed_draws_the_same_prompts_and_lengths_stay_in_range() {
        let src = PromptSource::Synthetic {
            input: Lengths::parse("input-len", "8..16").unwrap(),
            output: Lengths::parse("output-len", "4").unwrap(),
        };
        let a = draw(&src, 50, 7, &words).unwrap();
        assert_eq!(a, draw(&src, 50, 7, &words).unwrap());
        assert_ne!(a, draw(&src, 50, 8, &words).unwrap());
        assert!(a
            .iter()
            .all(|p| (8..=16).contains(&words(&p.text)) && p.max_tokens == 4));
        assert!(a.iter().any(|p| words(&p.text) == 8) && a.iter().any(|p| words(&p.text) == 16));
    }

    #[test]
    fn synthetic_prompts_are_as_long_as_drawn_in_the_run_s_own_units() {
        // A tokenizer that splits some words in two (as one other than GPT-2's may).
        let tokens = |t: &str| {
            t.split_whitespace()
                .map(|w| if w.len() > 3 { 2 } else { 1 })
                .sum::<usize>()
        };
        let src = PromptSource::Synthetic {
            input: Lengths::parse("input-len", "5..40").unwrap(),
            output: Lengths::parse("output-len", "4..9").unwrap(),
        };
        let by_tokens = draw(&src, 200, 3, &tokens).unwrap();
        let lengths: Vec<usize> = by_tokens.iter().map(|p| tokens(&p.text)).collect();
        assert!(lengths.iter().all(|n| (5..=40).contains(n)), "{lengths:?}");
        let by_words = draw(&src, 200, 3, &words).unwrap();
        let drawn: Vec<usize> = by_words.iter().map(|p| words(&p.text)).collect();
        assert_eq!(
            lengths, drawn,
            "each prompt as long as drawn, whatever the units"
        );
        assert_ne!(by_tokens, by_words, "words of two tokens were replaced");
        let max_tokens = |v: &[Prompt]| v.iter().map(|p| p.max_tokens).collect::<Vec<_>>();
        assert_eq!(
            max_tokens(&by_tokens),
            max_tokens(&by_words),
            "outputs do not depend on the units"
        );
    }

    #[test]
    fn lengths_refuse_zero_reversed_and_words() {
        for bad in ["0", "9..3", "x", "1..", ""] {
            assert!(Lengths::parse("input-len", bad).is_err(), "{bad}");
        }
    }
}
