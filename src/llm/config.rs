//! What an LLM run is: the server, its models and their shares of the traffic, the
//! API and whether it streams, the prompts, the load, and the bounds for goodput.
//! Plain data with [`LlmConfig::validate`], as the crate's other configurations.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::figures::Slo;
use super::prompts::PromptSource;
use super::url::OpenAiUrl;
use crate::config::Arrival;
use crate::error::{Error, Result};

/// Which of the OpenAI endpoints a run calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Api {
    /// `POST /completions` with a `prompt`.
    Completions,
    /// `POST /chat/completions` with one user message.
    Chat,
}

impl Api {
    /// Parses `completions` or `chat`.
    pub fn parse(text: &str) -> Result<Self> {
        match text {
            "completions" => Ok(Self::Completions),
            "chat" => Ok(Self::Chat),
            other => Err(Error::config(
                "api",
                format!("'{other}': expected completions or chat"),
            )),
        }
    }

    /// The endpoint's path under the URL's prefix.
    pub fn path(self) -> &'static str {
        match self {
            Self::Completions => "completions",
            Self::Chat => "chat/completions",
        }
    }
}

/// A model of the server and its share of the requests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelShare {
    /// The name the server knows it by (the request's `model`).
    pub name: String,
    /// Fraction of the requests, 0 < share ≤ 1; the shares sum to 1.
    pub share: f64,
}

/// One LLM run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LlmConfig {
    /// Where the server is.
    pub url: OpenAiUrl,
    /// Its models, each with its share of the traffic.
    pub models: Vec<ModelShare>,
    /// Completions or chat completions.
    pub api: Api,
    /// Server-sent events (true) or whole answers.
    pub stream: bool,
    /// What is asked.
    pub prompts: PromptSource,
    /// The model's `tokenizer.json`; none: the server's `usage` counts.
    pub tokenizer: Option<PathBuf>,
    /// Measured requests, after the warm-up.
    pub num_requests: u32,
    /// How requests arrive (Poisson: latency counts from the intended send time).
    pub arrival: Arrival,
    /// Seed of the prompts, the model each request goes to, and Poisson arrivals.
    pub seed: u64,
    /// A curve's window draws with a seed of its own (the seed + its rate's place
    /// among the curve's rates, so that a server caching prompts answers no window
    /// from another's); `seed` stays the curve's, which is what groups its windows
    /// into one curve. None: the window draws with `seed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_seed: Option<u64>,
    /// Requests sent one at a time and awaited before measuring (not counted).
    pub warmup: u32,
    /// A request not finished this long after its intended send time is timed out.
    #[serde(with = "humantime_serde_ms")]
    pub request_timeout: Duration,
    /// The bounds for goodput, if any.
    pub slo: Option<Slo>,
    /// The server's Prometheus endpoint, read before and after the window.
    pub scrape_metrics: Option<String>,
}

impl LlmConfig {
    /// The seed this window draws its requests and arrivals with.
    pub fn draw_seed(&self) -> u64 {
        self.window_seed.unwrap_or(self.seed)
    }

    /// Checks what a flag parser cannot; errors name the flag.
    pub fn validate(&self) -> Result<()> {
        if self.models.is_empty() {
            return Err(Error::config(
                "model",
                "no model: give the server's model name with --model NAME",
            ));
        }
        let total: f64 = self.models.iter().map(|m| m.share).sum();
        if self
            .models
            .iter()
            .any(|m| !(m.share > 0.0 && m.share <= 1.0))
            || (total - 1.0).abs() > 1e-6
        {
            return Err(Error::config(
                "traffic-split",
                format!(
                    "shares {:?} must each be in (0, 1] and sum to 1 (e.g. 0.9,0.1)",
                    self.models.iter().map(|m| m.share).collect::<Vec<_>>()
                ),
            ));
        }
        if self.num_requests == 0 {
            return Err(Error::config("iters", "0 requests: give at least 1"));
        }
        if self.request_timeout.is_zero() {
            return Err(Error::config(
                "request-timeout",
                "0 s: give a positive duration (e.g. 60s)",
            ));
        }
        if let Arrival::Concurrency(0) = self.arrival {
            return Err(Error::config(
                "arrival",
                "concurrency:0 sends nothing; give at least 1",
            ));
        }
        if let Some(slo) = self.slo {
            for (flag, bound) in [
                ("goodput-ttft-ms", slo.ttft_ms),
                ("goodput-tpot-ms", slo.tpot_ms),
            ] {
                if bound.is_some_and(|b| !(b.is_finite() && b > 0.0)) {
                    return Err(Error::config(
                        flag,
                        "expected a positive number of milliseconds",
                    ));
                }
            }
        }
        if let Some(url) = &self.scrape_metrics {
            if !url.starts_with("http://") {
                return Err(Error::config(
                    "scrape-server-metrics",
                    format!("'{url}': expected an http:// URL of the server's Prometheus endpoint"),
                ));
            }
        }
        Ok(())
    }
}

/// Splits `names` (comma-separated) by `split` (comma-separated shares; none: all
/// to one model, which then must be the only one).
pub fn model_shares(names: &str, split: Option<&str>) -> Result<Vec<ModelShare>> {
    let names: Vec<&str> = names.split(',').map(str::trim).collect();
    if names.iter().any(|n| n.is_empty()) {
        return Err(Error::config(
            "model",
            format!("'{}': a model name is empty", names.join(",")),
        ));
    }
    let shares: Vec<f64> = match split {
        None if names.len() == 1 => vec![1.0],
        None => {
            return Err(Error::config(
                "traffic-split",
                format!(
                    "{} models and no --traffic-split: give one share each (e.g. 0.9,0.1)",
                    names.len()
                ),
            ))
        }
        Some(text) => text
            .split(',')
            .map(|s| {
                s.trim().parse::<f64>().map_err(|_| {
                    Error::config(
                        "traffic-split",
                        format!("'{s}' is not a number (e.g. 0.9,0.1)"),
                    )
                })
            })
            .collect::<Result<_>>()?,
    };
    if shares.len() != names.len() {
        return Err(Error::config(
            "traffic-split",
            format!(
                "{} shares for {} models: give one share per --model name",
                shares.len(),
                names.len()
            ),
        ));
    }
    Ok(names
        .into_iter()
        .zip(shares)
        .map(|(name, share)| ModelShare {
            name: name.to_string(),
            share,
        })
        .collect())
}

/// A duration as whole milliseconds in records.
mod humantime_serde_ms {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis() as u64)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }
}
