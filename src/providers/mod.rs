//! The providers. Each module exports one `Spec`: its signature schemes as data
//! (`scheme.rs` signs and verifies with them), its event model and its mapping to the
//! normalized event; this file maps each provider to its spec and answers from it.
//! `json.rs` reads provider JSON without letting values into error messages; `explain.rs`
//! says why a delivery was refused.

use std::fmt;

use http::HeaderMap;
use serde::Deserialize;

use crate::record::{Category, Component, ErrorInfo, EventDraft, Record, Status, Timestamp};
pub use crate::record::{Provider, UnknownProvider};
use crate::signature::{VerifyError, Window};
pub use explain::{Explanation, SecretCheck, SignatureCheck, TimestampCheck};
pub(crate) use json::read_json;
use scheme::{KeyEncoding, Scheme};

mod bota;
pub mod daily;
mod explain;
mod json;
mod nabla;
mod nabla_connect;
mod prosa;
mod scheme;

/// Everything the rest of the program needs to know of one provider. Each provider module
/// exports one `SPEC`; [`Provider::spec`] is the only place that maps a provider to it, and
/// every other question about a provider is answered from here.
pub(crate) struct Spec {
    /// The provider's name for people and for CloudFormation logical ids (`Nabla Connect`).
    pub title: &'static str,
    /// How a secret, exactly as the provider's console shows it, becomes key bytes.
    pub key_encoding: KeyEncoding,
    /// The published signature schemes by name, the default first (what `sign` can write).
    pub schemes: &'static [(&'static str, Scheme)],
    /// The headers the archive keeps beside the body: signature, time and identity.
    pub archived_headers: &'static [&'static str],
    /// The provider's own timestamp window when it publishes one; `None`: the global
    /// `SIGNATURE_TOLERANCE_SECONDS`.
    pub tolerance_secs: Option<u64>,
    /// Checks a delivery's signature over the exact raw body, noting what it finds.
    pub verify: fn(&Delivery<'_>, &mut Explanation) -> Result<(), VerifyError>,
    /// Adds the headers the provider sends beside its signature (ids, types) when signing.
    pub sign_extra: SignExtra,
    /// Reads a verified body into the normalized event's provider-side facts.
    pub normalize: fn(&HeaderMap, &[u8]) -> Result<EventDraft, MalformedEvent>,
    /// Body fields that only describe the delivery attempt (left out of the duplicate
    /// fingerprint).
    pub volatile_fields: &'static [&'static str],
    /// A handshake answered 200 before verification, nothing stored (Daily's check).
    pub endpoint_check: Option<fn(&[u8]) -> bool>,
    /// A test delivery answered 200 once verified, nothing stored (Prosa's ping).
    pub ping: Option<fn(&HeaderMap, &[u8]) -> bool>,
    /// The name under which the 200 answer repeats the event id, for a provider that waits
    /// for it (Nabla Connect's `request_uuid`).
    pub echo_event_id: Option<&'static str>,
    /// Whether the route may also sit behind API Gateway's JWT authorizer (Nabla Connect's
    /// OAuth alternative): the template offers an issuer and an audience for it.
    pub jwt_authorizer: bool,
    /// The test secret the samples in `events/` are signed with; never for a deployment.
    pub sample_secret: &'static str,
    /// Whether a record of this provider holds what its encounter was for: the rule
    /// `Record Completed` is sent by (docs/behaviour.md#completeness).
    pub complete: fn(&Record) -> bool,
}

/// Whether the component is there and completed.
pub(crate) fn completed(component: Option<&Component>) -> bool {
    component.is_some_and(|c| c.status == Status::Completed)
}

/// What signing adds to the scheme's headers.
pub(crate) type SignExtra =
    fn(Vec<(String, String)>, &[u8], &SignOptions) -> Result<Vec<(String, String)>, SignError>;

/// Signing adds nothing to the scheme's own headers.
pub(crate) fn no_extra_headers(
    headers: Vec<(String, String)>,
    _: &[u8],
    _: &SignOptions,
) -> Result<Vec<(String, String)>, SignError> {
    Ok(headers)
}

