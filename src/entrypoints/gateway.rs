//! API Gateway proxy events (REST API payload v1, HTTP API payload v2), decoded in one pass
//! into what the ingest reads: method, path, headers and the body as sent.
//!
//! lambda_http's `LambdaRequest` is an untagged enum: serde buffers the whole event (a
//! multi-megabyte body included) and tries each payload version in turn, about 2.5x the cost
//! of one parse. Both versions are read here by one struct whose fields cover both; which
//! version it was decides only the shape of the answer.

use std::fmt;

use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, Method};
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;

/// The payload version API Gateway used, which the response must match.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PayloadVersion {
    /// REST API, or an HTTP API on payload format 1.0.
    V1,
    /// HTTP API on payload format 2.0.
    V2,
}

/// One API Gateway request, as the ingest needs it.
#[derive(Clone, Debug)]
pub struct GatewayRequest {
    pub version: PayloadVersion,
    pub method: Method,
    pub path: String,
    /// Every value of every header: v1's `multiValueHeaders` with the single-valued
    /// `headers` a test event may carry only there; v2's `headers` as sent.
    pub headers: HeaderMap,
    /// The body as API Gateway sent it: text, or base64 when `is_base64_encoded`.
    pub body: Option<String>,
    pub is_base64_encoded: bool,
}

impl GatewayRequest {
    /// The body, decoded; `Err` when it is flagged base64 but is not base64.
    pub fn take_body(&mut self) -> Result<Vec<u8>, base64::DecodeError> {
        use base64::Engine;
        let bytes = match self.body.take() {
            None => Vec::new(),
            Some(text) if self.is_base64_encoded => {
                base64::engine::general_purpose::STANDARD.decode(text.as_bytes())?
            }
            Some(text) => text.into_bytes(),
        };
        self.is_base64_encoded = false;
        Ok(bytes)
    }
}

/// Both payload versions' fields; everything else in the event is skipped unread.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Wire {
    #[serde(default)]
    version: Option<String>,
    /// v1.
    #[serde(default)]
    http_method: Option<String>,
    /// v1.
    #[serde(default)]
    path: Option<String>,
    /// v2.
    #[serde(default)]
    raw_path: Option<String>,
    /// v2: `requestContext.http.method`.
    #[serde(default)]
    request_context: Option<WireContext>,
    #[serde(default)]
    headers: Headers,
    /// v1.
    #[serde(default)]
    multi_value_headers: Headers,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    is_base64_encoded: Option<bool>,
}

#[derive(Deserialize)]
struct WireContext {
    #[serde(default)]
    http: Option<WireHttp>,
}

#[derive(Deserialize)]
struct WireHttp {
    #[serde(default)]
    method: Option<String>,
}

impl<'de> Deserialize<'de> for GatewayRequest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let wire = Wire::deserialize(deserializer)?;
        let v2_method = wire
            .request_context
            .and_then(|c| c.http)
            .and_then(|h| h.method);
        let v2 = wire.version.as_deref().is_some_and(|v| v.starts_with('2'))
            || (wire.http_method.is_none() && v2_method.is_some());
        let (version, method, path, headers) = if v2 {
            (PayloadVersion::V2, v2_method, wire.raw_path, wire.headers.0)
        } else {
            let mut headers = wire.multi_value_headers.0;
            for (name, value) in &wire.headers.0 {
                if !headers.contains_key(name) {
                    headers.append(name.clone(), value.clone());
                }
            }
            (PayloadVersion::V1, wire.http_method, wire.path, headers)
        };
        let method = method
            .ok_or_else(|| de::Error::custom("not an API Gateway proxy event: no HTTP method"))?;
        let method = Method::from_bytes(method.as_bytes()).map_err(de::Error::custom)?;
        Ok(GatewayRequest {
            version,
            method,
            path: path.unwrap_or_default(),
            headers,
            body: wire.body,
            is_base64_encoded: wire.is_base64_encoded.unwrap_or(false),
        })
    }
}

/// A header object: each value a string, a list of strings (v1's `multiValueHeaders`) or
/// null; every value is kept, in order, so a repeated header stays visible as repeated. A
/// name or value HTTP cannot carry is left out (no signature header can be one).
#[derive(Default)]
struct Headers(HeaderMap);

impl<'de> Deserialize<'de> for Headers {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_option(HeadersVisitor)
    }
}

