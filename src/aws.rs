//! The AWS SDK behind the capabilities the domain asks for: [`Queue`] (SQS),
//! [`OutputSource`] (S3 reads of provider outputs), [`SecretValues`] (Secrets Manager) and
//! [`Notifier`] (EventBridge),
//! plus the clients themselves, built once from one configuration. The stores' own SDK
//! implementations live with them under `storage`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::operation::get_object::GetObjectError;
use tokio::sync::OnceCell;

use crate::config::SecretValues;
use crate::pipeline::ingest::Queue;
use crate::pipeline::notify::{Notification, Notifier, SOURCE};
use crate::providers::daily::sources::{Download, FetchError, OutputSource};
use crate::storage::file::FileBlobs;
use crate::storage::s3::S3Blobs;
use crate::storage::{fault_of, BlobLocation, Blobs, Fault, StoreError};

/// The AWS clients, each built on first use from one configuration that is itself loaded
/// on first use, then shared: a function whose locations are all `file://` never loads the
/// AWS configuration, and one with an S3 archive and a queue builds those two clients only.
/// Cloning shares the clients.
#[derive(Clone, Debug)]
pub struct Clients {
    shared: Arc<Shared>,
}

#[derive(Debug, Default)]
struct Shared {
    sdk: OnceCell<aws_config::SdkConfig>,
    s3: OnceCell<aws_sdk_s3::Client>,
    dynamodb: OnceCell<aws_sdk_dynamodb::Client>,
    sqs: OnceCell<aws_sdk_sqs::Client>,
    secrets: OnceCell<aws_sdk_secretsmanager::Client>,
    eventbridge: OnceCell<aws_sdk_eventbridge::Client>,
}

impl Clients {
    /// Clients on the standard AWS configuration (env, profile, Lambda's role), loaded when
    /// the first client is asked for, without any network call: credentials are fetched on
    /// first use, and with no region configured (a laptop) a fixed one avoids the
    /// instance-metadata probe.
    pub fn from_env() -> Self {
        Self {
            shared: Arc::default(),
        }
    }

    /// Clients on `sdk` (tests, tools with their own configuration).
    pub fn from_sdk_config(sdk: &aws_config::SdkConfig) -> Self {
        let shared = Shared {
            sdk: OnceCell::new_with(Some(sdk.clone())),
            ..Shared::default()
        };
        Self {
            shared: Arc::new(shared),
        }
    }

    /// Clients whose S3 client is `s3` (a mock in fault-injection tests); any other
    /// client is built as [`Self::from_env`] builds it.
    pub fn with_s3(s3: aws_sdk_s3::Client) -> Self {
        let shared = Shared {
            s3: OnceCell::new_with(Some(s3)),
            ..Shared::default()
        };
        Self {
            shared: Arc::new(shared),
        }
    }

    /// The blob store at `location` (the S3 client is built for an `s3://` one only).
    pub async fn blobs(&self, location: &BlobLocation) -> Arc<dyn Blobs> {
        match location {
            BlobLocation::S3 { bucket, prefix } => Arc::new(S3Blobs::new(
                self.s3().await,
                bucket.clone(),
                prefix.clone(),
            )),
            BlobLocation::File { dir } => Arc::new(FileBlobs::new(dir.clone())),
        }
    }

    /// The configuration every client is built from, with [`timeouts`] (docs/behaviour.md#failure-classes: no
    /// AWS call waits without bound).
    async fn sdk(&self) -> aws_config::SdkConfig {
        let sdk = self
            .shared
            .sdk
            .get_or_init(|| async {
                let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
                let region_set = ["AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"]
                    .iter()
                    .any(|v| std::env::var_os(v).is_some());
                if !region_set {
                    loader = loader.region(aws_config::Region::new("us-east-1"));
                }
                if let Some(client) = https_client() {
                    loader = loader.http_client(client);
                }
                // Lambda hands a function its role's credentials in the environment: the
                // default chain (profile, SSO, web identity, containers, instance metadata)
                // would only be built to be skipped.
                let in_lambda = ["AWS_LAMBDA_FUNCTION_NAME", "AWS_ACCESS_KEY_ID"]
                    .iter()
                    .all(|v| std::env::var_os(v).is_some());
                if in_lambda {
                    loader = loader.credentials_provider(
                        aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
                    );
                }
                loader.load().await
            })
            .await;
        sdk.to_builder().timeout_config(timeouts()).build()
    }

