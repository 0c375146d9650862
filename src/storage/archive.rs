//! The archive: every verified delivery, byte for byte, under
//! `raw/<provider>/<event_id>.json` (docs/behaviour.md#storage-layout). Written create-only, so a redelivery
//! never overwrites the first; a conflicting variant is kept beside it as
//! `<event_id>~<fingerprint>.json` (`~` never appears in an encoded id).

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};
use serde::{Deserialize, Serialize};
use tracing::Instrument;

use super::{
    decode_key_segment, is_shortened_segment, key_segment, Blobs, Condition, Erase, Put, StoreError,
};
use crate::pipeline::delivery::Verified;
use crate::record::Timestamp;
use crate::record::{NormalizedEvent, Provider};

/// The archive object of one delivery.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ArchivedDelivery {
    pub provider: Provider,
    pub event_id: String,
    pub received_at: Timestamp,
    /// The signature-relevant headers, lower-cased names.
    pub headers: BTreeMap<String, String>,
    pub body_base64: String,
}

/// The archive object's fields before the body, in [`ArchivedDelivery`]'s order.
#[derive(Serialize)]
struct Head<'a> {
    provider: Provider,
    event_id: &'a str,
    received_at: Timestamp,
    headers: BTreeMap<String, String>,
}

impl<'a> Head<'a> {
    fn of(delivery: &Verified<'_>, event_id: &'a str, received_at: Timestamp) -> Self {
        let provider = delivery.provider();
        let headers = delivery.headers();
        let headers = provider
            .signature_headers()
            .iter()
            .filter_map(|name| {
                let values: Vec<&str> = headers
                    .get_all(*name)
                    .iter()
                    .filter_map(|v| v.to_str().ok())
                    .collect();
                (!values.is_empty()).then(|| ((*name).to_owned(), values.join(",")))
            })
            .collect();
        Head {
            provider,
            event_id,
            received_at,
            headers,
        }
    }
}

/// The archive object of a verified delivery, filed under `event_id`, as JSON: byte for
/// byte what serializing its [`ArchivedDelivery`] gives, but with the body base64-encoded
/// once, straight into the output (no intermediate string and no second copy of a
/// multi-megabyte body).
fn encode_new(
    delivery: &Verified<'_>,
    event_id: &str,
    received_at: Timestamp,
) -> Result<Bytes, StoreError> {
    let body = delivery.body();
    let encoded_len = base64::encoded_len(body.len(), true)
        .ok_or_else(|| StoreError::permanent("archive encode", "body too large to encode"))?;
    let mut out = Vec::with_capacity(encoded_len + 512);
    serde_json::to_writer(&mut out, &Head::of(delivery, event_id, received_at))
        .map_err(|e| StoreError::permanent("archive encode", e))?;
    // Reopen the object for the last field; base64 needs no JSON escaping.
    out.pop();
    out.extend_from_slice(b",\"body_base64\":\"");
    push_base64(&mut out, body, encoded_len)?;
    out.extend_from_slice(b"\"}");
    Ok(Bytes::from(out))
}

/// Appends the standard, padded base64 of `body` (`encoded_len` bytes) to `out`: the
/// alphabet and padding of `base64`'s STANDARD, which reads it back, encoded with SIMD
/// (chosen at run time), several times faster on a body of megabytes.
fn push_base64(out: &mut Vec<u8>, body: &[u8], encoded_len: usize) -> Result<(), StoreError> {
    let start = out.len();
    out.resize(start + encoded_len, 0);
    let written = base64_simd::STANDARD
        .encode(body, base64_simd::AsOut::as_out(&mut out[start..]))
        .len();
    if written != encoded_len {
        return Err(StoreError::permanent(
            "archive encode",
            format!("encoded {written} bytes where {encoded_len} were expected"),
        ));
    }
    Ok(())
}

impl ArchivedDelivery {
    pub fn body(&self) -> Result<Vec<u8>, StoreError> {
        STANDARD.decode(&self.body_base64).map_err(|e| {
            StoreError::permanent(format!("archive of {}/{}", self.provider, self.event_id), e)
        })
    }

    pub fn header_map(&self) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in &self.headers {
            if let (Ok(n), Ok(v)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) {
                map.append(n, v);
            }
        }
        map
    }
}

/// What creating an archive object found.
#[derive(Debug)]
pub enum Created {
    New,
    /// An object already holds this event id: the earlier delivery.
    Existing(ArchivedDelivery),
}

#[derive(Clone)]
pub struct Archive {
    blobs: Arc<dyn Blobs>,
}

impl Archive {
    pub fn new(blobs: Arc<dyn Blobs>) -> Self {
        Self { blobs }
    }

    pub fn key(provider: Provider, event_id: &str) -> String {
        format!("raw/{provider}/{}.json", key_segment(event_id))
    }

    pub fn location(&self, provider: Provider, event_id: &str) -> String {
        self.blobs.location(&Self::key(provider, event_id))
    }

