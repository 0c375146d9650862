//! Why a delivery was refused, for `scribehook verify --explain` (issue 12.5): which scheme
//! was tried, the timestamp against the window, each signature as provided (length and
//! encoding, never compared text), and each secret by its position, never its value.
//! Verification itself fills it in ([`super::Provider::verify`] runs the same code without
//! keeping the details), so the explanation cannot disagree with the answer.

use std::fmt;

use super::Provider;
use crate::record::Timestamp;
use crate::signature::VerifyError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    pub provider: Provider,
    /// The scheme tried, as a formula (`X-Webhook-Signature = base64(HMAC-SHA256(…))`);
    /// `None` when the header fit no scheme.
    pub scheme: Option<String>,
    pub timestamp: Option<TimestampCheck>,
    pub signatures: Vec<SignatureCheck>,
    pub secrets: Vec<SecretCheck>,
    /// Checks of a provider's own (`X-Bota-Event-Id`, Prosa's scheme choice).
    pub notes: Vec<String>,
    pub result: Result<(), VerifyError>,
    /// Explaining compares signatures even past a stale timestamp; verifying stops there.
    pub(super) thorough: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimestampCheck {
    pub header: &'static str,
    pub value: String,
    pub unix: i64,
    /// Receiver's clock minus the timestamp.
    pub skew_secs: i64,
    pub tolerance_secs: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureCheck {
    /// 1-based, in the order the header lists them.
    pub position: usize,
    pub chars: usize,
    /// Bytes the signature decodes to in the provider's encoding; `None` if it does not.
    pub decoded_bytes: Option<usize>,
    /// What looks wrong with it, when something does.
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretCheck {
    /// 1-based position in `<PROVIDER>_WEBHOOK_SECRETS`.
    pub position: usize,
    pub matched: bool,
}

impl Explanation {
    pub(super) fn new(provider: Provider, thorough: bool) -> Self {
        Self {
            provider,
            scheme: None,
            timestamp: None,
            signatures: Vec::new(),
            secrets: Vec::new(),
            notes: Vec::new(),
            result: Ok(()),
            thorough,
        }
    }

    /// One line per finding, for people.
    pub fn lines(&self) -> Vec<String> {
        let mut lines = vec![match &self.scheme {
            Some(scheme) => format!("{} scheme: {scheme}", self.provider),
            None => format!("{} scheme: none fits the signature header", self.provider),
        }];
        lines.extend(self.timestamp.as_ref().map(TimestampCheck::line));
        lines.extend(self.signatures.iter().map(SignatureCheck::line));
        let env = self.provider.secrets_env();
        let stale = matches!(self.result, Err(VerifyError::StaleTimestamp { .. }));
        lines.extend(self.secrets.iter().map(|s| match (s.matched, stale) {
            (true, true) => format!(
                "secret #{} of {env}: matches, but the timestamp is outside the window",
                s.position
            ),
            (true, false) => format!("secret #{} of {env}: matches", s.position),
            (false, _) => format!("secret #{} of {env}: matches no signature", s.position),
        }));
        lines.extend(self.notes.iter().cloned());
        lines.push(match &self.result {
            Ok(()) => "result: valid".to_owned(),
            Err(e) => format!("result: {}: {e}", e.code()),
        });
        lines
    }
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.lines().join("\n"))
    }
}

impl TimestampCheck {
    fn line(&self) -> String {
        let at = Timestamp::from_unix(self.unix).map_or_else(String::new, |t| format!(" ({t})"));
        let verdict = if self.skew_secs.unsigned_abs() <= self.tolerance_secs {
            "within the window".to_owned()
        } else {
            // A sender's local time zone sent as UTC shows as whole hours.
            let hours = (self.skew_secs % 3600 == 0).then_some(self.skew_secs / 3600);
            match hours {
                Some(h) => format!("outside the window: exactly {h:+} h, a time-zone offset?"),
                None => "outside the window".to_owned(),
            }
        };
        format!(
            "timestamp {} = {}{at}: skew {:+} s, tolerance {} s, {verdict}",
            self.header, self.value, self.skew_secs, self.tolerance_secs
        )
    }
}

impl SignatureCheck {
    fn line(&self) -> String {
        let decoded = match self.decoded_bytes {
            Some(n) => format!("decodes to {n} bytes"),
            None => "does not decode".to_owned(),
        };
        let note = self
            .note
            .as_ref()
            .map_or_else(String::new, |n| format!(" ({n})"));
        format!(
            "signature #{}: {} characters, {decoded}{note}",
            self.position, self.chars
        )
    }
}
