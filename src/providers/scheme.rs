//! One verification shape for every provider, after the svix receiver: a [`Scheme`] is data
//! (where the signature and its timestamp travel, how the header is written, which bytes are
//! signed, how the digest is made and encoded), and [`Scheme::sign`] and [`Scheme::verify`]
//! both build the signed bytes with [`Content::parts`], so signing and verifying cannot drift.
//! Provider modules only declare their scheme and add the checks of their own extra headers.

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::{alphabet, Engine};

use super::explain::{Explanation, SecretCheck, SignatureCheck, TimestampCheck};
use super::{Delivery, Keys, Provider, SignError};
use crate::record::Timestamp;
use crate::signature::{self, Commas, VerifyError};

/// How a secret, exactly as the provider's console shows it, becomes key bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyEncoding {
    /// Daily shows base64 text; accepted with or without padding.
    Base64,
    /// Used as its UTF-8 bytes, prefix (`whsec_`) and all; a hex-looking key is not decoded.
    Utf8,
}

/// Daily's secrets with or without their `=` padding.
const SECRET_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

impl KeyEncoding {
    pub(crate) fn decode(self, provider: Provider, secret: &str) -> Result<Vec<u8>, String> {
        match self {
            KeyEncoding::Utf8 => Ok(secret.as_bytes().to_vec()),
            // The decoder's error names the offending character and its offset: a piece
            // of the secret, which no message may quote (docs/behaviour.md#configuration).
            KeyEncoding::Base64 => SECRET_BASE64.decode(secret).map_err(|_| {
                format!(
                    "is not base64 text; {provider} secrets are base64 as {provider} shows them \
                     (A-Z, a-z, 0-9, + and /, = padding optional)"
                )
            }),
        }
    }
}

/// How key and signed bytes become a digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Digest {
    HmacSha256,
    /// Plain SHA-256 of `key "." content`, Prosa's `v1`: the key is hashed, not keyed.
    Sha256KeyDot,
}

/// How a digest is written in the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoding {
    /// Standard base64 with padding (44 characters).
    Base64,
    /// 64 hex digits, either case.
    Hex,
}

impl Encoding {
    fn encode(self, digest: &[u8; 32]) -> String {
        match self {
            Encoding::Base64 => STANDARD.encode(digest),
            Encoding::Hex => hex::encode(digest),
        }
    }

    /// The provided bytes; a base64 value of the wrong length still decodes and simply
    /// never matches (the comparison checks lengths).
    fn decode(self, text: &str) -> Option<Vec<u8>> {
        match self {
            Encoding::Base64 => STANDARD.decode(text).ok(),
            Encoding::Hex => signature::decode_hex_digest(text).map(Vec::from),
        }
    }
}

/// Which bytes are signed, around the exact raw body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Content {
    /// `timestamp "." body` (Daily, Bota).
    TimestampDotBody,
    /// `timestamp ‖ body`, no separator (Nabla).
    TimestampBody,
    /// The body alone (Prosa; its timestamp is not signed).
    Body,
}

impl Content {
    /// The signed bytes as parts, so the body is never copied to prepend a timestamp.
    /// Unused parts are empty, which hashing skips.
    pub(crate) fn parts<'a>(self, timestamp: &'a str, body: &'a [u8]) -> [&'a [u8]; 3] {
        match self {
            Content::TimestampDotBody => [timestamp.as_bytes(), b".", body],
            Content::TimestampBody => [timestamp.as_bytes(), b"", body],
            Content::Body => [b"", b"", body],
        }
    }
}

/// How signatures are written in the signature header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Grammar {
    /// Exactly one `prefix` + digest; commas are a joined repeat (Daily `""`, Bota `v1=`).
    One { prefix: &'static str },
    /// One digest per active secret, split on commas and whitespace, each with an optional
    /// prefix; entries that are not digests are skipped (Nabla).
    List { prefixes: &'static [&'static str] },
    /// `t=<unix>,v1=<digest>[,v1=…]`, read by key (Prosa).
    Keyed,
}

impl Grammar {
    fn commas(self) -> Commas {
        match self {
            Grammar::One { .. } => Commas::Forbidden,
            Grammar::List { .. } | Grammar::Keyed => Commas::Allowed,
        }
    }
}

