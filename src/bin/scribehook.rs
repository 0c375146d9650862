//! `scribehook`: the command-line face of the library (docs/cli.md). Reads the body on
//! stdin, writes results on stdout, exits non-zero with a one-line reason on stderr.

use std::io::{Read, Write};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use http::HeaderMap;
use scribehook::config::Config;
use scribehook::entrypoints::cli::{
    parse_header_line, parse_instant, secrets_or_env, terminal_json,
};
use scribehook::entrypoints::{app, local, report};
use scribehook::storage::records::BlobRecordStore;
use scribehook::storage::BlobLocation;
use scribehook::{telemetry, Provider, SignOptions, Timestamp, Window};

#[derive(Parser)]
#[command(
    name = "scribehook",
    version,
    about = "Sign, verify and normalize clinical transcription webhooks"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the headers the provider would send for the body on stdin.
    Sign(SignArgs),
    /// Verify a delivery: prints `valid` (exit 0) or the contract's error code (exit 1).
    Verify(VerifyArgs),
    /// Print the normalized event (schema v1) for the body on stdin. No network.
    Normalize(NormalizeArgs),
    /// Sign the body on stdin as the provider would and POST it; prints status and body.
    Send(SendArgs),
    /// Re-process archived deliveries into the configured STORE (idempotent).
    Replay(ReplayArgs),
    /// Serve the real ingest handler over HTTP on this machine (POST /webhooks/<provider>),
    /// configured from the environment like the Lambda function.
    Serve(ServeArgs),
    /// Print a readable summary of the records in a file:// or s3:// store.
    Records(RecordsArgs),
    /// End a subject's content (erasure) in the configured ARCHIVE and STORE: records and
    /// events keep ids, statuses and times; transcripts, notes, summaries, fetched outputs,
    /// overflow objects and archived deliveries go, every version. Idempotent.
    Purge(PurgeArgs),
    /// Process what is waiting on QUEUE_URL with the real processor handler, as the
    /// processor function would, until nothing is visible; then exit.
    Drain,
    /// Publish the record notifications not confirmed yet (after an outage of the bus, or
    /// with notifications newly turned on) on NOTIFY_BUS, or NOTIFY=file://DIR; prints
    /// {"records","published","events"}.
    Notify(NotifyArgs),
    /// Print the providers this build serves, one JSON object per line (name, route, the
    /// environment variables, signature headers): what the template, samples and scripts
    /// are generated from.
    Providers,
}

#[derive(Args)]
struct SendArgs {
    #[command(flatten)]
    sign: SignArgs,
    /// Where to POST, e.g. http://127.0.0.1:9000/webhooks/bota or the deployed URL.
    #[arg(long)]
    url: String,
}

#[derive(Args)]
struct ReplayArgs {
    /// The archive to read: s3://bucket[/prefix] or file:///dir (the ARCHIVE of the deployment).
    #[arg(long)]
    archive: String,
    /// Only this provider (default: all).
    #[arg(long, value_enum, ignore_case = true)]
    provider: Option<Provider>,
    /// Only subjects with a delivery received at or after this instant (RFC 3339).
    #[arg(long)]
    since: Option<String>,
}

#[derive(Args)]
struct PurgeArgs {
    /// The provider (`scribehook providers` lists them).
    #[arg(long, value_enum, ignore_case = true)]
    provider: Provider,
    /// The subject id (Daily job/transcript/recording id, Bota recording id, Nabla request
    /// id, Prosa job id), exactly as in the record's `subject_id`.
    #[arg(long)]
    subject: String,
    /// Confirm the erasure (required when run on a terminal).
    #[arg(long)]
    yes: bool,
}

#[derive(Args)]
struct NotifyArgs {
    /// Every record of the first STORE whose last revision (or completion, attention,
    /// purge) was not confirmed published: publish it now.
    #[arg(long, required = true)]
    pending: bool,
}

#[derive(Args)]
struct ServeArgs {
    #[arg(long, default_value = "127.0.0.1:9000")]
    addr: std::net::SocketAddr,
}

#[derive(Args)]
struct RecordsArgs {
    /// s3://bucket[/prefix] or file:///dir; defaults to the first such STORE, else ./data.
    #[arg(long)]
    store: Option<String>,
    /// Only this provider.
    #[arg(long, value_enum, ignore_case = true)]
    provider: Option<Provider>,
    /// Print the records as JSON lines instead of a summary.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct ProviderSecret {
    /// The provider (`scribehook providers` lists them).
    #[arg(long, value_enum, ignore_case = true)]
    provider: Provider,
    /// Signing secret exactly as the provider shows it; repeat for several (rotation).
    /// Defaults to the provider's <PROVIDER>_WEBHOOK_SECRETS variable.
    #[arg(long = "secret")]
    secrets: Vec<String>,
}

