//! Where a request's time goes: the mean of each stage over the measured requests,
//! for the pipeline's stages or a remote request's ([`StageScheme`]).

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::ms;
use crate::request::{StageScheme, Stamps, MAX_STAGES, STAMP_COUNT};

/// Sums stage durations over requests.
#[derive(Debug, Clone, Default)]
pub struct StageBreakdown {
    scheme: StageScheme,
    totals_ns: [u64; MAX_STAGES],
    count: u64,
    sender_lag_total_ns: u64,
    sender_lag_max_ns: u64,
    /// Indexed by the stamp that ends a stage (as [`Stamps::wake_ns`]).
    wake_totals_ns: [u64; STAMP_COUNT],
    wake_counts: [u64; STAMP_COUNT],
}

/// Mean time per stage, in milliseconds, in the order a request passes them; the
/// stages add up to the mean latency. As JSON, an object: each stage by name
/// (`queue`, `batch`, … for the pipeline), then `sender_lag_mean` and
/// `sender_lag_max`, then `wake_up`: an object of the stages that end in a hand-off
/// between threads, each with the mean wake-up inside it.
#[derive(Debug, Clone, PartialEq)]
pub struct StageSummary {
    /// Each stage's mean, in order.
    pub stages: Vec<(String, f64)>,
    /// Mean time the sender was behind the intended send time.
    pub sender_lag_mean: f64,
    /// Longest time the sender was behind.
    pub sender_lag_max: f64,
    /// The part of a stage's mean that is the wake-up of the thread that took the
    /// request (see [`crate::request::Stamps::took`]), for the stages where one
    /// was measured, in stage order. The rest of the stage's wait is queueing.
    pub wake_up: Vec<(String, f64)>,
}

impl StageBreakdown {
    /// An empty breakdown of `scheme`'s stages.
    pub fn new(scheme: StageScheme) -> Self {
        Self {
            scheme,
            ..Self::default()
        }
    }

    /// Adds one request. Returns `false` (and adds nothing) if a stamp is missing.
    #[inline]
    pub fn record(&mut self, stamps: &Stamps) -> bool {
        let stages = self.scheme.stages();
        let mut durations = [0u64; MAX_STAGES];
        for (slot, &stage) in durations.iter_mut().zip(stages) {
            match stamps.span_ns(stage) {
                Some(ns) => *slot = ns,
                None => return false,
            }
        }
        for (total, d) in self.totals_ns.iter_mut().zip(durations) {
            *total += d;
        }
        // Branch-free over every slot (this runs once per response); the slots
        // hold ns + 1, so the totals are corrected by the counts when read.
        let slots = self.wake_totals_ns.iter_mut().zip(&mut self.wake_counts);
        for ((total, count), &w) in slots.zip(stamps.wakes_raw()) {
            *total += u64::from(w);
            *count += u64::from(w != 0);
        }
        let lag = stamps.sender_lag_ns();
        self.sender_lag_total_ns += lag;
        self.sender_lag_max_ns = self.sender_lag_max_ns.max(lag);
        self.count += 1;
        true
    }

    /// Requests added.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Mean per stage, or `None` if nothing was added.
    pub fn summary(&self) -> Option<StageSummary> {
        if self.count == 0 {
            return None;
        }
        let mean = |total: u64| ms(total as f64 / self.count as f64);
        Some(StageSummary {
            stages: self
                .scheme
                .stages()
                .iter()
                .zip(self.totals_ns)
                .map(|(&(name, ..), total)| (name.to_string(), mean(total)))
                .collect(),
            sender_lag_mean: mean(self.sender_lag_total_ns),
            sender_lag_max: ms(self.sender_lag_max_ns as f64),
            wake_up: self.wake_up_means(),
        })
    }
}

impl StageBreakdown {
    /// Each measured stage's mean wake-up, over the requests it was measured for
    /// (all of them, in a run whose stages hand every request over the same way).
    fn wake_up_means(&self) -> Vec<(String, f64)> {
        self.scheme
            .stages()
            .iter()
            .filter_map(|&(name, _, ends)| {
                let (total, count) = (
                    self.wake_totals_ns[ends as usize],
                    self.wake_counts[ends as usize],
                );
                (count > 0).then(|| (name.to_string(), ms((total - count) as f64 / count as f64)))
            })
            .collect()
    }
}

