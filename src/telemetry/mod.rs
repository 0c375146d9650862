//! One structured log line per delivery and per processed message (provider, event id,
//! type, outcome, latency; never a secret or a body), Powertools-conventional JSON inside
//! Lambda ([`mod@format`]), and EMF metrics flushed once per invocation ([`emf`]).

use std::fmt;
use std::future::Future;
use std::sync::OnceLock;
use std::time::Duration;

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::record::{Provider, Timestamp};

pub mod emf;
pub mod format;

pub use emf::Unit;

/// `POWERTOOLS_SERVICE_NAME`, else `scribehook`.
pub fn service() -> &'static str {
    static SERVICE: OnceLock<String> = OnceLock::new();
    SERVICE.get_or_init(|| env_or("POWERTOOLS_SERVICE_NAME", "scribehook"))
}

/// `POWERTOOLS_METRICS_NAMESPACE`, else `scribehook`.
pub fn namespace() -> &'static str {
    static NAMESPACE: OnceLock<String> = OnceLock::new();
    NAMESPACE.get_or_init(|| env_or("POWERTOOLS_METRICS_NAMESPACE", "scribehook"))
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

/// A span around one stage of a delivery's path (verify, encode, write, ...), for the
/// profile `make bench` takes of the 5.3 MB inline path (bench/src/bin/profile.rs). TRACE
/// under a target of its own: the functions' log filters leave it off, where it costs one
/// cached check.
pub fn stage(name: &'static str) -> tracing::Span {
    tracing::trace_span!(target: "scribehook::stage", "stage", name)
}

/// What happened to one delivery at the ingest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Accepted,
    Duplicate,
    Conflict,
    EndpointCheck,
    /// A provider's verified test delivery (Prosa's `webhook.ping`), not stored.
    Ping,
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
            Outcome::Ping => "ping",
            Outcome::Rejected(code) => code,
        }
    }

    fn metric(self) -> Metric {
        // Refusals share one metric (the log line says which code): a dimension per
        // code would bill every metric once more.
        match self {
            Outcome::Accepted => Metric::Accepted,
            Outcome::Duplicate => Metric::Duplicate,
            Outcome::Conflict => Metric::Conflict,
            Outcome::EndpointCheck | Outcome::Ping => Metric::EndpointCheck,
            Outcome::Rejected("unavailable") => Metric::Unavailable,
            Outcome::Rejected(_) => Metric::Rejected,
        }
    }
}

/// Every metric the functions emit (besides Powertools' `ColdStart`): the one list the
/// template's alarms and dashboard are checked against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    Accepted,
    Duplicate,
    Conflict,
    EndpointCheck,
    Unavailable,
    Rejected,
    IngestLatency,
    Processed,
    EndToEndLatency,
    Quarantined,
    Failed,
    Purged,
    /// An allow-listed output bucket is missing or forbidden (the processor retries).
    OutputBucketErrors,
    /// A record notification was not confirmed (docs/behaviour.md#record-notifications-eventbridge).
    NotificationsFailed,
}

impl Metric {
    pub const ALL: [Metric; 14] = [
        Metric::Accepted,
        Metric::Duplicate,
        Metric::Conflict,
        Metric::EndpointCheck,
        Metric::Unavailable,
        Metric::Rejected,
        Metric::IngestLatency,
        Metric::Processed,
        Metric::EndToEndLatency,
        Metric::Quarantined,
        Metric::Failed,
        Metric::Purged,
        Metric::OutputBucketErrors,
        Metric::NotificationsFailed,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Metric::Accepted => "Accepted",
            Metric::Duplicate => "Duplicate",
            Metric::Conflict => "Conflict",
            Metric::EndpointCheck => "EndpointCheck",
            Metric::Unavailable => "Unavailable",
            Metric::Rejected => "Rejected",
            Metric::IngestLatency => "IngestLatency",
            Metric::Processed => "Processed",
            Metric::EndToEndLatency => "EndToEndLatency",
            Metric::Quarantined => "Quarantined",
            Metric::Failed => "Failed",
            Metric::Purged => "Purged",
            Metric::OutputBucketErrors => "OutputBucketErrors",
            Metric::NotificationsFailed => "NotificationsFailed",
        }
    }

    fn unit(self) -> Unit {
        match self {
            Metric::IngestLatency | Metric::EndToEndLatency => Unit::Milliseconds,
            _ => Unit::Count,
        }
    }
}