#[derive(Args)]
struct SignArgs {
    #[command(flatten)]
    who: ProviderSecret,
    /// Unix seconds or RFC 3339; defaults to now.
    #[arg(long)]
    timestamp: Option<String>,
    #[arg(long)]
    event_id: Option<String>,
    #[arg(long)]
    event_type: Option<String>,
    /// Which of the provider's published schemes to sign with (Prosa: v1 or sha256; Nabla:
    /// rfc3339 or iso-no-zone); the provider's default when unset.
    #[arg(long)]
    scheme: Option<String>,
}

#[derive(Args)]
struct VerifyArgs {
    #[command(flatten)]
    who: ProviderSecret,
    /// The clock to verify against (unix seconds or RFC 3339); defaults to now.
    #[arg(long)]
    now: Option<String>,
    /// Tolerance window in seconds; defaults to <PROVIDER>_SIGNATURE_TOLERANCE_SECONDS,
    /// else SIGNATURE_TOLERANCE_SECONDS, else 300.
    #[arg(long)]
    tolerance: Option<u64>,
    /// A request header, `Name: value`; repeat for each.
    #[arg(long = "header", short = 'H')]
    headers: Vec<String>,
    /// For a refused delivery, say which scheme and which secret (by position) were tried
    /// and what did not match, on stderr.
    #[arg(long)]
    explain: bool,
}

#[derive(Args)]
struct NormalizeArgs {
    #[arg(long, value_enum, ignore_case = true)]
    provider: Provider,
    /// A request header, `Name: value` (Prosa's event type and id travel in headers).
    #[arg(long = "header", short = 'H')]
    headers: Vec<String>,
}

/// A failure: the line for stderr and, for `verify`, the code for stdout.
struct Failure {
    code: Option<&'static str>,
    reason: String,
}

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure {
            code: None,
            reason: e.to_string(),
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    telemetry::init_logging();
    match run(cli.command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            if let Some(code) = failure.code {
                println!("{code}");
            }
            eprintln!("scribehook: {}", telemetry::Escaped(&failure.reason));
            ExitCode::FAILURE
        }
    }
}

fn stdin_body() -> Result<Vec<u8>, Failure> {
    let mut body = Vec::new();
    std::io::stdin()
        .read_to_end(&mut body)
        .map_err(|e| format!("reading the body from stdin: {e}"))?;
    Ok(body)
}

fn header_map(lines: &[String]) -> Result<HeaderMap, Failure> {
    let mut map = HeaderMap::new();
    for line in lines {
        let (name, value) = parse_header_line(line)?;
        map.append(name, value);
    }
    Ok(map)
}

fn instant_or_now(text: Option<&str>) -> Result<Timestamp, Failure> {
    Ok(match text {
        Some(t) => parse_instant(t)?,
        None => Timestamp::now(),
    })
}

/// The headers the provider would send for `body` (`sign` prints them, `send` uses them).
fn signed(args: SignArgs, body: &[u8]) -> Result<Vec<(String, String)>, Failure> {
    let provider = args.who.provider;
    let keys = provider.keys(&secrets_or_env(provider, args.who.secrets)?)?;
    let opts = SignOptions {
        timestamp: instant_or_now(args.timestamp.as_deref())?.unix_seconds(),
        event_id: args.event_id,
        event_type: args.event_type,
    };
    if let Some(scheme) = args.scheme.as_deref() {
        let known = provider.sign_schemes();
        if !known.contains(&scheme) {
            return Err(
                format!("{provider} has no scheme {scheme:?}; use one of {known:?}").into(),
            );
        }
    }
    Ok(provider.sign_as(&keys, body, &opts, args.scheme.as_deref())?)
}

async fn run(command: Command) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    match command {
        Command::Sign(args) => {
            for (name, value) in signed(args, &stdin_body()?)? {
                writeln!(out, "{name}: {value}")?;
            }
            Ok(())
        }
        Command::Verify(args) => verify(args, &mut out),
        Command::Normalize(args) => normalize(args, &mut out),
        Command::Send(args) => send(args, &mut out).await,
        Command::Replay(args) => replay(args, &mut out).await,
        Command::Serve(args) => serve(args).await,
        Command::Drain => drain(&mut out).await,
        Command::Notify(args) => notify(args, &mut out).await,
        Command::Records(args) => records(args, &mut out).await,
        Command::Purge(args) => purge(args, &mut out).await,
        Command::Providers => {
            for provider in Provider::ALL {
                writeln!(out, "{}", terminal_json(&provider.facts(), false)?)?;
            }
            Ok(())
        }
    }
}

