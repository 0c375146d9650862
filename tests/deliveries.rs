//! docs/provider-guide.md through the real ingest handler (API Gateway v1 and v2): deliveries as the
//! providers really send them. Prosa's second scheme and its ping, Prosa's clock seven hours
//! behind and the per-provider tolerance, Nabla's timestamp variants, malformed headers; and
//! that what was refused for a good reason still is.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use scribehook::config::Config;
use scribehook::entrypoints::app;
use scribehook::pipeline::ingest::Ingest;
use scribehook::providers::body_event_id;
use scribehook::{Provider, Timestamp};
use serde_json::{json, Value};

struct Local {
    dir: PathBuf,
    ingest: Ingest,
}

impl Drop for Local {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The real ingest on a local file store, configured from `vars` like the function.
async fn local(name: &str, vars: &[(&str, &str)]) -> Local {
    let dir = std::env::temp_dir().join(format!(
        "scribehook-deliveries-{name}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let uri = format!("file://{}", dir.display());
    let mut all: Vec<(String, String)> = Provider::ALL
        .iter()
        .map(|p| (p.secrets_env().to_owned(), secret(*p).to_owned()))
        .collect();
    all.push(("ARCHIVE".into(), uri.clone()));
    all.push(("STORE".into(), uri));
    all.extend(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let config =
        Config::from_lookup(|k| all.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())).unwrap();
    let ingest = app::ingest(&config, &clients().await, clock()).await;
    Local { dir, ingest }
}

fn stored(dir: &Path) -> Vec<String> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if !path.ends_with(".lock") {
                files.push(path.display().to_string());
            }
        }
    }
    files
}

/// Posts `body` with `headers` to `provider`'s route in both API Gateway shapes; returns
/// both answers (status, body).
async fn post(
    local: &Local,
    provider: Provider,
    headers: &[(String, String)],
    body: &[u8],
) -> Vec<(u16, Value)> {
    let path = format!("/webhooks/{provider}");
    let mut answers = Vec::new();
    for event in [
        apigw_v2("POST", &path, headers, body, false),
        apigw_v1("POST", &path, headers, body, true),
    ] {
        let (status, reply, _) = invoke(&local.ingest, event).await;
        answers.push((status, reply));
    }
    answers
}

fn prosa_headers(
    body: &[u8],
    scheme: Option<&str>,
    at: i64,
    event: &str,
    uuid: &str,
) -> Vec<(String, String)> {
    let opts = scribehook::SignOptions {
        timestamp: at,
        event_type: Some(event.into()),
        event_id: Some(uuid.into()),
    };
    Provider::Prosa
        .sign_as(&keys(Provider::Prosa), body, &opts, scheme)
        .unwrap()
}

/// A refusal case: name, headers, body, expected status, expected code ("" for any).
type Case<'a> = (&'a str, Vec<(String, String)>, Vec<u8>, u16, &'a str);

fn set(headers: &mut Vec<(String, String)>, name: &str, value: &str) {
    headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    headers.push((name.into(), value.into()));
}

#[tokio::test]
async fn prosa_sha256_deliveries_are_accepted_and_deduplicated_on_the_body() {
    let local = local("prosa-sha256", &[]).await;
    let body = payload(Provider::Prosa, "stt.jobs.completed.sha256");
    let id = body_event_id(&body);
    let headers = prosa_headers(&body, Some("sha256"), NOW, "stt.jobs.completed", "u-1");
    assert!(headers
        .iter()
        .any(|(n, v)| n == "X-Prosa-Signature" && v.starts_with("sha256=")));
    let answers = post(&local, Provider::Prosa, &headers, &body).await;
    assert_eq!(
        answers[0],
        (200, json!({"status": "accepted", "event_id": id}))
    );
    assert_eq!(
        answers[1],
        (200, json!({"status": "duplicate", "event_id": id}))
    );
    // The same signed body under another delivery UUID is the same event.
    let again = prosa_headers(&body, Some("sha256"), NOW, "stt.jobs.completed", "u-2");
    for (status, reply) in post(&local, Provider::Prosa, &again, &body).await {
        assert_eq!((status, reply["status"].clone()), (200, json!("duplicate")));
    }
}