impl StageSummary {
    /// One stage's mean wake-up; `None` where none was measured.
    pub fn wake_up(&self, stage: &str) -> Option<f64> {
        self.wake_up
            .iter()
            .find(|(n, _)| n == stage)
            .map(|(_, v)| *v)
    }

    /// Sum of the stage means (equals the mean latency).
    pub fn total(&self) -> f64 {
        self.stages.iter().map(|(_, v)| v).sum()
    }

    /// The stages with their report names, in order.
    pub fn named(&self) -> &[(String, f64)] {
        &self.stages
    }

    /// One stage's mean; `None` for a stage this breakdown does not have.
    pub fn get(&self, stage: &str) -> Option<f64> {
        self.stages
            .iter()
            .find(|(n, _)| n == stage)
            .map(|(_, v)| *v)
    }

    /// One stage's mean, to change (tests that build a report by hand).
    pub fn get_mut(&mut self, stage: &str) -> Option<&mut f64> {
        self.stages
            .iter_mut()
            .find(|(n, _)| n == stage)
            .map(|(_, v)| v)
    }
}

const LAG_MEAN: &str = "sender_lag_mean";
const LAG_MAX: &str = "sender_lag_max";
const WAKE_UP: &str = "wake_up";

/// Pairs written as a JSON object in their order.
struct InOrderMap<'a>(&'a [(String, f64)]);

impl Serialize for InOrderMap<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

/// A value of the stage object: a mean, or the `wake_up` object.
#[derive(Deserialize)]
#[serde(untagged)]
enum Entry {
    Mean(f64),
    Means(std::collections::BTreeMap<String, f64>),
}

impl Serialize for StageSummary {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let wakes = !self.wake_up.is_empty();
        let mut map = s.serialize_map(Some(self.stages.len() + 2 + usize::from(wakes)))?;
        for (name, v) in &self.stages {
            map.serialize_entry(name, v)?;
        }
        map.serialize_entry(LAG_MEAN, &self.sender_lag_mean)?;
        map.serialize_entry(LAG_MAX, &self.sender_lag_max)?;
        if wakes {
            map.serialize_entry(WAKE_UP, &InOrderMap(&self.wake_up))?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for StageSummary {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct InOrder;
        impl<'de> Visitor<'de> for InOrder {
            type Value = StageSummary;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object of stage means in ms")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<StageSummary, A::Error> {
                let mut out = StageSummary {
                    stages: Vec::new(),
                    sender_lag_mean: 0.0,
                    sender_lag_max: 0.0,
                    wake_up: Vec::new(),
                };
                let mut wakes = std::collections::BTreeMap::new();
                while let Some((key, value)) = map.next_entry::<String, Entry>()? {
                    match (key.as_str(), value) {
                        (LAG_MEAN, Entry::Mean(v)) => out.sender_lag_mean = v,
                        (LAG_MAX, Entry::Mean(v)) => out.sender_lag_max = v,
                        (WAKE_UP, Entry::Means(m)) => wakes = m,
                        (_, Entry::Mean(v)) => out.stages.push((key, v)),
                        (_, Entry::Means(_)) => {
                            return Err(serde::de::Error::custom(format!(
                                "stage {key:?} is an object; only {WAKE_UP:?} may be"
                            )))
                        }
                    }
                }
                // In stage order, as written (a JSON object read back has no order here).
                out.wake_up = out
                    .stages
                    .iter()
                    .filter_map(|(name, _)| Some((name.clone(), wakes.remove(name)?)))
                    .collect();
                Ok(out)
            }
        }
        d.deserialize_map(InOrder)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::Stamp;

    fn stamps(times: [u64; 8]) -> Stamps {
        let mut s = Stamps::default();
        let order = Stamp::ALL;
        for (stamp, t) in order.into_iter().zip(times) {
            s.set(stamp, t);
        }
        s
    }

    #[test]
    fn means_per_stage_and_lag() {
        let mut b = StageBreakdown::default();
        assert!(b.record(&stamps([
            1_000_000, 1_000_000, 2_000_000, 2_000_000, 3_000_000, 7_000_000, 8_000_000, 9_000_000
        ])));
        assert!(b.record(&stamps([
            1_000_000, 3_000_000, 4_000_000, 4_000_000, 5_000_000, 9_000_000, 10_000_000,
            11_000_000
        ])));
        let s = b.summary().unwrap();
        let means: Vec<f64> = s.named().iter().map(|(_, v)| *v).collect();
        assert_eq!(means, [2.0, 0.0, 1.0, 4.0, 1.0, 1.0]);
        assert_eq!(s.get("compute"), Some(4.0));
        assert_eq!((s.sender_lag_mean, s.sender_lag_max), (1.0, 2.0));
        assert_eq!(s.total(), 9.0);
    }

    #[test]
    fn a_remote_request_has_the_clients_stages_and_no_copy_in_stamp() {
        let mut b = StageBreakdown::new(StageScheme::Remote);
        // Intended, sent, taken by the client, on the wire, (no copy-in), read, checked, received.
        assert!(b.record(&stamps([
            1_000_000, 1_000_000, 2_000_000, 3_000_000, 0, 7_000_000, 8_000_000, 9_000_000
        ])));
        let s = b.summary().unwrap();
        let names: Vec<&str> = s.named().iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            ["queue", "connection", "round_trip", "check", "response"]
        );
        assert_eq!(s.get("round_trip"), Some(4.0));
        assert_eq!(s.total(), 8.0);
        assert_eq!(s.get("compute"), None);
    }

