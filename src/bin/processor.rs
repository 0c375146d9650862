//! The processor Lambda function: SQS batches of archived deliveries → records, with
//! partial batch failures so only the failed messages are retried.

use scribehook::entrypoints::{app, lambda};
use scribehook::{config::Config, telemetry};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init_logging();
    let config = Config::from_env().inspect_err(|e| tracing::error!(error = %e, "cannot start"))?;
    let clients = app::Clients::from_env();
    let processor = app::processor(&config, &clients).await;
    lambda_runtime::run(lambda_runtime::service_fn(|event| {
        lambda::processor_handler(&processor, event)
    }))
    .await
}
