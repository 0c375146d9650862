//! The AWS SDK behind the capabilities the domain asks for: [`Queue`] (SQS),
//! [`OutputSource`] (S3 reads of provider outputs) and [`SecretValues`] (Secrets Manager),
//! plus the clients themselves, built once from one configuration. The stores' own SDK
//! implementations live with them under `storage`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::operation::get_object::GetObjectError;

use crate::config::SecretValues;
use crate::fetch::{Download, FetchError, OutputSource};
use crate::ingest::Queue;
use crate::storage::StoreError;

/// The AWS clients, built once from one shared configuration.
#[derive(Clone, Debug)]
pub struct Clients {
    pub s3: aws_sdk_s3::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
}

impl Clients {
    /// Loads the standard AWS configuration (env, profile, Lambda's role) without
    /// resolving anything over the network: credentials are fetched on first use, and
    /// with no region configured (a laptop) a fixed one avoids the instance-metadata probe.
    pub async fn from_env() -> Self {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        let region_set = ["AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"]
            .iter()
            .any(|v| std::env::var_os(v).is_some());
        if !region_set {
            loader = loader.region(aws_config::Region::new("us-east-1"));
        }
        Self::from_sdk_config(&loader.load().await)
    }

    /// Clients on `sdk`, every one with [`timeouts`] (contract §8: no AWS call waits
    /// without bound).
    pub fn from_sdk_config(sdk: &aws_config::SdkConfig) -> Self {
        let sdk = &sdk.to_builder().timeout_config(timeouts()).build();
        // A local stand-in (moto, LocalStack) on an endpoint URL cannot serve virtual-hosted
        // bucket names; S3 proper is addressed as usual.
        let endpoint_override = ["AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"]
            .iter()
            .any(|v| std::env::var_os(v).is_some())
            || sdk.endpoint_url().is_some();
        let s3_config = aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(endpoint_override)
            .build();
        Self {
            s3: aws_sdk_s3::Client::from_conf(s3_config),
            dynamodb: aws_sdk_dynamodb::Client::new(sdk),
            sqs: aws_sdk_sqs::Client::new(sdk),
            secrets: aws_sdk_secretsmanager::Client::new(sdk),
        }
    }
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

/// Provider outputs read from S3, in the region each event names.
pub struct S3Outputs {
    base: aws_sdk_s3::Client,
    by_region: Mutex<HashMap<String, aws_sdk_s3::Client>>,
}

impl S3Outputs {
    pub fn new(base: aws_sdk_s3::Client) -> Self {
        Self {
            base,
            by_region: Mutex::new(HashMap::new()),
        }
    }

    /// One client per region, built on first use from the base client's configuration
    /// (credentials, endpoint, retry policy) and reused afterwards.
    fn client_for(&self, region: Option<&str>) -> aws_sdk_s3::Client {
        let Some(region) =
            region.filter(|r| Some(*r) != self.base.config().region().map(|r| r.as_ref()))
        else {
            return self.base.clone();
        };
        let mut clients = self
            .by_region
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        clients
            .entry(region.to_owned())
            .or_insert_with(|| {
                let config = self
                    .base
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
        let failed = |message: String| FetchError {
            location: format!("s3://{bucket}/{key}"),
            message,
        };
        let client = self.client_for(region);
        let output = match client.get_object().bucket(bucket).key(key).send().await {
            Ok(output) => output,
            Err(err) => {
                let code = err
                    .as_service_error()
                    .and_then(ProvideErrorMetadata::code)
                    .map(str::to_owned);
                return match err.into_service_error() {
                    GetObjectError::NoSuchKey(_) => {
                        Ok(Download::Skipped("not fetched: no such key".into()))
                    }
                    other if is_permanent(code.as_deref()) => Ok(Download::Skipped(format!(
                        "not fetched: {} ({})",
                        other.message().unwrap_or("S3 refused the request"),
                        code.unwrap_or_default()
                    ))),
                    other => Err(failed(
                        aws_sdk_s3::error::DisplayErrorContext(other).to_string(),
                    )),
                };
            }
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

/// S3 error codes no retry will fix.
fn is_permanent(code: Option<&str>) -> bool {
    matches!(
        code,
        Some(
            "AccessDenied"
                | "NoSuchBucket"
                | "NoSuchKey"
                | "InvalidObjectState"
                | "PermanentRedirect"
                | "InvalidBucketName"
                | "AllAccessDisabled"
        )
    )
}

#[async_trait]
impl SecretValues for aws_sdk_secretsmanager::Client {
    async fn secret_string(&self, arn: &str) -> Result<String, String> {
        let output = self
            .get_secret_value()
            .secret_id(arn)
            .send()
            .await
            .map_err(|e| aws_sdk_secretsmanager::error::DisplayErrorContext(&e).to_string())?;
        Ok(output.secret_string().unwrap_or_default().to_owned())
    }
}
