//! What the fuzz targets share: the input framing (header lines, a blank line, the raw
//! body), signature placeholders, an oracle for "a full correct signature is present" that
//! is written here from the providers' published formulas (not with scribehook's own
//! signing code), and one real ingest on a local file store for the API Gateway targets.
//!
//! Input of the verify and normalize targets: one byte choosing the provider, its index in
//! `Provider::ALL` ([`pick_provider`]; `\0` is Daily), then a framing that keeps seeds
//! readable:
//!
//! ```text
//! \0X-Webhook-Signature: @sig
//! X-Webhook-Timestamp: @now
//!
//! {"type":"meeting.started",…}
//! ```
//!
//! Everything before the first blank line is `Name: value` lines (lines that are no valid
//! header are skipped); everything after it is the body, byte for byte. In header values,
//! `@now` becomes [`NOW`] in unix seconds, `@iso` the same instant in RFC 3339, `@sig` the
//! correct digest of the provider's main scheme (over the body and the timestamp header
//! as it reads after substitution) and `@hmac` Prosa's `sha256=` digest. The fuzzer mutates
//! around correct signatures that way, which it could never forge by itself.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use http::{HeaderMap, HeaderName, HeaderValue};
use scribehook::entrypoints::app;
use scribehook::entrypoints::lambda::GatewayResponse;
use scribehook::pipeline::ingest::Ingest;
use scribehook::providers::Keys;
use scribehook::{Provider, SignOptions, Timestamp, Window};
use sha2::{Digest, Sha256};

/// The instant every fuzzed delivery is verified at: the sample events' `signed_at`
/// (events/manifest.json), so the committed samples are fresh seeds.
pub const NOW: i64 = 1_767_225_600;
pub const TOLERANCE: u64 = 300;

/// The test secret the samples are signed with (events/README.md), as the provider shows
/// it: test data, not signing logic, so it comes from the provider list.
pub fn secret(provider: Provider) -> &'static str {
    provider.facts().sample_secret
}

pub fn keys(provider: Provider) -> &'static Keys {
    static KEYS: OnceLock<Vec<Keys>> = OnceLock::new();
    let all = KEYS.get_or_init(|| {
        Provider::ALL
            .into_iter()
            .map(|p| p.keys(&[secret(p)]).expect("test secret"))
            .collect()
    });
    &all[Provider::ALL.iter().position(|p| *p == provider).unwrap()]
}

/// The signing key bytes, decoded here independently of scribehook (the list says only
/// whether the secret is written as base64 or used as its UTF-8 text).
fn key_bytes(provider: Provider) -> Vec<u8> {
    match provider.facts().key_encoding {
        "base64" => STANDARD.decode(secret(provider)).unwrap(),
        _ => secret(provider).as_bytes().to_vec(),
    }
}

pub fn window() -> Window {
    Window::new(NOW, TOLERANCE)
}

fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut d = Sha256::new();
    for p in parts {
        d.update(p);
    }
    d.finalize().into()
}

/// The timestamp header of a provider whose scheme has one.
pub fn timestamp_header(provider: Provider) -> Option<&'static str> {
    match provider {
        Provider::Daily => Some("x-webhook-timestamp"),
        Provider::Bota => Some("x-bota-timestamp"),
        Provider::Nabla => Some("x-nabla-webhook-timestamp"),
        Provider::Prosa => None,
        Provider::NablaConnect => Some("x-nabla-connect-timestamp"),
    }
}

/// The correct digest of `provider`'s main scheme, encoded as its header writes it
/// (without prefixes): from the published formulas, computed here.
pub fn expected_signature(provider: Provider, timestamp: &str, body: &[u8]) -> String {
    let key = key_bytes(provider);
    let ts = timestamp.as_bytes();
    match provider {
        Provider::Daily => STANDARD.encode(hmac(&key, &[ts, b".", body])),
        Provider::Bota => hex::encode(hmac(&key, &[ts, b".", body])),
        Provider::Nabla => hex::encode(hmac(&key, &[ts, body])),
        Provider::Prosa => hex::encode(sha256(&[&key, b".", body])),
        Provider::NablaConnect => hex::encode(hmac(&key, &[ts, body])),
    }
}

