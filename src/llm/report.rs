//! What an LLM run records: its configuration, where its token counts came from,
//! the figures of the window (and of each model's share when there are several),
//! what the client itself cost, and the server's own metrics when scraped. One JSON
//! line in the results file; `kind: "llm"` tells it from the pipeline's records.

use serde::{Deserialize, Serialize};

use super::config::LlmConfig;
use super::figures::LlmFigures;
use super::server_metrics::ServerWindow;
use super::tokens::TokenSource;
use crate::results::Environment;

/// The client's own cost over the window, so that a reader can tell it was not
/// the client that limited the figures.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ClientCost {
    /// CPU time of this process (user + system) during the window, s.
    pub cpu_s: f64,
    /// That as a share of one core over the window.
    pub cores_busy: f64,
    /// CPU per output token, µs; `None` when the output token count is unknown.
    pub cpu_per_output_token_us: Option<f64>,
    /// Largest lag of a request's send behind its intended time, ms.
    pub max_send_lag_ms: f64,
}

/// One model's share of a run with several.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelFigures {
    /// The model's name.
    pub model: String,
    /// Its requests' figures.
    pub figures: LlmFigures,
}

/// Which part of a curve a window belongs to when the curve's rates were cut over
/// server replicas (`inferbench llm --shard I/N`, one server per pod): the report
/// puts the shards' windows back into one curve, and names any rate of `rates`
/// that no shard's file holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CurveShard {
    /// This shard, from 0.
    pub index: u32,
    /// How many shards the curve was cut into.
    pub count: u32,
    /// Every rate of the whole curve (requests/s), not only this shard's.
    pub rates: Vec<f64>,
}

/// One LLM run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LlmReport {
    /// Always `"llm"`.
    pub kind: String,
    /// What ran.
    pub config: LlmConfig,
    /// Where the token counts came from.
    pub tokens: TokenSource,
    /// Why a figure is absent, when one is (e.g. no usage from the server).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// The window's figures, every model together.
    pub figures: LlmFigures,
    /// Each model's, when there are several.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub per_model: Vec<ModelFigures>,
    /// What the client cost.
    pub client: ClientCost,
    /// The server's metrics over the window, with `--scrape-server-metrics`.
    pub server_metrics: Option<ServerWindow>,
    /// The curve's shard that measured it, when the curve was sharded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<CurveShard>,
    /// Where it ran.
    pub environment: Environment,
}
