//! A delivery that passed its provider's signature check. Only [`Verified::check`] makes
//! one and the archive only takes one, so "nothing unverified is stored" holds by type, not
//! by the order of statements in the ingest (svix-bridge's receiver has the same shape).

use http::HeaderMap;

use crate::providers::Keys;
use crate::record::Provider;
use crate::signature::{VerifyError, Window};

/// The exact bytes and headers of a request whose signature matched a configured key.
#[derive(Debug, Clone, Copy)]
pub struct Verified<'a> {
    provider: Provider,
    headers: &'a HeaderMap,
    body: &'a [u8],
}

impl<'a> Verified<'a> {
    /// Checks `provider`'s signature over the raw `body`; the only way to a `Verified`.
    pub fn check(
        provider: Provider,
        headers: &'a HeaderMap,
        body: &'a [u8],
        keys: &Keys,
        window: Window,
    ) -> Result<Self, VerifyError> {
        provider.verify(headers, body, keys, window)?;
        Ok(Self {
            provider,
            headers,
            body,
        })
    }

    pub fn provider(&self) -> Provider {
        self.provider
    }

    pub fn headers(&self) -> &'a HeaderMap {
        self.headers
    }

    pub fn body(&self) -> &'a [u8] {
        self.body
    }
}
