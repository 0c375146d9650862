//! Configuration from the environment (docs/behaviour.md#configuration), read once at start-up. Nothing here
//! touches the network: Secrets Manager secrets are fetched on first use and cached for the
//! life of the execution environment.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::OnceCell;

use crate::providers::{Keys, Provider};
use crate::signature::Window;
use crate::storage::{BlobLocation, Location};

pub const DEFAULT_MAX_BODY_BYTES: usize = 6_291_456;
pub const DEFAULT_MAX_OUTPUT_BYTES: u64 = 104_857_600;
pub const DEFAULT_INGEST_DEADLINE_MS: u64 = 6_000;
/// Where ARCHIVE and STORE point outside Lambda when unset.
pub const LOCAL_DATA_DIR: &str = "./data";

#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(pub String);

/// Where a provider's signing secrets come from.
#[derive(Clone, Debug)]
pub enum SecretSource {
    /// `*_WEBHOOK_SECRETS`, already turned into keys.
    Env(Keys),
    /// `*_WEBHOOK_SECRETS_ARN`: a Secrets Manager secret holding the same list (or a JSON
    /// array of strings).
    SecretsManager(String),
}

/// The bounds a delivery is held to before anything is stored, and the ingest's own time
/// budget.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// `SIGNATURE_TOLERANCE_SECONDS`: the timestamp window, both directions.
    pub tolerance_secs: u64,
    /// `<PROVIDER>_SIGNATURE_TOLERANCE_SECONDS`: a provider's own window, where set.
    pub provider_tolerance: BTreeMap<Provider, u64>,
    /// `MAX_BODY_BYTES`.
    pub max_body_bytes: usize,
    /// `INGEST_DEADLINE_MS`: the ingest answers 503 (with Retry-After) once this is spent,
    /// before the function's own timeout turns into a bare gateway error.
    pub deadline: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            tolerance_secs: Window::DEFAULT_TOLERANCE_SECS,
            provider_tolerance: BTreeMap::new(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            deadline: Duration::from_millis(DEFAULT_INGEST_DEADLINE_MS),
        }
    }
}

impl Limits {
    /// The timestamp window for `provider`'s signatures: its own variable, else the window
    /// the provider publishes (Nabla Connect's 60 s), else `SIGNATURE_TOLERANCE_SECONDS`.
    pub fn tolerance(&self, provider: Provider) -> u64 {
        self.provider_tolerance
            .get(&provider)
            .copied()
            .or(provider.default_tolerance())
            .unwrap_or(self.tolerance_secs)
    }

    /// The limits the environment sets (what `scribehook verify` checks against).
    pub fn from_process_env() -> Result<Self, ConfigError> {
        let lookup = |name: &str| std::env::var(name).ok();
        Self::from_env(&Env(&lookup))
    }

    fn from_env(env: &Env<'_>) -> Result<Self, ConfigError> {
        let mut provider_tolerance = BTreeMap::new();
        for provider in Provider::ALL {
            let name = provider.tolerance_env();
            if env.get(&name).is_some() {
                provider_tolerance.insert(provider, env.number(&name, 0)?);
            }
        }
        Ok(Self {
            tolerance_secs: env.number(
                "SIGNATURE_TOLERANCE_SECONDS",
                Window::DEFAULT_TOLERANCE_SECS,
            )?,
            provider_tolerance,
            max_body_bytes: usize::try_from(
                env.number("MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES as u64)?,
            )
            .unwrap_or(usize::MAX),
            deadline: Duration::from_millis(
                env.number("INGEST_DEADLINE_MS", DEFAULT_INGEST_DEADLINE_MS)?,
            ),
        })
    }
}

#[derive(Debug)]
pub struct Config {
    pub secrets: BTreeMap<Provider, SecretSource>,
    pub limits: Limits,
    pub archive: BlobLocation,
    pub stores: Vec<Location>,
    pub queue_url: Option<String>,
    pub allowed_output_buckets: Vec<String>,
    pub max_output_bytes: u64,
    /// `PURGE_ON_DELETE` (default true): a deletion ends the subject's content
    /// (docs/behaviour.md#deletion-and-retention); `false` only marks the record.
    pub purge_on_delete: bool,
    /// `DAILY_API_KEY` / `DAILY_API_KEY_ARN` and `DAILY_API_URL`: Daily's REST API, for
    /// outputs in storage that is not ours to read (docs/behaviour.md#daily-outputs).
    pub daily_api: Option<DailyApi>,
    /// `NOTIFY_BUS` (an EventBridge bus name or ARN) or, locally, `NOTIFY=file://DIR`:
    /// where record changes are told (docs/behaviour.md#record-notifications-eventbridge);
    /// `None` (both unset or empty): nowhere.
    pub notify: Option<NotifyTarget>,
}

/// Where record notifications go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NotifyTarget {
    /// An EventBridge bus, by name or ARN.
    Bus(String),
    /// JSON lines in a local directory.
    File(std::path::PathBuf),
}

