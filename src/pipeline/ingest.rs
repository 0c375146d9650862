//! The ingest: one HTTP delivery in, one answer out (docs/behaviour.md#http-answers). No Lambda types here; the
//! Lambda glue (and the local server) hand over method, path, headers and raw body.
//!
//! route → size → (Daily endpoint check) → verify on the raw bytes → parse → archive with a
//! conditional create → duplicate/conflict → enqueue or process inline → answer. Nothing is
//! stored before verification, and nothing is acknowledged before the archive object exists.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use http::{HeaderMap, Method, StatusCode};
use serde_json::json;
use tracing::Instrument;

use crate::config::{Limits, Secrets, SecretsError};
use crate::pipeline::delivery::Verified;
use crate::pipeline::process::{DeliveryId, Processed, Processor};
use crate::providers::body_event_id;
use crate::record::{system_clock, Clock, EventDraft, Provider, Timestamp};
use crate::signature::{VerifyError, Window};
use crate::storage::archive::{Archive, ArchivedDelivery, Created};
use crate::storage::{Fault, StoreError};
use crate::telemetry::{self, Outcome};

/// Seconds a provider is asked to wait after a 503.
pub const RETRY_AFTER_SECS: u32 = 30;

/// The capability the ingest needs of a queue (SQS in production): send one message.
#[async_trait]
pub trait Queue: Send + Sync {
    async fn send(&self, message: String) -> Result<(), StoreError>;
}

/// Where a verified, archived delivery goes next.
pub enum Dispatch {
    /// `QUEUE_URL`: the processor function picks it up.
    Queue(Arc<dyn Queue>),
    /// No queue: process before answering (local runs, small deployments).
    Inline(Arc<Processor>),
}

impl Dispatch {
    /// Hands on an archived delivery. `fresh` is the draft the ingest parsed from the body
    /// it has just archived (`Created::New`), which inline processing uses instead of
    /// reading the archive back.
    async fn send(
        &self,
        delivery: &DeliveryId,
        fresh: Option<(EventDraft, Timestamp)>,
    ) -> Result<(), StoreError> {
        let processor = match self {
            Dispatch::Queue(queue) => {
                let message = serde_json::to_string(delivery)
                    .map_err(|e| StoreError::new("encode queue message", e))?;
                return queue.send(message).await;
            }
            Dispatch::Inline(processor) => processor,
        };
        let processed = match fresh {
            Some((draft, received_at)) => {
                processor.handle_fresh(delivery, draft, received_at).await
            }
            None => processor.handle(delivery).await,
        };
        // What no retry can process is quarantined (and logged) by the processor; the
        // provider gets its 200, since the delivery is archived.
        match processed {
            Ok(Processed::Written(_)) => Ok(()),
            Ok(Processed::Quarantined { location, code }) => {
                tracing::error!(provider = %delivery.provider, event_id = delivery.event_id.as_str(), error_code = code, quarantine = location.as_str(), "inline processing quarantined the delivery");
                telemetry::count(delivery.provider.as_str(), telemetry::Metric::Quarantined);
                Ok(())
            }
            Err(e) => Err(StoreError::new("process", e)),
        }
    }
}

pub struct Ingest {
    secrets: Secrets,
    limits: Limits,
    archive: Archive,
    dispatch: Dispatch,
    clock: Clock,
}

/// An answer of docs/behaviour.md#http-answers.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub status: StatusCode,
    pub outcome: Outcome,
    /// The accepted (or repeated) event's id.
    pub event_id: Option<String>,
    /// Why the delivery was refused, for the caller and the log.
    pub message: Option<String>,
    pub retry_after: Option<u32>,
    /// The name under which the answer repeats the event id for a provider that waits for
    /// it (Nabla Connect's `request_uuid`).
    pub echo: Option<&'static str>,
}

impl Reply {
    fn ok(provider: Provider, outcome: Outcome, event_id: &str) -> Self {
        Reply {
            status: StatusCode::OK,
            outcome,
            event_id: Some(event_id.to_owned()),
            message: None,
            retry_after: None,
            echo: provider.echo_event_id(),
        }
    }

    fn endpoint_check() -> Self {
        Reply {
            status: StatusCode::OK,
            outcome: Outcome::EndpointCheck,
            event_id: None,
            message: None,
            retry_after: None,
            echo: None,
        }
    }

    fn error(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Reply {
            status,
            outcome: Outcome::Rejected(code),
            event_id: None,
            message: Some(message.into()),
            retry_after: (status == StatusCode::SERVICE_UNAVAILABLE).then_some(RETRY_AFTER_SECS),
            echo: None,
        }
    }

    fn unavailable(err: impl std::fmt::Display) -> Self {
        // The detail goes to the log; the caller only learns to retry.
        tracing::error!(error = err.to_string().as_str(), "dependency failed");
        Reply::error(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "a storage dependency is unavailable; the delivery was not acknowledged, retry later",
        )
    }