    /// Archives a verified delivery under `event_id` unless that id is archived already.
    pub async fn create(
        &self,
        verified: &Verified<'_>,
        event_id: &str,
        received_at: Timestamp,
    ) -> Result<Created, StoreError> {
        let provider = verified.provider();
        let key = Self::key(provider, event_id);
        let object = crate::telemetry::stage("encode archive")
            .in_scope(|| encode_new(verified, event_id, received_at))?;
        match self.blobs.put(&key, object, Condition::IfAbsent).await? {
            Put::Written => Ok(Created::New),
            Put::ConditionFailed => match self.get(provider, event_id).await? {
                Some(existing) => Ok(Created::Existing(existing)),
                // Conditional create refused yet nothing readable: let the caller retry.
                None => Err(StoreError::new(
                    format!("archive {key}"),
                    "exists but could not be read",
                )),
            },
        }
    }

    /// Keeps a conflicting body beside the first, keyed by its content fingerprint.
    pub async fn create_variant(
        &self,
        verified: &Verified<'_>,
        event_id: &str,
        received_at: Timestamp,
        fingerprint: &str,
    ) -> Result<String, StoreError> {
        let key = format!(
            "raw/{}/{}~{}.json",
            verified.provider(),
            key_segment(event_id),
            fingerprint.get(..16).unwrap_or(fingerprint)
        );
        let object = encode_new(verified, event_id, received_at)?;
        self.blobs.put(&key, object, Condition::IfAbsent).await?;
        Ok(self.blobs.location(&key))
    }

    pub async fn get(
        &self,
        provider: Provider,
        event_id: &str,
    ) -> Result<Option<ArchivedDelivery>, StoreError> {
        let key = Self::key(provider, event_id);
        match self.blobs.get(&key).await? {
            Some((bytes, _)) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
                StoreError::permanent(format!("archive {key} is not an archived delivery"), e)
            }),
            None => Ok(None),
        }
    }

    /// Erases the archived delivery of `event_id` and its conflict variants, every version,
    /// with its processed mark and quarantine entry (docs/behaviour.md#deletion-and-retention).
    /// Returns the locations of the deliveries removed; idempotent.
    pub async fn erase(
        &self,
        provider: Provider,
        event_id: &str,
    ) -> Result<Vec<String>, StoreError> {
        let segment = key_segment(event_id);
        let key = Self::key(provider, event_id);
        let mut erased = self.blobs.erase(Erase::Key(&key)).await?;
        // `~` never occurs in an encoded id, so this prefix holds only this id's variants.
        let variants = format!("raw/{provider}/{segment}~");
        erased.extend(self.blobs.erase(Erase::Prefix(&variants)).await?);
        // Only ids, but a redelivery after the purge must be processed (into a tombstone).
        self.blobs
            .delete(&Self::processed_key(provider, event_id))
            .await?;
        // A quarantine entry names a delivery that is no more, and would have replay look
        // for it (docs/behaviour.md#what-a-purge-removes).
        self.blobs
            .erase(Erase::Key(&Self::quarantine_key(provider, event_id)))
            .await?;
        Ok(erased.iter().map(|key| self.blobs.location(key)).collect())
    }

    fn processed_key(provider: Provider, event_id: &str) -> String {
        format!("processed/{provider}/{}.json", key_segment(event_id))
    }

    /// Notes that the delivery is in its records, as
    /// `processed/<provider>/<event_id>.json` (ids and a time, no content): a redelivery is
    /// then answered with one small read instead of another processing run.
    pub async fn mark_processed(
        &self,
        provider: Provider,
        event_id: &str,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        let mark =
            serde_json::json!({ "provider": provider, "event_id": event_id, "processed_at": at });
        self.blobs
            .put(
                &Self::processed_key(provider, event_id),
                Bytes::from(mark.to_string()),
                Condition::Always,
            )
            .instrument(crate::telemetry::stage("processed mark"))
            .await?;
        Ok(())
    }

    /// Whether the delivery was processed into its records ([`Self::mark_processed`]).
    pub async fn is_processed(
        &self,
        provider: Provider,
        event_id: &str,
    ) -> Result<bool, StoreError> {
        let key = Self::processed_key(provider, event_id);
        Ok(self.blobs.get(&key).await?.is_some())
    }

    fn erased_key(provider: Provider, event_id: &str) -> String {
        format!("erased/{provider}/{}.json", key_segment(event_id))
    }

    /// Keeps the content-free event of a delivery about to be erased as
    /// `erased/<provider>/<event_id>.json`, so a queued message naming the delivery is
    /// acknowledged with it rather than retried into the dead-letter queue.
    pub async fn mark_erased(&self, tombstone: &NormalizedEvent) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(tombstone)
            .map_err(|e| StoreError::permanent("encode erased event", e))?;
        let key = Self::erased_key(tombstone.provider, &tombstone.event_id);
        self.blobs
            .put(&key, Bytes::from(bytes), Condition::Always)
            .await?;
        Ok(())
    }

    /// The content-free event of an erased delivery, if it was erased.
    pub async fn erased(
        &self,
        provider: Provider,
        event_id: &str,
    ) -> Result<Option<NormalizedEvent>, StoreError> {
        let key = Self::erased_key(provider, event_id);
        match self.blobs.get(&key).await? {
            Some((bytes, _)) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| StoreError::permanent(format!("{key} is not an event"), e)),
            None => Ok(None),
        }
    }

    /// The event ids archived for `provider` (variants excluded), in key order. A shortened
    /// over-long id is read back from its object.
    pub async fn list(&self, provider: Provider) -> Result<Vec<String>, StoreError> {
        let prefix = format!("raw/{provider}/");
        let mut ids = Vec::new();
        for key in self.blobs.list(&prefix).await? {
            let Some(name) = key
                .strip_prefix(&prefix)
                .and_then(|k| k.strip_suffix(".json"))
            else {
                continue;
            };
            if name.contains('~') || name.contains('/') {
                continue;
            }
            if !is_shortened_segment(name) {
                ids.push(decode_key_segment(name));
                continue;
            }
            let stored = match self.blobs.get(&key).await? {
                Some((bytes, _)) => serde_json::from_slice::<ArchivedDelivery>(&bytes)
                    .map_err(|e| StoreError::permanent(format!("archive {key}"), e))?,
                None => continue,
            };
            ids.push(stored.event_id);
        }
        Ok(ids)
    }
}

