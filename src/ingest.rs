//! The ingest: one HTTP delivery in, one contract §2 answer out. No Lambda types here; the
//! Lambda glue (and the local server) hand over method, path, headers and raw body.
//!
//! route → size → (Daily endpoint check) → verify on the raw bytes → parse → archive with a
//! conditional create → duplicate/conflict → enqueue or process inline → answer. Nothing is
//! stored before verification, and nothing is acknowledged before the archive object exists.

use std::sync::Arc;
use std::time::Instant;

use http::{HeaderMap, Method, StatusCode};
use serde_json::json;

use crate::config::{Secrets, SecretsError};
use crate::normalized::Timestamp;
use crate::process::{Job, Processor};
use crate::providers::{body_event_id, Provider};
use crate::signature::{VerifyError, Window};
use crate::storage::archive::{Archive, ArchivedDelivery, Created};
use crate::storage::StoreError;
use crate::telemetry::{self, Outcome};

/// Seconds a provider is asked to wait after a 503.
pub const RETRY_AFTER_SECS: u32 = 30;

/// Where a verified, archived delivery goes next.
pub enum Dispatch {
    /// `QUEUE_URL`: the processor function picks it up.
    Queue {
        client: aws_sdk_sqs::Client,
        url: String,
    },
    /// No queue: process before answering (local runs, small deployments).
    Inline(Arc<Processor>),
}

impl Dispatch {
    async fn send(&self, job: &Job) -> Result<(), StoreError> {
        match self {
            Dispatch::Queue { client, url } => {
                let body =
                    serde_json::to_string(job).map_err(|e| StoreError::new("encode job", e))?;
                client
                    .send_message()
                    .queue_url(url)
                    .message_body(body)
                    .send()
                    .await
                    .map_err(|e| {
                        StoreError::new("sqs send", aws_sdk_sqs::error::DisplayErrorContext(e))
                    })?;
                Ok(())
            }
            Dispatch::Inline(processor) => match processor.process(job).await {
                Ok(_) => Ok(()),
                // A delivery we cannot parse is archived and answered 400 before dispatch;
                // anything else that is not retryable should not make the provider retry.
                Err(e) if !e.is_retryable() => {
                    tracing::warn!(provider = %job.provider, event_id = %job.event_id, error = %e, "inline processing gave up");
                    Ok(())
                }
                Err(e) => Err(StoreError::new("process", e)),
            },
        }
    }
}

pub type Clock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

pub struct Ingest {
    pub secrets: Secrets,
    pub tolerance_secs: u64,
    pub max_body_bytes: usize,
    pub archive: Archive,
    pub dispatch: Dispatch,
    pub clock: Clock,
}

/// An answer of contract §2.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub status: StatusCode,
    pub body: serde_json::Value,
    pub retry_after: Option<u32>,
    pub outcome: Outcome,
}

impl Reply {
    fn ok(status: &str, event_id: &str, outcome: Outcome) -> Self {
        Reply {
            status: StatusCode::OK,
            body: json!({ "status": status, "event_id": event_id }),
            retry_after: None,
            outcome,
        }
    }

    fn error(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Reply {
            status,
            body: json!({ "error": { "code": code, "message": message.into() } }),
            retry_after: (status == StatusCode::SERVICE_UNAVAILABLE).then_some(RETRY_AFTER_SECS),
            outcome: Outcome::Rejected(code),
        }
    }

    fn unavailable(err: impl std::fmt::Display) -> Self {
        // The detail goes to the log; the caller only learns to retry.
        tracing::error!(error = %err, "dependency failed");
        Reply::error(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "a storage dependency is unavailable; the delivery was not acknowledged, retry later",
        )
    }

    /// A 400 for a request whose body API Gateway flagged as base64 but is not.
    pub fn invalid_base64() -> Self {
        Reply::error(
            StatusCode::BAD_REQUEST,
            "malformed_event",
            "the request body is flagged base64-encoded but is not valid base64",
        )
    }

    pub fn body_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(&self.body).unwrap_or_default()
    }
}

/// The provider named by a `/webhooks/<provider>` path; API Gateway stage prefixes
/// (`/prod/webhooks/daily`) are allowed.
pub fn route(path: &str) -> Result<Provider, String> {
    let mut segments = path.trim_end_matches('/').rsplit('/');
    let name = segments.next().unwrap_or_default();
    if segments.next() != Some("webhooks") {
        return Err(format!(
            "no webhook route at {path:?}; use POST /webhooks/<provider>"
        ));
    }
    name.parse::<Provider>().map_err(|e| e.to_string())
}

