//! Lambda glue: API Gateway (REST v1 and HTTP v2) events into the ingest, SQS batches
//! into the processor. Everything else lives in the library proper.
//!
//! The ingest decodes API Gateway's event itself ([`GatewayRequest`]) instead of going
//! through lambda_http: its untagged `LambdaRequest` parses a large body twice, and its
//! conversion into an `http::Request` panics on input a request controls (a body flagged
//! base64 that is not base64, a `Host` that is not a valid URL host). Here the body is
//! decoded once (the decoded bytes are what the ingest verifies; a bad one is answered 400)
//! and method, path and headers are read straight from the event.

use std::time::Instant;

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayV2httpResponse};
use aws_lambda_events::encodings::Body;
use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use http::header::{HeaderValue, ALLOW, CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderMap, StatusCode};
use lambda_runtime::LambdaEvent;
use serde::Serialize;

use crate::entrypoints::gateway::{GatewayRequest, PayloadVersion};
use crate::pipeline::ingest::{Ingest, Reply};
use crate::pipeline::process::{DeliveryId, Processed, Processor};
use crate::telemetry::{self, Metric};

/// What API Gateway expects back, in the payload version it sent.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum GatewayResponse {
    V1(ApiGatewayProxyResponse),
    V2(ApiGatewayV2httpResponse),
}

impl GatewayResponse {
    pub fn status(&self) -> i64 {
        match self {
            GatewayResponse::V1(r) => r.status_code,
            GatewayResponse::V2(r) => r.status_code,
        }
    }

    pub fn body(&self) -> &str {
        let body = match self {
            GatewayResponse::V1(r) => r.body.as_ref(),
            GatewayResponse::V2(r) => r.body.as_ref(),
        };
        match body {
            Some(Body::Text(text)) => text,
            _ => "",
        }
    }

    pub fn headers(&self) -> &HeaderMap {
        match self {
            GatewayResponse::V1(r) => &r.headers,
            GatewayResponse::V2(r) => &r.headers,
        }
    }
}

fn respond(version: PayloadVersion, reply: &Reply) -> GatewayResponse {
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Some(secs) = reply.retry_after {
        headers.insert(RETRY_AFTER, HeaderValue::from(secs));
    }
    if reply.status == StatusCode::METHOD_NOT_ALLOWED {
        headers.insert(ALLOW, HeaderValue::from_static("POST"));
    }
    let body = Some(Body::Text(reply.body().to_string()));
    let status = i64::from(reply.status.as_u16());
    match version {
        PayloadVersion::V1 => {
            let mut r = ApiGatewayProxyResponse::default();
            r.status_code = status;
            r.headers = headers;
            r.body = body;
            GatewayResponse::V1(r)
        }
        PayloadVersion::V2 => {
            let mut r = ApiGatewayV2httpResponse::default();
            r.status_code = status;
            r.headers = headers;
            r.body = body;
            GatewayResponse::V2(r)
        }
    }
}

/// The ingest function's handler. Never returns `Err`: every outcome is an HTTP answer.
pub async fn ingest_handler(
    ingest: &Ingest,
    event: LambdaEvent<GatewayRequest>,
) -> Result<GatewayResponse, lambda_runtime::Error> {
    let (request, context) = (event.payload, event.context);
    Ok(telemetry::invocation(&context, answer(ingest, request)).await)
}

async fn answer(ingest: &Ingest, mut request: GatewayRequest) -> GatewayResponse {
    let Ok(body) = request.take_body() else {
        tracing::warn!(
            outcome = "malformed_event",
            status = 400,
            "request body flagged base64 is not base64"
        );
        return respond(request.version, &Reply::invalid_base64());
    };
    let reply = ingest
        .handle(&request.method, &request.path, &request.headers, &body)
        .await;
    respond(request.version, &reply)
}

/// The processor function's handler: each SQS message names one archived delivery. A
/// message that fails for a reason a retry can fix is reported back (partial batch
/// response) and SQS redelivers it; after the queue's maxReceiveCount it moves to the DLQ.
pub async fn processor_handler(
    processor: &Processor,
    event: LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, lambda_runtime::Error> {
    let (batch, context) = (event.payload, event.context);
    Ok(telemetry::invocation(&context, process_batch(processor, batch)).await)
}

async fn process_batch(processor: &Processor, batch: SqsEvent) -> SqsBatchResponse {
    let work = batch.records.into_iter().map(|message| async move {
        let started = Instant::now();
        let id = message.message_id.clone().unwrap_or_default();
        let delivery: DeliveryId = match message.body.as_deref().map(serde_json::from_str) {
            Some(Ok(delivery)) => delivery,
            _ => {
                tracing::error!(
                    message_id = id.as_str(),
                    outcome = "unreadable_message",
                    "SQS message is not a scribehook job; leaving it for the DLQ"
                );
                return Some(id);
            }
        };
        let result = processor.handle(&delivery).await;
        let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
        let provider = delivery.provider.as_str();
        let event_id = delivery.event_id.as_str();
        match result {
            Ok(Processed::Written(event)) => {
                let end_to_end_ms =
                    (processor.now().unix_millis() - event.received_at.unix_millis()) as f64;
                tracing::info!(
                    provider,
                    event_id,
                    event_type = event.event_type.as_str(),
                    subject_id = event.subject_id.as_str(),
                    outcome = "processed",
                    latency_ms = elapsed_ms,
                    end_to_end_ms,
                    "{provider} event processed"
                );
                telemetry::count(provider, Metric::Processed);
                telemetry::record(provider, Metric::EndToEndLatency, end_to_end_ms);
                None
            }
            Ok(Processed::Quarantined { location, code }) => {
                tracing::error!(
                    provider,
                    event_id,
                    outcome = "quarantined",
                    error_code = code,
                    quarantine = location.as_str(),
                    latency_ms = elapsed_ms,
                    "no retry can process this delivery: quarantined for replay after a fix"
                );
                telemetry::count(provider, Metric::Quarantined);
                None
            }
            Err(err) => {
                tracing::error!(
                    provider,
                    event_id,
                    outcome = "failed",
                    retry = true,
                    latency_ms = elapsed_ms,
                    error = err.to_string().as_str(),
                    "processing failed"
                );
                telemetry::count(provider, Metric::Failed);
                Some(id)
            }
        }
    });
    let failures = futures_util::future::join_all(work)
        .await
        .into_iter()
        .flatten()
        .map(|item_identifier| {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = item_identifier;
            failure
        })
        .collect();
    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = failures;
    response
}