fn verify(args: VerifyArgs, out: &mut impl Write) -> Result<(), Failure> {
    let provider = args.who.provider;
    let keys = provider.keys(&secrets_or_env(provider, args.who.secrets)?)?;
    let now = instant_or_now(args.now.as_deref())?;
    let tolerance = match args.tolerance {
        Some(t) => t,
        None => scribehook::config::Limits::from_process_env()?.tolerance(provider),
    };
    let headers = header_map(&args.headers)?;
    let body = stdin_body()?;
    let window = Window::new(now.unix_seconds(), tolerance);
    if args.explain {
        let explanation = provider.explain(&headers, &body, &keys, window);
        for line in explanation.lines() {
            eprintln!("{}", telemetry::Escaped(line));
        }
    }
    match provider.verify(&headers, &body, &keys, window) {
        Ok(()) => Ok(writeln!(out, "valid")?),
        Err(e) => Err(Failure {
            code: Some(e.code()),
            reason: e.to_string(),
        }),
    }
}

fn normalize(args: NormalizeArgs, out: &mut impl Write) -> Result<(), Failure> {
    let headers = header_map(&args.headers)?;
    let event = args
        .provider
        .normalize(&headers, &stdin_body()?)
        .map_err(|e| {
            // Some providers say what a delivery is in headers (Prosa's X-Prosa-Event).
            let hint = if args.headers.is_empty() {
                "; pass the headers the provider sent with -H 'Name: value' (Prosa: -H \
                 'X-Prosa-Event: stt.jobs.completed')"
            } else {
                ""
            };
            Failure {
                code: None,
                reason: format!("{}: {e}{hint}", e.code),
            }
        })?
        .finish(args.provider, Timestamp::now(), None);
    writeln!(out, "{}", terminal_json(&event, true)?)?;
    Ok(())
}

async fn send(args: SendArgs, out: &mut impl Write) -> Result<(), Failure> {
    check_route(&args.url, args.sign.who.provider)?;
    let body = stdin_body()?;
    let headers = signed(args.sign, &body)?;
    let (status, response) = local::post(&args.url, &headers, body).await?;
    writeln!(out, "{status}")?;
    out.write_all(&response)?;
    writeln!(out)?;
    if !(200..300).contains(&status) {
        return Err(format!("{} answered {status}", args.url).into());
    }
    Ok(())
}

/// A URL whose path names another provider's route would only be refused with that
/// provider's missing-header error: say what is wrong instead.
fn check_route(url: &str, provider: Provider) -> Result<(), Failure> {
    let path = url.parse::<http::Uri>().map(|u| u.path().to_owned());
    if let Ok(Ok(routed)) = path.as_deref().map(scribehook::pipeline::ingest::route) {
        if routed != provider {
            return Err(format!(
                "{url} is {routed}'s route but --provider is {provider}; send to .../webhooks/{provider}"
            )
            .into());
        }
    }
    Ok(())
}

async fn replay(args: ReplayArgs, out: &mut impl Write) -> Result<(), Failure> {
    let mut config = Config::from_env()?;
    config.archive = BlobLocation::parse(&args.archive).map_err(|e| format!("--archive: {e}"))?;
    let since = args.since.as_deref().map(parse_instant).transpose()?;
    let providers = match args.provider {
        Some(p) => vec![p],
        None => Provider::ALL.to_vec(),
    };
    let clients = app::Clients::from_env();
    let processor = app::processor(&config, &clients).await;
    let report = processor.replay(&providers, since).await?;
    for skipped in &report.skipped {
        eprintln!("scribehook: skipped {}", telemetry::Escaped(skipped));
    }
    eprintln!(
        "scribehook: read {} archived deliveries, rewrote {} events into {} records; {} \
         quarantined deliveries now processed (released); {} still unreadable (skipped)",
        report.deliveries,
        report.events,
        report.records,
        report.released,
        report.skipped.len()
    );
    writeln!(out, "{}", terminal_json(&report, false)?)?;
    Ok(())
}