impl Ingest {
    pub async fn handle(
        &self,
        method: &Method,
        path: &str,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Reply {
        let started = Instant::now();
        let mut log = telemetry::Delivery::new(path);
        let reply = self.answer(method, path, headers, body, &mut log).await;
        log.finish(&reply, started.elapsed());
        reply
    }

    async fn answer(
        &self,
        method: &Method,
        path: &str,
        headers: &HeaderMap,
        body: &[u8],
        log: &mut telemetry::Delivery,
    ) -> Reply {
        let provider = match route(path) {
            Ok(p) if self.secrets.serves(p) => p,
            Ok(p) => {
                return Reply::error(
                    StatusCode::NOT_FOUND,
                    "unknown_provider",
                    format!("provider {p} is not enabled on this endpoint"),
                )
            }
            Err(message) => {
                return Reply::error(StatusCode::NOT_FOUND, "unknown_provider", message)
            }
        };
        log.provider = Some(provider);
        if method != Method::POST {
            return Reply::error(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                format!("{method} is not accepted; webhooks are delivered with POST"),
            );
        }
        if body.len() > self.max_body_bytes {
            return Reply::error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!(
                    "the body is {} bytes; MAX_BODY_BYTES is {}",
                    body.len(),
                    self.max_body_bytes
                ),
            );
        }
        if provider.is_endpoint_check(body) {
            return Reply {
                status: StatusCode::OK,
                body: json!({ "status": "ok" }),
                retry_after: None,
                outcome: Outcome::EndpointCheck,
            };
        }
        let keys = match self.secrets.keys(provider).await {
            Ok(keys) => keys,
            Err(SecretsError::NotEnabled(p)) => {
                return Reply::error(
                    StatusCode::NOT_FOUND,
                    "unknown_provider",
                    format!("provider {p} is not enabled"),
                )
            }
            Err(e) => return Reply::unavailable(e),
        };
        let now = (self.clock)();
        if let Err(e) = provider.verify(
            headers,
            body,
            keys,
            Window::new(now.unix_seconds(), self.tolerance_secs),
        ) {
            return verify_reply(&e);
        }

        // Verified: from here on the delivery is archived whatever its content.
        let parsed = provider.normalize(headers, body);
        let event_id = match &parsed {
            Ok(draft) if !draft.event_id.trim().is_empty() => draft.event_id.clone(),
            _ => body_event_id(body),
        };
        log.event_id = Some(event_id.clone());
        log.event_type = parsed.as_ref().ok().map(|d| d.event_type.clone());
        let delivery = ArchivedDelivery::new(provider, &event_id, now, headers, body);
        let created = match self.archive.create(&delivery).await {
            Ok(created) => created,
            Err(e) => return Reply::unavailable(e),
        };
        if let Err(e) = &parsed {
            return Reply::error(
                StatusCode::BAD_REQUEST,
                "malformed_event",
                format!("{e} (archived as {event_id} for replay)"),
            );
        }
        let job = Job {
            provider,
            event_id: event_id.clone(),
        };
        let status = match created {
            Created::New => ("accepted", Outcome::Accepted),
            Created::Existing(first) => {
                let fingerprint = provider.fingerprint(body);
                let same = first
                    .body()
                    .is_ok_and(|b| provider.fingerprint(&b) == fingerprint);
                if same {
                    ("duplicate", Outcome::Duplicate)
                } else {
                    match self.archive.create_variant(&delivery, &fingerprint).await {
                        Ok(location) => {
                            tracing::warn!(%provider, %event_id, variant = %location, "same event id, different content: variant archived, records keep the first");
                        }
                        Err(e) => return Reply::unavailable(e),
                    }
                    ("conflict", Outcome::Conflict)
                }
            }
        };
        // Dispatch again for a duplicate or conflict too: if the first delivery was archived
        // but its dispatch failed (and it was answered 503), this is what gets it processed.
        // Processing is idempotent, so a second run costs nothing but time.
        if let Err(e) = self.dispatch.send(&job).await {
            return Reply::unavailable(e);
        }
        Reply::ok(status.0, &event_id, status.1)
    }
}

fn verify_reply(err: &VerifyError) -> Reply {
    Reply::error(StatusCode::UNAUTHORIZED, err.code(), err.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_take_the_last_segment_after_webhooks() {
        assert_eq!(route("/webhooks/daily"), Ok(Provider::Daily));
        assert_eq!(route("/prod/webhooks/Bota/"), Ok(Provider::Bota));
        assert!(route("/webhooks/zoom").is_err());
        assert!(route("/hooks/daily").is_err());
        assert!(route("/").is_err());
        assert!(route("").is_err());
    }
}
