//! One request as the client saw it: when its text arrived, how it ended, and its
//! token counts. Times are nanoseconds after the request's *intended* send time, so
//! that a client that fell behind its schedule cannot hide the wait (the
//! coordinated-omission rule of the whole crate).

use serde::{Deserialize, Serialize};

/// How a request ended. Every request sent ends in exactly one of these, and every
/// one is counted: a failed or cut-short stream is never dropped from a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "status", content = "reason")]
pub enum Outcome {
    /// Whole: a non-streamed answer, or a stream that ended with `data: [DONE]` (or
    /// cleanly after its `finish_reason`).
    Completed,
    /// A stream that ended without `[DONE]`: the connection closed or broke mid-way.
    CutShort(String),
    /// No end within the per-request timeout (with or without a first token).
    TimedOut,
    /// An error status, an error in the stream, or an answer that is not the protocol's.
    Failed(String),
}

/// One request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestRecord {
    /// Index into the run's models.
    pub model: usize,
    /// How it ended.
    pub outcome: Outcome,
    /// When each chunk that carried text arrived (ns after the intended send time);
    /// the first is the time to first token.
    pub chunk_ns: Vec<u64>,
    /// When the answer ended (ns after the intended send time): `[DONE]` or the whole
    /// body; `None` unless completed.
    pub end_ns: Option<u64>,
    /// How late the request left against its intended send time (ns).
    pub send_lag_ns: u64,
    /// The text it received.
    #[serde(skip)]
    pub text: String,
    /// A stream that ended after its finish_reason without `data: [DONE]`.
    #[serde(skip)]
    pub without_done: bool,
    /// The server's `usage` counts (prompt, completion), when it sent them.
    pub usage: Option<(Option<u64>, Option<u64>)>,
    /// Times it was sent again because the server closed its connection before
    /// answering (a kept-alive connection the server had closed; see the client).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub resent: u32,
    /// Prompt tokens, by the run's token source; `None` when unknown.
    pub input_tokens: Option<u64>,
    /// Output tokens, by the run's token source; `None` when unknown.
    pub output_tokens: Option<u64>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl RequestRecord {
    /// A record with nothing arrived yet.
    pub fn new(model: usize, send_lag_ns: u64) -> Self {
        Self {
            model,
            outcome: Outcome::TimedOut,
            chunk_ns: Vec::new(),
            end_ns: None,
            send_lag_ns,
            text: String::new(),
            without_done: false,
            usage: None,
            resent: 0,
            input_tokens: None,
            output_tokens: None,
        }
    }

    /// Time to first token (ns), if any text arrived.
    pub fn ttft_ns(&self) -> Option<u64> {
        self.chunk_ns.first().copied()
    }

    /// The gaps between consecutive text chunks (ns): the inter-token latencies, one
    /// per chunk after the first (a chunk carrying several tokens is one gap, as
    /// every streaming benchmark counts it: the client cannot see inside it).
    pub fn itl_ns(&self) -> impl Iterator<Item = u64> + '_ {
        self.chunk_ns.windows(2).map(|w| w[1].saturating_sub(w[0]))
    }

    /// Time per output token after the first (ns): (end − TTFT) / (output tokens − 1).
    /// `None` unless completed with a first token and at least two output tokens.
    pub fn tpot_ns(&self) -> Option<f64> {
        let (end, first, tokens) = (self.end_ns?, self.ttft_ns()?, self.output_tokens?);
        (self.outcome == Outcome::Completed && tokens >= 2)
            .then(|| end.saturating_sub(first) as f64 / (tokens - 1) as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttft_itl_and_tpot_of_a_known_stream() {
        let mut r = RequestRecord::new(0, 0);
        r.outcome = Outcome::Completed;
        r.chunk_ns = vec![100, 140, 180, 220];
        r.end_ns = Some(221);
        r.output_tokens = Some(4);
        assert_eq!(r.ttft_ns(), Some(100));
        assert_eq!(r.itl_ns().collect::<Vec<_>>(), [40, 40, 40]);
        assert_eq!(r.tpot_ns(), Some(121.0 / 3.0));
        r.output_tokens = Some(1);
        assert_eq!(r.tpot_ns(), None, "one token has no time per output token");
        r.output_tokens = Some(4);
        r.outcome = Outcome::CutShort("x".into());
        assert_eq!(r.tpot_ns(), None, "a cut stream has no end");
    }
}
