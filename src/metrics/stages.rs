//! Where a request's time goes: the mean of each stage over the measured requests,
//! for the pipeline's stages or a remote request's ([`StageScheme`]).

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::ms;
use crate::request::{StageScheme, Stamps, MAX_STAGES};

/// Sums stage durations over requests.
#[derive(Debug, Clone, Default)]
pub struct StageBreakdown {
    scheme: StageScheme,
    totals_ns: [u64; MAX_STAGES],
    count: u64,
    sender_lag_total_ns: u64,
    sender_lag_max_ns: u64,
}

/// Mean time per stage, in milliseconds, in the order a request passes them; the
/// stages add up to the mean latency. As JSON, an object: each stage by name
/// (`queue`, `batch`, … for the pipeline), then `sender_lag_mean` and `sender_lag_max`.
#[derive(Debug, Clone, PartialEq)]
pub struct StageSummary {
    /// Each stage's mean, in order.
    pub stages: Vec<(String, f64)>,
    /// Mean time the sender was behind the intended send time.
    pub sender_lag_mean: f64,
    /// Longest time the sender was behind.
    pub sender_lag_max: f64,
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
        })
    }
}

impl StageSummary {
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

impl Serialize for StageSummary {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.stages.len() + 2))?;
        for (name, v) in &self.stages {
            map.serialize_entry(name, v)?;
        }
        map.serialize_entry(LAG_MEAN, &self.sender_lag_mean)?;
        map.serialize_entry(LAG_MAX, &self.sender_lag_max)?;
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
                };
                while let Some((key, value)) = map.next_entry::<String, f64>()? {
                    match key.as_str() {
                        LAG_MEAN => out.sender_lag_mean = value,
                        LAG_MAX => out.sender_lag_max = value,
                        _ => out.stages.push((key, value)),
                    }
                }
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
    fn incomplete_stamps_are_refused() {
        let mut b = StageBreakdown::default();
        assert!(!b.record(&stamps([1, 1, 2, 0, 3, 4, 5, 6])));
        assert_eq!(b.count(), 0);
        assert!(b.summary().is_none());
    }
}
