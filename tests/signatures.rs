//! Signature schemes against vectors computed outside this crate (Python's hmac/hashlib
//! and Node's crypto, the way each provider's own examples do it), pinned as constants. A
//! round trip through our own sign + verify would pass under any wrong encoding; these
//! would not.

use http::{HeaderMap, HeaderName, HeaderValue};
use scribehook::providers::Keys;
use scribehook::{Provider, SignOptions, Window};

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    map
}

fn keys(provider: Provider, secrets: &[&str]) -> Keys {
    provider.keys(secrets).unwrap()
}

fn verify(
    provider: Provider,
    secrets: &[&str],
    h: &HeaderMap,
    body: &[u8],
    now: i64,
) -> Result<(), &'static str> {
    provider
        .verify(h, body, &keys(provider, secrets), Window::new(now, 300))
        .map_err(|e| e.code())
}

// --- Daily ------------------------------------------------------------------------------

/// base64("scribehook-daily-test-secret-0001"), as Daily shows secrets.
const DAILY_SECRET: &str = "c2NyaWJlaG9vay1kYWlseS10ZXN0LXNlY3JldC0wMDAx";
const DAILY_BODY: &[u8] = br#"{"version":"1.0.0","type":"batch-processor.job-finished","id":"bp-jf-42","payload":{"id":"42","preset":"transcript","status":"finished","input":{"sourceType":"uri","uri":"https://example.com/a.mp3"},"output":{}},"event_ts":1736937000}"#;
const DAILY_TS: i64 = 1_736_937_000;
/// Python: base64(hmac.new(b64decode(secret), b"1736937000." + body, sha256).digest())
const DAILY_SIG: &str = "2qRbgxtGLXQ21Up/h5AFBgUAlwYpD9rteNDZNE4P+Qw=";

fn daily_headers(sig: &str, ts: &str) -> HeaderMap {
    headers(&[("X-Webhook-Signature", sig), ("X-Webhook-Timestamp", ts)])
}

#[test]
fn daily_accepts_independent_vectors() {
    let h = daily_headers(DAILY_SIG, "1736937000");
    assert_eq!(
        verify(Provider::Daily, &[DAILY_SECRET], &h, DAILY_BODY, DAILY_TS),
        Ok(())
    );

    // Node: createHmac('sha256', Buffer.from(SECRET,'base64')).update(`${ts}.`).update(BODY)
    // .digest('base64'), the scenario of a public Daily receiver's pinned test.
    let body = br#"{"id":"evt_1","type":"participant.joined","payload":{"room":"balo-abc"}}"#;
    let h = daily_headers("zVwFNQPyiHPmH63FPrudklOf81G7/0w7r1P9kxaGh8k=", "1786701600");
    let secret = "YS0zMi1ieXRlLWRhaWx5LXdlYmhvb2stc2VjcmV0ISE=";
    assert_eq!(
        verify(Provider::Daily, &[secret], &h, body, 1_786_701_600),
        Ok(())
    );
}

#[test]
fn daily_signer_reproduces_the_vector() {
    let opts = SignOptions {
        timestamp: DAILY_TS,
        ..SignOptions::default()
    };
    let signed = Provider::Daily
        .sign(&keys(Provider::Daily, &[DAILY_SECRET]), DAILY_BODY, &opts)
        .unwrap();
    assert!(signed.contains(&("X-Webhook-Signature".into(), DAILY_SIG.into())));
    assert!(signed.contains(&("X-Webhook-Timestamp".into(), "1736937000".into())));
}

#[test]
fn daily_rejections_carry_the_contract_codes() {
    let ok = |h: &HeaderMap, body: &[u8], secrets: &[&str], now| {
        verify(Provider::Daily, secrets, h, body, now)
    };
    let good = daily_headers(DAILY_SIG, "1736937000");
    let mut tampered = DAILY_BODY.to_vec();
    tampered[10] ^= 1;
    assert_eq!(
        ok(&good, &tampered, &[DAILY_SECRET], DAILY_TS),
        Err("invalid_signature")
    );
    let wrong = "d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldA==";
    assert_eq!(
        ok(&good, DAILY_BODY, &[wrong], DAILY_TS),
        Err("invalid_signature")
    );
    // Rotation: the right secret anywhere in the list is enough.
    assert_eq!(
        ok(&good, DAILY_BODY, &[wrong, DAILY_SECRET], DAILY_TS),
        Ok(())
    );
    // The hex form of the same digest is not Daily's encoding.
    let hex_form = "daa45b831b462d7436d54a7f8790050605009706290fdaed78d0d9344e0ff90c";
    assert_eq!(
        ok(
            &daily_headers(hex_form, "1736937000"),
            DAILY_BODY,
            &[DAILY_SECRET],
            DAILY_TS
        ),
        Err("invalid_signature")
    );
    // Stale and future timestamps, just past the window either way.
    assert_eq!(
        ok(&good, DAILY_BODY, &[DAILY_SECRET], DAILY_TS + 301),
        Err("stale_timestamp")
    );
    assert_eq!(
        ok(&good, DAILY_BODY, &[DAILY_SECRET], DAILY_TS - 301),
        Err("stale_timestamp")
    );
    assert_eq!(
        ok(&good, DAILY_BODY, &[DAILY_SECRET], DAILY_TS + 300),
        Ok(())
    );
    // A fresh timestamp swapped in breaks the signature (it is signed).
    assert_eq!(
        ok(
            &daily_headers(DAILY_SIG, "1736937001"),
            DAILY_BODY,
            &[DAILY_SECRET],
            DAILY_TS
        ),
        Err("invalid_signature")
    );
    // Empty, blank, truncated, missing, repeated.
    assert_eq!(
        ok(
            &daily_headers("", "1736937000"),
            DAILY_BODY,
            &[DAILY_SECRET],
            DAILY_TS
        ),
        Err("missing_signature")
    );
    assert_eq!(
        ok(
            &daily_headers("   ", "1736937000"),
            DAILY_BODY,
            &[DAILY_SECRET],
            DAILY_TS
        ),
        Err("missing_signature")
    );
    assert_eq!(
        ok(
            &daily_headers(&DAILY_SIG[..40], "1736937000"),
            DAILY_BODY,
            &[DAILY_SECRET],
            DAILY_TS
        ),
        Err("invalid_signature")
    );
    assert_eq!(
        ok(
            &daily_headers(&DAILY_SIG[..43], "1736937000"),
            DAILY_BODY,
            &[DAILY_SECRET],
            DAILY_TS
        ),
        Err("invalid_signature")
    );
    let only_sig = headers(&[("X-Webhook-Signature", DAILY_SIG)]);
    assert_eq!(
        ok(&only_sig, DAILY_BODY, &[DAILY_SECRET], DAILY_TS),
        Err("missing_signature")
    );
    let repeated = headers(&[
        ("X-Webhook-Signature", DAILY_SIG),
        ("x-webhook-signature", "Zm9yZ2Vk"),
        ("X-Webhook-Timestamp", "1736937000"),
    ]);
    assert_eq!(
        ok(&repeated, DAILY_BODY, &[DAILY_SECRET], DAILY_TS),
        Err("missing_signature")
    );
    // HTTP API v2 joins repeated headers with a comma.
    let joined = daily_headers(&format!("{DAILY_SIG},Zm9yZ2Vk"), "1736937000");
    assert_eq!(
        ok(&joined, DAILY_BODY, &[DAILY_SECRET], DAILY_TS),
        Err("missing_signature")
    );
    assert_eq!(
        ok(
            &daily_headers(DAILY_SIG, "1736937000.5"),
            DAILY_BODY,
            &[DAILY_SECRET],
            DAILY_TS
        ),
        Err("invalid_signature")
    );
}