/// Where the timestamp comes from and how it is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Clock {
    /// A header of decimal unix seconds.
    UnixHeader(&'static str, &'static str),
    /// A header of RFC 3339, ISO 8601 without a zone (UTC), or unix seconds or
    /// milliseconds (Nabla: its docs and sample app show each).
    DateTimeHeader(&'static str, &'static str),
    /// Read as [`Clock::DateTimeHeader`]; signed as ISO 8601 without a zone (UTC), the
    /// form of Nabla's older platform, for test deliveries in that form.
    ZonelessHeader(&'static str, &'static str),
    /// The `t=` entry of a [`Grammar::Keyed`] header.
    InSignature,
    /// No timestamp at all (Prosa `sha256=`): replay protection is the body-digest dedupe.
    Unsigned,
}

impl Clock {
    /// The header holding the timestamp: (name looked up, name as the provider writes it).
    fn header(self) -> Option<(&'static str, &'static str)> {
        match self {
            Clock::UnixHeader(name, label)
            | Clock::DateTimeHeader(name, label)
            | Clock::ZonelessHeader(name, label) => Some((name, label)),
            Clock::InSignature | Clock::Unsigned => None,
        }
    }

    /// The timestamp as the provider would write it at `unix` seconds.
    fn format(self, unix: i64) -> Result<String, SignError> {
        match self {
            Clock::DateTimeHeader(..) | Clock::ZonelessHeader(..) => {
                let text = Timestamp::from_unix(unix)
                    .map(|t| t.to_string())
                    .ok_or_else(|| SignError(format!("timestamp {unix} is out of range")))?;
                Ok(match self {
                    Clock::ZonelessHeader(..) => text.trim_end_matches('Z').to_owned(),
                    _ => text,
                })
            }
            Clock::UnixHeader(..) | Clock::InSignature => Ok(unix.to_string()),
            Clock::Unsigned => Ok(String::new()),
        }
    }

    fn parse(self, value: &str) -> Result<i64, VerifyError> {
        match self {
            Clock::UnixHeader(name, _) => signature::unix_seconds(name, value),
            Clock::DateTimeHeader(name, _) | Clock::ZonelessHeader(name, _) => {
                date_time_seconds(name, value)
            }
            Clock::InSignature | Clock::Unsigned => signature::unix_seconds(KEYED_T, value),
        }
    }
}

const KEYED_T: &str = "X-Prosa-Signature t";

/// Unix timestamps above this are milliseconds (year 5138 in seconds).
const MILLIS_THRESHOLD: i64 = 100_000_000_000;

fn date_time_seconds(header: &str, value: &str) -> Result<i64, VerifyError> {
    let invalid = || {
        VerifyError::InvalidSignature(format!(
            "{header} must be an RFC 3339 or ISO 8601 date-time, or unix seconds/milliseconds"
        ))
    };
    if value.bytes().all(|b| b.is_ascii_digit()) {
        let n: i64 = value
            .parse()
            .ok()
            .filter(|_| value.len() <= 13)
            .ok_or_else(invalid)?;
        return Ok(if n >= MILLIS_THRESHOLD { n / 1000 } else { n });
    }
    // Zone-less ISO 8601 is read as UTC; the text is signed as sent either way.
    Timestamp::parse(value)
        .map(Timestamp::unix_seconds)
        .ok_or_else(invalid)
}

/// One provider's signature scheme, as data.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Scheme {
    pub provider: Provider,
    /// The signature header: (name looked up, name as the provider writes it).
    pub header: (&'static str, &'static str),
    pub grammar: Grammar,
    pub clock: Clock,
    pub content: Content,
    pub digest: Digest,
    pub encoding: Encoding,
}

impl Scheme {
    /// Whether the signed bytes can be read more than one way: a plain SHA-256 of `key "."
    /// content` can be extended past the body without the key (length extension), and a
    /// timestamp glued to the body with no separator can be re-split (`…59Z` + `{…}` is
    /// `…59` + `Z{…}`). Under such a scheme only a body that is one JSON value counts as
    /// signed (docs/behaviour.md#signed-bytes-quoting-and-bounds): every forgery of those
    /// two kinds leaves bytes around the value.
    pub(crate) fn signs_ambiguous_bytes(&self) -> bool {
        matches!(self.digest, Digest::Sha256KeyDot)
            || matches!(self.content, Content::TimestampBody)
    }

