//! The invoke floor of `make bench` (scripts/bench.py): the cheapest receiver there is. It
//! decodes its event into a `serde_json::Value` (what reading the body at all costs: the
//! runtime's read of the event and the JSON unescaping of its body) and answers a constant,
//! as a receiver answers `200 accepted`. Built with the same release profile as the ingest.

use lambda_runtime::{service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(
        |_event: LambdaEvent<serde_json::Value>| async move {
            Ok::<_, Error>(serde_json::json!({
                "statusCode": 200,
                "headers": {"content-type": "application/json"},
                "body": "{\"status\":\"accepted\"}",
            }))
        },
    ))
    .await
}
