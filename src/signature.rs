//! Primitives every provider's signature scheme is built from: strict header lookup, the
//! timestamp window, digests and a length-checked constant-time comparison. Schemes are
//! described in `providers/scheme.rs` and declared in each provider's module.

use hmac::{Hmac, KeyInit, Mac};
use http::HeaderMap;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Why a delivery failed verification. Each maps to one `error.code` of docs/behaviour.md#http-answers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("{0}")]
    MissingSignature(String),
    /// `skew_secs` is the receiver's clock minus the timestamp: `+25200` for a sender seven
    /// hours behind (a local time zone sent as UTC), negative for one in the future.
    #[error("{message}")]
    StaleTimestamp { skew_secs: i64, message: String },
    #[error("{0}")]
    InvalidSignature(String),
}

impl VerifyError {
    pub fn code(&self) -> &'static str {
        match self {
            VerifyError::MissingSignature(_) => "missing_signature",
            VerifyError::StaleTimestamp { .. } => "stale_timestamp",
            VerifyError::InvalidSignature(_) => "invalid_signature",
        }
    }

    /// The measured clock skew of a `stale_timestamp` refusal, for the log line.
    pub fn skew_secs(&self) -> Option<i64> {
        match self {
            VerifyError::StaleTimestamp { skew_secs, .. } => Some(*skew_secs),
            _ => None,
        }
    }

    /// The HTTP status the ingest answers with: always 401, since 400 is for verified
    /// bodies only (docs/behaviour.md#http-answers).
    pub fn status(&self) -> http::StatusCode {
        http::StatusCode::UNAUTHORIZED
    }
}

/// The clock and tolerance a verification runs against. `now` is injected so tests and
/// the CLI (`--now`) can pin it; the tolerance is whatever the caller configured for this
/// provider (`<PROVIDER>_SIGNATURE_TOLERANCE_SECONDS`, else `SIGNATURE_TOLERANCE_SECONDS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub now: i64,
    pub tolerance_secs: u64,
}

impl Window {
    pub const DEFAULT_TOLERANCE_SECS: u64 = 300;

    pub fn new(now: i64, tolerance_secs: u64) -> Self {
        Self {
            now,
            tolerance_secs,
        }
    }

    /// Refuses timestamps further than the tolerance from `now`, in either direction: a
    /// future timestamp is as suspicious as an old one (a captured request re-dated).
    pub fn check(&self, header: &str, timestamp: i64) -> Result<(), VerifyError> {
        let skew_secs = self.now.saturating_sub(timestamp);
        if skew_secs.unsigned_abs() > self.tolerance_secs {
            let direction = if skew_secs > 0 {
                "old"
            } else {
                "in the future"
            };
            return Err(VerifyError::StaleTimestamp {
                skew_secs,
                message: format!(
                    "{header} is {} s {direction} (measured skew {skew_secs:+} s); the \
                     tolerance is {} s (check the sender's clock and time zone, or \
                     <PROVIDER>_SIGNATURE_TOLERANCE_SECONDS / SIGNATURE_TOLERANCE_SECONDS)",
                    skew_secs.unsigned_abs(),
                    self.tolerance_secs
                ),
            });
        }
        Ok(())
    }
}

/// Whether a header's grammar may itself contain commas. API Gateway's HTTP API (v2)
/// joins repeated headers with `,`, so for headers whose values never hold one, a comma
/// is how a repeat shows up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Commas {
    Forbidden,
    Allowed,
}

/// The one value of a required header. Missing, blank, unreadable (not visible ASCII) and
/// repeated headers are all refused as missing: taking "the first" of two signatures is how
/// verification gets bypassed, and a header that cannot be read signs nothing.
pub fn required<'h>(
    headers: &'h HeaderMap,
    name: &str,
    commas: Commas,
) -> Result<&'h str, VerifyError> {
    optional(headers, name, commas)?
        .ok_or_else(|| VerifyError::MissingSignature(format!("header {name} is missing")))
}

/// Like [`required`], but an absent header is `Ok(None)`; present ones get every check.
pub fn optional<'h>(
    headers: &'h HeaderMap,
    name: &str,
    commas: Commas,
) -> Result<Option<&'h str>, VerifyError> {
    let mut values = headers.get_all(name).iter();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(repeated(name));
    }
    let value = first
        .to_str()
        .map_err(|_| {
            VerifyError::MissingSignature(format!(
                "header {name} is not visible ASCII text, so it cannot be read"
            ))
        })?
        .trim();
    if value.is_empty() {
        return Err(VerifyError::MissingSignature(format!(
            "header {name} is blank"
        )));
    }
    if commas == Commas::Forbidden && value.contains(',') {
        return Err(repeated(name));
    }
    Ok(Some(value))
}

fn repeated(name: &str) -> VerifyError {
    VerifyError::MissingSignature(format!(
        "header {name} appears more than once; exactly one is required"
    ))
}

