//! The floor of `make bench` (scripts/bench.py): a bare lambda_runtime function that echoes
//! its event as a `serde_json::Value`. Its cold start, invoke, peak RSS and binary size are
//! measured in the same run as the ingest's, with the same release profile.

use lambda_runtime::{service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(
        |event: LambdaEvent<serde_json::Value>| async move { Ok::<_, Error>(event.payload) },
    ))
    .await
}
