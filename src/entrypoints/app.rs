//! Wiring: configuration and AWS clients in, a ready ingest or processor out. Called once
//! per execution environment by the binaries; nothing here makes a network call.

use std::sync::Arc;

use crate::config::{Config, Secrets};
use crate::fetch::Fetcher;
use crate::ingest::{Clock, Dispatch, Ingest};
use crate::normalized::Timestamp;
use crate::process::Processor;
use crate::storage::archive::Archive;
use crate::storage::dynamodb::DynamoDbStore;
use crate::storage::records::{BlobRecordStore, RecordStore};
use crate::storage::Location;

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

    pub fn from_sdk_config(sdk: &aws_config::SdkConfig) -> Self {
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

pub fn archive(config: &Config, clients: &Clients) -> Archive {
    Archive::new(config.archive.blobs(&clients.s3))
}

pub fn record_stores(
    config: &Config,
    clients: &Clients,
    archive: &Archive,
) -> Vec<Arc<dyn RecordStore>> {
    config
        .stores
        .iter()
        .map(|location| -> Arc<dyn RecordStore> {
            match location {
                Location::DynamoDb { table } => Arc::new(DynamoDbStore::new(
                    clients.dynamodb.clone(),
                    table.clone(),
                    // Values too large for an item go next to the archive.
                    Some(Arc::clone(archive.blobs())),
                )),
                Location::Blobs(blobs) => Arc::new(BlobRecordStore::new(blobs.blobs(&clients.s3))),
            }
        })
        .collect()
}

pub fn processor(config: &Config, clients: &Clients) -> Processor {
    let archive = archive(config, clients);
    let stores = record_stores(config, clients, &archive);
    let fetcher = Fetcher::new(
        clients.s3.clone(),
        config.allowed_output_buckets.clone(),
        config.max_output_bytes,
    );
    Processor::new(archive, stores, fetcher)
}

pub fn system_clock() -> Clock {
    Arc::new(Timestamp::now)
}

pub fn ingest(config: &Config, clients: &Clients, clock: Clock) -> Ingest {
    let dispatch = match &config.queue_url {
        Some(url) => Dispatch::Queue {
            client: clients.sqs.clone(),
            url: url.clone(),
        },
        None => Dispatch::Inline(Arc::new(processor(config, clients))),
    };
    Ingest {
        secrets: Secrets::new(config.secrets.clone(), Some(clients.secrets.clone())),
        tolerance_secs: config.tolerance_secs,
        max_body_bytes: config.max_body_bytes,
        archive: archive(config, clients),
        dispatch,
        clock,
    }
}