#[tokio::test]
async fn refusals_for_a_good_reason_still_hold_under_the_sha256_scheme() {
    let local = local("prosa-refusals", &[]).await;
    let body = payload(Provider::Prosa, "stt.jobs.completed.sha256");
    let good = prosa_headers(&body, Some("sha256"), NOW, "stt.jobs.completed", "u-1");
    let signature = good
        .iter()
        .find(|(n, _)| n == "X-Prosa-Signature")
        .unwrap()
        .1
        .clone();
    let wrong_secret = {
        let opts = scribehook::SignOptions {
            timestamp: NOW,
            event_type: Some("stt.jobs.completed".into()),
            event_id: Some("u-1".into()),
        };
        let other = Provider::Prosa.keys(&["not-the-secret"]).unwrap();
        Provider::Prosa
            .sign_as(&other, &body, &opts, Some("sha256"))
            .unwrap()
    };
    let mut cases: Vec<Case> = Vec::new();
    cases.push((
        "wrong secret",
        wrong_secret,
        body.clone(),
        401,
        "invalid_signature",
    ));
    let mut tampered_body = body.clone();
    tampered_body.insert(1, b' ');
    cases.push((
        "tampered body",
        good.clone(),
        tampered_body,
        401,
        "invalid_signature",
    ));
    for (name, value) in [
        ("sha256= alone", "sha256=".to_owned()),
        ("truncated", signature[..signature.len() - 2].to_owned()),
        ("mixed with t=", format!("t={NOW},{signature}")),
    ] {
        let mut headers = good.clone();
        set(&mut headers, "X-Prosa-Signature", &value);
        cases.push((name, headers, body.clone(), 401, ""));
    }
    for (name, headers, body, status, code) in cases {
        for (got, reply) in post(&local, Provider::Prosa, &headers, &body).await {
            assert_eq!(got, status, "{name}: {reply}");
            if !code.is_empty() {
                assert_eq!(reply["error"]["code"], code, "{name}");
            }
        }
    }
    assert!(
        stored(&local.dir).is_empty(),
        "nothing stored for a refused delivery"
    );
}

#[tokio::test]
async fn a_prosa_ping_is_answered_and_stores_nothing() {
    let local = local("prosa-ping", &[]).await;
    let body = payload(Provider::Prosa, "webhook.ping");
    for scheme in [None, Some("sha256")] {
        let headers = prosa_headers(&body, scheme, NOW, "webhook.ping", "ping-1");
        for (status, reply) in post(&local, Provider::Prosa, &headers, &body).await {
            assert_eq!((status, reply), (200, json!({"status": "ok"})));
        }
    }
    // A ping signed with the wrong secret is still refused.
    let mut headers = prosa_headers(&body, None, NOW, "webhook.ping", "ping-1");
    set(
        &mut headers,
        "X-Prosa-Signature",
        &format!("t={NOW},v1={}", "0".repeat(64)),
    );
    for (status, reply) in post(&local, Provider::Prosa, &headers, &body).await {
        assert_eq!(
            (status, reply["error"]["code"].clone()),
            (401, json!("invalid_signature"))
        );
    }
    assert!(stored(&local.dir).is_empty(), "{:?}", stored(&local.dir));
}

