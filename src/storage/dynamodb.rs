//! The DynamoDB record store (docs/behaviour.md#storage-layout): one item per event (`sk = event#<id>`) and one
//! merged item per subject (`sk = record`) under `pk = <provider>#<subject>`. Documents
//! are stored as JSON strings; one that would push an item past DynamoDB's 400 KB limit is
//! written to S3 instead and the item keeps its `…_location`. Merges are conditional on a
//! `version` attribute.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_types::retry::ProvideErrorKind;

use super::records::{decode_record, encode_event, encode_record, RecordLocation, RecordStore};
use super::{key_segment, Blobs, Condition, Erase, Fault, StoreError, Version};
use crate::record::NormalizedEvent;
use crate::record::Provider;
use crate::record::Record;

/// Documents above this go to S3: DynamoDB's item limit is 400 KB including attribute
/// names and the other attributes, so keep a margin.
pub const INLINE_LIMIT: usize = 350 * 1024;

pub struct DynamoDbStore {
    client: aws_sdk_dynamodb::Client,
    table: String,
    overflow: Option<Arc<dyn Blobs>>,
}

fn pk(provider: Provider, subject_id: &str) -> AttributeValue {
    AttributeValue::S(format!("{provider}#{}", key_segment(subject_id)))
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn sdk_error<E>(operation: String, err: &aws_sdk_dynamodb::error::SdkError<E>) -> StoreError
where
    E: ProvideErrorKind + ProvideErrorMetadata + std::error::Error + 'static,
{
    StoreError::from_sdk(operation, err)
}

impl DynamoDbStore {
    pub fn new(
        client: aws_sdk_dynamodb::Client,
        table: String,
        overflow: Option<Arc<dyn Blobs>>,
    ) -> Self {
        Self {
            client,
            table,
            overflow,
        }
    }

    /// The document inline (`name`) or, when too large, in S3 (`name_location`).
    async fn document(
        &self,
        name: &str,
        key: String,
        json: bytes::Bytes,
    ) -> Result<(String, AttributeValue), StoreError> {
        if json.len() <= INLINE_LIMIT {
            let text = String::from_utf8(json.to_vec())
                .map_err(|e| StoreError::permanent("encode document", e))?;
            return Ok((name.to_owned(), s(text)));
        }
        let Some(overflow) = &self.overflow else {
            return Err(StoreError::with_fault(
                Fault::Operator,
                format!("dynamodb put {name}"),
                format!("{} bytes exceed the item limit and no s3:// ARCHIVE is configured for large values", json.len()),
            ));
        };
        // Content-addressed, so concurrent writers never clobber each other's object.
        let key = format!("{key}-{}.json", crate::signature::sha256_hex(&json));
        overflow.put(&key, json, Condition::Always).await?;
        Ok((format!("{name}_location"), s(overflow.location(&key))))
    }

    async fn read_document(
        &self,
        item: &HashMap<String, AttributeValue>,
        name: &str,
    ) -> Result<Option<bytes::Bytes>, StoreError> {
        if let Some(AttributeValue::S(text)) = item.get(name) {
            return Ok(Some(bytes::Bytes::from(text.clone().into_bytes())));
        }
        let Some(AttributeValue::S(location)) = item.get(&format!("{name}_location")) else {
            return Ok(None);
        };
        let overflow = self.overflow.as_ref().ok_or_else(|| {
            StoreError::with_fault(
                Fault::Operator,
                "dynamodb read",
                format!("{location} needs an s3:// ARCHIVE to read"),
            )
        })?;
        // The location was written by `overflow.location(key)`; recover the key.
        let prefix = overflow.location("");
        let key = location.strip_prefix(&prefix).unwrap_or(location);
        Ok(overflow.get(key).await?.map(|(bytes, _)| bytes))
    }
}

type Item = HashMap<String, AttributeValue>;

impl DynamoDbStore {
    /// Every item of the subject's partition (its events and its record).
    async fn partition(
        &self,
        provider: Provider,
        subject_id: &str,
    ) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", pk(provider, subject_id))
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| sdk_error(format!("dynamodb query {}", self.table), &e))?;
            items.extend(page.items().iter().cloned());
            match page.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => return Ok(items),
            }
        }
    }
}

#[async_trait]
impl RecordStore for DynamoDbStore {
    async fn subject_events(
        &self,
        provider: Provider,
        subject_id: &str,
    ) -> Result<Vec<(NormalizedEvent, bool)>, StoreError> {
        let mut events = Vec::new();
        for item in self.partition(provider, subject_id).await? {
            let is_event =
                matches!(item.get("sk"), Some(AttributeValue::S(sk)) if sk.starts_with("event#"));
            if !is_event {
                continue;
            }
            let Some(bytes) = self.read_document(&item, "event").await? else {
                continue;
            };
            let event = serde_json::from_slice(&bytes)
                .map_err(|e| StoreError::permanent("dynamodb event item is not an event", e))?;
            // An event kept in an overflow object is rewritten into its item, so the object
            // can go.
            events.push((event, item.contains_key("event_location")));
        }
        Ok(events)
    }

