//! Small parsers shared by the command-line tool and the sample-event tooling.

use http::{HeaderName, HeaderValue};

use crate::config::split_secrets;
use crate::record::Provider;
use crate::record::Timestamp;

/// Providers as command-line values: every one of [`Provider::ALL`], listed in `--help`.
impl clap::ValueEnum for Provider {
    fn value_variants<'a>() -> &'a [Self] {
        &Provider::ALL
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(clap::builder::PossibleValue::new(self.as_str()))
    }
}

/// `Name: value` → a header pair.
pub fn parse_header_line(line: &str) -> Result<(HeaderName, HeaderValue), String> {
    let (name, value) = line
        .split_once(':')
        .ok_or_else(|| format!("header {line:?} is not of the form 'Name: value'"))?;
    let name = HeaderName::from_bytes(name.trim().as_bytes())
        .map_err(|_| format!("{:?} is not a valid header name", name.trim()))?;
    let value = HeaderValue::from_str(value.trim())
        .map_err(|_| format!("the value of header {name} is not valid header text"))?;
    Ok((name, value))
}

/// Unix seconds or an RFC 3339 date-time.
pub fn parse_instant(text: &str) -> Result<Timestamp, String> {
    let text = text.trim();
    if let Ok(secs) = text.parse::<i64>() {
        return Timestamp::from_unix(secs).ok_or_else(|| format!("{text} is out of range"));
    }
    Timestamp::parse_rfc3339(text)
        .ok_or_else(|| format!("{text:?} is neither unix seconds nor an RFC 3339 date-time"))
}

/// The given secrets, or else the provider's `*_WEBHOOK_SECRETS` variable.
pub fn secrets_or_env(provider: Provider, given: Vec<String>) -> Result<Vec<String>, String> {
    if !given.is_empty() {
        return Ok(given);
    }
    let var = provider.secrets_env();
    match std::env::var(&var) {
        Ok(list) if !split_secrets(&list).is_empty() => Ok(split_secrets(&list)),
        _ => Err(format!("pass --secret or set {var}")),
    }
}

/// `value` as one line of JSON (or pretty-printed) for a terminal: serde_json escapes the
/// control characters below U+0020 but writes DEL and the C1 controls (U+0080..U+009F,
/// CSI among them) as they are, so those are written as `\uXXXX` too. They can only occur
/// inside strings, where the escape means the same character (docs/cli.md).
pub fn terminal_json<T: serde::Serialize>(value: &T, pretty: bool) -> serde_json::Result<String> {
    let text = if pretty {
        serde_json::to_string_pretty(value)?
    } else {
        serde_json::to_string(value)?
    };
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() && !matches!(c, '\n' | '\r' | '\t') {
            out.push_str(&format!("\\u{:04x}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_json_escapes_every_control_character() {
        let value = serde_json::json!({"id": "a\u{1b}[2J\u{9b}31m\u{7f}\n"});
        let text = terminal_json(&value, false).unwrap();
        assert!(!text.chars().any(char::is_control), "{text}");
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, value);
        assert!(terminal_json(&value, true).unwrap().contains('\n'));
    }

    #[test]
    fn header_lines_split_on_the_first_colon() {
        let (n, v) = parse_header_line("X-Bota-Signature: v1=ab:cd").unwrap();
        assert_eq!(
            (n.as_str(), v.to_str().unwrap()),
            ("x-bota-signature", "v1=ab:cd")
        );
        assert!(parse_header_line("no colon").is_err());
        assert!(parse_header_line("bad name: x").is_err());
    }

    #[test]
    fn instants_and_secret_lists() {
        assert_eq!(
            parse_instant("0").unwrap().to_string(),
            "1970-01-01T00:00:00Z"
        );
        assert_eq!(
            parse_instant("2025-01-15T10:30:00Z")
                .unwrap()
                .unix_seconds(),
            1_736_937_000
        );
        assert!(parse_instant("tomorrow").is_err());
        assert_eq!(split_secrets(" a, ,b "), ["a", "b"]);
    }
}