/// Prosa's GL Speech scheme: hex(HMAC-SHA256(secret, body)).
pub fn expected_prosa_hmac(body: &[u8]) -> String {
    hex::encode(hmac(&key_bytes(Provider::Prosa), &[body]))
}

/// Header lines and body of a framed input.
pub struct Framed<'a> {
    pub headers: Vec<(&'a [u8], Vec<u8>)>,
    pub body: &'a [u8],
}

pub fn frame(data: &[u8]) -> Framed<'_> {
    let Some(split) = data.windows(2).position(|w| w == b"\n\n") else {
        return Framed {
            headers: Vec::new(),
            body: data,
        };
    };
    let (head, body) = (&data[..split], &data[split + 2..]);
    let headers = head
        .split(|b| *b == b'\n')
        .filter_map(|line| {
            let colon = line.iter().position(|b| *b == b':')?;
            let name = line[..colon].trim_ascii();
            let value = &line[colon + 1..];
            let value = value.strip_prefix(b" ").unwrap_or(value);
            Some((name, value.to_vec()))
        })
        .collect();
    Framed { headers, body }
}

fn replace(haystack: &[u8], needle: &[u8], with: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(haystack.len());
    let mut i = 0;
    while i < haystack.len() {
        if haystack[i..].starts_with(needle) {
            out.extend_from_slice(with);
            i += needle.len();
        } else {
            out.push(haystack[i]);
            i += 1;
        }
    }
    out
}

/// The framed headers with placeholders substituted, as a `HeaderMap` (pairs that are no
/// valid header are dropped, as an HTTP front end would refuse them).
pub fn headers(provider: Provider, framed: &Framed<'_>) -> HeaderMap {
    let now = NOW.to_string();
    let iso = Timestamp::from_unix(NOW).unwrap().to_string();
    let clocked: Vec<(&[u8], Vec<u8>)> = framed
        .headers
        .iter()
        .map(|(name, value)| {
            let value = replace(value, b"@now", now.as_bytes());
            (*name, replace(&value, b"@iso", iso.as_bytes()))
        })
        .collect();
    // The timestamp the digest covers: the timestamp header as the verifier will read it.
    let timestamp = timestamp_header(provider)
        .and_then(|h| {
            clocked
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(h.as_bytes()))
        })
        .map(|(_, v)| String::from_utf8_lossy(v).trim().to_owned())
        .unwrap_or_default();
    let sig = expected_signature(provider, &timestamp, framed.body);
    let prosa_hmac = expected_prosa_hmac(framed.body);
    let mut map = HeaderMap::new();
    for (name, value) in clocked {
        let value = replace(&value, b"@sig", sig.as_bytes());
        let value = replace(&value, b"@hmac", prosa_hmac.as_bytes());
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name),
            HeaderValue::from_bytes(&value),
        ) {
            map.append(n, v);
        }
    }
    map
}

/// The one value of `name`, visible text, trimmed, non-empty; else why not.
fn one<'h>(headers: &'h HeaderMap, name: &str) -> Result<&'h str, String> {
    let mut all = headers.get_all(name).iter();
    let first = all.next().ok_or(format!("{name} missing"))?;
    if all.next().is_some() {
        return Err(format!("{name} repeated"));
    }
    let text = first
        .to_str()
        .map_err(|_| format!("{name} not text"))?
        .trim();
    if text.is_empty() {
        return Err(format!("{name} blank"));
    }
    Ok(text)
}

fn in_window(unix: i64) -> Result<(), String> {
    if NOW.abs_diff(unix) > TOLERANCE {
        return Err(format!("timestamp {unix} outside the window"));
    }
    Ok(())
}

fn decimal(text: &str) -> Result<i64, String> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("timestamp {text:?} is not decimal"));
    }
    text.parse()
        .map_err(|_| format!("timestamp {text:?} overflows"))
}