#[test]
fn daily_endpoint_check_is_recognized() {
    assert!(Provider::Daily.is_endpoint_check(br#"{"test":"test"}"#));
    assert!(Provider::Daily.is_endpoint_check(b"{ \"test\" : \"test\" }\n"));
    assert!(!Provider::Daily.is_endpoint_check(br#"{"test":"test","x":1}"#));
    assert!(!Provider::Daily.is_endpoint_check(br#"{"test":"test2"}"#));
    assert!(!Provider::Daily.is_endpoint_check(b""));
    assert!(!Provider::Bota.is_endpoint_check(br#"{"test":"test"}"#));
}

// --- Bota -------------------------------------------------------------------------------

const BOTA_SECRET: &str = "whsec_scribehook_test_5f2b8c";
const BOTA_BODY: &[u8] = br#"{"id":"evt_abc123","type":"recording.created","created_at":"2025-01-15T10:00:00Z","data":{"id":"rec_xyz789","status":"created"}}"#;
/// Python: "v1=" + hmac.new(secret.encode(), b"1736937000." + body, sha256).hexdigest()
const BOTA_SIG: &str = "v1=0eb66a00e7536ca93d96e6f73f059b5b6bde9cb301c32d30f8bc93586571204b";

fn bota_headers(sig: &str, ts: &str, id: Option<&str>) -> HeaderMap {
    let mut h = headers(&[("X-Bota-Signature", sig), ("X-Bota-Timestamp", ts)]);
    if let Some(id) = id {
        h.append("x-bota-event-id", HeaderValue::from_str(id).unwrap());
    }
    h
}

#[test]
fn bota_accepts_independent_vectors() {
    let h = bota_headers(BOTA_SIG, "1736937000", None);
    assert_eq!(
        verify(Provider::Bota, &[BOTA_SECRET], &h, BOTA_BODY, DAILY_TS),
        Ok(())
    );
    let h = bota_headers(BOTA_SIG, "1736937000", Some("evt_abc123"));
    assert_eq!(
        verify(Provider::Bota, &[BOTA_SECRET], &h, BOTA_BODY, DAILY_TS),
        Ok(())
    );
    // Node, as in Bota's own example receiver: createHmac("sha256", secret).update(`${ts}.`).update(body)
    let body = br#"{"id":"evt_ghi789","type":"transcription.completed","created_at":"2025-01-15T10:07:00Z","data":{"id":"txn_abc123","recording_id":"rec_xyz789","status":"completed","text":"Hello"}}"#;
    let h = bota_headers(
        "v1=a5e20f15b2d7bd40d94bdc4f8efd20a910e647572840a1cc69db4223479d7f09",
        "1786701600",
        None,
    );
    assert_eq!(
        verify(Provider::Bota, &["whsec_xyz789"], &h, body, 1_786_701_600),
        Ok(())
    );
}

#[test]
fn bota_signer_reproduces_the_vector() {
    let opts = SignOptions {
        timestamp: DAILY_TS,
        event_id: Some("evt_abc123".into()),
        ..SignOptions::default()
    };
    let signed = Provider::Bota
        .sign(&keys(Provider::Bota, &[BOTA_SECRET]), BOTA_BODY, &opts)
        .unwrap();
    assert_eq!(
        signed,
        vec![
            ("X-Bota-Signature".to_string(), BOTA_SIG.to_string()),
            ("X-Bota-Timestamp".to_string(), "1736937000".to_string()),
            ("X-Bota-Event-Id".to_string(), "evt_abc123".to_string()),
        ]
    );
}

#[test]
fn bota_rejections_carry_the_contract_codes() {
    let check =
        |h: &HeaderMap, body: &[u8], now| verify(Provider::Bota, &[BOTA_SECRET], h, body, now);
    let good = bota_headers(BOTA_SIG, "1736937000", None);
    let tampered = String::from_utf8(BOTA_BODY.to_vec())
        .unwrap()
        .replace("created\"}", "uploaded\"}");
    assert_eq!(
        check(&good, tampered.as_bytes(), DAILY_TS),
        Err("invalid_signature")
    );
    assert_eq!(
        verify(Provider::Bota, &["whsec_other"], &good, BOTA_BODY, DAILY_TS),
        Err("invalid_signature")
    );
    // The prefix is part of the key: stripping it is wrong.
    assert_eq!(
        verify(
            Provider::Bota,
            &["scribehook_test_5f2b8c"],
            &good,
            BOTA_BODY,
            DAILY_TS
        ),
        Err("invalid_signature")
    );
    assert_eq!(
        check(&good, BOTA_BODY, DAILY_TS + 301),
        Err("stale_timestamp")
    );
    assert_eq!(
        check(&good, BOTA_BODY, DAILY_TS - 301),
        Err("stale_timestamp")
    );
    assert_eq!(
        check(
            &bota_headers("v1=", "1736937000", None),
            BOTA_BODY,
            DAILY_TS
        ),
        Err("invalid_signature")
    );
    assert_eq!(
        check(
            &bota_headers(&BOTA_SIG[..66], "1736937000", None),
            BOTA_BODY,
            DAILY_TS
        ),
        Err("invalid_signature")
    );
    assert_eq!(
        check(
            &bota_headers(&BOTA_SIG[3..], "1736937000", None),
            BOTA_BODY,
            DAILY_TS
        ),
        Err("invalid_signature")
    );
    assert_eq!(
        check(&bota_headers("", "1736937000", None), BOTA_BODY, DAILY_TS),
        Err("missing_signature")
    );
    assert_eq!(
        check(&bota_headers(BOTA_SIG, " ", None), BOTA_BODY, DAILY_TS),
        Err("missing_signature")
    );
    let two = format!("{BOTA_SIG},{BOTA_SIG}");
    assert_eq!(
        check(&bota_headers(&two, "1736937000", None), BOTA_BODY, DAILY_TS),
        Err("missing_signature")
    );
    // The optional event id header must equal the signed body id, and appear once.
    assert_eq!(
        check(
            &bota_headers(BOTA_SIG, "1736937000", Some("evt_other")),
            BOTA_BODY,
            DAILY_TS
        ),
        Err("invalid_signature")
    );
    let mut twice = bota_headers(BOTA_SIG, "1736937000", Some("evt_abc123"));
    twice.append("X-Bota-Event-Id", HeaderValue::from_static("evt_abc123"));
    assert_eq!(check(&twice, BOTA_BODY, DAILY_TS), Err("missing_signature"));
}

// --- Nabla ------------------------------------------------------------------------------

const NABLA_BODY: &[u8] = br#"{"id":"wh_1","type":"transcribe_async.failed","created_at":"2025-01-15T10:30:00Z","data":{"id":"req_1","status":"FAILED","payload":{}}}"#;
/// Python: hmac.new(b"nabla-test-secret-7c1e", b"2025-01-15T10:30:00Z" + body, sha256).hexdigest()
const NABLA_SIG: &str = "1742c363e73cc369af95771c6ea4fc4efbeda93c43720c01fb5329eae43cc529";
/// The same with the key b"nabla-old-secret".
const NABLA_SIG_OLD: &str = "ff90316e9651bc14629a665310a82777bb5aa8eb52116385c30378d8cc7cc6f2";
const NABLA_NOW: i64 = 1_736_937_000; // 2025-01-15T10:30:00Z

fn nabla_headers(sig: &str, ts: &str) -> HeaderMap {
    headers(&[
        ("x-nabla-webhook-signature", sig),
        ("x-nabla-webhook-timestamp", ts),
    ])
}

#[test]
fn nabla_accepts_independent_vectors_and_several_signatures() {
    let secret = "nabla-test-secret-7c1e";
    let h = nabla_headers(NABLA_SIG, "2025-01-15T10:30:00Z");
    assert_eq!(
        verify(Provider::Nabla, &[secret], &h, NABLA_BODY, NABLA_NOW),
        Ok(())
    );
    for multi in [
        format!("{NABLA_SIG_OLD},{NABLA_SIG}"),
        format!("{NABLA_SIG_OLD} {NABLA_SIG}"),
        format!("v1={NABLA_SIG_OLD}, sha256={NABLA_SIG}"),
    ] {
        let h = nabla_headers(&multi, "2025-01-15T10:30:00Z");
        assert_eq!(
            verify(Provider::Nabla, &[secret], &h, NABLA_BODY, NABLA_NOW),
            Ok(()),
            "{multi}"
        );
        assert_eq!(
            verify(
                Provider::Nabla,
                &["nabla-old-secret"],
                &h,
                NABLA_BODY,
                NABLA_NOW
            ),
            Ok(()),
            "{multi}"
        );
    }
    let signed = Provider::Nabla
        .sign(
            &keys(Provider::Nabla, &["nabla-old-secret", secret]),
            NABLA_BODY,
            &SignOptions {
                timestamp: NABLA_NOW,
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(signed[0].1, format!("{NABLA_SIG_OLD},{NABLA_SIG}"));
    assert_eq!(signed[1].1, "2025-01-15T10:30:00Z");
}

#[test]
fn nabla_rejections_carry_the_contract_codes() {
    let secret = ["nabla-test-secret-7c1e"];
    let check = |h: &HeaderMap, body: &[u8], now| verify(Provider::Nabla, &secret, h, body, now);
    let good = nabla_headers(NABLA_SIG, "2025-01-15T10:30:00Z");
    assert_eq!(
        check(&good, &NABLA_BODY[1..], NABLA_NOW),
        Err("invalid_signature")
    );
    assert_eq!(
        verify(Provider::Nabla, &["other"], &good, NABLA_BODY, NABLA_NOW),
        Err("invalid_signature")
    );
    assert_eq!(
        check(&good, NABLA_BODY, NABLA_NOW + 301),
        Err("stale_timestamp")
    );
    assert_eq!(
        check(&good, NABLA_BODY, NABLA_NOW - 301),
        Err("stale_timestamp")
    );
    // The same instant written differently is a different signed string.
    assert_eq!(
        check(
            &nabla_headers(NABLA_SIG, "1736937000"),
            NABLA_BODY,
            NABLA_NOW
        ),
        Err("invalid_signature")
    );
    assert_eq!(
        check(
            &nabla_headers(NABLA_SIG, "yesterday"),
            NABLA_BODY,
            NABLA_NOW
        ),
        Err("invalid_signature")
    );
    assert_eq!(
        check(
            &nabla_headers(&NABLA_SIG[..63], "2025-01-15T10:30:00Z"),
            NABLA_BODY,
            NABLA_NOW
        ),
        Err("invalid_signature")
    );
    assert_eq!(
        check(
            &nabla_headers(",", "2025-01-15T10:30:00Z"),
            NABLA_BODY,
            NABLA_NOW
        ),
        Err("invalid_signature")
    );
    assert_eq!(
        check(
            &nabla_headers("", "2025-01-15T10:30:00Z"),
            NABLA_BODY,
            NABLA_NOW
        ),
        Err("missing_signature")
    );
    let mut repeated = good.clone();
    repeated.append(
        "X-Nabla-Webhook-Timestamp",
        HeaderValue::from_static("2025-01-15T10:30:00Z"),
    );
    assert_eq!(
        check(&repeated, NABLA_BODY, NABLA_NOW),
        Err("missing_signature")
    );
    let mut repeated_sig = good.clone();
    repeated_sig.append(
        "X-Nabla-Webhook-Signature",
        HeaderValue::from_static(NABLA_SIG),
    );
    assert_eq!(
        check(&repeated_sig, NABLA_BODY, NABLA_NOW),
        Err("missing_signature")
    );
}

#[test]
fn nabla_epoch_timestamps_are_windowed_in_seconds_or_milliseconds() {
    // Python: hmac.new(b"k", b"1736937000123" + b"{}", sha256).hexdigest()
    let body = b"{}";
    let sig = "bfa5af15fadc7e6c9abe5e6c0f023078d854d2b917e245f15d405f9fff678be4";
    let h = nabla_headers(sig, "1736937000123");
    let result = verify(Provider::Nabla, &["k"], &h, body, NABLA_NOW + 100);
    assert_eq!(result, Ok(()));
    assert_eq!(
        verify(Provider::Nabla, &["k"], &h, body, NABLA_NOW + 400),
        Err("stale_timestamp")
    );
}

// --- Prosa ------------------------------------------------------------------------------

/// The key exactly as Prosa's API shows it (hex text, not hex-decoded).
const PROSA_SECRET: &str = "a35837907f71e9eaf52848b54ca11135187e9e30e23f2ac001eabbc3321e9bdd";
const PROSA_BODY: &[u8] = br#"{"job_id":"063c64da-180d-731e-8000-d11a28529080","result":{"data":[{"final":true,"channel":0,"time_end":6.47,"time_start":1,"transcript":"hasil dari pekerjaan ini cukup memuaskan","speaker_tag":1}]},"created_at":"2023-01-17T14:26:25.505439","modified_at":"2023-01-17T14:26:26.619771"}"#;
/// Python, as Prosa's official receiver: sha256(secret.encode("utf-8") + b"." + body).hexdigest()
const PROSA_V1: &str = "256518eacabdbc6f971639524496a1cf5f9589001a5dea531892b12ac43f80e9";
/// The same with the key "old-prosa-key".
const PROSA_V1_OLD: &str = "8e308eeeaae020afe87efb41aa32b9aad1f9072540be5f0b35ef9aada004468f";
const PROSA_T: i64 = 1_673_940_396;

fn prosa_headers(sig: &str) -> HeaderMap {
    headers(&[
        ("X-Prosa-Signature", sig),
        ("X-Prosa-Event", "stt.jobs.completed"),
        ("X-Prosa-Event-UUID", "a7a26ff2-e851-45b6-9634-d595f45458b7"),
    ])
}

#[test]
fn prosa_accepts_independent_vectors_with_rotation() {
    let h = prosa_headers(&format!("t={PROSA_T},v1={PROSA_V1}"));
    assert_eq!(
        verify(Provider::Prosa, &[PROSA_SECRET], &h, PROSA_BODY, PROSA_T),
        Ok(())
    );
    let rotated = prosa_headers(&format!("t={PROSA_T},v1={PROSA_V1_OLD},v1={PROSA_V1}"));
    assert_eq!(
        verify(
            Provider::Prosa,
            &[PROSA_SECRET],
            &rotated,
            PROSA_BODY,
            PROSA_T
        ),
        Ok(())
    );
    assert_eq!(
        verify(
            Provider::Prosa,
            &["old-prosa-key"],
            &rotated,
            PROSA_BODY,
            PROSA_T
        ),
        Ok(())
    );
    let opts = SignOptions {
        timestamp: PROSA_T,
        event_id: Some("a7a26ff2-e851-45b6-9634-d595f45458b7".into()),
        event_type: Some("stt.jobs.completed".into()),
    };
    let signed = Provider::Prosa
        .sign(
            &keys(Provider::Prosa, &["old-prosa-key", PROSA_SECRET]),
            PROSA_BODY,
            &opts,
        )
        .unwrap();
    assert_eq!(
        signed[0].1,
        format!("t={PROSA_T},v1={PROSA_V1_OLD},v1={PROSA_V1}")
    );
}

#[test]
fn prosa_rejections_carry_the_contract_codes() {
    let check =
        |h: &HeaderMap, body: &[u8], now| verify(Provider::Prosa, &[PROSA_SECRET], h, body, now);
    let good = prosa_headers(&format!("t={PROSA_T},v1={PROSA_V1}"));
    assert_eq!(
        check(&good, &PROSA_BODY[..PROSA_BODY.len() - 1], PROSA_T),
        Err("invalid_signature")
    );
    assert_eq!(
        verify(Provider::Prosa, &["wrong"], &good, PROSA_BODY, PROSA_T),
        Err("invalid_signature")
    );
    // Python: the schemes Prosa's example does not use, HMAC-SHA256(secret, body) and
    // sha256(bytes.fromhex(secret) + b"." + body), are not accepted.
    for other in [
        "68912dbef920c07db366e394b1a98ef7e31bd7a2cdbed67bd27d05e3a0e2ad27",
        "8d28f43bd8bd88f956837e74d4768ad95add254392a988e28b4756e43ef560ad",
    ] {
        let h = prosa_headers(&format!("t={PROSA_T},v1={other}"));
        assert_eq!(check(&h, PROSA_BODY, PROSA_T), Err("invalid_signature"));
    }
    // The official receiver only bounds the past; this one holds t to the window both ways.
    assert_eq!(
        check(&good, PROSA_BODY, PROSA_T + 301),
        Err("stale_timestamp")
    );
    assert_eq!(
        check(&good, PROSA_BODY, PROSA_T - 301),
        Err("stale_timestamp")
    );
    assert_eq!(
        check(
            &prosa_headers(&format!("t={PROSA_T},v1=")),
            PROSA_BODY,
            PROSA_T
        ),
        Err("invalid_signature")
    );
    assert_eq!(
        check(
            &prosa_headers(&format!("t={PROSA_T},v1={}", &PROSA_V1[..60])),
            PROSA_BODY,
            PROSA_T
        ),
        Err("invalid_signature")
    );
    assert_eq!(
        check(
            &prosa_headers(&format!("v1={PROSA_V1}")),
            PROSA_BODY,
            PROSA_T
        ),
        Err("missing_signature")
    );
    assert_eq!(
        check(&prosa_headers(&format!("t={PROSA_T}")), PROSA_BODY, PROSA_T),
        Err("missing_signature")
    );
    assert_eq!(
        check(&prosa_headers(""), PROSA_BODY, PROSA_T),
        Err("missing_signature")
    );
    // A repeated header joined by API Gateway v2 shows up as a second t.
    let joined = prosa_headers(&format!(
        "t={PROSA_T},v1={PROSA_V1},t={PROSA_T},v1={PROSA_V1}"
    ));
    assert_eq!(
        check(&joined, PROSA_BODY, PROSA_T),
        Err("missing_signature")
    );
    let mut repeated = good.clone();
    repeated.append("x-prosa-signature", HeaderValue::from_static("t=1,v1=00"));
    assert_eq!(
        check(&repeated, PROSA_BODY, PROSA_T),
        Err("missing_signature")
    );
    let no_uuid = headers(&[
        ("X-Prosa-Signature", &format!("t={PROSA_T},v1={PROSA_V1}")),
        ("X-Prosa-Event", "stt.jobs.completed"),
    ]);
    assert_eq!(
        check(&no_uuid, PROSA_BODY, PROSA_T),
        Err("missing_signature")
    );
}

// --- Unreadable headers (issue 8.7, issue 17.13) -----------------------------------------

/// A signature, timestamp or identity header that is present but not visible ASCII text
/// cannot be read: 401 `missing_signature`, before anything is stored (400 is for verified
/// bodies only).
#[test]
fn non_text_signature_headers_are_unreadable_and_refused_401() {
    let not_text = HeaderValue::from_bytes("a7a26ff2-é".as_bytes()).unwrap();
    let mut h = prosa_headers(&format!("t={PROSA_T},v1={PROSA_V1}"));
    h.insert("x-prosa-event-uuid", not_text.clone());
    let keys = keys(Provider::Prosa, &[PROSA_SECRET]);
    let err = Provider::Prosa
        .verify(&h, PROSA_BODY, &keys, Window::new(PROSA_T, 300))
        .unwrap_err();
    assert_eq!(err.code(), "missing_signature");
    assert_eq!(err.status(), http::StatusCode::UNAUTHORIZED);
    assert!(
        err.to_string().contains("X-Prosa-Event-UUID")
            || err.to_string().contains("x-prosa-event-uuid")
    );

    let mut h = daily_headers(DAILY_SIG, "1736937000");
    h.insert("x-webhook-signature", not_text);
    assert_eq!(
        verify(Provider::Daily, &[DAILY_SECRET], &h, DAILY_BODY, DAILY_TS),
        Err("missing_signature")
    );
    // A timestamp in full-width digits is no timestamp.
    let full_width: String = "1736937000"
        .chars()
        .map(|c| char::from_u32(0xFF10 + c.to_digit(10).unwrap()).unwrap())
        .collect();
    let mut h = daily_headers(DAILY_SIG, "1736937000");
    h.insert(
        "x-webhook-timestamp",
        HeaderValue::from_bytes(full_width.as_bytes()).unwrap(),
    );
    let err = Provider::Daily
        .verify(&h, DAILY_BODY, &keys_daily(), Window::new(DAILY_TS, 300))
        .unwrap_err();
    assert_eq!(
        (err.code(), err.status()),
        ("missing_signature", http::StatusCode::UNAUTHORIZED)
    );
    assert!(!err.to_string().contains('１'), "{err}");
}

fn keys_daily() -> Keys {
    keys(Provider::Daily, &[DAILY_SECRET])
}

// --- Measured skew (issue 12.2) ---------------------------------------------------------

/// Prosa's official delivery example carries a `t` exactly 7 hours behind: the refusal
/// states the measured skew, signed, as text and as data.
#[test]
fn stale_timestamps_state_the_measured_skew() {
    let h = prosa_headers(&format!("t={PROSA_T},v1={PROSA_V1}"));
    let keys = keys(Provider::Prosa, &[PROSA_SECRET]);
    let err = Provider::Prosa
        .verify(&h, PROSA_BODY, &keys, Window::new(PROSA_T + 25_200, 300))
        .unwrap_err();
    assert_eq!(err.code(), "stale_timestamp");
    assert_eq!(err.skew_secs(), Some(25_200));
    assert!(err.to_string().contains("+25200 s"), "{err}");

    let h = daily_headers(DAILY_SIG, "1736937000");
    let err = Provider::Daily
        .verify(
            &h,
            DAILY_BODY,
            &keys_daily(),
            Window::new(DAILY_TS - 400, 300),
        )
        .unwrap_err();
    assert_eq!(err.skew_secs(), Some(-400));
    assert!(err.to_string().contains("-400 s"), "{err}");
    // A per-provider tolerance is just another window; the default is not widened.
    assert_eq!(Window::DEFAULT_TOLERANCE_SECS, 300);
    assert!(Provider::Daily
        .verify(
            &h,
            DAILY_BODY,
            &keys_daily(),
            Window::new(DAILY_TS - 400, 400)
        )
        .is_ok());
    let missing = daily_headers("", "1736937000");
    let err = Provider::Daily
        .verify(
            &missing,
            DAILY_BODY,
            &keys_daily(),
            Window::new(DAILY_TS, 300),
        )
        .unwrap_err();
    assert_eq!(err.skew_secs(), None);
}

// --- Prosa's second scheme, `sha256=` (issue 12.1) --------------------------------------

/// Python: hmac.new(PROSA_SECRET.encode(), PROSA_BODY, hashlib.sha256).hexdigest()
const PROSA_SHA256: &str = "68912dbef920c07db366e394b1a98ef7e31bd7a2cdbed67bd27d05e3a0e2ad27";
/// Python: hmac.new(b"old-prosa-key", PROSA_BODY, hashlib.sha256).hexdigest()
const PROSA_SHA256_OLD: &str = "041e317938211a46b3f019b7562603ea8d7412f9805d8ea7f6d174471d70f60c";

#[test]
fn prosa_sha256_scheme_accepts_independent_vectors() {
    let h = prosa_headers(&format!("sha256={PROSA_SHA256}"));
    // No timestamp in this scheme: any clock; replays are caught by the body-digest dedupe.
    for now in [PROSA_T, PROSA_T + 86_400 * 365] {
        assert_eq!(
            verify(Provider::Prosa, &[PROSA_SECRET], &h, PROSA_BODY, now),
            Ok(())
        );
    }
    // Every configured secret is tried (rotation); hex in either case.
    let upper = prosa_headers(&format!("sha256={}", PROSA_SHA256_OLD.to_uppercase()));
    assert_eq!(
        verify(
            Provider::Prosa,
            &[PROSA_SECRET, "old-prosa-key"],
            &upper,
            PROSA_BODY,
            PROSA_T
        ),
        Ok(())
    );
    // The signer writes the same header when asked for this scheme.
    let opts = SignOptions {
        timestamp: PROSA_T,
        event_id: Some("a7a26ff2-e851-45b6-9634-d595f45458b7".into()),
        event_type: Some("stt.jobs.completed".into()),
    };
    let signed = Provider::Prosa
        .sign_as(
            &keys(Provider::Prosa, &[PROSA_SECRET]),
            PROSA_BODY,
            &opts,
            Some("sha256"),
        )
        .unwrap();
    assert_eq!(
        signed[0],
        ("X-Prosa-Signature".into(), format!("sha256={PROSA_SHA256}"))
    );
    assert_eq!(signed.len(), 3);
    assert_eq!(Provider::Prosa.sign_schemes(), ["v1", "sha256"]);
    assert!(Provider::Prosa
        .sign_as(
            &keys(Provider::Prosa, &[PROSA_SECRET]),
            PROSA_BODY,
            &opts,
            Some("v2")
        )
        .is_err());
    // The default stays t=/v1=.
    let default = Provider::Prosa
        .sign(&keys(Provider::Prosa, &[PROSA_SECRET]), PROSA_BODY, &opts)
        .unwrap();
    assert_eq!(default[0].1, format!("t={PROSA_T},v1={PROSA_V1}"));
}

#[test]
fn prosa_sha256_scheme_adversarial_headers() {
    let check = |sig: &str, body: &[u8]| {
        verify(
            Provider::Prosa,
            &[PROSA_SECRET],
            &prosa_headers(sig),
            body,
            PROSA_T,
        )
    };
    let good = format!("sha256={PROSA_SHA256}");
    assert_eq!(check(&good, &PROSA_BODY[1..]), Err("invalid_signature"));
    assert_eq!(
        verify(
            Provider::Prosa,
            &["wrong"],
            &prosa_headers(&good),
            PROSA_BODY,
            PROSA_T
        ),
        Err("invalid_signature")
    );
    // Empty, `sha256=` alone, truncated, too long, not hex.
    assert_eq!(check("", PROSA_BODY), Err("missing_signature"));
    assert_eq!(check("sha256=", PROSA_BODY), Err("invalid_signature"));
    assert_eq!(
        check(&good[..good.len() - 1], PROSA_BODY),
        Err("invalid_signature")
    );
    assert_eq!(
        check(&format!("{good}0"), PROSA_BODY),
        Err("invalid_signature")
    );
    assert_eq!(
        check(&format!("sha256={}", "zz".repeat(32)), PROSA_BODY),
        Err("invalid_signature")
    );
    // The other scheme's digest under this prefix, and this digest as a v1, do not match.
    assert_eq!(
        check(&format!("sha256={PROSA_V1}"), PROSA_BODY),
        Err("invalid_signature")
    );
    assert_eq!(
        check(&format!("t={PROSA_T},v1={PROSA_SHA256}"), PROSA_BODY),
        Err("invalid_signature")
    );
    // Mixed with t= / v1=: refused whichever entry would have matched.
    for mixed in [
        format!("t={PROSA_T},{good}"),
        format!("{good},t={PROSA_T}"),
        format!("t={PROSA_T},v1={PROSA_V1},{good}"),
        format!("{good},v1={PROSA_V1}"),
    ] {
        assert_eq!(
            check(&mixed, PROSA_BODY),
            Err("invalid_signature"),
            "{mixed}"
        );
    }
    // A repeated header, joined by API Gateway v2.
    assert_eq!(
        check(&format!("{good},{good}"), PROSA_BODY),
        Err("missing_signature")
    );
}

// --- Nabla's timestamp and signature variants (issue 12.4) ------------------------------

/// In the form Nabla's official sample app computes (nabla-connect-sample-app,
/// signatureVerification.ts): hex(HMAC-SHA256(key = secret as UTF-8, timestamp ‖ raw body)).
/// Python: hmac.new(b"nabla-test-secret-7c1e", ts.encode() + NABLA_BODY, hashlib.sha256).hexdigest()
const NABLA_VECTORS: [(&str, &str); 4] = [
    // ISO 8601 without a zone, read as UTC.
    (
        "2025-01-15T10:30:00",
        "7bb9fd48a9464d7d34ac1149961dfe198113da4137693e3c8c0b7f1d8fdc77c9",
    ),
    (
        "2025-01-15T10:30:00.675",
        "07b46e7e472a9ca733cf0522d314d10908b364ef80266f5668cc8d6d648fa835",
    ),
    // RFC 3339 with an offset: the same instant.
    (
        "2025-01-15T11:30:00+01:00",
        "fc3e6f4dd488a1042d65a1ca9d66576dd97e0a8e0724d66d29bdc0eafadda2b0",
    ),
    // Epoch seconds.
    (
        "1736937000",
        "5c2e4617b72792a6ec9df320b7e7958d55e7d87b17c98477bcfa0d69f42e9ab5",
    ),
];

/// Test deliveries in the zone-less form can be signed too (`sign_as`), e.g. for samples.
#[test]
fn nabla_signs_in_the_zoneless_form_on_request() {
    let keys = keys(Provider::Nabla, &["nabla-test-secret-7c1e"]);
    let opts = SignOptions {
        timestamp: NABLA_NOW,
        ..SignOptions::default()
    };
    let signed = Provider::Nabla
        .sign_as(&keys, NABLA_BODY, &opts, Some("iso-no-zone"))
        .unwrap();
    assert_eq!(
        signed,
        [
            (
                "x-nabla-webhook-signature".to_string(),
                NABLA_VECTORS[0].1.to_string()
            ),
            (
                "x-nabla-webhook-timestamp".to_string(),
                NABLA_VECTORS[0].0.to_string()
            ),
        ]
    );
    let default = Provider::Nabla.sign(&keys, NABLA_BODY, &opts).unwrap();
    assert_eq!(default[1].1, "2025-01-15T10:30:00Z");
    assert_eq!(Provider::Nabla.sign_schemes(), ["rfc3339", "iso-no-zone"]);
}

#[test]
fn nabla_timestamps_in_every_published_form() {
    let secret = ["nabla-test-secret-7c1e"];
    for (ts, sig) in NABLA_VECTORS {
        let h = nabla_headers(sig, ts);
        assert_eq!(
            verify(Provider::Nabla, &secret, &h, NABLA_BODY, NABLA_NOW),
            Ok(()),
            "{ts}"
        );
        // Each form is held to the window at the instant it names.
        assert_eq!(
            verify(Provider::Nabla, &secret, &h, NABLA_BODY, NABLA_NOW + 301),
            Err("stale_timestamp"),
            "{ts}"
        );
        // Each signature may carry sha256=, in any case, among others, with spaces.
        let listed = format!(" sha256={} , sha256={},", NABLA_SIG_OLD, sig.to_uppercase());
        assert_eq!(
            verify(
                Provider::Nabla,
                &secret,
                &nabla_headers(&listed, ts),
                NABLA_BODY,
                NABLA_NOW
            ),
            Ok(()),
            "{listed}"
        );
    }
    // A zone-less time that is not ISO 8601 is refused, not guessed.
    for bad in [
        "2025-01-15 10:30:00",
        "15/01/2025 10:30",
        "2025-01-15T10:30:00 UTC",
    ] {
        assert_eq!(
            verify(
                Provider::Nabla,
                &secret,
                &nabla_headers(NABLA_SIG, bad),
                NABLA_BODY,
                NABLA_NOW
            ),
            Err("invalid_signature"),
            "{bad}"
        );
    }
}

// --- verify --explain (issue 12.5) -------------------------------------------------------

fn explain(
    provider: Provider,
    secrets: &[&str],
    h: &HeaderMap,
    body: &[u8],
    now: i64,
) -> scribehook::providers::Explanation {
    provider.explain(h, body, &keys(provider, secrets), Window::new(now, 300))
}

#[test]
fn explain_names_scheme_skew_and_secret_positions_never_values() {
    // Prosa's clock seven hours behind: the secret would match, the timestamp does not.
    let h = prosa_headers(&format!("t={PROSA_T},v1={PROSA_V1}"));
    let ex = explain(
        Provider::Prosa,
        &["old-prosa-key", PROSA_SECRET],
        &h,
        PROSA_BODY,
        PROSA_T + 25_200,
    );
    assert_eq!(ex.result.as_ref().unwrap_err().code(), "stale_timestamp");
    let text = ex.to_string();
    assert!(
        text.contains("X-Prosa-Signature: t=<unix>,v1=<sig>"),
        "{text}"
    );
    assert!(text.contains("skew +25200 s, tolerance 300 s"), "{text}");
    assert!(text.contains("exactly +7 h"), "{text}");
    assert!(
        text.contains("secret #1 of PROSA_WEBHOOK_SECRETS: matches no signature"),
        "{text}"
    );
    assert!(
        text.contains("secret #2 of PROSA_WEBHOOK_SECRETS: matches, but the timestamp"),
        "{text}"
    );
    assert!(
        !text.contains(PROSA_SECRET) && !text.contains("old-prosa-key"),
        "{text}"
    );

    // Daily's digest sent in hex: the encoding is named.
    let hex_form = "daa45b831b462d7436d54a7f8790050605009706290fdaed78d0d9344e0ff90c";
    let ex = explain(
        Provider::Daily,
        &[DAILY_SECRET],
        &daily_headers(hex_form, "1736937000"),
        DAILY_BODY,
        DAILY_TS,
    );
    assert_eq!(ex.result.as_ref().unwrap_err().code(), "invalid_signature");
    assert_eq!(ex.signatures[0].chars, 64);
    let text = ex.to_string();
    assert!(
        text.contains("hex digest where this scheme sends base64"),
        "{text}"
    );
    assert!(
        text.contains(
            "base64(HMAC-SHA256(key = base64-decoded secret, X-Webhook-Timestamp \".\" body))"
        ),
        "{text}"
    );
    assert!(!text.contains(DAILY_SECRET), "{text}");

    // A truncated Bota signature: its length is named.
    let ex = explain(
        Provider::Bota,
        &[BOTA_SECRET],
        &bota_headers(&BOTA_SIG[..40], "1736937000", None),
        BOTA_BODY,
        DAILY_TS,
    );
    assert!(
        ex.to_string()
            .contains("signature #1: 37 characters, does not decode (not 64 hex digits)"),
        "{ex}"
    );

    // Rotation: every secret is reported, the matching one by position.
    let ex = explain(
        Provider::Nabla,
        &["other", "nabla-test-secret-7c1e"],
        &nabla_headers(NABLA_SIG, "2025-01-15T10:30:00Z"),
        NABLA_BODY,
        NABLA_NOW,
    );
    assert_eq!(ex.result, Ok(()));
    let matched: Vec<_> = ex.secrets.iter().map(|s| (s.position, s.matched)).collect();
    assert_eq!(matched, [(1, false), (2, true)]);

    // A header that fits no scheme says so.
    let mixed = prosa_headers(&format!("t={PROSA_T},sha256={PROSA_SHA256}"));
    let ex = explain(
        Provider::Prosa,
        &[PROSA_SECRET],
        &mixed,
        PROSA_BODY,
        PROSA_T,
    );
    assert!(ex.scheme.is_none());
    assert!(ex.to_string().contains("none fits"), "{ex}");
}

/// A delivery to check: provider, secrets, headers, body, now.
type Case<'a> = (Provider, &'a [&'a str], HeaderMap, &'a [u8], i64);

/// The explanation's result is the verification's answer, case by case.
#[test]
fn explain_agrees_with_verify() {
    let prosa = |sig: &str| prosa_headers(sig);
    let cases: Vec<Case> = vec![
        (
            Provider::Daily,
            &[DAILY_SECRET],
            daily_headers(DAILY_SIG, "1736937000"),
            DAILY_BODY,
            DAILY_TS,
        ),
        (
            Provider::Daily,
            &[DAILY_SECRET],
            daily_headers(DAILY_SIG, "1736937000"),
            DAILY_BODY,
            DAILY_TS + 999,
        ),
        (
            Provider::Daily,
            &[DAILY_SECRET],
            daily_headers("***", "1736937000"),
            DAILY_BODY,
            DAILY_TS + 999,
        ),
        (
            Provider::Daily,
            &[DAILY_SECRET],
            daily_headers("", "1736937000"),
            DAILY_BODY,
            DAILY_TS,
        ),
        (
            Provider::Bota,
            &[BOTA_SECRET],
            bota_headers(BOTA_SIG, "1736937000", Some("evt_other")),
            BOTA_BODY,
            DAILY_TS,
        ),
        (
            Provider::Bota,
            &[BOTA_SECRET],
            bota_headers("v1=", "1736937000", None),
            BOTA_BODY,
            DAILY_TS,
        ),
        (
            Provider::Nabla,
            &["nabla-test-secret-7c1e"],
            nabla_headers(",", "2025-01-15T10:30:00Z"),
            NABLA_BODY,
            NABLA_NOW,
        ),
        (
            Provider::Nabla,
            &["nabla-test-secret-7c1e"],
            nabla_headers(NABLA_SIG, "yesterday"),
            NABLA_BODY,
            NABLA_NOW,
        ),
        (
            Provider::Prosa,
            &[PROSA_SECRET],
            prosa(&format!("t={PROSA_T},v1={PROSA_V1}")),
            PROSA_BODY,
            PROSA_T,
        ),
        (
            Provider::Prosa,
            &[PROSA_SECRET],
            prosa(&format!("sha256={PROSA_SHA256}")),
            PROSA_BODY,
            0,
        ),
        (
            Provider::Prosa,
            &[PROSA_SECRET],
            prosa("sha256="),
            PROSA_BODY,
            PROSA_T,
        ),
        (
            Provider::Prosa,
            &[PROSA_SECRET],
            prosa(&format!("v1={PROSA_V1}")),
            PROSA_BODY,
            PROSA_T,
        ),
    ];
    for (provider, secrets, h, body, now) in cases {
        let keys = keys(provider, secrets);
        let window = Window::new(now, 300);
        assert_eq!(
            provider.explain(&h, body, &keys, window).result,
            provider.verify(&h, body, &keys, window),
            "{provider} {h:?}"
        );
    }
}

/// Issue 17.11: a Daily secret that is not base64 is refused at start-up with a message
/// that names the variable and the secret's position, never a piece of the secret (the
/// offending character, its offset).
#[test]
fn a_secret_that_is_not_base64_is_not_quoted() {
    for secret in ["c2VjcmV0%c2VjcmV0", "c2Vj~cmV0", "c2VjcmV0!!"] {
        let err = Provider::Daily.keys(&[secret]).unwrap_err().to_string();
        let config = scribehook::config::Config::from_lookup(|name| {
            (name == "DAILY_WEBHOOK_SECRETS").then(|| format!("c2VjcmV0,{secret}"))
        })
        .unwrap_err()
        .to_string();
        for text in [&err, &config] {
            for piece in ["%", "~", "!", "symbol", "offset", "c2Vj"] {
                assert!(!text.contains(piece), "{piece} in {text}");
            }
        }
        assert!(config.contains("DAILY_WEBHOOK_SECRETS"), "{config}");
        assert!(config.contains("secret #"), "{config}");
    }
}