impl Provider {
    /// This provider's description: the one `match` over providers.
    pub(crate) fn spec(self) -> &'static Spec {
        match self {
            Provider::Daily => &daily::SPEC,
            Provider::Bota => &bota::SPEC,
            Provider::Nabla => &nabla::SPEC,
            Provider::Prosa => &prosa::SPEC,
            Provider::NablaConnect => &nabla_connect::SPEC,
        }
    }

    /// The environment variable holding this provider's comma-separated secrets.
    pub fn secrets_env(self) -> String {
        format!("{}_WEBHOOK_SECRETS", self.env_prefix())
    }

    /// The environment variable of this provider's own timestamp window.
    pub fn tolerance_env(self) -> String {
        format!("{}_SIGNATURE_TOLERANCE_SECONDS", self.env_prefix())
    }

    /// Whether `record` reached this provider's completeness rule
    /// (docs/behaviour.md#completeness).
    pub fn is_complete(self, record: &Record) -> bool {
        (self.spec().complete)(record)
    }

    /// The provider's own default window, when it publishes one.
    pub fn default_tolerance(self) -> Option<u64> {
        self.spec().tolerance_secs
    }

    /// What scripts, samples and the template need to know of this provider
    /// (`scribehook providers`).
    pub fn facts(self) -> Facts {
        let spec = self.spec();
        Facts {
            name: self.as_str(),
            title: spec.title,
            route: format!("/webhooks/{self}"),
            secrets_env: self.secrets_env(),
            secrets_arn_env: format!("{}_ARN", self.secrets_env()),
            tolerance_env: self.tolerance_env(),
            tolerance_default_secs: spec.tolerance_secs,
            key_encoding: match spec.key_encoding {
                KeyEncoding::Base64 => "base64",
                KeyEncoding::Utf8 => "utf8",
            },
            signature_headers: spec.archived_headers,
            schemes: self.sign_schemes(),
            jwt_authorizer: spec.jwt_authorizer,
            sample_secret: spec.sample_secret,
        }
    }

    /// The headers that carry this provider's signature and event identity: what the
    /// archive keeps beside the body so a delivery can be re-verified and re-parsed.
    pub fn signature_headers(self) -> &'static [&'static str] {
        self.spec().archived_headers
    }

    /// Turns secrets exactly as the provider's console shows them into signing keys
    /// (Daily's are base64 text; the others are used as their UTF-8 bytes).
    pub fn keys<S: AsRef<str>>(self, secrets: &[S]) -> Result<Keys, KeyError> {
        let mut keys = Vec::with_capacity(secrets.len());
        for (index, secret) in secrets.iter().enumerate() {
            let secret = secret.as_ref().trim();
            if secret.is_empty() {
                continue;
            }
            let bytes = self
                .spec()
                .key_encoding
                .decode(self, secret)
                .map_err(|reason| KeyError {
                    provider: self,
                    index,
                    reason,
                })?;
            keys.push(Key(bytes));
        }
        if keys.is_empty() {
            let reason = if secrets.is_empty() {
                "no secret configured"
            } else {
                // `--secret "$PROSA_SECRET"` with the variable unset, say.
                "the secret given is empty (an unset shell variable?)"
            };
            return Err(KeyError {
                provider: self,
                index: 0,
                reason: reason.into(),
            });
        }
        Ok(Keys(keys))
    }

    /// Checks the delivery's signature headers over the exact raw `body`, trying every key.
    pub fn verify(
        self,
        headers: &HeaderMap,
        body: &[u8],
        keys: &Keys,
        window: Window,
    ) -> Result<(), VerifyError> {
        self.check(
            headers,
            body,
            keys,
            window,
            &mut Explanation::new(self, false),
        )
    }

    /// [`Provider::verify`] with its findings kept (`scribehook verify --explain`): the
    /// scheme tried, the timestamp against the window, each signature's length and
    /// encoding, and each secret by position. Its `result` is what `verify` answers.
    pub fn explain(
        self,
        headers: &HeaderMap,
        body: &[u8],
        keys: &Keys,
        window: Window,
    ) -> Explanation {
        let mut ex = Explanation::new(self, true);
        ex.result = self.check(headers, body, keys, window, &mut ex);
        ex
    }

    fn check(
        self,
        headers: &HeaderMap,
        body: &[u8],
        keys: &Keys,
        window: Window,
        ex: &mut Explanation,
    ) -> Result<(), VerifyError> {
        let delivery = Delivery {
            headers,
            body,
            keys,
            window,
        };
        (self.spec().verify)(&delivery, ex)
    }

    /// The headers this provider would send for `body`: what `scribehook sign` prints and
    /// what the sample events carry.
    pub fn sign(
        self,
        keys: &Keys,
        body: &[u8],
        opts: &SignOptions,
    ) -> Result<Vec<(String, String)>, SignError> {
        self.sign_as(keys, body, opts, None)
    }

    /// Like [`Provider::sign`], in one of the provider's published schemes
    /// ([`Provider::sign_schemes`]; `None` is the first).
    pub fn sign_as(
        self,
        keys: &Keys,
        body: &[u8],
        opts: &SignOptions,
        scheme: Option<&str>,
    ) -> Result<Vec<(String, String)>, SignError> {
        let spec = self.spec();
        let chosen = match scheme.map(str::trim) {
            None => spec.schemes.first(),
            Some(name) => spec.schemes.iter().find(|(known, _)| *known == name),
        };
        let Some((_, chosen)) = chosen else {
            return Err(SignError(format!(
                "{self} has no signature scheme {:?}; expected one of {}",
                scheme.unwrap_or_default(),
                self.sign_schemes().join(", ")
            )));
        };
        let headers = chosen.sign(keys, body, opts.timestamp)?;
        (spec.sign_extra)(headers, body, opts)
    }

    /// The scheme names [`Provider::sign_as`] takes; the first is the default.
    pub fn sign_schemes(self) -> Vec<&'static str> {
        self.spec().schemes.iter().map(|(name, _)| *name).collect()
    }

    /// Parses a verified body into the normalized event's provider-side facts.
    pub fn normalize(self, headers: &HeaderMap, body: &[u8]) -> Result<EventDraft, MalformedEvent> {
        // serde would also read a struct from a JSON array; every envelope is an object.
        if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Err(MalformedEvent::new(format!(
                "{self} event body is not a JSON object"
            )));
        }
        let draft = (self.spec().normalize)(headers, body)?;
        // Every provider, whatever its model: an event is grouped under a subject id and
        // ordered by a time in bounds (docs/behaviour.md#signed-bytes-quoting-and-bounds).
        if draft.subject_id.trim().is_empty() {
            return Err(MalformedEvent::new(format!(
                "{self} event has no subject id: the fields that name it are absent or \
                 blank, and so is the event's own id"
            )));
        }
        if draft.occurred_at.is_some_and(|t| !t.in_bounds()) {
            return Err(MalformedEvent::new(format!(
                "{self} event time is outside 1970-01-01..9999-12-31"
            )));
        }
        Ok(draft)
    }

    /// Identity of a delivery's content for duplicate/conflict detection: the body without
    /// the fields that only describe the delivery attempt (Daily's `event_ts`), with JSON
    /// canonicalized so a re-serialized retry still matches.
    pub fn fingerprint(self, body: &[u8]) -> String {
        fingerprint(body, self.spec().volatile_fields)
    }

    /// A handshake answered 200 with nothing stored, signed or not (Daily's endpoint
    /// check, `{"test":"test"}` whitespace-insensitive).
    pub fn is_endpoint_check(self, body: &[u8]) -> bool {
        self.spec().endpoint_check.is_some_and(|check| check(body))
    }

    /// The name under which a 200 answer repeats the event id, when the provider waits for
    /// it (Nabla Connect's `request_uuid`).
    pub fn echo_event_id(self) -> Option<&'static str> {
        self.spec().echo_event_id
    }

    /// A test delivery answered 200 with nothing stored, but only once verified, so that
    /// it still shows a wrong secret (Prosa's `webhook.ping`; a job body under the ping
    /// header is not a ping).
    pub fn is_ping(self, headers: &HeaderMap, body: &[u8]) -> bool {
        self.spec().ping.is_some_and(|ping| ping(headers, body))
    }
}

