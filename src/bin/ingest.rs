//! The ingest Lambda function: API Gateway (REST v1 or HTTP v2) → docs/behaviour.md#http-answers answer.

use scribehook::entrypoints::{app, lambda};
use scribehook::{config::Config, telemetry};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init_logging();
    let config = Config::from_env().inspect_err(|e| tracing::error!(error = %e, "cannot start"))?;
    let clients = app::Clients::from_env();
    let ingest = app::ingest(&config, &clients, scribehook::record::system_clock()).await;
    lambda_runtime::run(lambda_runtime::service_fn(|event| {
        lambda::ingest_handler(&ingest, event)
    }))
    .await
}