fn notify_target(env: &Env<'_>) -> Result<Option<NotifyTarget>, ConfigError> {
    match (env.get("NOTIFY_BUS"), env.get("NOTIFY")) {
        (Some(_), Some(_)) => Err(ConfigError(
            "NOTIFY_BUS and NOTIFY are both set; set NOTIFY_BUS for EventBridge or NOTIFY=file://DIR for local files".into(),
        )),
        (Some(bus), None) => Ok(Some(NotifyTarget::Bus(bus))),
        (None, Some(uri)) => match uri.strip_prefix("file://").filter(|d| !d.is_empty()) {
            Some(dir) => Ok(Some(NotifyTarget::File(dir.into()))),
            None => Err(ConfigError(format!(
                "NOTIFY={uri:?}: expected file:///dir (NOTIFY_BUS names an EventBridge bus)"
            ))),
        },
        (None, None) => Ok(None),
    }
}

/// Where Daily's REST API is and where its key comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DailyApi {
    pub url: String,
    pub key: DailyApiKey,
}

/// The API key: from the environment, or from Secrets Manager on first use.
#[derive(Clone, PartialEq, Eq)]
pub enum DailyApiKey {
    Env(String),
    SecretsManager(String),
}

impl std::fmt::Debug for DailyApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DailyApiKey::Env(_) => f.write_str("Env(<redacted>)"),
            DailyApiKey::SecretsManager(arn) => write!(f, "SecretsManager({arn})"),
        }
    }
}

pub const DEFAULT_DAILY_API_URL: &str = "https://api.daily.co/v1";

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// `lookup` stands in for the environment (tests pass a map).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env(&lookup);
        let secrets = secret_sources(&env)?;
        let archive = BlobLocation::parse(&env.location("ARCHIVE")?)
            .map_err(|e| ConfigError(format!("ARCHIVE: {e}")))?;
        let stores = env
            .location("STORE")?
            .split(',')
            .filter(|s| !s.trim().is_empty())
            .map(|s| Location::parse(s).map_err(|e| ConfigError(format!("STORE: {e}"))))
            .collect::<Result<Vec<_>, _>>()?;
        if stores.is_empty() {
            return Err(ConfigError("STORE names no store".into()));
        }
        Ok(Config {
            secrets,
            limits: Limits::from_env(&env)?,
            archive,
            stores,
            queue_url: env.get("QUEUE_URL"),
            allowed_output_buckets: env
                .get("ALLOWED_OUTPUT_BUCKETS")
                .map(|l| split_secrets(&l))
                .unwrap_or_default(),
            max_output_bytes: env.number("MAX_OUTPUT_BYTES", DEFAULT_MAX_OUTPUT_BYTES)?,
            purge_on_delete: env.flag("PURGE_ON_DELETE", true)?,
            daily_api: daily_api(&env),
            notify: notify_target(&env)?,
        })
    }
}

fn daily_api(env: &Env<'_>) -> Option<DailyApi> {
    let key = match (env.get("DAILY_API_KEY"), env.get("DAILY_API_KEY_ARN")) {
        (Some(key), _) => DailyApiKey::Env(key),
        (None, Some(arn)) => DailyApiKey::SecretsManager(arn),
        (None, None) => return None,
    };
    let url = env
        .get("DAILY_API_URL")
        .unwrap_or_else(|| DEFAULT_DAILY_API_URL.to_owned());
    Some(DailyApi {
        url: url.trim_end_matches('/').to_owned(),
        key,
    })
}