/// A provider as the world outside the code sees it: `scribehook providers` prints one per
/// line, and the template, the samples and the scripts are generated from them.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Facts {
    /// The id in routes, records and keys (`nabla-connect`).
    pub name: &'static str,
    /// The name for people and CloudFormation logical ids (`Nabla Connect`).
    pub title: &'static str,
    pub route: String,
    pub secrets_env: String,
    pub secrets_arn_env: String,
    pub tolerance_env: String,
    /// The provider's own window when it has one; `null`: `SIGNATURE_TOLERANCE_SECONDS`.
    pub tolerance_default_secs: Option<u64>,
    /// How its secrets are written: `base64` text or `utf8` as shown.
    pub key_encoding: &'static str,
    pub signature_headers: &'static [&'static str],
    /// The published signature schemes `scribehook sign --scheme` takes, the default first.
    pub schemes: Vec<&'static str>,
    /// Whether the template offers a JWT authorizer for the route (`<Title>JwtIssuer`,
    /// `<Title>JwtAudience`).
    pub jwt_authorizer: bool,
    /// The test secret the samples in `events/` are signed with (never for a deployment).
    pub sample_secret: &'static str,
}

/// A delivery to verify, with what it is verified against.
pub(crate) struct Delivery<'a> {
    pub headers: &'a HeaderMap,
    /// The exact raw bytes, before any parsing.
    pub body: &'a [u8],
    pub keys: &'a Keys,
    pub window: Window,
}