/// The string value of the body's first top-level `id` key: what X-Bota-Event-Id must
/// equal. What follows that key is not the rule's: a correctly signed body that is not JSON
/// after its id passes verification and is refused 400 by the parser (docs/behaviour.md#http-answers).
fn first_top_level_id(body: &[u8]) -> Option<String> {
    use serde::de::{Deserializer as _, Error as _, IgnoredAny, MapAccess, Visitor};
    use std::cell::RefCell;

    struct Find<'a>(&'a RefCell<Option<Option<String>>>);
    impl<'de> Visitor<'de> for Find<'_> {
        type Value = ();
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            while let Some(key) = map.next_key::<String>()? {
                if key == "id" {
                    let value: serde_json::Value = map.next_value()?;
                    *self.0.borrow_mut() = Some(value.as_str().map(str::to_owned));
                    return Err(A::Error::custom("stop at the id"));
                }
                map.next_value::<IgnoredAny>()?;
            }
            Ok(())
        }
    }
    let found = RefCell::new(None);
    let _ = serde_json::Deserializer::from_slice(body).deserialize_map(Find(&found));
    found.into_inner().flatten()
}

/// Whether `body` is exactly one JSON value in UTF-8 (whitespace around it allowed).
pub fn is_one_json_value(body: &[u8]) -> bool {
    use serde::de::{Deserialize, IgnoredAny};
    let Ok(text) = std::str::from_utf8(body) else {
        return false;
    };
    let mut de = serde_json::Deserializer::from_str(text);
    IgnoredAny::deserialize(&mut de).is_ok() && de.end().is_ok()
}

/// Whether `provider`'s scheme named `scheme` signs bytes that can be read more than one
/// way (docs/behaviour.md#signed-bytes-quoting-and-bounds): Prosa's plain SHA-256 `v1`
/// (length extension), and Nabla's and Nabla Connect's timestamp ‖ body (re-split). Only
/// a body that is one JSON value may verify under them.
pub fn ambiguous(provider: Provider, scheme: &str) -> bool {
    match provider {
        Provider::Nabla | Provider::NablaConnect => true,
        Provider::Prosa => scheme == "v1",
        Provider::Daily | Provider::Bota => false,
    }
}

/// Ok when the headers carry a full correct signature of `body` for `provider`, by the
/// provider's published formula and header grammar, in the window, and, under a scheme
/// whose signed bytes are ambiguous, the body is one JSON value: what must hold for any
/// delivery `verify` accepts.
pub fn oracle(provider: Provider, headers: &HeaderMap, body: &[u8]) -> Result<(), String> {
    let scheme = match provider {
        Provider::Prosa if one(headers, "x-prosa-signature")?.starts_with("sha256=") => "sha256",
        _ => "v1",
    };
    if ambiguous(provider, scheme) && !is_one_json_value(body) {
        return Err("the body is not one JSON value, under a scheme of ambiguous bytes".into());
    }
    signed_correctly(provider, headers, body)
}