    pub async fn s3(&self) -> aws_sdk_s3::Client {
        let client = self.shared.s3.get_or_init(|| async {
            let sdk = self.sdk().await;
            // A local stand-in (moto, LocalStack) on an endpoint URL cannot serve
            // virtual-hosted bucket names; S3 proper is addressed as usual.
            let endpoint_override = ["AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"]
                .iter()
                .any(|v| std::env::var_os(v).is_some())
                || sdk.endpoint_url().is_some();
            let config = aws_sdk_s3::config::Builder::from(&sdk)
                .force_path_style(endpoint_override)
                .build();
            aws_sdk_s3::Client::from_conf(config)
        });
        client.await.clone()
    }

    pub async fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        let client = self
            .shared
            .dynamodb
            .get_or_init(|| async { aws_sdk_dynamodb::Client::new(&self.sdk().await) });
        client.await.clone()
    }

    pub async fn sqs(&self) -> aws_sdk_sqs::Client {
        let client = self
            .shared
            .sqs
            .get_or_init(|| async { aws_sdk_sqs::Client::new(&self.sdk().await) });
        client.await.clone()
    }

    pub async fn eventbridge(&self) -> aws_sdk_eventbridge::Client {
        let client = self
            .shared
            .eventbridge
            .get_or_init(|| async { aws_sdk_eventbridge::Client::new(&self.sdk().await) });
        client.await.clone()
    }

    pub async fn secrets(&self) -> aws_sdk_secretsmanager::Client {
        let client = self
            .shared
            .secrets
            .get_or_init(|| async { aws_sdk_secretsmanager::Client::new(&self.sdk().await) });
        client.await.clone()
    }
}

/// The roots every AWS endpoint's certificate chains to (Amazon Trust Services: Amazon Root
/// CA 1-4, and Starfield Services Root G2, which cross-signs them), from Mozilla's CA list.
const AMAZON_TRUST_SERVICES: &[u8] = include_bytes!("amazon-trust-services.pem");

/// One HTTPS client for every AWS client: the SDK's default (rustls on aws-lc, proxy from
/// the environment) trusting the Amazon Trust Services roots only. The default trust store
/// is the platform's: every certificate file and directory of it read and parsed when the
/// first client is built, about 4 ms of a cold start here for roots no AWS endpoint uses.
/// With `SSL_CERT_FILE` or `SSL_CERT_DIR` set (a proxy that re-signs TLS, an https
/// stand-in), `None`: the platform's roots, which honour those variables.
fn https_client() -> Option<aws_smithy_runtime_api::client::http::SharedHttpClient> {
    use aws_smithy_http_client::proxy::ProxyConfig;
    use aws_smithy_http_client::tls::{self, TlsContext, TrustStore};
    use aws_smithy_http_client::{Builder, ConnectorBuilder};
    let custom_roots = ["SSL_CERT_FILE", "SSL_CERT_DIR"]
        .iter()
        .any(|v| std::env::var_os(v).is_some());
    if custom_roots {
        return None;
    }
    let trust = TrustStore::empty().with_pem_certificate(AMAZON_TRUST_SERVICES);
    let context = TlsContext::builder().with_trust_store(trust).build().ok()?;
    let client = Builder::new().build_with_connector_fn(move |settings, components| {
        let mut builder = ConnectorBuilder::default()
            .tls_provider(tls::Provider::Rustls(
                tls::rustls_provider::CryptoMode::AwsLc,
            ))
            .tls_context(context.clone());
        builder.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            builder.set_sleep_impl(components.sleep_impl());
        }
        builder.set_proxy_config(Some(ProxyConfig::from_env()));
        builder.build()
    });
    Some(client)
}

/// Connect, read and operation timeouts for every client. The operation budget (5 s) sits
/// below the ingest's default deadline (`INGEST_DEADLINE_MS`, 6 s), so a hanging
/// dependency is reported as itself rather than as a spent deadline. A streamed S3 body is
/// read after the operation returns: the read timeout bounds each wait for its bytes, not
/// a large output's whole download.
pub fn timeouts() -> aws_config::timeout::TimeoutConfig {
    aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(2))
        .read_timeout(Duration::from_secs(5))
        .operation_attempt_timeout(Duration::from_secs(3))
        .operation_timeout(Duration::from_secs(5))
        .build()
}

