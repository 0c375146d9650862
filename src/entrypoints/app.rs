//! Wiring: configuration and AWS clients in, a ready ingest or processor out. Called once
//! per execution environment by the binaries; nothing here makes a network call.

use std::sync::Arc;

pub use crate::aws::Clients;
use crate::aws::{S3Outputs, SqsQueue};
use crate::config::{Config, Secrets};
use crate::daily_api::DailyApiClient;
use crate::fetch::Fetcher;
use crate::ingest::{Dispatch, Ingest};
use crate::merge::OnDelete;
use crate::normalized::Clock;
use crate::process::Processor;
use crate::storage::archive::Archive;
use crate::storage::dynamodb::DynamoDbStore;
use crate::storage::records::{BlobRecordStore, RecordStore};
use crate::storage::Location;

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
    let fetcher = fetcher(config, clients);
    Processor::new(archive, stores, fetcher)
        .with_on_delete(OnDelete::from_flag(config.purge_on_delete))
}

/// The output fetcher: S3 for allow-listed buckets, and Daily's access links for batch
/// outputs elsewhere when a Daily API key is configured (contract §10).
pub fn fetcher(config: &Config, clients: &Clients) -> Fetcher {
    let fetcher = Fetcher::new(
        Arc::new(S3Outputs::new(clients.s3.clone())),
        config.allowed_output_buckets.clone(),
        config.max_output_bytes,
    );
    match &config.daily_api {
        Some(api) => fetcher.with_access_links(Arc::new(DailyApiClient::new(
            api,
            Some(Arc::new(clients.secrets.clone())),
        ))),
        None => fetcher,
    }
}

pub fn ingest(config: &Config, clients: &Clients, clock: Clock) -> Ingest {
    let dispatch = match &config.queue_url {
        Some(url) => Dispatch::Queue(Arc::new(SqsQueue::new(clients.sqs.clone(), url))),
        None => Dispatch::Inline(Arc::new(
            processor(config, clients).with_clock(clock.clone()),
        )),
    };
    let secrets = Secrets::new(
        config.secrets.clone(),
        Some(Arc::new(clients.secrets.clone())),
    );
    Ingest::new(
        secrets,
        archive(config, clients),
        dispatch,
        config.limits.clone(),
    )
    .with_clock(clock)
}