fn signed_correctly(provider: Provider, headers: &HeaderMap, body: &[u8]) -> Result<(), String> {
    match provider {
        Provider::Daily => {
            let ts = one(headers, "x-webhook-timestamp")?;
            in_window(decimal(ts)?)?;
            let sig = one(headers, "x-webhook-signature")?;
            if sig != expected_signature(provider, ts, body) {
                return Err("X-Webhook-Signature is not base64(HMAC(key, t.body))".into());
            }
            Ok(())
        }
        Provider::Bota => {
            let ts = one(headers, "x-bota-timestamp")?;
            in_window(decimal(ts)?)?;
            let sig = one(headers, "x-bota-signature")?;
            let hex = sig.strip_prefix("v1=").ok_or("no v1= prefix")?;
            if !hex.eq_ignore_ascii_case(&expected_signature(provider, ts, body)) {
                return Err("X-Bota-Signature is not v1=hex(HMAC(key, t.body))".into());
            }
            if headers.contains_key("x-bota-event-id") {
                let claimed = one(headers, "x-bota-event-id")?;
                if first_top_level_id(body).as_deref() != Some(claimed) {
                    return Err("X-Bota-Event-Id differs from the body's id".into());
                }
            }
            Ok(())
        }
        Provider::Nabla => {
            let ts = one(headers, "x-nabla-webhook-timestamp")?;
            in_window(date_time(ts)?)?;
            let sig = one(headers, "x-nabla-webhook-signature")?;
            let expected = expected_signature(provider, ts, body);
            let found = sig
                .split(|c: char| c == ',' || c.is_ascii_whitespace())
                .map(|e| {
                    e.strip_prefix("v1=")
                        .or_else(|| e.strip_prefix("sha256="))
                        .unwrap_or(e)
                })
                .any(|e| e.eq_ignore_ascii_case(&expected));
            if !found {
                return Err("no entry of the signature header is hex(HMAC(key, t‖body))".into());
            }
            Ok(())
        }
        Provider::Prosa => {
            one(headers, "x-prosa-event")?;
            one(headers, "x-prosa-event-uuid")?;
            let sig = one(headers, "x-prosa-signature")?;
            if let Some(hex) = sig.strip_prefix("sha256=") {
                if hex.eq_ignore_ascii_case(&expected_prosa_hmac(body)) {
                    return Ok(());
                }
                return Err("sha256= is not hex(HMAC(key, body))".into());
            }
            let entries: Vec<(&str, &str)> = sig
                .split(',')
                .map(str::trim)
                .filter(|e| !e.is_empty())
                .map(|e| e.split_once('=').unwrap_or((e, "")))
                .collect();
            let ts: Vec<&str> = entries
                .iter()
                .filter(|(k, _)| k.trim() == "t")
                .map(|(_, v)| v.trim())
                .collect();
            let [ts] = ts.as_slice() else {
                return Err("not exactly one t=".into());
            };
            in_window(decimal(ts)?)?;
            let expected = expected_signature(provider, ts, body);
            if !entries
                .iter()
                .any(|(k, v)| k.trim() == "v1" && v.eq_ignore_ascii_case(&expected))
            {
                return Err("no v1= is hex(SHA-256(secret.body))".into());
            }
            Ok(())
        }
        Provider::NablaConnect => {
            let ts = one(headers, "x-nabla-connect-timestamp")?;
            in_window(date_time(ts)?)?;
            let sig = one(headers, "x-nabla-connect-signature")?;
            let expected = expected_signature(provider, ts, body);
            // A comma-separated list; the whitespace split is the list grammar Nabla and
            // Nabla Connect share (docs/provider-guide.md#nabla): what matters is that one whole
            // entry is the digest.
            let found = sig
                .split(|c: char| c == ',' || c.is_ascii_whitespace())
                .any(|e| e.eq_ignore_ascii_case(&expected));
            if !found {
                return Err("no entry of the signature header is hex(HMAC(key, t‖body))".into());
            }
            Ok(())
        }
    }
}

/// Nabla's and Nabla Connect's timestamp header in unix seconds: RFC 3339 or ISO 8601
/// without a zone, or digits (unix seconds, or milliseconds from 100,000,000,000 on).
fn date_time(ts: &str) -> Result<i64, String> {
    if ts.bytes().all(|b| b.is_ascii_digit()) {
        let n = decimal(ts)?;
        return Ok(if n >= 100_000_000_000 { n / 1000 } else { n });
    }
    Ok(Timestamp::parse(ts)
        .ok_or("timestamp is no date-time")?
        .unix_seconds())
}

/// The provider a `verify` or `normalize` input is for, and the rest of it: the first byte
/// is an index into [`Provider::ALL`] (modulo its length), so a provider added to the list
/// is fuzzed with no change here. Seeds use the exact index, and a provider added at the
/// end of the list leaves every existing seed's provider as it was.
pub fn pick_provider(data: &[u8]) -> Option<(Provider, &[u8])> {
    let (first, rest) = data.split_first()?;
    Some((Provider::ALL[usize::from(*first) % Provider::ALL.len()], rest))
}

