//! A run end to end: prompts and bodies built before timing, a warm-up the figures
//! leave out, one measured window under the configured arrivals, then token
//! counts, figures and the report. The network side is one current-thread tokio
//! runtime: the client waits on sockets, and one thread keeps its own CPU small
//! and measurable next to a server on the same machine.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::client::{self, Call, HttpClient};
use super::config::LlmConfig;
use super::figures::figures;
use super::prompts::{self, Prompt};
use super::record::{Outcome, RequestRecord};
use super::report::{ClientCost, LlmReport, ModelFigures};
use super::server_metrics::{self, ServerWindow};
use super::tokens::{self, TokenCounter};
use crate::config::Arrival;
use crate::error::{Error, Result};
use crate::pipeline::arrivals::{poisson_schedule, SplitMix64};
use crate::results::Environment;

/// One request, ready to send.
struct Planned {
    model: usize,
    prompt: Prompt,
    body: Bytes,
}

/// The requests of a run: `warmup` first, then the measured ones. The model of each
/// is drawn from the shares with the seed, so the sequence is the seed's.
fn plan(cfg: &LlmConfig, counter: &TokenCounter) -> Result<Vec<Planned>> {
    let n = (cfg.warmup + cfg.num_requests) as usize;
    let length = |t: &str| match counter.count(t) {
        Some(n) => n as usize,
        None => t.split_whitespace().count(),
    };
    let prompts = prompts::draw(&cfg.prompts, n, cfg.draw_seed(), &length)?;
    let mut rng = SplitMix64(cfg.draw_seed() ^ 0x7a11_0c5e_1ec7_0000);
    Ok(prompts
        .into_iter()
        .map(|prompt| {
            let u = rng.unit_open_closed();
            let mut acc = 0.0;
            let model = cfg
                .models
                .iter()
                .position(|m| {
                    acc += m.share;
                    u <= acc
                })
                .unwrap_or(cfg.models.len() - 1);
            let body = client::body(
                cfg.api,
                &cfg.models[model].name,
                &prompt.text,
                prompt.max_tokens,
                cfg.stream,
            );
            Planned {
                model,
                prompt,
                body,
            }
        })
        .collect())
}

/// CPU time of this process so far, s.
fn process_cpu_s() -> f64 {
    // SAFETY: getrusage writes into the struct it is given and reads nothing else.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    t(usage.ru_utime) + t(usage.ru_stime)
}

/// Runs `cfg` to its report; `progress` gets a line per phase.
pub fn run(cfg: &LlmConfig, progress: &mut dyn FnMut(&str)) -> Result<LlmReport> {
    cfg.validate()?;
    let counter = TokenCounter::load(cfg.tokenizer.as_deref())?;
    let planned = plan(cfg, &counter)?;
    let uri: hyper::Uri = cfg
        .url
        .endpoint(cfg.api.path())
        .parse()
        .map_err(|e| Error::config("target", format!("{}: not a valid URL ({e})", cfg.url)))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Target(format!("cannot start the network runtime: {e}")))?;
    runtime.block_on(async {
        let http = client::http_client();
        let (warm, measured) = planned.split_at(cfg.warmup as usize);
        let mut notes = Vec::new();
        for (i, p) in warm.iter().enumerate() {
            progress(&format!("warm-up request {} of {}", i + 1, warm.len()));
            let mut r = send_now(&http, &uri, cfg, p).await;
            if r.outcome != Outcome::Completed {
                return Err(Error::Target(format!("{}: the warm-up request to model '{}' did not complete: {}", cfg.url, cfg.models[p.model].name, describe(&r.outcome, cfg.request_timeout))));
            }
            count_tokens(&mut r, &p.prompt, &counter);
            if let (Some(path), Some((server_in, Some(server_out)))) = (&cfg.tokenizer, r.usage) {
                let prompt = (r.input_tokens.unwrap_or(0), server_in);
                tokens::check_agrees(path, prompt, (r.output_tokens.unwrap_or(0), server_out))?;
            }
            if i == 0 && counter.count("").is_none() && r.usage.is_none() {
                notes.push("the server sent no usage and no --tokenizer was given: token counts, TPOT, token throughput and a TPOT goodput bound are absent".to_string());
            }
        }
        let before = scrape(cfg).await?;
        progress(&format!("measuring {} requests", measured.len()));
        let cpu0 = process_cpu_s();
        let (mut records, duration_s) = window(&http, &uri, cfg, measured).await;
        let cpu_s = process_cpu_s() - cpu0;
        let server_metrics = match (&cfg.scrape_metrics, before) {
            (Some(url), Some(before)) => scrape(cfg).await?.map(|after| server_metrics::window(url, &before, &after)),
            _ => None,
        };
        for (r, p) in records.iter_mut().zip(measured) {
            count_tokens(r, &p.prompt, &counter);
        }
        Ok(report(cfg, &counter, notes, records, duration_s, cpu_s, server_metrics))
    })
}