/// An archived delivery no retry can process with this release (docs/behaviour.md#failure-classes): kept as
/// `quarantine/<provider>/<event_id>.json` beside the archive, whichever store refused it,
/// until `scribehook replay` processes it after a fix.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Quarantined {
    pub provider: Provider,
    pub event_id: String,
    pub quarantined_at: Timestamp,
    pub error: crate::record::ErrorInfo,
    pub raw_location: String,
}

impl Archive {
    fn quarantine_key(provider: Provider, event_id: &str) -> String {
        format!("quarantine/{provider}/{}.json", key_segment(event_id))
    }

    pub async fn quarantine(&self, entry: &Quarantined) -> Result<String, StoreError> {
        let key = Self::quarantine_key(entry.provider, &entry.event_id);
        let bytes = serde_json::to_vec(entry)
            .map_err(|e| StoreError::permanent("encode quarantine entry", e))?;
        self.blobs
            .put(&key, Bytes::from(bytes), Condition::Always)
            .await?;
        Ok(self.blobs.location(&key))
    }

    /// Clears the quarantine mark of an event that has now been processed.
    pub async fn release(&self, provider: Provider, event_id: &str) -> Result<(), StoreError> {
        self.blobs
            .delete(&Self::quarantine_key(provider, event_id))
            .await
    }

    /// The provider's quarantined entries.
    pub async fn quarantined(&self, provider: Provider) -> Result<Vec<Quarantined>, StoreError> {
        let mut entries = Vec::new();
        for key in self.blobs.list(&format!("quarantine/{provider}/")).await? {
            if let Some((bytes, _)) = self.blobs.get(&key).await? {
                entries
                    .push(serde_json::from_slice(&bytes).map_err(|e| {
                        StoreError::permanent(format!("quarantine entry {key}"), e)
                    })?);
            }
        }
        Ok(entries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::SignOptions;
    use crate::signature::Window;

    #[test]
    fn the_streamed_encoding_is_the_serialized_archived_delivery() {
        let provider = Provider::Bota;
        let keys = provider.keys(&["whsec_test"]).unwrap();
        let body = "{\"id\":\"evt_1\",\"data\":{\"t\":\"é \\\"q\\\" \\u0001\"}}".as_bytes();
        let now = 1_700_000_000;
        let opts = SignOptions {
            timestamp: now,
            ..SignOptions::default()
        };
        let mut headers = HeaderMap::new();
        for (name, value) in provider.sign(&keys, body, &opts).unwrap() {
            let name = HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes()).unwrap();
            headers.append(name, HeaderValue::from_str(&value).unwrap());
        }
        let verified = Verified::check(provider, &headers, body, &keys, Window::new(now, 300));
        let at = Timestamp::from_unix(now).unwrap();
        let streamed = encode_new(&verified.unwrap(), "evt/1 é", at).unwrap();
        let decoded: ArchivedDelivery = serde_json::from_slice(&streamed).unwrap();
        assert_eq!(decoded.body().unwrap(), body);
        assert_eq!(decoded.event_id, "evt/1 é");
        assert!(decoded.headers.contains_key("x-bota-signature"));
        assert_eq!(serde_json::to_vec(&decoded).unwrap(), streamed.to_vec());
        assert_eq!(decoded.body_base64, STANDARD.encode(body));
    }

    #[test]
    fn the_simd_base64_is_the_standard_padded_one() {
        // Every tail length, and lengths past the SIMD blocks.
        let data: Vec<u8> = (0..70_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
        for len in (0..200).chain([4_095, 4_096, 4_097, 65_536, 70_000]) {
            let body = &data[..len];
            let encoded_len = base64::encoded_len(len, true).unwrap();
            let mut out = b"prefix".to_vec();
            push_base64(&mut out, body, encoded_len).unwrap();
            assert_eq!(&out[..6], b"prefix");
            assert_eq!(out[6..], *STANDARD.encode(body).as_bytes(), "length {len}");
        }
    }
}