/// A unix-seconds header value: decimal digits only (no sign, no fraction, no spaces).
pub fn unix_seconds(header: &str, value: &str) -> Result<i64, VerifyError> {
    if value.is_empty() || value.len() > 12 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(VerifyError::InvalidSignature(format!(
            "{header} must be decimal unix seconds"
        )));
    }
    value
        .parse()
        .map_err(|_| VerifyError::InvalidSignature(format!("{header} is out of range")))
}

/// HMAC-SHA256 over the concatenation of `parts`, so callers never build a second copy
/// of the body just to prepend a timestamp.
pub fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // HMAC accepts keys of any length; `new_from_slice` cannot fail for it.
    let mut mac = match Hmac::<Sha256>::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC takes keys of every length"),
    };
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// Plain SHA-256 over the concatenation of `parts`.
pub fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut digest = Sha256::new();
    for part in parts {
        digest.update(part);
    }
    digest.finalize().into()
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(sha256(&[bytes]))
}

/// Constant-time equality that is false for any length difference, including an empty
/// candidate (the `v1,` bypass some webhook libraries shipped with).
pub fn digest_eq(expected: &[u8; 32], candidate: &[u8]) -> bool {
    candidate.len() == expected.len() && bool::from(expected.as_slice().ct_eq(candidate))
}

/// Decodes a lowercase or uppercase hex digest; anything but 64 hex digits is `None`.
pub fn decode_hex_digest(text: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(text, &mut out).ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(*k, HeaderValue::from_static(v));
        }
        map
    }

    #[test]
    fn header_lookup_is_case_insensitive() {
        let h = headers(&[("X-Webhook-Timestamp", "1700000000")]);
        assert_eq!(
            required(&h, "x-webhook-timestamp", Commas::Forbidden),
            Ok("1700000000")
        );
    }

    #[test]
    fn missing_blank_and_repeated_headers_are_refused() {
        let none = HeaderMap::new();
        let blank = headers(&[("x-a", "  ")]);
        let twice = headers(&[("x-a", "1"), ("X-A", "2")]);
        let joined = headers(&[("x-a", "1, 2")]);
        for h in [&none, &blank, &twice, &joined] {
            let err = required(h, "x-a", Commas::Forbidden).unwrap_err();
            assert_eq!(err.code(), "missing_signature", "{h:?}");
        }
        assert_eq!(required(&joined, "x-a", Commas::Allowed), Ok("1, 2"));
        assert_eq!(optional(&none, "x-a", Commas::Forbidden), Ok(None));
    }

    #[test]
    fn window_is_checked_in_both_directions() {
        let w = Window::new(1_000_000, 300);
        assert!(w.check("t", 1_000_000 - 300).is_ok());
        assert!(w.check("t", 1_000_000 + 300).is_ok());
        assert_eq!(
            w.check("t", 1_000_000 - 301).unwrap_err().code(),
            "stale_timestamp"
        );
        assert_eq!(
            w.check("t", 1_000_000 + 301).unwrap_err().code(),
            "stale_timestamp"
        );
    }

    #[test]
    fn stale_refusals_state_the_signed_skew() {
        let w = Window::new(1_000_000, 300);
        let old = w.check("x-t", 1_000_000 - 25_200).unwrap_err();
        assert_eq!(
            old.to_string(),
            "x-t is 25200 s old (measured skew +25200 s); the tolerance is 300 s (check the \
             sender's clock and time zone, or <PROVIDER>_SIGNATURE_TOLERANCE_SECONDS / \
             SIGNATURE_TOLERANCE_SECONDS)"
        );
        let future = w.check("x-t", 1_000_400).unwrap_err();
        assert_eq!(future.skew_secs(), Some(-400));
        assert!(future
            .to_string()
            .starts_with("x-t is 400 s in the future (measured skew -400 s)"));
        assert_eq!(
            Window::new(0, 300).check("t", i64::MIN).unwrap_err().code(),
            "stale_timestamp"
        );
    }

    #[test]
    fn unix_seconds_accepts_only_digits() {
        assert_eq!(unix_seconds("t", "1700000000"), Ok(1_700_000_000));
        for bad in ["", "-1", "1.5", "17e8", "abc", "1700000000000000"] {
            assert!(unix_seconds("t", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn digests_match_published_vectors() {
        // RFC 4231 test case 2.
        assert_eq!(
            hex::encode(hmac_sha256(
                b"Jefe",
                &[b"what do ya want ", b"for nothing?"]
            )),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // FIPS 180-2 "abc".
        assert_eq!(
            hex::encode(sha256(&[b"a", b"bc"])),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn digest_comparison_checks_length() {
        let d = sha256(&[b"x"]);
        assert!(digest_eq(&d, &d));
        assert!(!digest_eq(&d, &d[..31]));
        assert!(!digest_eq(&d, &[]));
        let mut other = d;
        other[31] ^= 1;
        assert!(!digest_eq(&d, &other));
    }
}