    /// The digest of `key` over the signed content: the one place both sides compute it.
    fn digest(&self, key: &[u8], timestamp: &str, body: &[u8]) -> [u8; 32] {
        let parts = self.content.parts(timestamp, body);
        match self.digest {
            Digest::HmacSha256 => signature::hmac_sha256(key, &parts),
            Digest::Sha256KeyDot => {
                let [a, b, c] = parts;
                signature::sha256(&[key, b".", a, b, c])
            }
        }
    }

    /// The headers the provider sends for `body` signed at `unix` seconds: the signature
    /// header, then the timestamp header when the timestamp has one of its own.
    pub(crate) fn sign(
        &self,
        keys: &Keys,
        body: &[u8],
        unix: i64,
    ) -> Result<Vec<(String, String)>, SignError> {
        let timestamp = self.clock.format(unix)?;
        let encoded = |key: &[u8]| self.encoding.encode(&self.digest(key, &timestamp, body));
        let value = match self.grammar {
            Grammar::One { prefix } => format!("{prefix}{}", encoded(keys.single(self.provider)?)),
            Grammar::List { .. } => keys.iter().map(encoded).collect::<Vec<_>>().join(","),
            Grammar::Keyed => keys
                .iter()
                .fold(format!("t={timestamp}"), |mut value, key| {
                    value.push_str(",v1=");
                    value.push_str(&encoded(key));
                    value
                }),
        };
        let mut headers = vec![(self.header.1.to_owned(), value)];
        if let Some((_, label)) = self.clock.header() {
            headers.push((label.to_owned(), timestamp));
        }
        Ok(headers)
    }

    /// Checks the signature header over the exact raw `body` against every key: header
    /// grammar, then the timestamp window (cheap), then the digests. What it finds goes
    /// into `ex`.
    pub(crate) fn verify(
        &self,
        delivery: &Delivery<'_>,
        ex: &mut Explanation,
    ) -> Result<(), VerifyError> {
        let Delivery {
            headers,
            body,
            keys,
            window,
        } = *delivery;
        ex.scheme = Some(self.formula());
        let value = signature::required(headers, self.header.0, self.grammar.commas())?;
        let (timestamp, entries) = match self.clock {
            Clock::UnixHeader(name, label)
            | Clock::DateTimeHeader(name, label)
            | Clock::ZonelessHeader(name, label) => (
                Some((
                    name,
                    label,
                    signature::required(headers, name, Commas::Forbidden)?,
                )),
                self.entries(value),
            ),
            Clock::InSignature => {
                let keyed = parse_keyed(value)?;
                (Some((KEYED_T, KEYED_T, keyed.timestamp)), keyed.signatures)
            }
            Clock::Unsigned => (None, self.entries(value)),
        };
        let in_window = match timestamp {
            Some((name, label, text)) => {
                let unix = self.clock.parse(text)?;
                ex.timestamp = Some(TimestampCheck {
                    header: label,
                    value: text.to_owned(),
                    unix,
                    skew_secs: window.now.saturating_sub(unix),
                    tolerance_secs: window.tolerance_secs,
                });
                window.check(name, unix)
            }
            None => Ok(()),
        };
        if !ex.thorough {
            in_window.clone()?;
        }
        let candidates = self.decode(&entries, ex);
        let signed_at = timestamp.map_or("", |(_, _, text)| text);
        let matched = match &candidates {
            Ok(candidates) => self.compare(keys, signed_at, body, candidates, ex),
            Err(_) => false,
        };
        in_window?;
        candidates?;
        if !matched {
            return Err(VerifyError::InvalidSignature(self.mismatch()));
        }
        if self.signs_ambiguous_bytes() && !is_one_json_value(body) {
            ex.notes.push(
                "the digest matches, but under this scheme only a body that is one JSON value \
                 (UTF-8, nothing after it) counts as signed"
                    .into(),
            );
            return Err(VerifyError::InvalidSignature(format!(
                "the body is not one JSON value; {} signs bytes that can be extended or \
                 re-split, so only a single JSON value counts as signed",
                self.header.1
            )));
        }
        Ok(())
    }

