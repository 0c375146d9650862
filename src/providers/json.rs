//! Reading provider JSON, and parse errors without PHI (docs/behaviour.md#logs): serde_json's messages
//! quote the offending value (`invalid type: string "<patient text>", expected f64`), and
//! those messages are logged and answered. A [`MalformedEvent`] here names the JSON path
//! (tracked by `serde_path_to_error`) and the expected type; the found value is reduced to
//! its JSON kind, and nothing else taken from the input is kept.

use serde::Deserialize;
use serde_path_to_error::Segment;

use super::{MalformedEvent, Provider};

/// Reads `json` as `T`. `at` is where `json` sits in the delivery's body (`""` for the
/// body itself, `"data"` for Bota's data object, …), so paths name the field in the body.
pub(crate) fn read_json<'a, T: Deserialize<'a>>(
    provider: Provider,
    at: &str,
    json: &'a [u8],
) -> Result<T, MalformedEvent> {
    let malformed = |path: Option<&serde_path_to_error::Path>, err: &serde_json::Error| {
        MalformedEvent::new(format!(
            "{provider} event is not the documented JSON shape: {}",
            describe(at, path, err)
        ))
    };
    // Tracking the path costs an allocation per field read; a body that parses needs no
    // path, so it is tracked only on a second reading of one that did not.
    if let Ok(value) = serde_json::from_slice(json) {
        return Ok(value);
    }
    let mut de = serde_json::Deserializer::from_slice(json);
    let value = serde_path_to_error::deserialize(&mut de)
        .map_err(|err| malformed(Some(err.path()), err.inner()))?;
    // What serde_json::from_slice checks after the value: only whitespace follows.
    de.end().map_err(|err| malformed(None, &err))?;
    Ok(value)
}

fn describe(
    at: &str,
    path: Option<&serde_path_to_error::Path>,
    inner: &serde_json::Error,
) -> String {
    let path = self::path(at, path);
    match inner.classify() {
        serde_json::error::Category::Data => format!("{path}: {}", data_error(inner)),
        // Syntax messages come from serde_json's fixed list and quote no input.
        serde_json::error::Category::Syntax
        | serde_json::error::Category::Eof
        | serde_json::error::Category::Io => format!(
            "{} at line {}, column {}",
            message(inner),
            inner.line(),
            inner.column()
        ),
    }
}

/// The field's path in the body: `data.segments[0].start`. Keys that are not plain names
/// (a map's keys come from the input) are shown as `?`.
fn path(at: &str, path: Option<&serde_path_to_error::Path>) -> String {
    let mut out = at.to_owned();
    for segment in path.into_iter().flat_map(|p| p.iter()) {
        match segment {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(if is_name(key) { key } else { "?" });
            }
            Segment::Unknown => out.push_str(".?"),
        }
    }
    if out.is_empty() {
        "the body".to_owned()
    } else {
        out
    }
}

fn is_name(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 64
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// serde_json's message without its ` at line L column C` suffix.
fn message(err: &serde_json::Error) -> String {
    let text = err.to_string();
    let suffix = format!(" at line {} column {}", err.line(), err.column());
    text.strip_suffix(&suffix).unwrap_or(&text).to_owned()
}

/// A data error rebuilt from serde's fixed phrasings, keeping only what our own types
/// say (expected type, field names); anything else becomes a generic description.
fn data_error(err: &serde_json::Error) -> String {
    let text = message(err);
    // `invalid type: <found>, expected <type>` and `invalid value: …`: the found part
    // quotes the value; the expected part is our type's description (after the last
    // ", expected ", which the value cannot follow).
    for prefix in ["invalid type: ", "invalid value: ", "invalid length "] {
        if let Some(rest) = text.strip_prefix(prefix) {
            let expected = rest
                .rsplit_once(", expected ")
                .map_or("another value", |(_, e)| e);
            return format!("expected {}, found {}", expected_type(expected), kind(rest));
        }
    }
    for fixed in ["missing field `", "duplicate field `"] {
        if text.starts_with(fixed) {
            return safe(&text);
        }
    }
    if text.starts_with("data did not match any variant of untagged enum") {
        return "expected a string or a number".to_owned();
    }
    "a value of another type than documented".to_owned()
}

/// The JSON kind of serde's `found` description, as a fixed word.
fn kind(found: &str) -> &'static str {
    const KINDS: [(&str, &str); 10] = [
        ("string", "a string"),
        ("integer", "an integer"),
        ("floating point", "a number"),
        ("boolean", "a boolean"),
        ("map", "an object"),
        ("sequence", "an array"),
        ("null", "null"),
        ("unit", "null"),
        ("char", "a character"),
        ("byte array", "bytes"),
    ];
    KINDS
        .iter()
        .find(|(prefix, _)| found.starts_with(prefix))
        .map_or("another value", |(_, kind)| kind)
}

/// Our type's description in JSON's words where serde uses Rust's (`struct Job`).
fn expected_type(expected: &str) -> String {
    if expected.starts_with("struct ") || expected.starts_with("a map") {
        "an object".to_owned()
    } else if expected.starts_with("a sequence") || expected.starts_with("tuple") {
        "an array".to_owned()
    } else {
        safe(expected)
    }
}

/// Text of our own types' descriptions, bounded to what such descriptions use.
fn safe(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_ascii_alphanumeric() || " _`'-.,".contains(*c))
        .take(80)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Doc {
        n: f64,
        #[serde(default)]
        list: Vec<u8>,
        #[serde(default)]
        map: std::collections::BTreeMap<String, u8>,
    }

    fn err(json: &str) -> String {
        read_json::<Doc>(Provider::Bota, "data", json.as_bytes())
            .unwrap_err()
            .message
    }

    #[test]
    fn messages_keep_path_and_type_only() {
        assert_eq!(
            err(r#"{"n":"secret"}"#),
            "bota event is not the documented JSON shape: data.n: expected f64, found a string"
        );
        assert!(err(r#"{"n":1,"list":[1,-7]}"#)
            .ends_with("data.list[1]: expected u8, found an integer"));
        let keyed = err(r#"{"n":1,"map":{"Jane Roe":"x"}}"#);
        assert!(
            keyed.contains("data.map.?: expected u8, found a string"),
            "{keyed}"
        );
        assert!(
            err("{}").ends_with("data: missing field `n`"),
            "{}",
            err("{}")
        );
        let syntax = err(r#"{"n":1} trailing"#);
        assert!(
            syntax.contains("trailing characters at line 1, column 9"),
            "{syntax}"
        );
        assert!(!syntax.contains("trailing\""));
        assert!(
            err(r#"{"n":1,"list":{}}"#).ends_with("data.list: expected an array, found an object")
        );
    }

    #[test]
    fn kinds_are_fixed_words() {
        assert_eq!(kind("string \"Jane\""), "a string");
        assert_eq!(kind("floating point `1.5`"), "a number");
        assert_eq!(kind("something new `x`"), "another value");
        assert_eq!(safe("f64\u{0}\"x\""), "f64x");
    }
}