struct HeadersVisitor;

#[derive(Deserialize)]
#[serde(untagged)]
enum Values {
    One(String),
    Many(Vec<String>),
    Null(()),
}

impl<'de> Visitor<'de> for HeadersVisitor {
    type Value = Headers;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object of header values, or null")
    }

    fn visit_none<E: de::Error>(self) -> Result<Headers, E> {
        Ok(Headers::default())
    }

    fn visit_unit<E: de::Error>(self) -> Result<Headers, E> {
        Ok(Headers::default())
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Headers, D::Error> {
        deserializer.deserialize_map(self)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Headers, A::Error> {
        let mut headers = HeaderMap::new();
        while let Some(name) = map.next_key::<String>()? {
            let values = match map.next_value::<Values>()? {
                Values::One(value) => vec![value],
                Values::Many(values) => values,
                Values::Null(()) => Vec::new(),
            };
            let Ok(name) = HeaderName::from_bytes(name.as_bytes()) else {
                continue;
            };
            for value in values {
                if let Ok(value) = HeaderValue::from_bytes(value.as_bytes()) {
                    headers.append(name.clone(), value);
                }
            }
        }
        Ok(Headers(headers))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn v2_reads_raw_path_and_the_http_context_method() {
        let event = json!({
            "version": "2.0", "rawPath": "/webhooks/bota",
            "headers": {"X-Bota-Signature": "v1=ab", "content-type": "application/json"},
            "requestContext": {"http": {"method": "POST", "path": "/ignored"}},
            "body": "{}", "isBase64Encoded": false
        });
        let r: GatewayRequest = serde_json::from_value(event).unwrap();
        assert_eq!(r.version, PayloadVersion::V2);
        assert_eq!(r.method, Method::POST);
        assert_eq!(r.path, "/webhooks/bota");
        assert_eq!(r.headers["x-bota-signature"], "v1=ab");
        assert_eq!(r.body.as_deref(), Some("{}"));
    }

    #[test]
    fn v1_merges_multi_value_and_single_headers_keeping_repeats() {
        let event = json!({
            "httpMethod": "POST", "path": "/prod/webhooks/daily",
            "headers": {"X-Webhook-Signature": "a", "Host": "h"},
            "multiValueHeaders": {"X-Webhook-Signature": ["a", "b"]},
            "requestContext": {"path": "/prod/webhooks/daily"},
            "body": "e30=", "isBase64Encoded": true
        });
        let mut r: GatewayRequest = serde_json::from_value(event).unwrap();
        assert_eq!(r.version, PayloadVersion::V1);
        assert_eq!(r.path, "/prod/webhooks/daily");
        let sigs: Vec<_> = r.headers.get_all("x-webhook-signature").iter().collect();
        assert_eq!(sigs, ["a", "b"]);
        assert_eq!(r.headers["host"], "h");
        assert_eq!(r.take_body().unwrap(), b"{}");
    }

    #[test]
    fn null_parts_are_empty_and_a_missing_method_is_an_error() {
        let event = json!({
            "httpMethod": "GET", "path": null, "headers": null,
            "multiValueHeaders": null, "body": null, "isBase64Encoded": null
        });
        let mut r: GatewayRequest = serde_json::from_value(event).unwrap();
        assert_eq!((r.method.clone(), r.path.as_str()), (Method::GET, ""));
        assert!(r.headers.is_empty());
        assert_eq!(r.take_body().unwrap(), b"");
        assert!(serde_json::from_value::<GatewayRequest>(json!({"body": "x"})).is_err());
    }

    #[test]
    fn unusable_header_names_and_values_are_left_out() {
        let event = json!({
            "version": "2.0", "rawPath": "/", "requestContext": {"http": {"method": "POST"}},
            "headers": {"bad name": "x", "ok": "bad\u{0}value", "fine": "yes"}
        });
        let r: GatewayRequest = serde_json::from_value(event).unwrap();
        assert_eq!(r.headers.len(), 1);
        assert_eq!(r.headers["fine"], "yes");
    }

    #[test]
    fn a_body_flagged_base64_that_is_not_is_an_error() {
        let event = json!({"httpMethod": "POST", "body": "%%%", "isBase64Encoded": true});
        let mut r: GatewayRequest = serde_json::from_value(event).unwrap();
        assert!(r.take_body().is_err());
    }
}