fn report(
    cfg: &LlmConfig,
    counter: &TokenCounter,
    mut notes: Vec<String>,
    records: Vec<RequestRecord>,
    duration_s: f64,
    cpu_s: f64,
    server_metrics: Option<ServerWindow>,
) -> LlmReport {
    let all = figures(&records, duration_s, cfg.slo);
    let per_model = if cfg.models.len() > 1 {
        cfg.models
            .iter()
            .enumerate()
            .map(|(i, m)| ModelFigures {
                model: m.name.clone(),
                figures: figures(records.iter().filter(|r| r.model == i), duration_s, cfg.slo),
            })
            .collect()
    } else {
        Vec::new()
    };
    if !cfg.stream {
        notes.push(
            "not streamed: the text arrives whole, so TTFT, ITL, TPOT and goodput are absent"
                .to_string(),
        );
    }
    let mut reasons: Vec<String> = Vec::new();
    for r in &records {
        if let Outcome::CutShort(why) | Outcome::Failed(why) = &r.outcome {
            if !reasons.contains(why) && reasons.len() < 5 {
                reasons.push(why.clone());
            }
        }
    }
    notes.extend(
        reasons
            .into_iter()
            .map(|why| format!("a request ended: {why}")),
    );
    let no_done = records.iter().filter(|r| r.without_done).count();
    if no_done > 0 {
        notes.push(format!("{no_done} streams ended after their finish_reason without data: [DONE]; counted as completed, ending when the body ended"));
    }
    let resent = records.iter().filter(|r| r.resent > 0).count();
    if resent > 0 {
        notes.push(format!("{resent} requests were sent again after the server closed a kept-alive connection before answering (some servers close every connection after a stream); their latency includes the lost attempt"));
    }
    notes.extend(
        server_metrics
            .as_ref()
            .and_then(super::server_metrics::prompt_cache_note),
    );
    let max_lag = records.iter().map(|r| r.send_lag_ns).max().unwrap_or(0) as f64 / 1e6;
    LlmReport {
        kind: "llm".to_string(),
        config: cfg.clone(),
        tokens: counter.source(),
        notes,
        client: ClientCost {
            cpu_s,
            cores_busy: cpu_s / duration_s.max(1e-9),
            cpu_per_output_token_us: all
                .output_tokens
                .filter(|&n| n > 0)
                .map(|n| cpu_s * 1e6 / n as f64),
            max_send_lag_ms: max_lag,
        },
        figures: all,
        per_model,
        server_metrics,
        shard: None,
        environment: Environment::detect(),
    }
}

/// Fills a record's token counts from the tokenizer, or from the server's usage.
fn count_tokens(r: &mut RequestRecord, prompt: &Prompt, counter: &TokenCounter) {
    match counter.count(&prompt.text) {
        Some(n) => {
            r.input_tokens = Some(n);
            r.output_tokens = counter.count(&r.text);
        }
        None => {
            r.input_tokens = r.usage.and_then(|u| u.0);
            r.output_tokens = r.usage.and_then(|u| u.1);
        }
    }
}

/// What an outcome was, for an error message.
fn describe(outcome: &Outcome, timeout: Duration) -> String {
    match outcome {
        Outcome::Completed => "completed".into(),
        Outcome::TimedOut => format!(
            "no end within --request-timeout {}",
            humantime::format_duration(timeout)
        ),
        Outcome::CutShort(why) => format!("cut short: {why}"),
        Outcome::Failed(why) => why.clone(),
    }
}