    /// A 503 for one of our own dependencies. An operator error (a missing or forbidden
    /// bucket, table or queue) is also logged once per cold start with what to fix.
    fn store_failed(err: StoreError) -> Self {
        static HINTED: std::sync::Once = std::sync::Once::new();
        if err.fault == Fault::Operator {
            HINTED.call_once(|| {
                tracing::error!(operation = err.operation.as_str(), "operator error: a resource this function uses is missing or forbidden; check that ARCHIVE, STORE and QUEUE_URL name existing resources and that the function's role may use them (deliveries are answered 503 until then, so providers keep retrying)");
            });
        }
        Reply::unavailable(err)
    }

    fn unknown_provider(message: impl Into<String>) -> Self {
        Reply::error(StatusCode::NOT_FOUND, "unknown_provider", message)
    }

    fn refused(err: &VerifyError) -> Self {
        Reply::error(err.status(), err.code(), err.to_string())
    }

    /// A provider's test delivery (Prosa's `webhook.ping`): verified, answered, not stored.
    fn ping() -> Self {
        Reply {
            outcome: Outcome::Ping,
            ..Reply::endpoint_check()
        }
    }

    /// A 400 for a request whose body API Gateway flagged as base64 but is not.
    pub fn invalid_base64() -> Self {
        Reply::error(
            StatusCode::BAD_REQUEST,
            "malformed_event",
            "the request body is flagged base64-encoded but is not valid base64",
        )
    }

    /// The JSON body of the answer.
    pub fn body(&self) -> serde_json::Value {
        match (self.outcome, &self.message) {
            (Outcome::Rejected(code), message) => {
                json!({ "error": { "code": code, "message": message.as_deref().unwrap_or_default() } })
            }
            (Outcome::EndpointCheck | Outcome::Ping, _) => json!({ "status": "ok" }),
            (outcome, _) => {
                let event_id = self.event_id.as_deref().unwrap_or_default();
                let mut body = json!({ "status": outcome.as_str(), "event_id": event_id });
                if let (Some(name), Some(fields)) = (self.echo, body.as_object_mut()) {
                    fields.insert(name.to_owned(), json!(event_id));
                }
                body
            }
        }
    }

    pub fn body_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(&self.body()).unwrap_or_default()
    }
}

/// The provider named by a `/webhooks/<provider>` path; API Gateway stage prefixes
/// (`/prod/webhooks/daily`) are allowed. The refusal does not repeat the path
/// (docs/behaviour.md#signed-bytes-quoting-and-bounds).
pub fn route(path: &str) -> Result<Provider, String> {
    let mut segments = path.trim_end_matches('/').rsplit('/');
    let name = segments.next().unwrap_or_default();
    if segments.next() != Some("webhooks") {
        return Err("no webhook route at this path; use POST /webhooks/<provider>".into());
    }
    name.parse::<Provider>().map_err(|_| {
        let names = Provider::ALL.map(Provider::as_str).join(", ");
        format!("the route names no provider this release serves; expected one of {names}")
    })
}

impl Ingest {
    /// An ingest on the system clock.
    pub fn new(secrets: Secrets, archive: Archive, dispatch: Dispatch, limits: Limits) -> Self {
        Self {
            secrets,
            limits,
            archive,
            dispatch,
            clock: system_clock(),
        }
    }

