//! Running the product without AWS: an HTTP entry point that hands each request to the
//! real ingest handler as the API Gateway HTTP API (v2) event the Lambda service would
//! deliver, and a small client for `scribehook send`.

use std::convert::Infallible;
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use lambda_runtime::{Context, LambdaEvent};

use crate::entrypoints::gateway::{GatewayRequest, PayloadVersion};
use crate::entrypoints::lambda::{ingest_handler, GatewayResponse};
use crate::pipeline::ingest::Ingest;

/// API Gateway refuses bodies over 10 MB before Lambda sees them; so does this server.
const GATEWAY_BODY_LIMIT: usize = 10 * 1024 * 1024;

/// The v2 request for one HTTP request: text bodies as text, anything else base64, as API
/// Gateway (and `cargo lambda watch`) do.
pub fn to_event(parts: &http::request::Parts, body: Bytes) -> LambdaEvent<GatewayRequest> {
    let (text, base64) = match String::from_utf8(Vec::from(body)) {
        Ok(text) => (text, false),
        Err(e) => (STANDARD.encode(e.as_bytes()), true),
    };
    let request = GatewayRequest {
        version: PayloadVersion::V2,
        method: parts.method.clone(),
        path: parts.uri.path().to_owned(),
        headers: parts.headers.clone(),
        body: Some(text),
        is_base64_encoded: base64,
    };
    LambdaEvent::new(request, Context::default())
}

fn to_http(response: &GatewayResponse) -> http::Response<Full<Bytes>> {
    let mut builder =
        http::Response::builder().status(u16::try_from(response.status()).unwrap_or(500));
    for (name, value) in response.headers() {
        builder = builder.header(name, value);
    }
    builder
        .body(Full::new(Bytes::copy_from_slice(
            response.body().as_bytes(),
        )))
        .unwrap_or_else(|_| http::Response::new(Full::new(Bytes::new())))
}

/// Serves the ingest on `listener` until the process is stopped.
pub async fn serve(listener: tokio::net::TcpListener, ingest: Arc<Ingest>) -> std::io::Result<()> {
    loop {
        let (stream, _) = listener.accept().await?;
        let ingest = Arc::clone(&ingest);
        tokio::spawn(async move {
            let service = service_fn(move |request: http::Request<Incoming>| {
                let ingest = Arc::clone(&ingest);
                async move {
                    let (parts, body) = request.into_parts();
                    let body = match Limited::new(body, GATEWAY_BODY_LIMIT).collect().await {
                        Ok(collected) => collected.to_bytes(),
                        Err(_) => {
                            let mut too_large = http::Response::new(Full::new(Bytes::from_static(
                                br#"{"message":"Request Entity Too Large"}"#,
                            )));
                            *too_large.status_mut() = http::StatusCode::PAYLOAD_TOO_LARGE;
                            return Ok::<_, Infallible>(too_large);
                        }
                    };
                    let event = to_event(&parts, body);
                    let response = match ingest_handler(&ingest, event).await {
                        Ok(response) => to_http(&response),
                        Err(_) => {
                            let mut failed = http::Response::new(Full::new(Bytes::new()));
                            *failed.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
                            failed
                        }
                    };
                    Ok::<_, Infallible>(response)
                }
            });
            let connection = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            if let Err(e) = connection
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(error = %e, "connection ended");
            }
        });
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SendError(pub String);

/// POSTs `body` with `headers` to `url` (http or https); returns the status and body.
pub async fn post(
    url: &str,
    headers: &[(String, String)],
    body: Vec<u8>,
) -> Result<(u16, Vec<u8>), SendError> {
    let uri: http::Uri = url
        .parse()
        .map_err(|e| SendError(format!("{url:?} is not a URL: {e}")))?;
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_native_roots()
        .map_err(|e| SendError(format!("loading the system's root certificates: {e}")))?
        .https_or_http()
        .enable_http1()
        .build();
    let client = hyper_util::client::legacy::Client::builder(TokioExecutor::new()).build(connector);
    let mut request =
        http::Request::post(uri).header(http::header::CONTENT_TYPE, "application/json");
    for (name, value) in headers {
        request = request.header(name.as_str(), value.as_str());
    }
    let request = request
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| SendError(format!("building the request: {e}")))?;
    let response = client.request(request).await.map_err(|e| {
        let cause = crate::telemetry::error_chain(&e);
        if e.is_connect() {
            SendError(format!(
                "could not connect to {url} ({cause}); is the receiver running (scribehook serve)?"
            ))
        } else {
            SendError(format!("POST {url}: {cause}"))
        }
    })?;
    let status = response.status().as_u16();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| SendError(format!("reading the response: {e}")))?
        .to_bytes();
    Ok((status, body.to_vec()))
}

/// What [`drain_queue`] did.
#[derive(Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Drained {
    pub processed: usize,
    /// Messages the processor reported failed: left on the queue, as the Lambda event
    /// source leaves them, to come back after their visibility timeout (then the DLQ).
    pub failed: usize,
}

/// Does locally what the SQS event source mapping does for the processor function:
/// receive batches of up to ten messages, hand them to the real processor handler as an
/// SQS event, delete those it did not report failed; until the queue has nothing visible.
pub async fn drain_queue(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    processor: &crate::pipeline::process::Processor,
) -> Result<Drained, SendError> {
    use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
    let mut drained = Drained::default();
    loop {
        let received = sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .send()
            .await
            .map_err(|e| {
                SendError(format!(
                    "receiving from {queue_url}: {}",
                    aws_sdk_sqs::error::DisplayErrorContext(e)
                ))
            })?;
        let messages = received.messages.unwrap_or_default();
        if messages.is_empty() {
            return Ok(drained);
        }
        let mut event = SqsEvent::default();
        event.records = messages
            .iter()
            .map(|m| {
                let mut record = SqsMessage::default();
                record.message_id = m.message_id.clone();
                record.receipt_handle = m.receipt_handle.clone();
                record.body = m.body.clone();
                record.event_source = Some("aws:sqs".into());
                record
            })
            .collect();
        let response = crate::entrypoints::lambda::processor_handler(
            processor,
            LambdaEvent::new(event, Context::default()),
        )
        .await
        .map_err(|e| SendError(format!("processor: {e}")))?;
        let failed: Vec<&str> = response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect();
        for m in &messages {
            if failed.contains(&m.message_id().unwrap_or_default()) {
                drained.failed += 1;
                continue;
            }
            sqs.delete_message()
                .queue_url(queue_url)
                .receipt_handle(m.receipt_handle().unwrap_or_default())
                .send()
                .await
                .map_err(|e| {
                    SendError(format!(
                        "deleting from {queue_url}: {}",
                        aws_sdk_sqs::error::DisplayErrorContext(e)
                    ))
                })?;
            drained.processed += 1;
        }
    }
}