async fn send_now(
    http: &HttpClient,
    uri: &hyper::Uri,
    cfg: &LlmConfig,
    p: &Planned,
) -> RequestRecord {
    let now = Instant::now();
    let call = Call {
        uri,
        body: p.body.clone(),
        stream: cfg.stream,
        intended: now,
        deadline: now + cfg.request_timeout,
        model: p.model,
    };
    client::send(http, call).await
}

/// The server's metrics text, when asked for; an unreadable endpoint is an error
/// that names it (a flag asked for figures that cannot be had).
async fn scrape(cfg: &LlmConfig) -> Result<Option<String>> {
    let Some(url) = &cfg.scrape_metrics else {
        return Ok(None);
    };
    crate::target::scrape::get_text(url)
        .await
        .map(Some)
        .map_err(|e| Error::Target(format!("--scrape-server-metrics {url}: {e}")))
}

/// What every request task of a window shares: the client, the endpoint, each
/// request's (index, body, model), whether it streams, and the timeout.
type Shared = (
    HttpClient,
    hyper::Uri,
    Vec<(usize, Bytes, usize)>,
    bool,
    Duration,
);

/// The measured window: every request sent by the arrival process, each record in
/// request order, and the window's length (first intended send to last end), s.
async fn window(
    http: &HttpClient,
    uri: &hyper::Uri,
    cfg: &LlmConfig,
    planned: &[Planned],
) -> (Vec<RequestRecord>, f64) {
    let t0 = Instant::now() + Duration::from_millis(2);
    let n = planned.len();
    let jobs: Vec<(usize, Bytes, usize)> = planned
        .iter()
        .enumerate()
        .map(|(i, p)| (i, p.body.clone(), p.model))
        .collect();
    let shared = Arc::new((
        http.clone(),
        uri.clone(),
        jobs,
        cfg.stream,
        cfg.request_timeout,
    ));
    let one = |shared: Arc<Shared>, i: usize, intended: Instant| async move {
        let (http, uri, jobs, stream, timeout) = &*shared;
        let (_, body, model) = &jobs[i];
        let call = Call {
            uri,
            body: body.clone(),
            stream: *stream,
            intended,
            deadline: intended + *timeout,
            model: *model,
        };
        let r = client::send(http, call).await;
        (i, r, Instant::now())
    };
    let mut handles = Vec::with_capacity(n);
    match cfg.arrival {
        Arrival::Burst => {
            tokio::time::sleep_until(t0.into()).await;
            for i in 0..n {
                handles.push(tokio::spawn(one(shared.clone(), i, t0)));
            }
        }
        Arrival::Poisson(rate) => {
            let offsets = if rate.is_finite() {
                poisson_schedule(rate, n, cfg.draw_seed())
            } else {
                vec![0; n]
            };
            for (i, off) in offsets.into_iter().enumerate() {
                let intended = t0 + Duration::from_nanos(off);
                let (shared, one) = (shared.clone(), one);
                handles.push(tokio::spawn(async move {
                    tokio::time::sleep_until(intended.into()).await;
                    one(shared, i, intended).await
                }));
            }
        }
        Arrival::Concurrency(c) => {
            let next = Arc::new(AtomicUsize::new(0));
            tokio::time::sleep_until(t0.into()).await;
            let mut lanes = Vec::new();
            for _ in 0..c.min(n as u32) {
                let (shared, next) = (shared.clone(), next.clone());
                lanes.push(tokio::spawn(async move {
                    let mut out = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= n {
                            return out;
                        }
                        out.push(one(shared.clone(), i, Instant::now()).await);
                    }
                }));
            }
            let mut done = Vec::new();
            for lane in lanes {
                done.extend(
                    lane.await
                        .expect("a lane of requests does not panic; this is a bug"),
                );
            }
            return collect(done, n, t0);
        }
    }
    let mut done = Vec::with_capacity(n);
    for h in handles {
        done.push(
            h.await
                .expect("a request task does not panic; this is a bug"),
        );
    }
    collect(done, n, t0)
}

fn collect(
    mut done: Vec<(usize, RequestRecord, Instant)>,
    n: usize,
    t0: Instant,
) -> (Vec<RequestRecord>, f64) {
    debug_assert_eq!(done.len(), n);
    let end = done.iter().map(|d| d.2).max().unwrap_or(t0);
    done.sort_by_key(|d| d.0);
    let duration = end.saturating_duration_since(t0).as_secs_f64();
    (done.into_iter().map(|d| d.1).collect(), duration)
}