    #[test]
    fn the_json_keeps_the_stage_order_and_reads_back() {
        let mut b = StageBreakdown::default();
        assert!(b.record(&stamps([1, 1, 2, 3, 4, 5, 6, 7])));
        let s = b.summary().unwrap();
        let json = serde_json::to_string(&s).unwrap();
        assert!(
            json.starts_with(r#"{"queue":"#) && json.contains(r#""sender_lag_max":"#),
            "{json}"
        );
        let back: StageSummary = serde_json::from_str(&json).unwrap();
        assert_eq!(back, s);
    }

    #[test]
    fn wake_ups_are_averaged_where_measured_and_absent_elsewhere() {
        let mut b = StageBreakdown::default();
        for (taken, wake) in [(2_000_000, 300_000), (2_000_000, 100_000)] {
            let mut s = stamps([
                1_000_000, 1_000_000, taken, 2_000_000, 3_000_000, 7_000_000, 8_000_000, 9_000_000,
            ]);
            // Parked since before the request was sent: all of the wait is wake-up.
            s.took(Stamp::Sent, Stamp::Dequeued, 0, 1_000_000 + wake);
            s.took(Stamp::CopiedOut, Stamp::Received, 0, 8_500_000);
            assert!(b.record(&s));
        }
        let s = b.summary().unwrap();
        assert_eq!(s.wake_up("queue"), Some(0.2));
        assert_eq!(s.wake_up("response"), Some(0.5));
        assert_eq!(s.wake_up("compute"), None, "no hand-off measured there");
        let json = serde_json::to_string(&s).unwrap();
        assert!(
            json.ends_with(r#""wake_up":{"queue":0.2,"response":0.5}}"#),
            "{json}"
        );
        let back: StageSummary = serde_json::from_str(&json).unwrap();
        assert_eq!(back, s);
        // A record from before wake-ups were measured reads as none measured.
        let old: StageSummary =
            serde_json::from_str(r#"{"queue":1.0,"sender_lag_mean":0.0,"sender_lag_max":0.0}"#)
                .unwrap();
        assert!(old.wake_up.is_empty());
    }

    #[test]
    fn incomplete_stamps_are_refused() {
        let mut b = StageBreakdown::default();
        assert!(!b.record(&stamps([1, 1, 2, 0, 3, 4, 5, 6])));
        assert_eq!(b.count(), 0);
        assert!(b.summary().is_none());
    }
}