    /// The same ingest reading time from `clock` (tests, replays of captured deliveries).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    pub fn archive(&self) -> &Archive {
        &self.archive
    }

    pub async fn handle(
        &self,
        method: &Method,
        path: &str,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Reply {
        let started = Instant::now();
        let mut log = telemetry::Delivery::new(path);
        let answer = self.answer(method, path, headers, body, &mut log);
        let reply = match tokio::time::timeout(self.limits.deadline, answer).await {
            Ok(reply) => reply.unwrap_or_else(|refusal| refusal),
            // Whatever was under way is dropped: an archived delivery is answered
            // `duplicate` and dispatched on the provider's retry.
            Err(_) => Reply::unavailable(format!(
                "INGEST_DEADLINE_MS ({} ms) spent before the delivery was stored and dispatched",
                self.limits.deadline.as_millis()
            )),
        };
        log.finish(
            reply.outcome,
            reply.status.as_u16(),
            reply.message.as_deref(),
            started.elapsed(),
        );
        reply
    }

    /// route → size → (endpoint check) → verify → [`Self::accept`]. Every refusal is an
    /// `Err` answer, and nothing is stored before [`Verified`] exists.
    async fn answer(
        &self,
        method: &Method,
        path: &str,
        headers: &HeaderMap,
        body: &[u8],
        log: &mut telemetry::Delivery,
    ) -> Result<Reply, Reply> {
        let provider = self.admit(method, path, body)?;
        log.provider = Some(provider);
        if provider.is_endpoint_check(body) {
            return Ok(Reply::endpoint_check());
        }
        let now = (self.clock)();
        let verified = self.verify(provider, headers, body, now, log).await?;
        if provider.is_ping(headers, body) {
            return Ok(Reply::ping());
        }
        self.accept(&verified, now, log).await
    }

    /// The provider of the route, if this endpoint serves it, the method is POST and the
    /// body is within bounds.
    fn admit(&self, method: &Method, path: &str, body: &[u8]) -> Result<Provider, Reply> {
        let provider = route(path).map_err(Reply::unknown_provider)?;
        if !self.secrets.serves(provider) {
            return Err(Reply::unknown_provider(format!(
                "provider {provider} is not enabled on this endpoint"
            )));
        }
        if method != Method::POST {
            return Err(Reply::error(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                format!("{method} is not accepted; webhooks are delivered with POST"),
            ));
        }
        if body.len() > self.limits.max_body_bytes {
            return Err(Reply::error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!(
                    "the body is {} bytes; MAX_BODY_BYTES is {}",
                    body.len(),
                    self.limits.max_body_bytes
                ),
            ));
        }
        Ok(provider)
    }

    async fn verify<'a>(
        &self,
        provider: Provider,
        headers: &'a HeaderMap,
        body: &'a [u8],
        now: Timestamp,
        log: &mut telemetry::Delivery,
    ) -> Result<Verified<'a>, Reply> {
        let keys = self.secrets.keys(provider).await.map_err(|e| match e {
            SecretsError::NotEnabled(p) => {
                Reply::unknown_provider(format!("provider {p} is not enabled"))
            }
            e => Reply::unavailable(e),
        })?;
        let window = Window::new(now.unix_seconds(), self.limits.tolerance(provider));
        let checked = telemetry::stage("verify")
            .in_scope(|| Verified::check(provider, headers, body, keys, window));
        checked.map_err(|e| {
            // A stale refusal's log line states the skew: a provider clock on local time
            // shows at once as whole hours.
            log.skew_secs = e.skew_secs();
            Reply::refused(&e)
        })
    }

    /// Archives a verified delivery whatever its content, then tells a new event from a
    /// duplicate or a conflict, and dispatches it.
    async fn accept(
        &self,
        verified: &Verified<'_>,
        now: Timestamp,
        log: &mut telemetry::Delivery,
    ) -> Result<Reply, Reply> {
        let provider = verified.provider();
        let parsed = telemetry::stage("parse + normalize")
            .in_scope(|| provider.normalize(verified.headers(), verified.body()));
        let event_id = match &parsed {
            Ok(draft) if !draft.event_id.trim().is_empty() => draft.event_id.clone(),
            _ => body_event_id(verified.body()),
        };
        log.event_id = Some(event_id.clone());
        log.event_type = parsed.as_ref().ok().map(|d| d.event_type.clone());
        let created = self
            .archive
            .create(verified, &event_id, now)
            .instrument(telemetry::stage("archive"))
            .await
            .map_err(Reply::store_failed)?;
        let draft = match parsed {
            Ok(draft) => draft,
            Err(e) => {
                return Err(Reply::error(
                    StatusCode::BAD_REQUEST,
                    e.code,
                    format!("{e} (archived as {event_id} for replay)"),
                ))
            }
        };
        let (outcome, fresh) = match created {
            Created::New => (Outcome::Accepted, Some((draft, now))),
            Created::Existing(first) => {
                let outcome = self.repeat(verified, &event_id, now, &first).await?;
                (outcome, None)
            }
        };
        // A duplicate or conflict is dispatched again unless the first is in its records:
        // if the first was archived but its dispatch failed (and it was answered 503), this
        // is what gets it processed. Processing is idempotent; the check only saves a run
        // (and its output downloads), so a failed check dispatches.
        if fresh.is_none() && self.already_processed(provider, &event_id).await {
            return Ok(Reply::ok(provider, outcome, &event_id));
        }
        let delivery = DeliveryId {
            provider,
            event_id: event_id.clone(),
        };
        self.dispatch
            .send(&delivery, fresh)
            .instrument(telemetry::stage("dispatch"))
            .await
            .map_err(Reply::store_failed)?;
        Ok(Reply::ok(provider, outcome, &event_id))
    }

    /// Whether the processed mark of the event is there; a mark that cannot be read counts
    /// as absent (the delivery is dispatched again, which processing tolerates).
    async fn already_processed(&self, provider: Provider, event_id: &str) -> bool {
        match self.archive.is_processed(provider, event_id).await {
            Ok(processed) => processed,
            Err(e) => {
                tracing::warn!(%provider, event_id, error = e.to_string().as_str(), "processed mark unreadable: dispatching the redelivery again");
                false
            }
        }
    }

    /// A second delivery of an archived event id: the same content is a duplicate; other
    /// content is a conflict, archived beside the first while the records keep the first.
    async fn repeat(
        &self,
        verified: &Verified<'_>,
        event_id: &str,
        now: Timestamp,
        first: &ArchivedDelivery,
    ) -> Result<Outcome, Reply> {
        let provider = verified.provider();
        let fingerprint = provider.fingerprint(verified.body());
        let same = first
            .body()
            .is_ok_and(|b| provider.fingerprint(&b) == fingerprint);
        if same {
            return Ok(Outcome::Duplicate);
        }
        let variant = self
            .archive
            .create_variant(verified, event_id, now, &fingerprint)
            .await
            .map_err(Reply::store_failed)?;
        tracing::warn!(%provider, event_id, variant = variant.as_str(), "same event id, different content: variant archived, records keep the first");
        Ok(Outcome::Conflict)
    }
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