/// The environment (or what stands in for it), read as trimmed, non-empty values.
struct Env<'a>(&'a dyn Fn(&str) -> Option<String>);

impl Env<'_> {
    fn get(&self, name: &str) -> Option<String> {
        (self.0)(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    fn in_lambda(&self) -> bool {
        self.get("AWS_LAMBDA_FUNCTION_NAME").is_some()
    }

    /// `ARCHIVE` or `STORE`: required inside Lambda, `file://./data` elsewhere.
    fn location(&self, name: &str) -> Result<String, ConfigError> {
        match self.get(name) {
            Some(v) => Ok(v),
            None if self.in_lambda() => Err(ConfigError(format!(
                "{name} is not set; inside Lambda it must name where {} go (see docs/behaviour.md#configuration)",
                if name == "ARCHIVE" { "verified deliveries" } else { "normalized records" }
            ))),
            None => Ok(format!("file://{LOCAL_DATA_DIR}")),
        }
    }

    fn flag(&self, name: &str, default: bool) -> Result<bool, ConfigError> {
        match self.get(name).map(|v| v.to_ascii_lowercase()).as_deref() {
            None => Ok(default),
            Some("true" | "1" | "yes") => Ok(true),
            Some("false" | "0" | "no") => Ok(false),
            Some(other) => Err(ConfigError(format!(
                "{name}={other:?} is not true or false"
            ))),
        }
    }

    fn number(&self, name: &str, default: u64) -> Result<u64, ConfigError> {
        self.get(name)
            .map(|v| {
                v.parse::<u64>()
                    .map_err(|_| ConfigError(format!("{name}={v:?} is not a whole number")))
            })
            .transpose()
            .map(|v| v.unwrap_or(default))
    }
}

/// Each served provider's secret source. `PROVIDERS` narrows what this function serves
/// (one function per provider in the SAM template); by default every provider with a
/// secret configured.
fn secret_sources(env: &Env<'_>) -> Result<BTreeMap<Provider, SecretSource>, ConfigError> {
    let only: Option<Vec<Provider>> = env
        .get("PROVIDERS")
        .map(|list| {
            list.split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(|p| {
                    p.parse::<Provider>()
                        .map_err(|e| ConfigError(format!("PROVIDERS: {e}")))
                })
                .collect()
        })
        .transpose()?;
    let mut secrets = BTreeMap::new();
    for provider in Provider::ALL {
        if only.as_ref().is_some_and(|o| !o.contains(&provider)) {
            continue;
        }
        let var = provider.secrets_env();
        if let Some(list) = env.get(&var) {
            let keys = provider
                .keys(&split_secrets(&list))
                .map_err(|e| ConfigError(format!("{var}: {e}")))?;
            secrets.insert(provider, SecretSource::Env(keys));
        } else if let Some(arn) = env.get(&format!("{var}_ARN")) {
            secrets.insert(provider, SecretSource::SecretsManager(arn));
        } else if only.is_some() {
            return Err(ConfigError(format!(
                "PROVIDERS names {provider} but neither {var} nor {var}_ARN is set"
            )));
        }
    }
    Ok(secrets)
}

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("provider {0} is not enabled here")]
    NotEnabled(Provider),
    #[error("reading {arn}: {message}")]
    Fetch { arn: String, message: String },
    #[error("{0}")]
    Invalid(String),
}

/// The capability [`Secrets`] needs of Secrets Manager: one secret's text by ARN.
#[async_trait]
pub trait SecretValues: Send + Sync {
    async fn secret_string(&self, arn: &str) -> Result<String, String>;
}

/// Signing keys per provider, from the environment at once or from Secrets Manager on
/// first use (then cached: one read per cold start).
pub struct Secrets {
    sources: BTreeMap<Provider, (SecretSource, OnceCell<Keys>)>,
    client: Option<Arc<dyn SecretValues>>,
}