/// One verify target: framed input → headers (placeholders filled) → `verify`, `explain`;
/// a body signed by `sign` must verify; an accepted delivery must satisfy [`oracle`].
pub fn fuzz_verify(provider: Provider, data: &[u8]) {
    let framed = frame(data);
    let headers = headers(provider, &framed);
    let body = framed.body;
    let verdict = provider.verify(&headers, body, keys(provider), window());
    let explained = provider.explain(&headers, body, keys(provider), window());
    assert_eq!(
        verdict, explained.result,
        "explain must answer what verify answers"
    );
    let _ = explained.to_string();
    if verdict.is_ok() {
        if let Err(why) = oracle(provider, &headers, body) {
            panic!("verify accepted a delivery without a full correct signature: {why}");
        }
    }
    // What `sign` writes verifies, for every scheme the provider publishes.
    for scheme in provider.sign_schemes() {
        let opts = SignOptions {
            timestamp: NOW,
            event_id: Some("fuzz-event".into()),
            event_type: Some("stt.jobs.completed".into()),
        };
        let Ok(signed) = provider.sign_as(keys(provider), body, &opts, Some(scheme)) else {
            continue;
        };
        let mut map = HeaderMap::new();
        for (name, value) in &signed {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        // Bota's sign takes the event id header from the options: only a body whose id is
        // that id (or none readable) can verify with it, so drop the header here.
        if provider == Provider::Bota {
            map.remove("x-bota-event-id");
        }
        let result = provider.verify(&map, body, keys(provider), window());
        if ambiguous(provider, scheme) && !is_one_json_value(body) {
            // A correct digest over bytes that are not one JSON value signs nothing.
            assert_eq!(
                result.as_ref().map_err(|e| e.code()),
                Err("invalid_signature"),
                "{provider} {scheme}: a body that is not one JSON value verified"
            );
            continue;
        }
        assert!(
            result.is_ok(),
            "{provider} {scheme}: sign's own headers do not verify: {result:?}"
        );
        assert_eq!(oracle(provider, &map, body), Ok(()), "{provider} {scheme}");
    }
}

/// A marker seeds put into wrongly typed fields: no parse error may quote it (docs/behaviour.md#failure-classes).
pub const PHI_MARKER: &str = "ZZPHI";

/// One normalize target: never a panic; a refusal never quotes a value of the body or of
/// a header (docs/behaviour.md#signed-bytes-quoting-and-bounds); an event always has a
/// subject and a time within 1970..9999; Prosa's event type is always a documented one.
pub fn fuzz_normalize(provider: Provider, data: &[u8]) {
    let framed = frame(data);
    let headers = headers(provider, &framed);
    let body = framed.body;
    let _ = provider.fingerprint(body);
    let _ = provider.is_endpoint_check(body);
    let _ = provider.is_ping(&headers, body);
    match provider.normalize(&headers, body) {
        Ok(draft) => {
            let _ = format!("{draft:?}");
            assert!(!draft.subject_id.trim().is_empty(), "an empty subject");
            assert!(
                draft.occurred_at.is_none_or(|t| t.in_bounds()),
                "a time outside 1970..9999"
            );
            if provider == Provider::Prosa {
                assert!(
                    is_documented_prosa_type(&draft.event_type),
                    "an undocumented Prosa event type is stored"
                );
            }
        }
        Err(err) => {
            let message = err.to_string();
            assert!(
                !message.contains(PHI_MARKER),
                "a refusal quotes a value: {message}"
            );
        }
    }
}

/// The Prosa event types a record may hold: `webhook.ping`, or a documented family and
/// an outcome (docs/provider-guide.md#prosa).
fn is_documented_prosa_type(kind: &str) -> bool {
    kind == "webhook.ping"
        || ["stt.jobs.", "stt.job.", "tts.jobs.", "tts.job."]
            .iter()
            .filter_map(|family| kind.strip_prefix(family))
            .any(|outcome| matches!(outcome, "completed" | "failed" | "processing"))
}

/// Words of the transcript readers' error messages (docs/behaviour.md#transcript-renditions):
/// any other word in one was taken from the file.
const TRANSCRIPT_ERROR_WORDS: &[&str] = &[
    "Deepgram",
    "WebVTT",
    "WEBVTT",
    "invalid",
    "offset",
    "response",
    "shape",
    "truncated",
    "column",
    "results",
    "object",
    "start",
    "block",
    "timing",
    "hours",
    "minutes",
    "seconds",
    "fraction",
    "before",
];

/// One transcript target: never a panic; for the cue formats every segment ends at or
/// after its start and has trimmed, non-empty text; an error quotes nothing of the file
/// (every word of five letters or more in it is one of the readers' own).
pub fn fuzz_transcript(
    format: scribehook::providers::daily::transcript::TranscriptFormat,
    data: &[u8],
) {
    use scribehook::providers::daily::transcript::{parse, TranscriptFormat};
    match parse(format, data) {
        Ok(transcript) => {
            if format != TranscriptFormat::DeepgramJson {
                for s in &transcript.segments {
                    assert!(s.end_ms >= s.start_ms, "segment ends before it starts");
                    assert!(
                        !s.text.is_empty() && s.text.trim() == s.text,
                        "untrimmed text"
                    );
                }
            }
        }
        Err(err) => {
            let message = err.to_string();
            for word in message
                .split(|c: char| !c.is_ascii_alphabetic())
                .filter(|w| w.len() >= 5)
            {
                assert!(
                    TRANSCRIPT_ERROR_WORDS.contains(&word),
                    "a transcript error quotes the file: {message}"
                );
            }
        }
    }
}

/// The directory of the API Gateway targets' file stores (ARCHIVE and STORE).
pub fn store_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("scribehook-fuzz-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    })
}

/// Files under `dir`, recursively.
pub fn count_files(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| {
            let path = e.path();
            if path.is_dir() {
                count_files(&path)
            } else {
                1
            }
        })
        .sum()
}