/// A signing key. Its bytes never appear in `Debug` output or logs.
#[derive(Clone, PartialEq, Eq)]
pub struct Key(Vec<u8>);

impl Key {
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key(<{} bytes redacted>)", self.0.len())
    }
}

/// Every key configured for one provider; verification tries each (rotation).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Keys(Vec<Key>);

impl Keys {
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> {
        self.0.iter().map(Key::bytes)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn single(&self, provider: Provider) -> Result<&[u8], SignError> {
        match self.0.as_slice() {
            [only] => Ok(only.bytes()),
            _ => Err(SignError(format!(
                "{provider} signs with exactly one secret; got {}",
                self.0.len()
            ))),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{provider} secret #{}: {reason}", .index + 1)]
pub struct KeyError {
    pub provider: Provider,
    /// 0-based; the message counts from 1, as `verify --explain` does.
    pub index: usize,
    pub reason: String,
}

#[derive(Debug, Clone, Default)]
pub struct SignOptions {
    /// Unix seconds; the caller's clock when unset.
    pub timestamp: i64,
    pub event_id: Option<String>,
    pub event_type: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SignError(pub String);

/// A verified body this release cannot read: not JSON, not the provider's envelope, or a
/// type the provider's protocol wants refused. The delivery is still archived
/// (docs/behaviour.md#http-answers) so a later fix can replay it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct MalformedEvent {
    /// The answer's `error.code`: `malformed_event`, or `unknown_type` where the provider
    /// asks for a 400 on types it may add later (Nabla Connect).
    pub code: &'static str,
    pub message: String,
}

impl MalformedEvent {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            code: "malformed_event",
            message: message.into(),
        }
    }

    /// A well-formed event of a type this release does not take, for a provider that wants
    /// those refused rather than recorded as `other`.
    pub fn unknown_type(message: impl Into<String>) -> Self {
        Self {
            code: "unknown_type",
            message: message.into(),
        }
    }
}

/// What an envelope says of every event: its id, type and time.
pub(crate) struct Identity<'a> {
    pub id: &'a str,
    pub kind: &'a str,
    pub occurred_at: Option<Timestamp>,
}

impl Identity<'_> {
    /// The event grouped under `subject`, or under its own id when the body names none.
    pub fn event(&self, category: Category, status: Status, subject: Option<&str>) -> EventDraft {
        EventDraft::new(
            self.id,
            self.kind,
            category,
            non_empty(subject).unwrap_or(self.id),
            status,
            self.occurred_at,
        )
    }
}

/// A provider's failure, wherever its shape puts the parts: a plain string is the message;
/// an object has `code` and `message`, possibly under `error`. Bota documents the object,
/// Daily sends strings, Nabla's and Prosa's failure shapes are undocumented.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Failure {
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
}

impl Failure {
    pub fn from_value(value: &serde_json::Value) -> Self {
        Self::read(value, true)
    }

    fn read(value: &serde_json::Value, descend: bool) -> Self {
        let text = |name: &str| value.get(name)?.as_str().map(str::to_owned);
        match value {
            serde_json::Value::String(s) => Failure {
                code: None,
                message: non_empty(Some(s)).map(str::to_owned),
            },
            serde_json::Value::Object(_) => {
                let inner = match value.get("error") {
                    Some(inner) if descend => Self::read(inner, false),
                    _ => Failure::default(),
                };
                Failure {
                    code: text("code").or(inner.code),
                    message: text("message").or(inner.message),
                }
            }
            _ => Failure::default(),
        }
    }

    pub fn info(self, code: &str, message: &str) -> ErrorInfo {
        ErrorInfo {
            code: self.code.unwrap_or_else(|| code.to_owned()),
            message: self.message.unwrap_or_else(|| message.to_owned()),
        }
    }
}

/// A time field of a body, read strictly: RFC 3339 (or ISO 8601 without a zone, as UTC)
/// between 1970-01-01 and 9999-12-31. A time that is present but not one is refused,
/// naming the field, rather than replaced by the receipt time: it decides which event wins
/// a merge (docs/behaviour.md#signed-bytes-quoting-and-bounds).
pub(crate) fn read_time(
    provider: Provider,
    path: &str,
    text: &str,
) -> Result<Timestamp, MalformedEvent> {
    Timestamp::parse(text)
        .filter(|t| t.in_bounds())
        .ok_or_else(|| out_of_bounds(provider, path, "an RFC 3339 date-time"))
}

