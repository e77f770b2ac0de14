//! Runs of `llm-ab`: two OpenAI-compatible servers, each run one `llm` window
//! ([`crate::llm::run`]) against that side's server, taken in the A B B A order of
//! [`super::procedure::RunBlocks`] and judged like any other A/B.
//!
//! Both sides send the same requests: a window is the side's configuration with the
//! seed of its round (`--seed` + the round's index), so the two windows of a pair
//! carry the same prompts in the same order, and successive rounds sample more of
//! the prompt distribution instead of repeating one set (a server with a prefix cache
//! would otherwise answer every window after the first from it).
//!
//! What is not judged quietly: a window that lost a request (failed, cut short,
//! timed out) ends the job with an error naming the side, the window and the counts,
//! because the survivors' figures would hide the loss (a head that drops its slowest
//! requests looks faster); a judged figure a window measured as 0 (goodput when no
//! request met the bounds) ends it too, as no ratio can compare it. A figure a window
//! reports absent stays absent.

use super::procedure::MeasureRun;
use super::{AbReport, Figure, Measurement, Side};
use crate::error::{Error, Result};
use crate::llm::figures::{Counts, LlmFigures};
use crate::llm::{LlmConfig, LlmReport};
use crate::metrics::LatencySummary;

/// The two servers' window configurations (the same but for the URL and the models).
#[derive(Debug, Clone, PartialEq)]
pub struct LlmSides {
    /// The reference server (A).
    pub base: LlmConfig,
    /// The server under test (B).
    pub head: LlmConfig,
}

impl LlmSides {
    /// The configuration of one side.
    pub fn of(&self, side: Side) -> &LlmConfig {
        match side {
            Side::Base => &self.base,
            Side::Head => &self.head,
        }
    }

    /// Checks both configurations, and refuses the same server and models on both
    /// sides unless `allow_same` (an A/A job, which measures the procedure's noise);
    /// returns a warning to show when it is allowed.
    pub fn check(&self, allow_same: bool) -> Result<Option<String>> {
        for side in [Side::Base, Side::Head] {
            self.of(side)
                .validate()
                .map_err(|e| Error::Ab(format!("{}: {e}", side.name())))?;
        }
        let same = self.base.url == self.head.url && self.base.models == self.head.models;
        match (same, allow_same) {
            (false, _) => Ok(None),
            (true, false) => Err(Error::config(
                "head",
                format!(
                    "{} with the same model as --base: both sides are one server; give --allow-same for an A/A job (it measures the procedure's noise), or another server or --head-model",
                    self.head.url
                ),
            )),
            (true, true) => Ok(Some(format!(
                "base and head are the same server and model ({}): an A/A job",
                self.head.url
            ))),
        }
    }

    /// How the report names a side: its URL and models.
    pub fn describe(&self, side: Side) -> String {
        let cfg = self.of(side);
        format!("{} model {}", cfg.url, models(cfg))
    }

    /// The configuration id of the benchmark names: `llm/MODELS/API/ARRIVAL` of the
    /// head (as `ab` names a configuration by the head's runs).
    pub fn id(&self) -> String {
        let cfg = &self.head;
        // A model name may hold '/' (Hugging Face's org/name): not in an id, whose
        // parts '/' separates.
        format!(
            "llm/{}/{}/{}",
            models(cfg).replace(',', "+").replace('/', "_"),
            cfg.api.path().replace('/', "-"),
            cfg.arrival.flag()
        )
    }

    /// The figures this window can measure: TTFT, TPOT and goodput need streams,
    /// goodput needs bounds. Token figures depend on the server's usage, which only
    /// a window shows, so they stay in (absent if never measured).
    pub fn measurable(&self) -> Vec<Figure> {
        let cfg = &self.base;
        Figure::LLM
            .into_iter()
            .filter(|f| unmeasurable(cfg, *f).is_none())
            .collect()
    }

    /// `requested` (from `--figures`), checked against what the window can measure;
    /// none requested: every measurable one.
    pub fn judged(&self, requested: &[Figure], explicit: bool) -> Result<Vec<Figure>> {
        if !explicit {
            return Ok(self.measurable());
        }
        for &f in requested {
            if let Some(why) = unmeasurable(&self.base, f) {
                return Err(Error::config("figures", format!("{}: {why}", f.name())));
            }
        }
        Ok(requested.to_vec())
    }

    /// One request to each side, before anything is measured, so that a server
    /// that is not there, or does not know the model, fails the job naming its side
    /// instead of after the other side's first window.
    pub fn probe(&self) -> Result<()> {
        for side in [Side::Base, Side::Head] {
            let mut cfg = self.of(side).clone();
            (cfg.warmup, cfg.num_requests) = (1, 1);
            cfg.arrival = crate::config::Arrival::Burst;
            let report = crate::llm::run(&cfg, &mut |_| {}).map_err(|e| {
                Error::Ab(format!(
                    "the {} ({}) cannot be measured: {e}",
                    side.name(),
                    self.describe(side)
                ))
            })?;
            check_lost(side, "the probe", &report)?;
        }
        Ok(())
    }
}

fn models(cfg: &LlmConfig) -> String {
    let names: Vec<&str> = cfg.models.iter().map(|m| m.name.as_str()).collect();
    names.join(",")
}

