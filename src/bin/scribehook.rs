//! `scribehook`: the command-line face of the library (contract §6). Reads the body on
//! stdin, writes results on stdout, exits non-zero with a one-line reason on stderr.

use std::io::{Read, Write};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use http::HeaderMap;
use scribehook::cli::{parse_header_line, parse_instant, secrets_or_env};
use scribehook::{Provider, SignOptions, Timestamp, Window};

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
}

#[derive(Args)]
struct ProviderSecret {
    /// daily, bota, nabla or prosa
    #[arg(long)]
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
}

#[derive(Args)]
struct VerifyArgs {
    #[command(flatten)]
    who: ProviderSecret,
    /// The clock to verify against (unix seconds or RFC 3339); defaults to now.
    #[arg(long)]
    now: Option<String>,
    /// Tolerance window in seconds; defaults to SIGNATURE_TOLERANCE_SECONDS or 300.
    #[arg(long)]
    tolerance: Option<u64>,
    /// A request header, `Name: value`; repeat for each.
    #[arg(long = "header", short = 'H')]
    headers: Vec<String>,
}

#[derive(Args)]
struct NormalizeArgs {
    #[arg(long)]
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            if let Some(code) = failure.code {
                println!("{code}");
            }
            eprintln!("scribehook: {}", failure.reason.replace('\n', " "));
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

fn run(command: Command) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    match command {
        Command::Sign(args) => {
            let keys = args
                .who
                .provider
                .keys(&secrets_or_env(args.who.provider, args.who.secrets)?)?;
            let timestamp = match args.timestamp {
                Some(t) => parse_instant(&t)?,
                None => Timestamp::now(),
            };
            let opts = SignOptions {
                timestamp: timestamp.unix_seconds(),
                event_id: args.event_id,
                event_type: args.event_type,
            };
            for (name, value) in args.who.provider.sign(&keys, &stdin_body()?, &opts)? {
                writeln!(out, "{name}: {value}")?;
            }
        }
        Command::Verify(args) => {
            let provider = args.who.provider;
            let keys = provider.keys(&secrets_or_env(provider, args.who.secrets)?)?;
            let now = match args.now {
                Some(t) => parse_instant(&t)?,
                None => Timestamp::now(),
            };
            let tolerance = match args.tolerance {
                Some(t) => t,
                None => scribehook::cli::tolerance_from_env()?,
            };
            let headers = header_map(&args.headers)?;
            let body = stdin_body()?;
            match provider.verify(
                &headers,
                &body,
                &keys,
                Window::new(now.unix_seconds(), tolerance),
            ) {
                Ok(()) => writeln!(out, "valid")?,
                Err(e) => {
                    return Err(Failure {
                        code: Some(e.code()),
                        reason: e.to_string(),
                    });
                }
            }
        }
        Command::Normalize(args) => {
            let headers = header_map(&args.headers)?;
            let event = args
                .provider
                .normalize(&headers, &stdin_body()?)
                .map_err(|e| Failure {
                    code: None,
                    reason: format!("malformed_event: {e}"),
                })?
                .finish(args.provider, Timestamp::now(), None);
            serde_json::to_writer_pretty(&mut out, &event)?;
            writeln!(out)?;
        }
    }
    Ok(())
}
