//! Wiring: configuration and AWS clients in, a ready ingest or processor out. Called once
//! per execution environment by the binaries; nothing here makes a network call. The
//! clients a configured location uses on every delivery (an S3 archive or store, a table, a
//! queue) are built here, before the first invocation; those few deliveries need (output
//! reads, Secrets Manager) on first use; none, and no AWS configuration, for `file://`.

use std::sync::Arc;

pub use crate::aws::Clients;
use crate::aws::{EventBridgeNotifier, S3Outputs, SqsQueue};
use crate::config::{Config, NotifyTarget, Secrets};
use crate::pipeline::ingest::{Dispatch, Ingest};
use crate::pipeline::notify::{FileNotifier, Notifier};
use crate::pipeline::process::Processor;
use crate::providers::daily::access_link::DailyApiClient;
use crate::providers::daily::outputs::Fetcher;
use crate::record::Clock;
use crate::record::OnDelete;
use crate::storage::archive::Archive;
use crate::storage::dynamodb::DynamoDbStore;
use crate::storage::records::{BlobRecordStore, RecordStore};
use crate::storage::Location;

pub async fn archive(config: &Config, clients: &Clients) -> Archive {
    Archive::new(clients.blobs(&config.archive).await)
}

pub async fn record_stores(config: &Config, clients: &Clients) -> Vec<Arc<dyn RecordStore>> {
    let mut stores: Vec<Arc<dyn RecordStore>> = Vec::with_capacity(config.stores.len());
    for location in &config.stores {
        stores.push(match location {
            Location::DynamoDb { table } => Arc::new(DynamoDbStore::new(
                clients.dynamodb().await,
                table.clone(),
                // Values too large for an item go next to the archive.
                Some(clients.blobs(&config.archive).await),
            )),
            Location::Blobs(blobs) => Arc::new(BlobRecordStore::new(clients.blobs(blobs).await)),
        });
    }
    stores
}

pub async fn processor(config: &Config, clients: &Clients) -> Processor {
    let archive = archive(config, clients).await;
    let stores = record_stores(config, clients).await;
    let fetcher = fetcher(config, clients);
    Processor::new(archive, stores, fetcher)
        .with_on_delete(OnDelete::from_flag(config.purge_on_delete))
        .with_notifier(notifier(config, clients))
}

/// Where record changes are told: `NOTIFY_BUS`, `NOTIFY=file://DIR`, or nowhere
/// (docs/behaviour.md#record-notifications-eventbridge). No client is built here.
pub fn notifier(config: &Config, clients: &Clients) -> Option<Arc<dyn Notifier>> {
    match config.notify.as_ref()? {
        NotifyTarget::Bus(bus) => Some(Arc::new(EventBridgeNotifier::new(clients.clone(), bus))),
        NotifyTarget::File(dir) => Some(Arc::new(FileNotifier::new(dir.clone()))),
    }
}

/// The output fetcher: S3 for allow-listed buckets, and Daily's access links for batch
/// outputs elsewhere when a Daily API key is configured (docs/behaviour.md#daily-outputs).
pub fn fetcher(config: &Config, clients: &Clients) -> Fetcher {
    let fetcher = Fetcher::new(
        Arc::new(S3Outputs::new(clients.clone())),
        config.allowed_output_buckets.clone(),
        config.max_output_bytes,
    );
    match &config.daily_api {
        Some(api) => fetcher.with_access_links(Arc::new(DailyApiClient::new(
            api,
            Some(Arc::new(clients.clone())),
        ))),
        None => fetcher,
    }
}

pub async fn ingest(config: &Config, clients: &Clients, clock: Clock) -> Ingest {
    let dispatch = match &config.queue_url {
        Some(url) => Dispatch::Queue(Arc::new(SqsQueue::new(clients.sqs().await, url))),
        None => Dispatch::Inline(Arc::new(
            processor(config, clients).await.with_clock(clock.clone()),
        )),
    };
    let secrets = Secrets::new(config.secrets.clone(), Some(Arc::new(clients.clone())));
    Ingest::new(
        secrets,
        archive(config, clients).await,
        dispatch,
        config.limits.clone(),
    )
    .with_clock(clock)
}
