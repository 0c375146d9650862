//! The baseline for `make bench`: a bare lambda_runtime function that echoes its event.
//! scripts/bench_init.py measures the ingest's start-up against this one in the same run.

use lambda_runtime::{service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(
        |event: LambdaEvent<serde_json::Value>| async move { Ok::<_, Error>(event.payload) },
    ))
    .await
}
