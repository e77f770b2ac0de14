//! How a [`RunConfig`] is written into reports and results files: whole for the
//! in-process pipeline; for a server over the network only what applied (the
//! load, the inputs the client sent, the target), so that no record claims a
//! server setting the client never chose. Reading takes either form.

use serde::{Deserialize, Serialize, Serializer};

use super::target::TargetConfig;
use super::{BackendConfig, InputSpec, LoadConfig, ModelConfig, RunConfig};

#[derive(Serialize)]
struct Local<'a> {
    model: &'a ModelConfig,
    load: &'a LoadConfig,
    backend: &'a BackendConfig,
    measure_bare_forward: bool,
}

#[derive(Serialize)]
struct Remote<'a> {
    load: &'a LoadConfig,
    #[serde(skip_serializing_if = "<[InputSpec]>::is_empty")]
    inputs: &'a [InputSpec],
    target: &'a TargetConfig,
    measure_bare_forward: bool,
}

impl Serialize for RunConfig {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match &self.target {
            None => Local {
                model: &self.model,
                load: &self.load,
                backend: &self.backend,
                measure_bare_forward: self.measure_bare_forward,
            }
            .serialize(s),
            Some(target) => Remote {
                load: &self.load,
                inputs: &self.model.inputs,
                target,
                measure_bare_forward: self.measure_bare_forward,
            }
            .serialize(s),
        }
    }
}

/// A configuration as records hold it (either form).
#[derive(Deserialize)]
pub(super) struct Record {
    #[serde(default)]
    model: Option<ModelConfig>,
    load: LoadConfig,
    #[serde(default)]
    backend: Option<BackendConfig>,
    measure_bare_forward: bool,
    #[serde(default)]
    inputs: Vec<InputSpec>,
    #[serde(default)]
    target: Option<TargetConfig>,
}

impl From<Record> for RunConfig {
    fn from(r: Record) -> Self {
        let mut model = r.model.unwrap_or_default();
        if let Some(t) = &r.target {
            model.name = t.url.model.clone();
            model.inputs = r.inputs;
        }
        RunConfig {
            model,
            load: r.load,
            backend: r.backend.unwrap_or_default(),
            measure_bare_forward: r.measure_bare_forward,
            target: r.target,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_target_record_holds_only_what_applied_and_reads_back() {
        let mut cfg = RunConfig {
            measure_bare_forward: false,
            ..RunConfig::default()
        };
        cfg.model.inputs = vec!["4:i64:0..9".parse().unwrap()];
        cfg.target = Some(TargetConfig::new("grpc://h:1/m".parse().unwrap()));
        cfg.model.name = "m".into();
        let json = serde_json::to_value(&cfg).unwrap();
        assert!(
            json.get("model").is_none() && json.get("backend").is_none(),
            "{json}"
        );
        assert_eq!(json["inputs"][0], "4:i64:0..9");
        let back: RunConfig = serde_json::from_value(json).unwrap();
        assert_eq!(back, cfg);
        let local = RunConfig::default();
        let json = serde_json::to_value(&local).unwrap();
        assert!(json["backend"]["workers"].is_number());
        assert_eq!(serde_json::from_value::<RunConfig>(json).unwrap(), local);
    }
}