struct Harness {
    runtime: tokio::runtime::Runtime,
    ingest: Ingest,
}

fn harness() -> &'static Harness {
    static H: OnceLock<Harness> = OnceLock::new();
    H.get_or_init(|| {
        let uri = format!("file://{}", store_dir().display());
        let mut vars: Vec<(String, String)> = Provider::ALL
            .into_iter()
            .map(|p| (p.secrets_env().to_owned(), secret(p).to_owned()))
            .collect();
        vars.push(("ARCHIVE".into(), uri.clone()));
        vars.push(("STORE".into(), uri));
        vars.push(("MAX_BODY_BYTES".into(), "65536".into()));
        let config = scribehook::config::Config::from_lookup(|k| {
            vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
        })
        .expect("config");
        let sdk = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .build();
        let clients = app::Clients::from_sdk_config(&sdk);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let ingest = runtime.block_on(app::ingest(
            &config,
            &clients,
            Arc::new(|| Timestamp::from_unix(NOW).unwrap()),
        ));
        Harness { runtime, ingest }
    })
}

/// The error code docs/behaviour.md#http-answers gives each refusal status.
fn codes_for(status: i64) -> &'static [&'static str] {
    match status {
        400 => &["malformed_event"],
        401 => &["missing_signature", "stale_timestamp", "invalid_signature"],
        404 => &["unknown_provider"],
        405 => &["method_not_allowed"],
        413 => &["payload_too_large"],
        _ => &[],
    }
}

/// One API Gateway target: the event's JSON → `GatewayRequest` → the real ingest handler on
/// a local file store. Never a panic; every answer is a docs/behaviour.md#http-answers status with its JSON
/// body and code; a refusal before verification (401/404/405/413) stores nothing; a local
/// file store never answers 503.
pub fn fuzz_gateway(request: scribehook::entrypoints::gateway::GatewayRequest) {
    let h = harness();
    let before = count_files(store_dir());
    let event = lambda_runtime::LambdaEvent::new(request, lambda_runtime::Context::default());
    let response: GatewayResponse = h
        .runtime
        .block_on(scribehook::entrypoints::lambda::ingest_handler(
            &h.ingest, event,
        ))
        .expect("the ingest never fails an invocation");
    let status = response.status();
    let body: serde_json::Value =
        serde_json::from_str(response.body()).expect("every answer is JSON");
    match status {
        200 => assert!(body.get("status").is_some(), "{body}"),
        400 | 401 | 404 | 405 | 413 => {
            let code = body["error"]["code"].as_str().unwrap_or_default();
            assert!(
                codes_for(status).contains(&code),
                "status {status} with code {code:?}"
            );
            assert!(body["error"]["message"].is_string(), "{body}");
        }
        other => panic!("status {other} from a local file store: {body}"),
    }
    if matches!(status, 401 | 404 | 405 | 413) {
        assert_eq!(
            count_files(store_dir()),
            before,
            "a refused ({status}) request stored something"
        );
    }
}

/// Patient text the purge target's deliveries carry: no file may hold it once the purge
/// of every subject is done.
const CONTENT: &str = "ZZCONTENT knee pain";

