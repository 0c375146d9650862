//! Where the milliseconds of one inline delivery go (`make bench`, scripts/bench.py): the
//! real ingest handler, wired from the environment as the `ingest` binary wires it, run once
//! in a fresh process on one API Gateway event, with a tracing layer that times the stage
//! spans the library opens (`scribehook::telemetry::stage`: verify, parse + normalize,
//! archive, encode archive, file write, dispatch, encode event, fold, encode record, ...).
//!
//! usage: profile EVENT_FILE   (environment: ARCHIVE, STORE, the provider's secrets)
//!
//! Prints one JSON line: the event's decode into the ingest's request type (what the
//! runtime does before the handler), the handler's wall time, the answer's encoding, and
//! every stage as `{"path": "dispatch > file write", "count": n, "ms": total}`, nested by
//! the spans' parents.

use std::sync::Mutex;
use std::time::Instant;

use lambda_runtime::{Context, LambdaEvent};
use scribehook::config::Config;
use scribehook::entrypoints::gateway::GatewayRequest;
use scribehook::entrypoints::{app, lambda};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::Subscriber;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::{Context as LayerContext, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

/// (path from the outermost stage, milliseconds) of every stage span closed.
static CLOSED: Mutex<Vec<(String, f64)>> = Mutex::new(Vec::new());

struct Stage {
    name: String,
    opened: Instant,
}

#[derive(Default)]
struct NameField(String);

impl Visit for NameField {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "name" {
            self.0 = value.to_owned();
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "name" {
            self.0 = format!("{value:?}");
        }
    }
}

struct Stages;

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Stages {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: LayerContext<'_, S>) {
        let mut name = NameField::default();
        attrs.record(&mut name);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(Stage {
                name: name.0,
                opened: Instant::now(),
            });
        }
    }

    fn on_close(&self, id: Id, ctx: LayerContext<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        let mut names = Vec::new();
        let mut ms = 0.0;
        for (depth, scope) in span.scope().enumerate() {
            if let Some(stage) = scope.extensions().get::<Stage>() {
                if depth == 0 {
                    ms = stage.opened.elapsed().as_secs_f64() * 1000.0;
                }
                names.push(stage.name.clone());
            }
        }
        names.reverse();
        if let Ok(mut closed) = CLOSED.lock() {
            closed.push((names.join(" > "), ms));
        }
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: profile EVENT_FILE");
        return std::process::ExitCode::from(2);
    };
    let event = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) => {
            eprintln!("reading {path}: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("profile: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let clients = app::Clients::from_env();
    let ingest = app::ingest(&config, &clients, scribehook::record::system_clock()).await;
    let filter = Targets::new().with_target("scribehook::stage", LevelFilter::TRACE);
    let _ = tracing_subscriber::registry()
        .with(Stages.with_filter(filter))
        .try_init();

    let started = Instant::now();
    let request: GatewayRequest = match serde_json::from_slice(&event) {
        Ok(request) => request,
        Err(e) => {
            eprintln!("profile: {path} is not an API Gateway event: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let decode_ms = started.elapsed().as_secs_f64() * 1000.0;
    drop(event);

    let started = Instant::now();
    let lambda_event = LambdaEvent::new(request, Context::default());
    let response = match lambda::ingest_handler(&ingest, lambda_event).await {
        Ok(response) => response,
        Err(e) => {
            eprintln!("profile: the handler failed: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let handler_ms = started.elapsed().as_secs_f64() * 1000.0;

    let started = Instant::now();
    let answer = serde_json::to_vec(&response).unwrap_or_default();
    let answer_ms = started.elapsed().as_secs_f64() * 1000.0;

    let mut stages: Vec<(String, usize, f64)> = Vec::new();
    for (path, ms) in CLOSED.lock().map(|c| c.clone()).unwrap_or_default() {
        match stages.iter_mut().find(|(p, _, _)| *p == path) {
            Some(stage) => {
                stage.1 += 1;
                stage.2 += ms;
            }
            None => stages.push((path, 1, ms)),
        }
    }
    let stages: Vec<serde_json::Value> = stages
        .into_iter()
        .map(|(path, count, ms)| serde_json::json!({"path": path, "count": count, "ms": ms}))
        .collect();
    println!(
        "{}",
        serde_json::json!({
            "status": response.status(),
            "answer": response.body(),
            "answer_bytes": answer.len(),
            "decode_ms": decode_ms,
            "handler_ms": handler_ms,
            "answer_ms": answer_ms,
            "stages": stages,
        })
    );
    std::process::ExitCode::SUCCESS
}
