//! One structured log line per delivery (provider, event id, type, outcome, status,
//! latency; never a secret or a body) and CloudWatch Embedded Metric Format lines, which
//! CloudWatch turns into metrics without a single API call from the function.

use std::fmt;
use std::time::Duration;

use serde_json::{json, Map, Value};

use crate::normalized::Provider;

pub const NAMESPACE: &str = "scribehook";

/// What happened to one delivery at the ingest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Accepted,
    Duplicate,
    Conflict,
    EndpointCheck,
    /// Answered with this contract error code.
    Rejected(&'static str),
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Accepted => "accepted",
            Outcome::Duplicate => "duplicate",
            Outcome::Conflict => "conflict",
            Outcome::EndpointCheck => "endpoint_check",
            Outcome::Rejected(code) => code,
        }
    }

    fn metric(self) -> &'static str {
        match self {
            Outcome::Accepted => "Accepted",
            Outcome::Duplicate => "Duplicate",
            Outcome::Conflict => "Conflict",
            Outcome::EndpointCheck => "EndpointCheck",
            Outcome::Rejected("unavailable") => "Unavailable",
            Outcome::Rejected(_) => "Rejected",
        }
    }
}

/// Text from a request (ids, types, paths, error messages that quote them) for a log line:
/// control characters are escaped, so an id holding a newline cannot forge a line of its
/// own in the text format.
pub struct Escaped<T>(pub T);

impl<T: fmt::Display> fmt::Display for Escaped<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use fmt::Write;
        let text = self.0.to_string();
        for c in text.chars() {
            if c.is_control() {
                for e in c.escape_default() {
                    f.write_char(e)?;
                }
            } else {
                f.write_char(c)?;
            }
        }
        Ok(())
    }
}

/// The facts of one delivery, filled in as the ingest learns them.
#[derive(Debug, Default)]
pub struct Delivery {
    pub path: String,
    pub provider: Option<Provider>,
    pub event_id: Option<String>,
    pub event_type: Option<String>,
}

impl Delivery {
    pub fn new(path: &str) -> Self {
        Self {
            path: path.chars().take(200).collect(),
            ..Self::default()
        }
    }

    /// The delivery's one log line and its metrics. `reason` is the refusal's message.
    pub fn finish(&self, outcome: Outcome, status: u16, reason: Option<&str>, elapsed: Duration) {
        let latency_ms = elapsed.as_secs_f64() * 1000.0;
        let provider = self.provider.map(Provider::as_str).unwrap_or("none");
        let event_id = self.event_id.as_deref().unwrap_or("");
        let event_type = self.event_type.as_deref().unwrap_or("");
        let outcome_name = outcome.as_str();
        let path = Escaped(&self.path);
        if status >= 500 {
            tracing::error!(provider, event_id, event_type, outcome = outcome_name, status, latency_ms, %path, "delivery");
        } else if status >= 400 {
            tracing::warn!(provider, event_id, event_type, outcome = outcome_name, status, latency_ms, %path, reason = reason.unwrap_or(""), "delivery");
        } else {
            tracing::info!(
                provider,
                event_id,
                event_type,
                outcome = outcome_name,
                status,
                latency_ms,
                "delivery"
            );
        }
        let mut dimensions = vec![("Provider", provider)];
        if let Outcome::Rejected(code) = outcome {
            dimensions.push(("Reason", code));
        }
        emit(
            &[
                (outcome.metric(), 1.0, "Count"),
                ("IngestLatency", latency_ms, "Milliseconds"),
            ],
            &dimensions,
        );
    }
}

/// Whether EMF lines are printed: inside Lambda, or when `SCRIBEHOOK_EMF=1`.
fn emf_enabled() -> bool {
    static ENABLED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ENABLED.get_or_init(|| {
        std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some()
            || std::env::var("SCRIBEHOOK_EMF").is_ok_and(|v| v == "1")
    })
}

/// An EMF document for `metrics` under every prefix of `dimensions`, from none at all
/// (what the alarms watch) to all of them.
pub fn emf_line(
    metrics: &[(&str, f64, &str)],
    dimensions: &[(&str, &str)],
    timestamp_ms: i64,
) -> String {
    let dimension_sets: Vec<Vec<&str>> = (0..=dimensions.len())
        .map(|n| dimensions[..n].iter().map(|(k, _)| *k).collect())
        .collect();
    let mut doc = Map::new();
    doc.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": dimension_sets,
                "Metrics": metrics.iter().map(|(name, _, unit)| json!({"Name": name, "Unit": unit})).collect::<Vec<_>>(),
            }],
        }),
    );
    for (key, value) in dimensions {
        doc.insert((*key).into(), json!(value));
    }
    for (name, value, _) in metrics {
        doc.insert((*name).into(), json!(value));
    }
    Value::Object(doc).to_string()
}

/// Prints one EMF line to stdout, where the Lambda service picks it up.
pub fn emit(metrics: &[(&str, f64, &str)], dimensions: &[(&str, &str)]) {
    if emf_enabled() {
        println!(
            "{}",
            emf_line(
                metrics,
                dimensions,
                crate::normalized::Timestamp::now().unix_millis()
            )
        );
    }
}

/// Logging set-up for every binary: Lambda's JSON format and level controls inside Lambda
/// (`AWS_LAMBDA_LOG_FORMAT`, `AWS_LAMBDA_LOG_LEVEL`), readable text on a terminal.
pub fn init_logging() {
    if std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some() {
        lambda_runtime::tracing::init_default_subscriber();
        return;
    }
    let filter = tracing_subscriber::EnvFilter::try_from_env("RUST_LOG").unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new("info,aws_config=warn,aws_smithy_runtime=warn")
    });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_with_a_newline_cannot_forge_a_text_log_line() {
        #[derive(Clone, Default)]
        struct Buffer(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
        impl std::io::Write for Buffer {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(bytes);
                Ok(bytes.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let mut delivery = Delivery::new("/webhooks/bota\n");
            delivery.provider = Some(Provider::Bota);
            delivery.event_id = Some(
                "evt_1\n2026-01-01T00:00:00Z  INFO delivery provider=bota outcome=accepted".into(),
            );
            delivery.event_type = Some("a\r\u{1b}[31m".into());
            delivery.finish(
                Outcome::Rejected("invalid_signature"),
                401,
                Some("bad\nline"),
                Duration::ZERO,
            );
        });
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(text.contains("evt_1\\n2026"), "{text}");
        assert!(!text.contains('\u{1b}'), "{text}");
    }

    #[test]
    fn emf_lines_declare_every_dimension_prefix() {
        let line = emf_line(
            &[("Rejected", 1.0, "Count")],
            &[("Provider", "daily"), ("Reason", "invalid_signature")],
            42,
        );
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["_aws"]["Timestamp"], 42);
        assert_eq!(v["_aws"]["CloudWatchMetrics"][0]["Namespace"], "scribehook");
        assert_eq!(
            v["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([[], ["Provider"], ["Provider", "Reason"]])
        );
        assert_eq!(v["Provider"], "daily");
        assert_eq!(v["Reason"], "invalid_signature");
        assert_eq!(v["Rejected"], 1.0);
    }
}
