//! S3 as a blob store. Conditional writes use S3's own preconditions: `If-None-Match: *`
//! for create-only (the archive) and `If-Match: <etag>` for compare-and-swap (records).

use async_trait::async_trait;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_smithy_types::retry::ProvideErrorKind;
use bytes::Bytes;

use super::{join_key, Blobs, Condition, Put, StoreError, Version};

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

    fn location(&self, key: &str) -> String {
        format!("s3://{}/{}", self.bucket, join_key(&self.prefix, key))
    }
}
