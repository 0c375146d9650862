//! Golden outputs: every committed sample (API Gateway v2 and v1) through the real ingest
//! handler with inline processing into a file store, plus a set of refused and repeated
//! deliveries, with the clock pinned. The HTTP answers and every byte written (archive,
//! events, records, record notifications) must equal `tests/golden/outputs.txt`, so a refactor cannot change what
//! users see by accident. A change made on purpose regenerates the file with
//! `UPDATE_GOLDEN=1 cargo test --test golden` and shows up in review as its diff.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;

mod common;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use common::{manifest, sample_config, samples};
use lambda_runtime::{Context, LambdaEvent};
use scribehook::entrypoints::{app, lambda};
use scribehook::Timestamp;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A v2 sample with its body (and the headers named) replaced.
fn variant(
    sample: &str,
    body: Option<&[u8]>,
    headers: &[(&str, &str)],
    method: Option<&str>,
    path: Option<&str>,
) -> serde_json::Value {
    let mut event: serde_json::Value = serde_json::from_slice(
        &std::fs::read(root().join("events/apigw-v2").join(sample)).unwrap(),
    )
    .unwrap();
    if let Some(body) = body {
        event["body"] = STANDARD.encode(body).into();
        event["isBase64Encoded"] = true.into();
    }
    for (name, value) in headers {
        event["headers"][name] = (*value).into();
    }
    if let Some(method) = method {
        event["requestContext"]["http"]["method"] = method.into();
    }
    if let Some(path) = path {
        event["rawPath"] = path.into();
        event["requestContext"]["http"]["path"] = path.into();
    }
    event
}

fn dump_tree(dir: &Path, out: &mut String) {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    for file in files {
        let rel = file.strip_prefix(dir).unwrap().display().to_string();
        let text = String::from_utf8_lossy(&std::fs::read(&file).unwrap()).into_owned();
        let _ = writeln!(out, "--- {rel}\n{text}");
    }
}

async fn run(kind: &str, dir: &Path, out: &mut String) {
    let signed_at = manifest()["signed_at"].as_i64().unwrap();
    // Record notifications as JSON lines beside the records: pinned like everything written.
    let notify = format!("file://{}/notifications", dir.display());
    let (config, clients) = sample_config(
        dir,
        &[("MAX_BODY_BYTES", "65536"), ("NOTIFY", notify.as_str())],
    );
    let ingest = app::ingest(
        &config,
        &clients,
        Arc::new(move || Timestamp::from_unix(signed_at).unwrap()),
    )
    .await;
    let mut events: Vec<(String, serde_json::Value)> = samples(kind)
        .into_iter()
        .map(|path| {
            let name = path.strip_prefix(root()).unwrap().display().to_string();
            (
                name,
                serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap(),
            )
        })
        .collect();
    if kind == "apigw-v2" {
        let bota = "bota/recording.created.json";
        let refused: Vec<(&str, serde_json::Value)> = vec![
            ("redelivery", variant(bota, None, &[], None, None)),
            (
                "conflict",
                variant(
                    "daily/meeting.started.json",
                    Some(br#"{"version":"1.0.0","type":"meeting.started","id":"x","payload":{},"event_ts":1}"#),
                    &[],
                    None,
                    None,
                ),
            ),
            ("tampered", variant(bota, Some(b"{\"id\":\"evil\"}"), &[], None, None)),
            ("no signature", variant(bota, None, &[("x-bota-signature", "")], None, None)),
            ("wrong method", variant(bota, None, &[], Some("GET"), None)),
            ("unknown provider", variant(bota, None, &[], None, Some("/webhooks/zoom"))),
            ("too large", variant(bota, Some(&vec![b' '; 70_000]), &[], None, None)),
            (
                "endpoint check",
                variant("daily/meeting.started.json", Some(b"{ \"test\": \"test\" }"), &[], None, None),
            ),
        ];
        events.extend(refused.into_iter().map(|(n, e)| (n.to_owned(), e)));
    }
    for (name, event) in events {
        let payload = serde_json::from_value(event).unwrap();
        let response =
            lambda::ingest_handler(&ingest, LambdaEvent::new(payload, Context::default()))
                .await
                .unwrap();
        let mut headers: Vec<String> = response
            .headers()
            .iter()
            .map(|(k, v)| format!("{k}: {}", v.to_str().unwrap()))
            .collect();
        headers.sort();
        let _ = writeln!(
            out,
            "=== {name}\n{} [{}] {}",
            response.status(),
            headers.join("; "),
            response.body()
        );
    }
    dump_tree(dir, out);
}

#[tokio::test]
async fn outputs_of_every_sample_are_unchanged() {
    let mut out = String::new();
    for kind in ["apigw-v2", "apigw-v1"] {
        let dir =
            std::env::temp_dir().join(format!("scribehook-golden-{kind}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let _ = writeln!(out, "##### {kind}");
        let mut section = String::new();
        run(kind, &dir, &mut section).await;
        // The temporary directory differs per run; everything else must not.
        out.push_str(&section.replace(&dir.display().to_string(), "<dir>"));
        let _ = std::fs::remove_dir_all(&dir);
    }
    let golden = root().join("tests/golden/outputs.txt");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(golden.parent().unwrap()).unwrap();
        std::fs::write(&golden, &out).unwrap();
    }
    let expected = std::fs::read_to_string(&golden).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run with UPDATE_GOLDEN=1 to create it",
            golden.display()
        )
    });
    if expected != out {
        let first = expected
            .lines()
            .zip(out.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(expected.lines().count().min(out.lines().count()));
        let context = |text: &str| {
            text.lines()
                .skip(first.saturating_sub(3))
                .take(8)
                .collect::<Vec<_>>()
                .join("\n")
        };
        panic!(
            "outputs differ from {} at line {}:\n--- expected\n{}\n--- got\n{}",
            golden.display(),
            first + 1,
            context(&expected),
            context(&out)
        );
    }
}