#[tokio::test]
async fn a_prosa_clock_seven_hours_behind_is_stale_with_its_skew_unless_the_provider_tolerance_allows_it(
) {
    let body = payload(Provider::Prosa, "stt.jobs.completed");
    let behind = NOW - 7 * 3600;
    let headers = prosa_headers(&body, None, behind, "stt.jobs.completed", "u-1");
    let strict = local("prosa-skew", &[]).await;
    for (status, reply) in post(&strict, Provider::Prosa, &headers, &body).await {
        assert_eq!(status, 401, "{reply}");
        assert_eq!(reply["error"]["code"], "stale_timestamp");
        let message = reply["error"]["message"].as_str().unwrap();
        assert!(message.contains("+25200 s"), "{message}");
    }
    assert!(stored(&strict.dir).is_empty());
    // PROSA_SIGNATURE_TOLERANCE_SECONDS widens Prosa's window only.
    let lenient = local(
        "prosa-tolerance",
        &[("PROSA_SIGNATURE_TOLERANCE_SECONDS", "26000")],
    )
    .await;
    let answers = post(&lenient, Provider::Prosa, &headers, &body).await;
    assert_eq!(answers[0].0, 200, "{}", answers[0].1);
    let bota = payload(Provider::Bota, "recording.created");
    let mut bota_headers = signed_headers(Provider::Bota, &bota, None, None);
    set(&mut bota_headers, "X-Bota-Timestamp", &behind.to_string());
    for (status, reply) in post(&lenient, Provider::Bota, &bota_headers, &bota).await {
        assert_eq!(
            (status, reply["error"]["code"].clone()),
            (401, json!("stale_timestamp"))
        );
    }
}

#[tokio::test]
async fn nabla_timestamps_and_signature_forms_as_its_sample_app_sends_them() {
    let local = local("nabla", &[]).await;
    let body = payload(Provider::Nabla, "transcribe_async.succeeded.iso-no-zone");
    let key = secret(Provider::Nabla).as_bytes();
    let digest = |timestamp: &str| {
        use hmac::{Hmac, KeyInit, Mac};
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
        mac.update(timestamp.as_bytes());
        mac.update(&body);
        hex::encode(mac.finalize().into_bytes())
    };
    let zone_less = Timestamp::from_unix(NOW)
        .unwrap()
        .to_string()
        .trim_end_matches('Z')
        .to_owned();
    let forms = [
        (zone_less.clone(), digest(&zone_less)),
        (
            NOW.to_string(),
            format!("sha256={}", digest(&NOW.to_string())),
        ),
        (
            "2026-01-01T01:00:00+01:00".to_owned(),
            format!(
                " {} , sha256={}",
                "0".repeat(64),
                digest("2026-01-01T01:00:00+01:00").to_uppercase()
            ),
        ),
    ];
    let mut accepted = 0;
    for (timestamp, signature) in forms {
        let headers = vec![
            ("x-nabla-webhook-timestamp".to_owned(), timestamp.clone()),
            ("x-nabla-webhook-signature".to_owned(), signature),
        ];
        for (status, reply) in post(&local, Provider::Nabla, &headers, &body).await {
            assert_eq!(status, 200, "{timestamp}: {reply}");
            accepted += 1;
        }
    }
    assert_eq!(accepted, 6);
}

#[tokio::test]
async fn a_non_ascii_prosa_uuid_is_unreadable_and_refused_401() {
    let local = local("prosa-uuid", &[]).await;
    let body = payload(Provider::Prosa, "stt.jobs.completed");
    let headers = prosa_headers(&body, None, NOW, "stt.jobs.completed", "u-1");
    let path = "/webhooks/prosa";
    let mut event = apigw_v2("POST", path, &headers, &body, false);
    event.payload.headers.insert(
        "x-prosa-event-uuid",
        http::HeaderValue::from_bytes("ü-1".as_bytes()).unwrap(),
    );
    let (status, reply, _) = invoke(&local.ingest, event).await;
    // Refused before verification: 401, as 400 is for verified bodies only.
    assert_eq!(
        (status, reply["error"]["code"].clone()),
        (401, json!("missing_signature")),
        "{reply}"
    );
    assert!(stored(&local.dir).is_empty());
}