    /// Whether any key's digest equals any candidate: constant time per comparison,
    /// lengths checked. Which key matched is not secret (only its position is kept).
    fn compare(
        &self,
        keys: &Keys,
        signed_at: &str,
        body: &[u8],
        candidates: &[Vec<u8>],
        ex: &mut Explanation,
    ) -> bool {
        let mut matched = false;
        for (index, key) in keys.iter().enumerate() {
            let expected = self.digest(key, signed_at, body);
            let hit = candidates
                .iter()
                .any(|c| signature::digest_eq(&expected, c));
            ex.secrets.push(SecretCheck {
                position: index + 1,
                matched: hit,
            });
            matched |= hit;
            if matched && !ex.thorough {
                break;
            }
        }
        matched
    }

    /// The signature entries of a [`Grammar::One`] or [`Grammar::List`] header.
    fn entries<'h>(&self, value: &'h str) -> Vec<&'h str> {
        match self.grammar {
            Grammar::One { .. } | Grammar::Keyed => vec![value],
            Grammar::List { .. } => value
                .split(|c: char| c == ',' || c.is_ascii_whitespace())
                .filter(|entry| !entry.is_empty())
                .collect(),
        }
    }

    /// The provided digests. Entries that are not digests in this encoding can never
    /// match: skipped, unless no entry is left where the grammar requires one.
    fn decode(&self, entries: &[&str], ex: &mut Explanation) -> Result<Vec<Vec<u8>>, VerifyError> {
        let mut found = Vec::new();
        for (index, entry) in entries.iter().enumerate() {
            let entry = entry.trim();
            let text = match self.grammar {
                Grammar::One { prefix } => entry.strip_prefix(prefix),
                Grammar::List { prefixes } => Some(
                    prefixes
                        .iter()
                        .find_map(|p| entry.strip_prefix(p))
                        .unwrap_or(entry),
                ),
                Grammar::Keyed => Some(entry),
            };
            let decoded = text.and_then(|t| self.encoding.decode(t));
            ex.signatures.push(SignatureCheck {
                position: index + 1,
                chars: text.unwrap_or(entry).len(),
                decoded_bytes: decoded.as_ref().map(Vec::len),
                note: self.note(entry, text, decoded.as_deref()),
            });
            found.extend(decoded);
        }
        let label = self.header.1;
        match self.grammar {
            Grammar::One { prefix } if found.is_empty() => {
                Err(VerifyError::InvalidSignature(match self.encoding {
                    Encoding::Base64 => format!("{label} is not standard base64"),
                    Encoding::Hex => format!("{label} must be {prefix} followed by 64 hex digits"),
                }))
            }
            Grammar::List { .. } if found.is_empty() => Err(VerifyError::InvalidSignature(
                format!("{label} holds no 64-hex-digit signature"),
            )),
            _ => Ok(found),
        }
    }

    /// What looks wrong with one provided signature, for the explanation.
    fn note(&self, entry: &str, text: Option<&str>, decoded: Option<&[u8]>) -> Option<String> {
        let Some(text) = text else {
            let prefix = match self.grammar {
                Grammar::One { prefix } => prefix,
                Grammar::List { .. } | Grammar::Keyed => "",
            };
            return Some(format!("does not start with {prefix}"));
        };
        let looks_hex = text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit());
        let looks_base64 = STANDARD.decode(text).is_ok_and(|d| d.len() == 32);
        match (self.encoding, decoded.map(<[u8]>::len)) {
            (_, Some(32)) => None,
            (Encoding::Base64, _) if looks_hex => {
                Some("64 hex digits: a hex digest where this scheme sends base64".into())
            }
            (Encoding::Hex, _) if looks_base64 => {
                Some("base64 of 32 bytes: a base64 digest where this scheme sends hex".into())
            }
            (_, Some(n)) => Some(format!("a SHA-256 digest is 32 bytes, not {n}")),
            (Encoding::Base64, None) => Some("not standard base64".into()),
            (Encoding::Hex, None) if entry.is_empty() || text.is_empty() => Some("empty".into()),
            (Encoding::Hex, None) => Some("not 64 hex digits".into()),
        }
    }

    /// The scheme as a formula, for the explanation.
    fn formula(&self) -> String {
        let timestamp = match self.clock {
            Clock::UnixHeader(_, label)
            | Clock::DateTimeHeader(_, label)
            | Clock::ZonelessHeader(_, label) => label,
            Clock::InSignature => "t",
            Clock::Unsigned => "",
        };
        let content = match self.content {
            Content::TimestampDotBody => format!("{timestamp} \".\" body"),
            Content::TimestampBody => format!("{timestamp} ‖ body"),
            Content::Body => "body".to_owned(),
        };
        let digest = match self.digest {
            Digest::HmacSha256 => {
                let key = match self.provider.spec().key_encoding {
                    KeyEncoding::Base64 => "base64-decoded secret",
                    KeyEncoding::Utf8 => "secret",
                };
                format!("HMAC-SHA256(key = {key}, {content})")
            }
            Digest::Sha256KeyDot => format!("SHA-256(secret \".\" {content})"),
        };
        let encoding = match self.encoding {
            Encoding::Base64 => "base64",
            Encoding::Hex => "hex",
        };
        let written = match self.grammar {
            Grammar::One { prefix } => format!("{prefix}<sig>"),
            Grammar::List { prefixes } => {
                format!(
                    "<sig>[,<sig>…], each optionally prefixed {}",
                    prefixes.join(" or ")
                )
            }
            Grammar::Keyed => "t=<unix>,v1=<sig>[,v1=<sig>…]".to_owned(),
        };
        format!("{}: {written}, <sig> = {encoding}({digest})", self.header.1)
    }

    fn mismatch(&self) -> String {
        let (label, env) = (self.header.1, self.provider.secrets_env());
        match self.grammar {
            Grammar::Keyed => format!("no v1 in {label} matches any configured {env}"),
            Grammar::One { .. } | Grammar::List { .. } => {
                format!("{label} does not match any configured {env}")
            }
        }
    }
}