/// Why a window of `cfg` cannot measure `figure`, if it cannot.
fn unmeasurable(cfg: &LlmConfig, figure: Figure) -> Option<&'static str> {
    let streamed = matches!(
        figure,
        Figure::TtftP50 | Figure::TtftP99 | Figure::TpotP50 | Figure::TpotP99 | Figure::Goodput
    );
    if streamed && !cfg.stream {
        return Some("whole answers (--no-stream) have no first token and no token timings");
    }
    if figure == Figure::Goodput && cfg.slo.is_none() {
        return Some("goodput needs its bounds: give --goodput-ttft-ms and/or --goodput-tpot-ms");
    }
    None
}

/// A window's judged figures, each absent where the window reports it absent.
pub fn measurement(f: &LlmFigures, config_id: Option<String>) -> Measurement {
    let at = |s: &Option<LatencySummary>, p: fn(&LatencySummary) -> f64| s.as_ref().map(p);
    Measurement::from_figures(
        [
            (Figure::OutputTokensPerS, f.output_tokens_per_s),
            (Figure::RequestsPerS, f.request_rps),
            (Figure::TtftP50, at(&f.ttft_ms, |s| s.p50)),
            (Figure::TtftP99, at(&f.ttft_ms, |s| s.p99)),
            (Figure::TpotP50, at(&f.tpot_ms, |s| s.p50)),
            (Figure::TpotP99, at(&f.tpot_ms, |s| s.p99)),
            (Figure::E2eP99, at(&f.e2e_ms, |s| s.p99)),
            (Figure::Goodput, f.goodput.and_then(|g| g.rps)),
        ],
        config_id,
    )
}

/// An error when the window lost any request, naming the side, the window, the
/// counts and the first reason the report gives.
pub fn check_lost(side: Side, window: &str, report: &LlmReport) -> Result<()> {
    let url = report.config.url.to_string();
    lost(side, window, &url, report.figures.counts, &report.notes)
}

fn lost(side: Side, window: &str, url: &str, c: Counts, notes: &[String]) -> Result<()> {
    let lost = c.failed + c.cut_short + c.timed_out;
    if lost == 0 {
        return Ok(());
    }
    let first = notes
        .iter()
        .find_map(|n| n.strip_prefix("a request ended: "))
        .map_or(String::new(), |why| format!("; first: {why}"));
    Err(Error::Ab(format!(
        "the {} ({url}) lost {lost} of {} requests in {window} ({} failed, {} cut short, {} timed out{first}): a window that lost requests is not judged, since the survivors' figures would hide the loss",
        side.name(),
        c.sent,
        c.failed,
        c.cut_short,
        c.timed_out
    )))
}

/// Windows from the two servers, in the order asked.
pub struct LlmWindows<'a> {
    sides: LlmSides,
    judged: Vec<Figure>,
    windows: [u64; 2],
    id: String,
    progress: &'a mut dyn FnMut(&str),
}

impl<'a> LlmWindows<'a> {
    /// Windows of `sides`; `judged` are the figures a zero value of fails;
    /// `progress` gets a line per window.
    pub fn new(sides: LlmSides, judged: Vec<Figure>, progress: &'a mut dyn FnMut(&str)) -> Self {
        let id = sides.id();
        Self {
            sides,
            judged,
            windows: [0, 0],
            id,
            progress,
        }
    }
}

impl MeasureRun for LlmWindows<'_> {
    fn measure(&mut self, _config: usize, side: Side) -> Result<Measurement> {
        let index = side as usize;
        let k = self.windows[index];
        self.windows[index] += 1;
        let mut cfg = self.sides.of(side).clone();
        // A side's windows 2r and 2r + 1 are round r's (A B B A): the same seed on both sides.
        cfg.seed = cfg.seed.wrapping_add(k / 2);
        let report = crate::llm::run(&cfg, &mut |_| {})
            .map_err(|e| Error::Ab(format!("{} window {}: {e}", side.name(), k + 1)))?;
        check_lost(side, &format!("window {}", k + 1), &report)?;
        let m = measurement(&report.figures, Some(self.id.clone()));
        if let Some(f) = self
            .judged
            .iter()
            .find(|f| m.values.get(f).is_some_and(|v| *v <= 0.0))
        {
            return Err(Error::Ab(format!(
                "the {} ({}) measured {} = 0 {} in window {}{}: no ratio can compare a zero; loosen the bounds or leave the figure out of --figures",
                side.name(),
                cfg.url,
                f.name(),
                f.unit(),
                k + 1,
                if *f == Figure::Goodput { " (no request met the goodput bounds)" } else { "" }
            )));
        }
        let f = &report.figures;
        (self.progress)(&format!(
            "[llm-ab] {} window {}: {} requests in {:.2} s, {} output tokens/s, TTFT p50 {} ms",
            side.name(),
            k + 1,
            f.counts.completed,
            f.duration_s,
            f.output_tokens_per_s
                .map_or("n/a".into(), |v| format!("{v:.1}")),
            f.ttft_ms
                .as_ref()
                .map_or("n/a".into(), |s| format!("{:.1}", s.p50)),
        ));
        Ok(m)
    }
}

/// Warnings about a finished job: a judged figure that only one side ever measured
/// (a server that sends usage against one that does not) has no ratio and no verdict.
pub fn one_sided(report: &AbReport, sides: &LlmSides) -> Vec<String> {
    let mut notes = Vec::new();
    for f in report.configurations.iter().flat_map(|c| &c.figures) {
        let only = match (f.base, f.head) {
            (Some(_), None) => Side::Base,
            (None, Some(_)) => Side::Head,
            _ => continue,
        };
        notes.push(format!(
            "{} was measured by the {} ({}) only: it has no ratio and no verdict",
            f.figure.name(),
            only.name(),
            sides.describe(only)
        ));
    }
    notes
}

#[cfg(test)]
#[path = "llm_runs_tests.rs"]
mod tests;