/// One purge run: Bota deliveries whose event and subject ids are the input's first two
/// lines (any text), processed into a fresh file store, then every subject the records
/// name purged. Afterwards no file holds content, except the archived bodies of deliveries
/// answered 400 (they name no subject a purge can find: docs/behaviour.md#what-survives-a-purge).
pub fn fuzz_purge(data: &[u8]) {
    use scribehook::storage::file::FileBlobs;
    use scribehook::storage::records::BlobRecordStore;
    static RUNS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let text = String::from_utf8_lossy(data);
    let mut lines = text.splitn(3, '\n');
    let (event_id, subject) = (lines.next().unwrap_or(""), lines.next().unwrap_or(""));
    let run = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = store_dir().join(format!("purge-{run}"));
    let (ingest, processor) = purge_harness(&dir);
    let mut unpurgeable = Vec::new();
    for kind in ["transcription.completed", "summary.completed"] {
        let body = serde_json::to_vec(&serde_json::json!({
            "id": format!("{event_id}{}", if kind.starts_with('s') { "~s" } else { "" }),
            "type": kind, "created_at": "2025-01-15T10:07:00Z",
            "data": {"id": "d", "recording_id": subject, "text": CONTENT}
        }))
        .unwrap();
        let opts = SignOptions {
            timestamp: NOW,
            ..SignOptions::default()
        };
        let mut headers = HeaderMap::new();
        for (name, value) in Provider::Bota
            .sign(keys(Provider::Bota), &body, &opts)
            .unwrap()
        {
            if let (Ok(n), Ok(v)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(&value),
            ) {
                if n != "x-bota-event-id" {
                    headers.append(n, v);
                }
            }
        }
        let reply = harness().runtime.block_on(ingest.handle(
            &http::Method::POST,
            "/webhooks/bota",
            &headers,
            &body,
        ));
        match reply.status.as_u16() {
            200 => {}
            400 => unpurgeable.push(format!(
                "sha256-{}",
                scribehook::signature::sha256_hex(&body)
            )),
            status => panic!("a verified delivery answered {status}"),
        }
    }
    let store = BlobRecordStore::new(Arc::new(FileBlobs::new(&dir)));
    harness().runtime.block_on(async {
        for record in store.records().await.expect("records") {
            processor
                .purge(Provider::Bota, &record.subject_id)
                .await
                .expect("the purge");
        }
    });
    for file in files_under(&dir) {
        let name = file
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        if unpurgeable.iter().any(|id| name == format!("{id}.json")) {
            continue;
        }
        assert!(
            !holds_content(&file),
            "content left after the purge in {}",
            file.display()
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// An ingest (processing inline) and a processor on the file store at `dir`.
fn purge_harness(dir: &Path) -> (Ingest, scribehook::pipeline::process::Processor) {
    let uri = format!("file://{}", dir.display());
    let vars = [
        (
            "BOTA_WEBHOOK_SECRETS".to_owned(),
            secret(Provider::Bota).to_owned(),
        ),
        ("ARCHIVE".to_owned(), uri.clone()),
        ("STORE".to_owned(), uri),
    ];
    let config = scribehook::config::Config::from_lookup(|k| {
        vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    })
    .expect("config");
    let sdk = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .build();
    let clients = app::Clients::from_sdk_config(&sdk);
    harness().runtime.block_on(async {
        let clock: scribehook::record::Clock = Arc::new(|| Timestamp::from_unix(NOW).unwrap());
        let ingest = app::ingest(&config, &clients, clock).await;
        (ingest, app::processor(&config, &clients).await)
    })
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .flat_map(|e| {
            let path = e.path();
            if path.is_dir() {
                files_under(&path)
            } else {
                vec![path]
            }
        })
        .collect()
}

/// Whether a stored file holds [`CONTENT`], an archived delivery's body decoded first.
fn holds_content(file: &Path) -> bool {
    let bytes = std::fs::read(file).unwrap_or_default();
    let has = |b: &[u8]| b.windows(CONTENT.len()).any(|w| w == CONTENT.as_bytes());
    let body = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .and_then(|v| v["body_base64"].as_str().map(str::to_owned))
        .and_then(|b| STANDARD.decode(b).ok());
    has(&bytes) || body.is_some_and(|b| has(&b))
}