async fn purge(args: PurgeArgs, out: &mut impl Write) -> Result<(), Failure> {
    use std::io::IsTerminal;
    if !args.yes && std::io::stdin().is_terminal() {
        return Err(format!(
            "purge erases {}/{} for good; add --yes to confirm",
            args.provider, args.subject
        )
        .into());
    }
    if args.subject.is_empty() {
        return Err("--subject must not be empty".into());
    }
    let config = Config::from_env()?;
    let clients = app::Clients::from_env();
    let processor = app::processor(&config, &clients).await;
    let report = processor.purge(args.provider, &args.subject).await?;
    telemetry::flush_metrics();
    if report.records_found == 0 && !report.removed_anything() {
        eprintln!(
            "scribehook: no record of {}/{} in {}",
            args.provider,
            telemetry::Escaped(&args.subject),
            config
                .stores
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(",")
        );
    }
    writeln!(out, "{}", terminal_json(&report, false)?)?;
    Ok(())
}

async fn serve(args: ServeArgs) -> Result<(), Failure> {
    let config = Config::from_env()?;
    if config.secrets.is_empty() {
        let names: Vec<String> = Provider::ALL.iter().map(|p| p.secrets_env()).collect();
        return Err(format!(
            "no provider is configured, so every delivery would be refused: set at least one \
             of {} (or its _ARN variable) to the provider's signing secret",
            names.join(", ")
        )
        .into());
    }
    let clients = app::Clients::from_env();
    let ingest = app::ingest(&config, &clients, scribehook::record::system_clock()).await;
    let ingest = std::sync::Arc::new(ingest);
    let listener = tokio::net::TcpListener::bind(args.addr).await?;
    let served: Vec<&str> = config.secrets.keys().map(|p| p.as_str()).collect();
    let stores: Vec<String> = config.stores.iter().map(ToString::to_string).collect();
    eprintln!(
        "scribehook: serving {} on http://{}/webhooks/<provider> (archive {}, store {})",
        served.join(", "),
        listener.local_addr()?,
        config.archive,
        stores.join(",")
    );
    tokio::select! {
        served = local::serve(listener, ingest) => served?,
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(())
}

async fn notify(args: NotifyArgs, out: &mut impl Write) -> Result<(), Failure> {
    // `--pending` is required: the one mode there is, named so a later one can be added.
    let NotifyArgs { pending: _ } = args;
    let config = Config::from_env()?;
    let clients = app::Clients::from_env();
    let processor = app::processor(&config, &clients).await;
    let report = processor.notify_pending().await;
    telemetry::flush_metrics();
    serde_json::to_writer(&mut *out, &report?)?;
    writeln!(out)?;
    Ok(())
}

async fn drain(out: &mut impl Write) -> Result<(), Failure> {
    let config = Config::from_env()?;
    let url = config.queue_url.clone().ok_or("QUEUE_URL is not set")?;
    let clients = app::Clients::from_env();
    let processor = app::processor(&config, &clients).await;
    let drained = local::drain_queue(&clients.sqs().await, &url, &processor).await?;
    writeln!(out, "{}", terminal_json(&drained, false)?)?;
    if drained.failed > 0 {
        return Err(format!("{} message(s) failed; see the log", drained.failed).into());
    }
    Ok(())
}

async fn records(args: RecordsArgs, out: &mut impl Write) -> Result<(), Failure> {
    let defaulted = args.store.is_none() && std::env::var_os("STORE").is_none();
    let uri = match args.store {
        Some(uri) => uri,
        None => std::env::var("STORE")
            .ok()
            .and_then(|list| {
                list.split(',')
                    .map(str::trim)
                    .find(|s| !s.starts_with("dynamodb://"))
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| format!("file://{}", scribehook::config::LOCAL_DATA_DIR)),
    };
    let location = BlobLocation::parse(&uri)
        .map_err(|e| format!("{e}; records can be listed from s3:// or file:// stores"))?;
    let clients = app::Clients::from_env();
    let mut records = BlobRecordStore::new(clients.blobs(&location).await)
        .records()
        .await?;
    records.retain(|r| args.provider.is_none_or(|p| r.provider == p));
    if records.is_empty() {
        let which = args.provider.map_or(String::new(), |p| format!("{p} "));
        let hint = if defaulted {
            " (the default; make demo writes to file://./data/demo: pass --store)"
        } else {
            ""
        };
        return Err(format!("no {which}records under {uri}{hint}").into());
    }
    for record in &records {
        if args.json {
            writeln!(out, "{}", terminal_json(record, false)?)?;
        } else {
            writeln!(out, "{}", report::summarize(record))?;
        }
    }
    Ok(())
}
