//! Log lines with the Powertools for AWS Lambda logger keys (docs/behaviour.md#observability): `timestamp`,
//! `level`, `message`, `service`, `cold_start`, `function_request_id`, `xray_trace_id`,
//! `location`, then the event's own fields at the top level (`provider`, `event_id`,
//! `outcome`, `latency_ms`, …), so Logs Insights queries written for Powertools work as is.

use std::fmt;
use std::sync::Mutex;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use crate::record::Timestamp;

/// The invocation under way, for every line logged during it.
#[derive(Clone, Debug, Default)]
pub struct Invocation {
    pub request_id: Option<String>,
    pub xray_trace_id: Option<String>,
    pub cold_start: bool,
}

pub(super) static CURRENT: Mutex<Option<Invocation>> = Mutex::new(None);

pub(super) fn current() -> Invocation {
    CURRENT
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone()
        // Before the first invocation (start-up) the environment is cold.
        .unwrap_or(Invocation {
            cold_start: true,
            ..Invocation::default()
        })
}

/// The formatter: one JSON object per line.
pub struct PowertoolsJson {
    pub service: String,
}

impl<S, N> FormatEvent<S, N> for PowertoolsJson
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        writeln!(writer, "{}", line(&self.service, &current(), event))
    }
}

/// The JSON line of one event.
pub fn line(service: &str, invocation: &Invocation, event: &Event<'_>) -> String {
    let mut fields = Fields::default();
    event.record(&mut fields);
    let metadata = event.metadata();
    let mut out = Map::new();
    let mut put = |key: &str, value: Value| {
        out.insert(key.to_owned(), value);
    };
    put("timestamp", Value::String(Timestamp::now().to_string()));
    put("level", Value::String(metadata.level().as_str().to_owned()));
    put(
        "message",
        fields
            .0
            .remove("message")
            .unwrap_or(Value::String(String::new())),
    );
    put("service", Value::String(service.to_owned()));
    put("cold_start", Value::Bool(invocation.cold_start));
    put(
        "function_request_id",
        invocation
            .request_id
            .clone()
            .map_or(Value::Null, Value::String),
    );
    put(
        "xray_trace_id",
        invocation
            .xray_trace_id
            .clone()
            .map_or(Value::Null, Value::String),
    );
    put(
        "location",
        Value::String(format!(
            "{}:{}",
            metadata.module_path().unwrap_or(metadata.target()),
            metadata.line().unwrap_or(0)
        )),
    );
    for (key, value) in fields.0 {
        out.entry(key).or_insert(value);
    }
    Value::Object(out).to_string()
}

#[derive(Default)]
struct Fields(Map<String, Value>);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().to_owned(), Value::String(format!("{value:?}")));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0
            .insert(field.name().to_owned(), Value::String(value.to_owned()));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().to_owned(), value.into());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_owned(), value.into());
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().to_owned(), value.into());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().to_owned(), value.into());
    }
}