/// An error with its causes ("a: b: c"). Neither hyper nor rustls put the URL in an error,
/// so this never shows a link.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Text from a request or a store (ids, types, transcript text) for a terminal: control
/// characters are escaped, so an id holding a newline or an escape sequence cannot forge a
/// line or drive the terminal. Log lines do not need it: their fields are `&str` values,
/// which the text format prints escaped and the JSON format leaves to JSON's own escaping
/// (docs/behaviour.md#logs), so an id in a JSON line is exactly the id received.
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
    /// The measured clock skew of a `stale_timestamp` refusal, in signed seconds.
    pub skew_secs: Option<i64>,
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
        let path = self.path.as_str();
        if status >= 500 {
            tracing::error!(
                provider,
                event_id,
                event_type,
                outcome = outcome_name,
                status,
                latency_ms,
                path,
                "{provider} delivery not acknowledged ({outcome_name}); the provider will retry"
            );
        } else if status >= 400 {
            tracing::warn!(
                provider,
                event_id,
                event_type,
                outcome = outcome_name,
                status,
                latency_ms,
                path,
                reason = reason.unwrap_or(""),
                skew_secs = self.skew_secs,
                "{provider} delivery refused: {outcome_name}"
            );
        } else {
            tracing::info!(
                provider,
                event_id,
                event_type,
                outcome = outcome_name,
                status,
                latency_ms,
                "{provider} delivery {outcome_name}"
            );
        }
        count(provider, outcome.metric());
        record(provider, Metric::IngestLatency, latency_ms);
    }
}

/// Whether EMF lines are printed: inside Lambda, or when `SCRIBEHOOK_EMF=1`.
fn emf_enabled() -> bool {
    static ENABLED: OnceLock<bool> = OnceLock::new();
    *ENABLED.get_or_init(|| {
        std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some()
            || std::env::var("SCRIBEHOOK_EMF").is_ok_and(|v| v == "1")
    })
}

/// Adds one value of `metric` for `provider` to this invocation's metrics.
pub fn record(provider: &str, metric: Metric, value: f64) {
    if emf_enabled() {
        emf::with_buffer(|buffer| buffer.record(provider, metric.name(), metric.unit(), value));
    }
}

/// Counts one `metric` for `provider`.
pub fn count(provider: &str, metric: Metric) {
    record(provider, metric, 1.0);
}

/// Prints this invocation's metrics to stdout, where the Lambda service picks them up.
pub fn flush_metrics() {
    if !emf_enabled() {
        return;
    }
    let now = Timestamp::now().unix_millis();
    let documents = emf::with_buffer(|buffer| buffer.drain(namespace(), service(), now));
    for document in documents {
        println!("{document}");
    }
}

/// Runs one invocation: its log lines carry the request and trace ids and whether the
/// environment was cold, the first one counts `ColdStart`, and its metrics are flushed
/// once at the end.
pub async fn invocation<F: Future>(context: &lambda_runtime::Context, work: F) -> F::Output {
    static STARTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    let cold_start = !STARTED.swap(true, std::sync::atomic::Ordering::Relaxed);
    if cold_start && emf_enabled() {
        let function = &context.env_config.function_name;
        emf::with_buffer(|buffer| buffer.cold_start(function));
    }
    *format::CURRENT.lock().unwrap_or_else(|p| p.into_inner()) = Some(format::Invocation {
        request_id: Some(context.request_id.clone()).filter(|id| !id.is_empty()),
        xray_trace_id: context.xray_trace_id.clone(),
        cold_start,
    });
    let output = work.await;
    flush_metrics();
    output
}

/// Logging set-up for every binary. Inside Lambda: Powertools-conventional JSON on stdout
/// (unless `AWS_LAMBDA_LOG_FORMAT=Text`) at `AWS_LAMBDA_LOG_LEVEL`; on a terminal, readable
/// text on stderr at `RUST_LOG`.
pub fn init_logging() {
    let in_lambda = std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some();
    let filter = log_filter(in_lambda);
    let text = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("text"));
    if in_lambda && !text {
        let _ = tracing_subscriber::registry()
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(std::io::stdout)
                    .event_format(format::PowertoolsJson {
                        service: service().to_owned(),
                    }),
            )
            .with(filter)
            .try_init();
        return;
    }
    let _ = tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_target(false),
        )
        .with(filter)
        .try_init();
}

/// `AWS_LAMBDA_LOG_LEVEL` in Lambda (the SDK's own chatter kept at warn), else `RUST_LOG`
/// (`level` and `target=level` directives), else info without the chatter.
/// A `Targets` filter rather than `EnvFilter`: no regex engine in the functions.
fn log_filter(in_lambda: bool) -> Targets {
    const QUIET: &str = "aws_config=warn,aws_smithy_runtime=warn,aws_sdk_sso=warn";
    let lambda_level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .ok()
        .filter(|_| in_lambda)
        // Lambda's FATAL is tracing's ERROR.
        .map(|l| l.to_ascii_lowercase().replace("fatal", "error"));
    let spec = match lambda_level {
        Some(level) => format!("{level},{QUIET}"),
        None => std::env::var("RUST_LOG").unwrap_or_else(|_| format!("info,{QUIET}")),
    };
    spec.parse().unwrap_or_else(|_| {
        Targets::new()
            .with_default(LevelFilter::INFO)
            .with_target("aws_config", LevelFilter::WARN)
            .with_target("aws_smithy_runtime", LevelFilter::WARN)
    })
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
}