/// A time field of unix seconds (Daily's `event_ts`), read as strictly as [`read_time`].
pub(crate) fn read_unix_time(
    provider: Provider,
    path: &str,
    secs: f64,
) -> Result<Timestamp, MalformedEvent> {
    Timestamp::from_unix_f64(secs)
        .filter(|t| t.in_bounds())
        .ok_or_else(|| out_of_bounds(provider, path, "unix seconds"))
}

fn out_of_bounds(provider: Provider, path: &str, form: &str) -> MalformedEvent {
    MalformedEvent::new(format!(
        "{provider} event field {path}: expected {form} between 1970-01-01 and 9999-12-31"
    ))
}

/// `sha256-<hex>`: the id of a delivery that carries none (or cannot be read).
pub fn body_event_id(body: &[u8]) -> String {
    format!("sha256-{}", crate::signature::sha256_hex(body))
}

fn fingerprint(body: &[u8], volatile: &[&str]) -> String {
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(mut value) => {
            if let Some(object) = value.as_object_mut() {
                for field in volatile {
                    object.remove(*field);
                }
            }
            value.sort_all_objects();
            let canonical = serde_json::to_vec(&value).unwrap_or_else(|_| body.to_vec());
            crate::signature::sha256_hex(&canonical)
        }
        Err(_) => crate::signature::sha256_hex(body),
    }
}

/// Shared serde helpers for provider payloads, which are looser than their docs.
pub(crate) mod de {
    use serde::{Deserialize, Deserializer};

    /// A JSON value that may arrive as a string or a number (ids, speaker tags).
    pub fn opt_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        // A visitor rather than an untagged enum, which would buffer every value first: this
        // runs for each segment's speaker of a transcript.
        struct IdLike;

        impl<'de> serde::de::Visitor<'de> for IdLike {
            type Value = Option<String>;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string or a number")
            }

            fn visit_none<E>(self) -> Result<Self::Value, E> {
                Ok(None)
            }

            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(None)
            }

            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                d.deserialize_any(self)
            }

            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Some(v.to_owned()))
            }

            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(Some(v))
            }

            fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Some(v.to_string()))
            }

            fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Some(v.to_string()))
            }

            fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
                Ok(Some(v.to_string()))
            }
        }

        d.deserialize_option(IdLike)
    }

    /// One object or a list of them (Daily documents `transcription` as an array, but
    /// the other outputs are single objects; accept either everywhere).
    pub fn one_or_many<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
    where
        D: Deserializer<'de>,
        T: Deserialize<'de>,
    {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum OneOrMany<T> {
            Many(Vec<T>),
            One(T),
        }
        Ok(match Option::<OneOrMany<T>>::deserialize(d)? {
            Some(OneOrMany::Many(v)) => v,
            Some(OneOrMany::One(t)) => vec![t],
            None => Vec::new(),
        })
    }
}

/// Trimmed, non-empty text.
pub(crate) fn non_empty(text: Option<&str>) -> Option<&str> {
    text.map(str::trim).filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_ignores_delivery_fields_and_key_order() {
        let a = br#"{"id":"x","type":"t","event_ts":1.5,"payload":{"a":1,"b":2}}"#;
        let b = br#"{ "payload": {"b":2, "a":1}, "type":"t", "id":"x", "event_ts": 9 }"#;
        let c = br#"{"id":"x","type":"t","event_ts":1.5,"payload":{"a":1,"b":3}}"#;
        assert_eq!(
            Provider::Daily.fingerprint(a),
            Provider::Daily.fingerprint(b)
        );
        assert_ne!(
            Provider::Daily.fingerprint(a),
            Provider::Daily.fingerprint(c)
        );
        // event_ts is only volatile for Daily.
        assert_ne!(Provider::Bota.fingerprint(a), Provider::Bota.fingerprint(b));
    }

    #[test]
    fn keys_are_redacted_and_validated() {
        let keys = Provider::Bota.keys(&["whsec_abc", " "]).unwrap();
        assert_eq!(keys.len(), 1);
        assert!(!format!("{keys:?}").contains("whsec"));
        assert!(Provider::Bota.keys::<&str>(&[]).is_err());
        assert!(Provider::Daily.keys(&["not base64!"]).is_err());
    }
}
