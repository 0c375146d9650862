//! In-process throughput of scribehook's verify + parse + normalize against a floor of
//! HMAC-SHA256 + `serde_json::Value` over the same bytes (`make bench`, scripts/bench.py).
//!
//! usage: throughput BOTA_BODY_FILE [ITERATIONS]
//!
//! The body is a Bota `transcription.completed` delivery (scripts/bench.py writes the
//! 5.3 MB one it also sends to the ingest). It is signed here once, with Bota's scheme
//! computed directly with the hmac crate, at the current time. Each iteration then runs
//!
//! - floor: HMAC-SHA256 over `timestamp "." body`, a constant-time comparison with the
//!   signature header, and `serde_json::from_slice::<serde_json::Value>` of the body;
//! - ours: `Verified::check` (Bota's header rules, window, every key, the event-id header
//!   against the signed body) and `Provider::normalize` into the event draft;
//!
//! floor and ours interleaved, the order alternating, after a few untimed warm-up rounds.
//! Prints one JSON line: medians per iteration and the throughput ratio ours / floor.

use std::hint::black_box;
use std::time::{Duration, Instant};

use hmac::{Hmac, KeyInit, Mac};
use http::{HeaderMap, HeaderName, HeaderValue};
use scribehook::pipeline::delivery::Verified;
use scribehook::{Provider, Window};
use sha2::Sha256;

const SECRET: &str = "whsec_scribehook_demo_bota";
const WARM_UP: usize = 3;

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: throughput BOTA_BODY_FILE [ITERATIONS]");
        std::process::exit(2);
    };
    let iterations: usize = match args.next().map(|n| n.parse()) {
        None => 30,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => {
            eprintln!("ITERATIONS must be a positive integer");
            std::process::exit(2);
        }
    };
    let body = std::fs::read(&path).unwrap_or_else(|e| {
        eprintln!("reading {path}: {e}");
        std::process::exit(2);
    });

    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("a clock after 1970")
        .as_secs() as i64;
    let timestamp = now.to_string();
    let signature = hex::encode(
        floor_mac(timestamp.as_bytes(), &body)
            .finalize()
            .into_bytes(),
    );
    let event_id = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v.get("id")?.as_str().map(str::to_owned))
        .unwrap_or_else(|| {
            eprintln!("{path} is not a Bota envelope with an id");
            std::process::exit(2);
        });
    let mut headers = HeaderMap::new();
    for (name, value) in [
        ("content-type", "application/json".to_owned()),
        ("x-bota-timestamp", timestamp.clone()),
        ("x-bota-signature", format!("v1={signature}")),
        ("x-bota-event-id", event_id),
    ] {
        headers.insert(
            HeaderName::from_static(name),
            HeaderValue::from_str(&value).expect("a header value"),
        );
    }

    let provider = Provider::Bota;
    let keys = provider.keys(&[SECRET]).expect("the Bota test secret");
    let window = Window::new(now, Window::DEFAULT_TOLERANCE_SECS);

    let floor = || {
        let header = headers
            .get("x-bota-signature")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("v1="))
            .and_then(|hex_sig| hex::decode(hex_sig).ok())
            .expect("the signature header");
        let ts = headers
            .get("x-bota-timestamp")
            .expect("the timestamp header")
            .as_bytes();
        floor_mac(ts, &body)
            .verify_slice(&header)
            .expect("the floor's HMAC matches");
        let value: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
        black_box(value);
    };
    let mut segments = 0;
    let mut ours = || {
        let verified = Verified::check(provider, &headers, &body, &keys, window).expect("verified");
        let draft = provider
            .normalize(verified.headers(), verified.body())
            .expect("normalized");
        segments = draft
            .content
            .transcript
            .as_ref()
            .map_or(0, |t| t.segments.len());
        black_box(draft);
    };

    let mut floor_times = Vec::with_capacity(iterations);
    let mut ours_times = Vec::with_capacity(iterations);
    for round in 0..WARM_UP + iterations {
        let (f, o) = if round % 2 == 0 {
            let f = time(&floor);
            (f, time(&mut ours))
        } else {
            let o = time(&mut ours);
            (time(&floor), o)
        };
        if round >= WARM_UP {
            floor_times.push(f);
            ours_times.push(o);
        }
    }
    let floor_median = median(&mut floor_times);
    let ours_median = median(&mut ours_times);
    let mb_per_s = |d: Duration| body.len() as f64 / 1e6 / d.as_secs_f64();
    let line = serde_json::json!({
        "bench": "throughput",
        "body_bytes": body.len(),
        "segments": segments,
        "iterations": iterations,
        "warm_up": WARM_UP,
        "floor_median_ns": floor_median.as_nanos() as u64,
        "ours_median_ns": ours_median.as_nanos() as u64,
        "floor_mb_per_s": mb_per_s(floor_median),
        "ours_mb_per_s": mb_per_s(ours_median),
        "ratio": floor_median.as_secs_f64() / ours_median.as_secs_f64(),
    });
    println!("{line}");
}

/// Bota's MAC, `timestamp "." body`, fed in pieces (no copy of the body).
fn floor_mac(timestamp: &[u8], body: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).expect("any key length");
    mac.update(timestamp);
    mac.update(b".");
    mac.update(body);
    mac
}

fn time(mut f: impl FnMut()) -> Duration {
    let start = Instant::now();
    f();
    start.elapsed()
}

fn median(times: &mut [Duration]) -> Duration {
    times.sort_unstable();
    let mid = times.len() / 2;
    if times.len() % 2 == 1 {
        times[mid]
    } else {
        (times[mid - 1] + times[mid]) / 2
    }
}