/// Whether `body` is exactly one JSON value in UTF-8, whitespace around it allowed.
fn is_one_json_value(body: &[u8]) -> bool {
    std::str::from_utf8(body)
        .is_ok_and(|text| serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok())
}

/// `t=…,v1=…[,v1=…]`, parsed by key: API Gateway's v2 format joins a repeated header
/// with commas, which shows up here as a second `t`.
struct Keyed<'h> {
    timestamp: &'h str,
    signatures: Vec<&'h str>,
}

fn parse_keyed(value: &str) -> Result<Keyed<'_>, VerifyError> {
    let missing = |what: &str| VerifyError::MissingSignature(format!("X-Prosa-Signature {what}"));
    let mut timestamp = None;
    let mut signatures = Vec::new();
    let mut v1_seen = false;
    for part in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (key, val) = part.split_once('=').unwrap_or((part, ""));
        match key.trim() {
            "t" if timestamp.is_some() => {
                return Err(missing(
                    "carries more than one t=; was the header repeated?",
                ))
            }
            "t" => {
                let val = val.trim();
                signature::unix_seconds(KEYED_T, val)?;
                timestamp = Some(val);
            }
            "v1" => {
                v1_seen = true;
                signatures.push(val);
            }
            // Other schemes (a future v2, say) are not ours to judge.
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or_else(|| missing("has no t="))?;
    if !v1_seen {
        return Err(missing("has no v1="));
    }
    Ok(Keyed {
        timestamp,
        signatures,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_parts_concatenate_to_the_documented_bytes() {
        let join = |c: Content| c.parts("17", b"{}").concat();
        assert_eq!(join(Content::TimestampDotBody), b"17.{}");
        assert_eq!(join(Content::TimestampBody), b"17{}");
        assert_eq!(join(Content::Body), b"{}");
    }

    #[test]
    fn keyed_headers_need_one_t_and_a_v1() {
        let parsed = parse_keyed("t=1, v1=ab ,v1=,x=9").unwrap();
        assert_eq!(parsed.timestamp, "1");
        assert_eq!(parsed.signatures, ["ab", ""]);
        for bad in ["v1=ab", "t=1", "t=1,t=2,v1=ab", ""] {
            assert_eq!(
                parse_keyed(bad).err().map(|e| e.code()),
                Some("missing_signature")
            );
        }
    }
}
