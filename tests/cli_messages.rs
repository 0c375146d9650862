//! What the `scribehook` tool says when it cannot do what was asked: every silent or unhelpful
//! failure a newcomer met is an exit status and a message that says what to do.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use scribehook::Provider;

/// Runs the tool with exactly `env` (and PATH/HOME), so no variable of the caller leaks in.
fn run(args: &[&str], env: &[(&str, &str)], dir: &std::path::Path) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_scribehook"));
    command
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(path) = std::env::var_os("PATH") {
        command.env("PATH", path);
    }
    let mut child = command.spawn().unwrap();
    child.stdin.take().unwrap().write_all(b"{}").unwrap();
    child.wait_with_output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("scribehook-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn records_on_an_empty_or_missing_store_exits_non_zero_and_says_where_it_looked() {
    let dir = temp_dir("records");
    // The default store (./data), missing: says so and points at the demo's directory.
    let o = run(&["records"], &[], &dir);
    assert!(!o.status.success(), "{o:?}");
    let message = stderr(&o);
    assert!(
        message.contains("no records under file://./data"),
        "{message}"
    );
    assert!(message.contains("./data/demo"), "{message}");
    // An explicit, empty store.
    std::fs::create_dir_all(dir.join("empty")).unwrap();
    let store = format!("file://{}", dir.join("empty").display());
    let o = run(&["records", "--store", &store], &[], &dir);
    assert!(!o.status.success(), "{o:?}");
    assert!(
        stderr(&o).contains(&format!("no records under {store}")),
        "{o:?}"
    );
    // A filter that matches nothing names the provider.
    let o = run(
        &["records", "--store", &store, "--provider", "bota"],
        &[],
        &dir,
    );
    assert!(stderr(&o).contains("no bota records under"), "{o:?}");
}

#[test]
fn serve_without_any_secret_refuses_to_start_and_names_the_variables() {
    let dir = temp_dir("serve");
    let o = run(&["serve", "--addr", "127.0.0.1:0"], &[], &dir);
    assert!(!o.status.success(), "{o:?}");
    let message = stderr(&o);
    assert!(message.contains("no provider is configured"), "{message}");
    for provider in Provider::ALL {
        assert!(message.contains(&provider.secrets_env()), "{message}");
    }
}

#[test]
fn send_says_when_nothing_listens_and_when_the_url_is_another_provider_s() {
    let dir = temp_dir("send");
    // A port nothing listens on: bind one, then free it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/webhooks/bota");
    let secret = Provider::Bota.facts().sample_secret;
    let o = run(
        &[
            "send",
            "--provider",
            "bota",
            "--secret",
            secret,
            "--url",
            &url,
        ],
        &[],
        &dir,
    );
    assert!(!o.status.success(), "{o:?}");
    let message = stderr(&o);
    assert!(
        message.contains(&format!("could not connect to {url}")),
        "{message}"
    );
    assert!(message.contains("scribehook serve"), "{message}");

    // Nabla's delivery to Bota's route: refused before anything is sent.
    let secret = Provider::Nabla.facts().sample_secret;
    let o = run(
        &[
            "send",
            "--provider",
            "nabla",
            "--secret",
            secret,
            "--url",
            &url,
        ],
        &[],
        &dir,
    );
    assert!(!o.status.success(), "{o:?}");
    let message = stderr(&o);
    assert!(
        message.contains("is bota's route but --provider is nabla"),
        "{message}"
    );
}

#[test]
fn prosa_says_everything_it_needs_at_once() {
    let dir = temp_dir("prosa");
    let secret = Provider::Prosa.facts().sample_secret;
    // A bare job body names neither the type nor a delivery id: both flags in one message.
    let o = run(
        &["sign", "--provider", "prosa", "--secret", secret],
        &[],
        &dir,
    );
    assert!(!o.status.success(), "{o:?}");
    let message = stderr(&o);
    assert!(
        message.contains("--event-type") && message.contains("--event-id"),
        "{message}"
    );
    // normalize without the headers Prosa sends says to pass them.
    let o = run(&["normalize", "--provider", "prosa"], &[], &dir);
    assert!(!o.status.success(), "{o:?}");
    assert!(stderr(&o).contains("-H 'X-Prosa-Event:"), "{o:?}");
    // An empty --secret (an unset shell variable) is named as such, counted from #1.
    let o = run(&["sign", "--provider", "prosa", "--secret", ""], &[], &dir);
    assert!(!o.status.success(), "{o:?}");
    let message = stderr(&o);
    assert!(
        message.contains("prosa secret #1: the secret given is empty"),
        "{message}"
    );
}