    async fn erase_leftovers(
        &self,
        provider: Provider,
        subject_id: &str,
    ) -> Result<Vec<String>, StoreError> {
        let Some(overflow) = &self.overflow else {
            return Ok(Vec::new());
        };
        // Overflow objects no item points to any more (the content-free documents fit in
        // their items), then the superseded versions of those that are still referenced.
        let referenced: std::collections::BTreeSet<String> = self
            .partition(provider, subject_id)
            .await?
            .iter()
            .flat_map(|item| item.iter())
            .filter(|(name, _)| name.ends_with("_location"))
            .filter_map(|(_, value)| value.as_s().ok().cloned())
            .collect();
        let prefix = format!("large/{provider}/{}/", key_segment(subject_id));
        let mut deleted = Vec::new();
        for key in overflow.list(&prefix).await? {
            if !referenced.contains(&overflow.location(&key)) {
                for erased in overflow.erase(Erase::Key(&key)).await? {
                    deleted.push(overflow.location(&erased));
                }
            }
        }
        for erased in overflow.erase(Erase::Superseded(&prefix)).await? {
            deleted.push(overflow.location(&erased));
        }
        deleted.sort();
        deleted.dedup();
        Ok(deleted)
    }

    async fn put_event(&self, event: &NormalizedEvent) -> Result<(), StoreError> {
        let overflow_key = format!(
            "large/{}/{}/event-{}",
            event.provider,
            key_segment(&event.subject_id),
            key_segment(&event.event_id)
        );
        let (name, document) = self
            .document("event", overflow_key, encode_event(event)?)
            .await?;
        let category = serde_json::to_value(event.category).ok();
        let status = serde_json::to_value(event.status).ok();
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", pk(event.provider, &event.subject_id))
            .item("sk", s(format!("event#{}", key_segment(&event.event_id))))
            .item("provider", s(event.provider.as_str()))
            .item("subject_id", s(event.subject_id.clone()))
            .item("event_id", s(event.event_id.clone()))
            .item("event_type", s(event.event_type.clone()))
            .item(
                "category",
                s(category
                    .as_ref()
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()),
            )
            .item(
                "status",
                s(status.as_ref().and_then(|v| v.as_str()).unwrap_or_default()),
            )
            .item("occurred_at", s(event.occurred_at.to_string()))
            .item("received_at", s(event.received_at.to_string()))
            .item(name, document)
            .send()
            .await
            .map_err(|e| sdk_error(format!("dynamodb put event in {}", self.table), &e))?;
        Ok(())
    }

    async fn read_record(
        &self,
        provider: Provider,
        subject_id: &str,
    ) -> Result<Option<(Record, Version)>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", pk(provider, subject_id))
            .key("sk", s("record"))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error(format!("dynamodb get {}", self.table), &e))?;
        let Some(item) = output.item else {
            return Ok(None);
        };
        let version = match item.get("version") {
            Some(AttributeValue::N(n)) => Version(n.clone()),
            _ => Version("0".into()),
        };
        let bytes = self.read_document(&item, "record").await?.ok_or_else(|| {
            StoreError::permanent(
                "dynamodb get record",
                "item has neither record nor record_location",
            )
        })?;
        Ok(Some((decode_record("dynamodb record", &bytes)?, version)))
    }

    async fn write_record(
        &self,
        provider: Provider,
        subject_id: &str,
        record: &Record,
        expected: Option<&Version>,
    ) -> Result<bool, StoreError> {
        let overflow_key = format!("large/{provider}/{}/record", key_segment(subject_id));
        let (name, document) = self
            .document("record", overflow_key, encode_record(record)?)
            .await?;
        let current: u64 = match expected {
            Some(Version(n)) => n
                .parse()
                .map_err(|e| StoreError::permanent("dynamodb record version", e))?,
            None => 0,
        };
        let mut request = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", pk(provider, subject_id))
            .item("sk", s("record"))
            .item("provider", s(provider.as_str()))
            .item("subject_id", s(subject_id))
            .item("updated_at", s(record.updated_at.to_string()))
            .item(
                "event_count",
                AttributeValue::N(record.events.len().to_string()),
            )
            .item("version", AttributeValue::N((current + 1).to_string()))
            .item(name, document);
        request = match expected {
            Some(Version(n)) => request
                .condition_expression("#v = :v")
                .expression_attribute_names("#v", "version")
                .expression_attribute_values(":v", AttributeValue::N(n.clone())),
            None => request.condition_expression("attribute_not_exists(pk)"),
        };
        match request.send().await {
            Ok(_) => Ok(true),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(err) => Err(sdk_error(
                format!("dynamodb put record in {}", self.table),
                &err,
            )),
        }
    }

    fn describe(&self) -> String {
        format!("dynamodb://{}", self.table)
    }

    fn record_location(&self, provider: Provider, subject_id: &str) -> Option<RecordLocation> {
        Some(RecordLocation::Table {
            name: self.table.clone(),
            pk: format!("{provider}#{}", key_segment(subject_id)),
            sk: "record".into(),
        })
    }

    async fn all_records(&self) -> Result<Vec<Record>, StoreError> {
        // A scan of the record items only: what `scribehook notify --pending` needs after
        // an outage, not a per-delivery path.
        let mut records = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .scan()
                .table_name(&self.table)
                .filter_expression("sk = :record")
                .expression_attribute_values(":record", s("record"))
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| sdk_error(format!("dynamodb scan {}", self.table), &e))?;
            for item in page.items() {
                if let Some(bytes) = self.read_document(item, "record").await? {
                    records.push(decode_record("dynamodb record", &bytes)?);
                }
            }
            match page.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => return Ok(records),
            }
        }
    }
}