/// An SQS queue the ingest hands deliveries to.
pub struct SqsQueue {
    client: aws_sdk_sqs::Client,
    url: String,
}

impl SqsQueue {
    pub fn new(client: aws_sdk_sqs::Client, url: impl Into<String>) -> Self {
        Self {
            client,
            url: url.into(),
        }
    }
}

#[async_trait]
impl Queue for SqsQueue {
    async fn send(&self, message: String) -> Result<(), StoreError> {
        self.client
            .send_message()
            .queue_url(&self.url)
            .message_body(message)
            .send()
            .await
            .map_err(|e| StoreError::from_sdk("sqs send", &e))?;
        Ok(())
    }
}

/// Record notifications put on an EventBridge bus (`NOTIFY_BUS`, a name or an ARN). The
/// client is built on the first change to tell.
pub struct EventBridgeNotifier {
    clients: Clients,
    bus: String,
}

impl EventBridgeNotifier {
    /// PutEvents takes at most ten entries per call.
    const MAX_ENTRIES: usize = 10;

    pub fn new(clients: Clients, bus: impl Into<String>) -> Self {
        Self {
            clients,
            bus: bus.into(),
        }
    }
}

#[async_trait]
impl Notifier for EventBridgeNotifier {
    async fn publish(&self, notifications: &[Notification]) -> Result<(), StoreError> {
        use aws_sdk_eventbridge::types::PutEventsRequestEntry;
        let operation = || format!("eventbridge put events on {}", self.bus);
        let client = self.clients.eventbridge().await;
        for chunk in notifications.chunks(Self::MAX_ENTRIES) {
            let mut entries = Vec::with_capacity(chunk.len());
            for notification in chunk {
                let time = aws_smithy_types::DateTime::from_millis(notification.time.unix_millis());
                entries.push(
                    PutEventsRequestEntry::builder()
                        .event_bus_name(&self.bus)
                        .source(SOURCE)
                        .detail_type(notification.detail_type.as_str())
                        .detail(notification.detail_json()?)
                        .time(time)
                        .build(),
                );
            }
            let output = client
                .put_events()
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| {
                    // Never quarantined: the record is written, only the telling is left
                    // (docs/behaviour.md#revisions-and-publication).
                    let mut err = StoreError::from_sdk(operation(), &e);
                    if err.fault == Fault::Permanent {
                        err.fault = Fault::Transient;
                    }
                    err
                })?;
            if output.failed_entry_count() > 0 {
                let codes: std::collections::BTreeSet<&str> = output
                    .entries()
                    .iter()
                    .filter_map(|entry| entry.error_code())
                    .collect();
                return Err(StoreError::new(
                    operation(),
                    format!(
                        "{} of {} entries failed ({})",
                        output.failed_entry_count(),
                        chunk.len(),
                        codes.into_iter().collect::<Vec<_>>().join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }

    fn describe(&self) -> String {
        format!("eventbridge://{}", self.bus)
    }
}

/// Provider outputs read from S3, in the region each event names. The S3 client is built
/// on the first read: most deliveries point to no output.
pub struct S3Outputs {
    clients: Clients,
    by_region: Mutex<HashMap<String, aws_sdk_s3::Client>>,
}

impl S3Outputs {
    pub fn new(clients: Clients) -> Self {
        Self {
            clients,
            by_region: Mutex::new(HashMap::new()),
        }
    }

    /// One client per region, built on first use from the base client's configuration
    /// (credentials, endpoint, retry policy) and reused afterwards.
    async fn client_for(&self, region: Option<&str>) -> aws_sdk_s3::Client {
        let base = self.clients.s3().await;
        let Some(region) =
            region.filter(|r| Some(*r) != base.config().region().map(|r| r.as_ref()))
        else {
            return base;
        };
        let mut clients = self
            .by_region
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        clients
            .entry(region.to_owned())
            .or_insert_with(|| {
                let config = base
                    .config()
                    .to_builder()
                    .region(aws_sdk_s3::config::Region::new(region.to_owned()))
                    .build();
                aws_sdk_s3::Client::from_conf(config)
            })
            .clone()
    }
}

#[async_trait]
impl OutputSource for S3Outputs {
    async fn read(
        &self,
        bucket: &str,
        key: &str,
        region: Option<&str>,
        max_bytes: u64,
    ) -> Result<Download, FetchError> {
        let failed =
            |message: String| FetchError::transient(format!("s3://{bucket}/{key}"), message);
        let client = self.client_for(region).await;
        let output = match client.get_object().bucket(bucket).key(key).send().await {
            Ok(output) => output,
            Err(err) => return refused(&format!("s3://{bucket}/{key}"), &err),
        };
        let declared = output.content_length().and_then(|n| u64::try_from(n).ok());
        if let Some(size) = declared.filter(|size| *size > max_bytes) {
            return Ok(Download::Skipped(format!(
                "not fetched: the object is {size} bytes, more than MAX_OUTPUT_BYTES ({max_bytes})"
            )));
        }
        // Read with the bound enforced as bytes arrive: a missing or wrong Content-Length
        // cannot make us buffer more than MAX_OUTPUT_BYTES.
        let capacity = usize::try_from(declared.unwrap_or(0)).unwrap_or(0);
        let mut bytes = Vec::with_capacity(capacity);
        let mut body = output.body;
        while let Some(chunk) = body
            .try_next()
            .await
            .map_err(|e| failed(format!("reading the object: {e}")))?
        {
            if (bytes.len() + chunk.len()) as u64 > max_bytes {
                return Ok(Download::Skipped(format!(
                    "not fetched: the object is larger than MAX_OUTPUT_BYTES ({max_bytes})"
                )));
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(Download::Fetched(bytes))
    }
}

/// What a failed `GetObject` of an output means (docs/behaviour.md#failure-classes): not
/// there for good (recorded in the artifact), a bucket of ours missing or forbidden (the
/// operator's to fix: retried), or a failure a retry may fix. Decided by the SDK's error
/// kind and the service's code, never by message text; the reason names the code only.
fn refused(
    location: &str,
    err: &aws_sdk_s3::error::SdkError<GetObjectError, aws_smithy_runtime_api::http::Response>,
) -> Result<Download, FetchError> {
    let code = err.as_service_error().and_then(ProvideErrorMetadata::code);
    // Codes that say this object cannot be had, whatever 4xx or 3xx they come with.
    const GONE: [&str; 4] = [
        "NoSuchKey",
        "InvalidObjectState",
        "PermanentRedirect",
        "InvalidBucketName",
    ];
    if let Some(code) = code.filter(|c| GONE.contains(c)) {
        return Ok(Download::Skipped(match code {
            "NoSuchKey" => "not fetched: no such key".into(),
            code => format!("not fetched: S3 refused the request ({code})"),
        }));
    }
    match fault_of(err) {
        Fault::Operator => Err(FetchError::operator(
            location,
            format!("S3 refused the request ({})", code.unwrap_or("no code")),
        )),
        Fault::Permanent => Ok(Download::Skipped(match code {
            Some(code) => format!("not fetched: S3 refused the request ({code})"),
            None => "not fetched: the request for it cannot be built".into(),
        })),
        Fault::Transient => Err(FetchError::transient(
            location,
            aws_sdk_s3::error::DisplayErrorContext(err).to_string(),
        )),
    }
}

/// Secrets Manager, its client built on the first read (only `*_ARN` settings read any).
#[async_trait]
impl SecretValues for Clients {
    async fn secret_string(&self, arn: &str) -> Result<String, String> {
        let output = self
            .secrets()
            .await
            .get_secret_value()
            .secret_id(arn)
            .send()
            .await
            .map_err(|e| aws_sdk_secretsmanager::error::DisplayErrorContext(&e).to_string())?;
        Ok(output.secret_string().unwrap_or_default().to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The embedded roots parse as the SDK parses them (it panics on a bad one), and are
    /// the five Amazon Trust Services roots.
    #[test]
    fn the_embedded_trust_store_is_five_parsable_roots() {
        use rustls_pki_types::pem::PemObject;
        use rustls_pki_types::CertificateDer;
        let certs = CertificateDer::pem_slice_iter(AMAZON_TRUST_SERVICES)
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        assert_eq!(certs.len(), 5);
        let mut roots = rustls::RootCertStore::empty();
        let (valid, invalid) = roots.add_parsable_certificates(certs);
        assert_eq!((valid, invalid), (5, 0));
    }
}