impl Secrets {
    pub fn new(
        sources: BTreeMap<Provider, SecretSource>,
        client: Option<Arc<dyn SecretValues>>,
    ) -> Self {
        Self {
            sources: sources
                .into_iter()
                .map(|(p, s)| (p, (s, OnceCell::new())))
                .collect(),
            client,
        }
    }

    pub fn serves(&self, provider: Provider) -> bool {
        self.sources.contains_key(&provider)
    }

    pub async fn keys(&self, provider: Provider) -> Result<&Keys, SecretsError> {
        let (source, cell) = self
            .sources
            .get(&provider)
            .ok_or(SecretsError::NotEnabled(provider))?;
        match source {
            SecretSource::Env(keys) => Ok(keys),
            SecretSource::SecretsManager(arn) => {
                cell.get_or_try_init(|| self.fetch(provider, arn)).await
            }
        }
    }

    async fn fetch(&self, provider: Provider, arn: &str) -> Result<Keys, SecretsError> {
        let client = self.client.as_ref().ok_or_else(|| SecretsError::Fetch {
            arn: arn.to_owned(),
            message: "no Secrets Manager client".into(),
        })?;
        let text = client
            .secret_string(arn)
            .await
            .map_err(|message| SecretsError::Fetch {
                arn: arn.to_owned(),
                message,
            })?;
        let list = parse_secret_list(&text);
        provider.keys(&list).map_err(|e| {
            SecretsError::Invalid(format!("{}_ARN ({arn}): {e}", provider.secrets_env()))
        })
    }
}

