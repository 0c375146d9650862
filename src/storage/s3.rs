//! S3 as a blob store. Conditional writes use S3's own preconditions: `If-None-Match: *`
//! for create-only (the archive) and `If-Match: <etag>` for compare-and-swap (records).

use async_trait::async_trait;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_smithy_types::retry::ProvideErrorKind;
use bytes::Bytes;

use super::{join_key, Blobs, Condition, Erase, Put, StoreError, Version};

#[derive(Clone, Debug)]
pub struct S3Blobs {
    client: aws_sdk_s3::Client,
    bucket: String,
    prefix: String,
}

impl S3Blobs {
    pub fn new(client: aws_sdk_s3::Client, bucket: String, prefix: String) -> Self {
        Self {
            client,
            bucket,
            prefix,
        }
    }
}

fn sdk_error<E>(operation: &str, err: &SdkError<E>) -> StoreError
where
    E: ProvideErrorKind + ProvideErrorMetadata + std::error::Error + 'static,
{
    StoreError::from_sdk(operation, err)
}

/// 412 Precondition Failed, or 409 ConditionalRequestConflict (a concurrent conditional
/// write to the same key): either way the condition did not hold.
fn is_precondition_failure<E, R>(err: &aws_sdk_s3::error::SdkError<E, R>) -> bool
where
    E: ProvideErrorMetadata,
{
    match err {
        aws_sdk_s3::error::SdkError::ServiceError(service) => {
            matches!(
                service.err().code(),
                Some("PreconditionFailed" | "ConditionalRequestConflict")
            )
        }
        _ => false,
    }
}

#[async_trait]
impl Blobs for S3Blobs {
    async fn get(&self, key: &str) -> Result<Option<(Bytes, Version)>, StoreError> {
        let key = join_key(&self.prefix, key);
        let output = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&key)
            .send()
            .await
        {
            Ok(output) => output,
            Err(err) if err.as_service_error().is_some_and(|e| e.is_no_such_key()) => {
                return Ok(None)
            }
            Err(err) => {
                return Err(sdk_error(
                    &format!("s3 get s3://{}/{key}", self.bucket),
                    &err,
                ))
            }
        };
        let version = Version(output.e_tag().unwrap_or_default().to_owned());
        let bytes = output
            .body
            .collect()
            .await
            .map_err(|e| StoreError::new(format!("s3 read s3://{}/{key}", self.bucket), e))?
            .into_bytes();
        Ok(Some((bytes, version)))
    }

    async fn put(&self, key: &str, bytes: Bytes, condition: Condition) -> Result<Put, StoreError> {
        let key = join_key(&self.prefix, key);
        let mut request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(&key)
            .content_type("application/json")
            .body(ByteStream::from(bytes));
        request = match condition {
            Condition::Always => request,
            Condition::IfAbsent => request.if_none_match("*"),
            Condition::IfMatch(Version(etag)) => request.if_match(etag),
        };
        match request.send().await {
            Ok(_) => Ok(Put::Written),
            Err(err) if is_precondition_failure(&err) => Ok(Put::ConditionFailed),
            Err(err) => Err(sdk_error(
                &format!("s3 put s3://{}/{key}", self.bucket),
                &err,
            )),
        }
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let key = join_key(&self.prefix, key);
        // S3 answers a delete of a missing key with success: idempotent as it is.
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(&key)
            .send()
            .await
            .map_err(|err| sdk_error(&format!("s3 delete s3://{}/{key}", self.bucket), &err))?;
        Ok(())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let full = join_key(&self.prefix, prefix);
        let strip = if self.prefix.is_empty() {
            0
        } else {
            self.prefix.len() + 1
        };
        let mut keys = Vec::new();
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(&full)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page =
                page.map_err(|e| sdk_error(&format!("s3 list s3://{}/{full}", self.bucket), &e))?;
            for object in page.contents() {
                if let Some(key) = object.key().and_then(|k| k.get(strip..)) {
                    keys.push(key.to_owned());
                }
            }
        }
        keys.sort();
        Ok(keys)
    }

    async fn erase(&self, what: Erase<'_>) -> Result<Vec<String>, StoreError> {
        let full = join_key(&self.prefix, what.prefix());
        let mut erased = Vec::new();
        let superseded = matches!(what, Erase::Superseded(_));
        for (key, version) in self.versions(&full, superseded).await? {
            if matches!(what, Erase::Key(_)) && key != full {
                continue;
            }
            let mut request = self.client.delete_object().bucket(&self.bucket).key(&key);
            // An unversioned bucket lists its objects as version "null": a plain delete.
            if version != "null" {
                request = request.version_id(&version);
            }
            request.send().await.map_err(|err| {
                sdk_error(
                    &format!("s3 delete version of s3://{}/{key}", self.bucket),
                    &err,
                )
            })?;
            let strip = if self.prefix.is_empty() {
                0
            } else {
                self.prefix.len() + 1
            };
            if let Some(relative) = key.get(strip..) {
                erased.push(relative.to_owned());
            }
        }
        erased.sort();
        erased.dedup();
        Ok(erased)
    }

    fn location(&self, key: &str) -> String {
        format!("s3://{}/{}", self.bucket, join_key(&self.prefix, key))
    }
}

impl S3Blobs {
    /// Every (full key, version id) under `full`, versions and delete markers alike, but
    /// the current ones when `skip_latest`.
    async fn versions(
        &self,
        full: &str,
        skip_latest: bool,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let mut found = Vec::new();
        let (mut key_marker, mut version_marker) = (None::<String>, None::<String>);
        loop {
            let page = self
                .client
                .list_object_versions()
                .bucket(&self.bucket)
                .prefix(full)
                .set_key_marker(key_marker.take())
                .set_version_id_marker(version_marker.take())
                .send()
                .await
                .map_err(|e| {
                    sdk_error(&format!("s3 list versions s3://{}/{full}", self.bucket), &e)
                })?;
            let versions = page
                .versions()
                .iter()
                .map(|v| (v.key(), v.version_id(), v.is_latest()));
            let markers = page
                .delete_markers()
                .iter()
                .map(|m| (m.key(), m.version_id(), m.is_latest()));
            for (key, version, latest) in versions.chain(markers) {
                if skip_latest && latest == Some(true) {
                    continue;
                }
                if let Some(key) = key {
                    found.push((key.to_owned(), version.unwrap_or("null").to_owned()));
                }
            }
            if page.is_truncated() != Some(true) {
                return Ok(found);
            }
            key_marker = page.next_key_marker().map(str::to_owned);
            version_marker = page.next_version_id_marker().map(str::to_owned);
            if key_marker.is_none() {
                return Ok(found);
            }
        }
    }
}
