//! CloudWatch Embedded Metric Format, as Powertools for AWS Lambda writes it (docs/behaviour.md#observability):
//! namespace from `POWERTOOLS_METRICS_NAMESPACE`, one dimension set `[service, provider]`,
//! values buffered through an invocation and flushed once at its end as one document per
//! provider, and `ColdStart` in a document of its own. CloudWatch turns the lines into
//! metrics without a single API call from the function.
//!
//! Hand-written rather than `metrics_cloudwatch_embedded` (checked, maintained): that crate
//! sits behind the `metrics` facade's global recorder and its own Lambda `run` wrapper,
//! while the few shapes needed here (Powertools' ColdStart document, the service dimension)
//! are a page of code.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde_json::{json, Map, Value};

/// Metric units used here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    Count,
    Milliseconds,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Milliseconds => "Milliseconds",
        }
    }
}

/// What one invocation recorded, not yet written.
#[derive(Debug, Default)]
pub struct Buffer {
    by_provider: BTreeMap<String, BTreeMap<&'static str, (Unit, Vec<f64>)>>,
    cold_start: Option<String>,
}

impl Buffer {
    pub fn record(&mut self, provider: &str, name: &'static str, unit: Unit, value: f64) {
        self.by_provider
            .entry(provider.to_owned())
            .or_default()
            .entry(name)
            .or_insert((unit, Vec::new()))
            .1
            .push(value);
    }

    /// The cold start of `function_name`, reported once.
    pub fn cold_start(&mut self, function_name: &str) {
        self.cold_start = Some(function_name.to_owned());
    }

    /// The EMF documents of everything recorded, emptying the buffer.
    pub fn drain(&mut self, namespace: &str, service: &str, timestamp_ms: i64) -> Vec<Value> {
        let mut documents = Vec::new();
        if let Some(function_name) = self.cold_start.take() {
            let mut doc = envelope(
                namespace,
                timestamp_ms,
                &["service", "function_name"],
                &[("ColdStart", Unit::Count)],
            );
            doc.insert("service".into(), json!(service));
            doc.insert("function_name".into(), json!(function_name));
            doc.insert("ColdStart".into(), json!(1.0));
            documents.push(Value::Object(doc));
        }
        for (provider, metrics) in std::mem::take(&mut self.by_provider) {
            let names: Vec<(&str, Unit)> = metrics.iter().map(|(n, (u, _))| (*n, *u)).collect();
            let mut doc = envelope(namespace, timestamp_ms, &["service", "provider"], &names);
            doc.insert("service".into(), json!(service));
            doc.insert("provider".into(), json!(provider));
            for (name, (_, values)) in metrics {
                // One value as a number, several as the array EMF aggregates.
                let value = match values.as_slice() {
                    [one] => json!(one),
                    many => json!(many),
                };
                doc.insert(name.into(), value);
            }
            documents.push(Value::Object(doc));
        }
        documents
    }
}

fn envelope(
    namespace: &str,
    timestamp_ms: i64,
    dimensions: &[&str],
    metrics: &[(&str, Unit)],
) -> Map<String, Value> {
    let mut doc = Map::new();
    doc.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": namespace,
                "Dimensions": [dimensions],
                "Metrics": metrics
                    .iter()
                    .map(|(name, unit)| json!({"Name": name, "Unit": unit.as_str()}))
                    .collect::<Vec<_>>(),
            }],
        }),
    );
    doc
}

/// The process's buffer: Lambda runs one invocation at a time per execution environment.
pub(super) static BUFFER: Mutex<Option<Buffer>> = Mutex::new(None);

pub(super) fn with_buffer<T>(f: impl FnOnce(&mut Buffer) -> T) -> T {
    let mut guard = BUFFER.lock().unwrap_or_else(|p| p.into_inner());
    f(guard.get_or_insert_with(Buffer::default))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_document_per_provider_with_one_dimension_set() {
        let mut buffer = Buffer::default();
        buffer.cold_start("scribehook-BotaIngest");
        buffer.record("bota", "Accepted", Unit::Count, 1.0);
        buffer.record("bota", "Accepted", Unit::Count, 1.0);
        buffer.record("bota", "IngestLatency", Unit::Milliseconds, 4.5);
        buffer.record("daily", "Rejected", Unit::Count, 1.0);
        let docs = buffer.drain("ns", "scribehook", 42);
        assert_eq!(docs.len(), 3);
        let cold = &docs[0];
        assert_eq!(cold["ColdStart"], 1.0);
        assert_eq!(
            cold["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["service", "function_name"]])
        );
        let bota = &docs[1];
        assert_eq!(bota["_aws"]["Timestamp"], 42);
        assert_eq!(bota["_aws"]["CloudWatchMetrics"][0]["Namespace"], "ns");
        assert_eq!(
            bota["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["service", "provider"]])
        );
        assert_eq!(bota["provider"], "bota");
        assert_eq!(bota["service"], "scribehook");
        assert_eq!(bota["Accepted"], json!([1.0, 1.0]));
        assert_eq!(bota["IngestLatency"], 4.5);
        assert_eq!(docs[2]["provider"], "daily");
        assert!(buffer.drain("ns", "s", 0).is_empty(), "drained");
    }
}