/// Splits a comma-separated secret list (the `*_WEBHOOK_SECRETS` format).
pub fn split_secrets(list: &str) -> Vec<String> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A Secrets Manager value: a JSON array of strings, or a comma-separated list.
pub fn parse_secret_list(text: &str) -> Vec<String> {
    match serde_json::from_str::<Vec<String>>(text.trim()) {
        Ok(list) => list,
        Err(_) => split_secrets(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn local_defaults_are_file_stores_under_data() {
        let c = config(&[("BOTA_WEBHOOK_SECRETS", "whsec_a, whsec_b")]).unwrap();
        assert_eq!(c.archive, BlobLocation::parse("file://./data").unwrap());
        assert_eq!(c.stores, vec![Location::parse("file://./data").unwrap()]);
        assert_eq!(c.limits.tolerance_secs, 300);
        assert_eq!(c.limits.max_body_bytes, 6_291_456);
        assert_eq!(c.limits.deadline, Duration::from_millis(6000));
        assert_eq!(c.limits.tolerance(Provider::Prosa), 300);
        assert_eq!(c.max_output_bytes, 104_857_600);
        assert!(matches!(&c.secrets[&Provider::Bota], SecretSource::Env(k) if k.len() == 2));
        assert!(!c.secrets.contains_key(&Provider::Daily));
    }

    #[test]
    fn inside_lambda_archive_and_store_are_required() {
        let err =
            config(&[("AWS_LAMBDA_FUNCTION_NAME", "f"), ("STORE", "dynamodb://t")]).unwrap_err();
        assert!(err.to_string().contains("ARCHIVE is not set"), "{err}");
        let err = config(&[("AWS_LAMBDA_FUNCTION_NAME", "f"), ("ARCHIVE", "s3://b")]).unwrap_err();
        assert!(err.to_string().contains("STORE is not set"), "{err}");
        let c = config(&[
            ("AWS_LAMBDA_FUNCTION_NAME", "f"),
            ("ARCHIVE", "s3://b/archive"),
            ("STORE", "dynamodb://t, s3://b"),
            ("PROVIDERS", "daily"),
            ("DAILY_WEBHOOK_SECRETS_ARN", "arn:aws:secretsmanager:x"),
            ("BOTA_WEBHOOK_SECRETS", "whsec_ignored"),
            ("ALLOWED_OUTPUT_BUCKETS", "a, b"),
        ])
        .unwrap();
        assert_eq!(c.stores.len(), 2);
        assert_eq!(c.allowed_output_buckets, ["a", "b"]);
        assert_eq!(
            c.secrets.keys().copied().collect::<Vec<_>>(),
            [Provider::Daily]
        );
    }

    #[test]
    fn a_provider_may_have_its_own_tolerance() {
        let c = config(&[
            ("SIGNATURE_TOLERANCE_SECONDS", "120"),
            ("PROSA_SIGNATURE_TOLERANCE_SECONDS", "26000"),
            ("INGEST_DEADLINE_MS", "2500"),
        ])
        .unwrap();
        assert_eq!(c.limits.tolerance(Provider::Prosa), 26_000);
        assert_eq!(c.limits.tolerance(Provider::Daily), 120);
        assert_eq!(c.limits.deadline, Duration::from_millis(2500));
        let err = config(&[("NABLA_SIGNATURE_TOLERANCE_SECONDS", "1h")]).unwrap_err();
        assert!(
            err.to_string()
                .contains("NABLA_SIGNATURE_TOLERANCE_SECONDS"),
            "{err}"
        );
    }

    #[test]
    fn purge_and_daily_api_settings() {
        let c = config(&[]).unwrap();
        assert!(c.purge_on_delete);
        assert_eq!(c.daily_api, None);
        let c = config(&[
            ("PURGE_ON_DELETE", "false"),
            ("DAILY_API_KEY_ARN", "arn:aws:secretsmanager:k"),
            ("DAILY_API_URL", "http://127.0.0.1:9/v1/"),
        ])
        .unwrap();
        assert!(!c.purge_on_delete);
        let api = c.daily_api.unwrap();
        assert_eq!(api.url, "http://127.0.0.1:9/v1");
        assert_eq!(
            api.key,
            DailyApiKey::SecretsManager("arn:aws:secretsmanager:k".into())
        );
        let c = config(&[("DAILY_API_KEY", "sk_live_secret")]).unwrap();
        let api = c.daily_api.unwrap();
        assert_eq!(api.url, DEFAULT_DAILY_API_URL);
        assert!(!format!("{api:?}").contains("sk_live"), "redacted");
        assert!(config(&[("PURGE_ON_DELETE", "maybe")]).is_err());
    }

    #[test]
    fn notifications_go_to_a_bus_or_a_directory() {
        assert_eq!(config(&[]).unwrap().notify, None);
        assert_eq!(config(&[("NOTIFY_BUS", " ")]).unwrap().notify, None);
        assert_eq!(
            config(&[("NOTIFY_BUS", "scribehook-records")])
                .unwrap()
                .notify,
            Some(NotifyTarget::Bus("scribehook-records".into()))
        );
        assert_eq!(
            config(&[("NOTIFY", "file://./data/notify")])
                .unwrap()
                .notify,
            Some(NotifyTarget::File("./data/notify".into()))
        );
        for bad in [
            vec![("NOTIFY", "s3://b")],
            vec![("NOTIFY", "file://")],
            vec![("NOTIFY", "file:///x"), ("NOTIFY_BUS", "b")],
        ] {
            let err = config(&bad).unwrap_err().to_string();
            assert!(err.contains("NOTIFY"), "{err}");
        }
    }

    #[test]
    fn bad_values_are_clear_errors() {
        for (vars, needle) in [
            (
                vec![("SIGNATURE_TOLERANCE_SECONDS", "5m")],
                "SIGNATURE_TOLERANCE_SECONDS",
            ),
            (
                vec![("DAILY_WEBHOOK_SECRETS", "%%%")],
                "DAILY_WEBHOOK_SECRETS",
            ),
            (vec![("STORE", "mysql://x")], "STORE"),
            (vec![("ARCHIVE", "dynamodb://t")], "ARCHIVE"),
            (vec![("PROVIDERS", "zoom")], "PROVIDERS"),
            (vec![("PROVIDERS", "nabla")], "NABLA_WEBHOOK_SECRETS"),
        ] {
            let err = config(&vars).unwrap_err().to_string();
            assert!(err.contains(needle), "{err}");
        }
    }

    #[test]
    fn secret_values_are_lists_or_json_arrays() {
        assert_eq!(parse_secret_list("a,b"), ["a", "b"]);
        assert_eq!(parse_secret_list(r#"["a","b,c"]"#), ["a", "b,c"]);
        assert_eq!(parse_secret_list(" whsec_x \n"), ["whsec_x"]);
    }
}
