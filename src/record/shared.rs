//! Content shared between an event and the record it folds into, encoded at most once.
//!
//! A transcript is the bulk of every large document: the event carries it, and so does its
//! subject's record once the fold picks it. [`Shared`] lets both hold the same allocation (the
//! fold copies a pointer, not megabytes). [`encode_json`] notes where a shared value's JSON
//! lies in the first document that carries it and keeps those bytes; a later document copies
//! them instead of serializing the value again (docs/performance-notes.md, "Invoke").
//!
//! Splicing happens only inside [`encode_json`], which writes compact JSON with serde_json:
//! the bytes the value itself serializes to there. Every other serializer (pretty printing,
//! `serde_json::to_value`, the tests' comparisons) sees the value.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::io;
use std::ops::Deref;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An immutable value behind a shared pointer, with its compact JSON once encoded.
pub struct Shared<T>(Arc<Inner<T>>);

struct Inner<T> {
    value: T,
    /// The value's compact JSON: a slice of the first document [`encode_json`] wrote it into.
    json: OnceLock<Bytes>,
}

impl<T> Shared<T> {
    pub fn new(value: T) -> Self {
        Self(Arc::new(Inner {
            value,
            json: OnceLock::new(),
        }))
    }

    /// Whether `a` and `b` are the same allocation (then they are equal without a look).
    pub fn ptr_eq(a: &Self, b: &Self) -> bool {
        Arc::ptr_eq(&a.0, &b.0)
    }

    /// Whether [`encode_json`] has the value's JSON to copy (then it costs no buffer space
    /// to plan for).
    pub fn is_encoded(&self) -> bool {
        self.0.json.get().is_some()
    }
}

impl<T> Clone for Shared<T> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

impl<T> Deref for Shared<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0.value
    }
}

impl<T> From<T> for Shared<T> {
    fn from(value: T) -> Self {
        Self::new(value)
    }
}

impl<T: PartialEq> PartialEq for Shared<T> {
    fn eq(&self, other: &Self) -> bool {
        Self::ptr_eq(self, other) || self.0.value == other.0.value
    }
}

impl<T: fmt::Debug> fmt::Debug for Shared<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.value.fmt(f)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Shared<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        T::deserialize(deserializer).map(Self::new)
    }
}

/// Keeps a value's bytes once the document holding them is done.
type Keep = Box<dyn FnOnce(Bytes)>;

/// What [`encode_json`] learns while serde_json writes one document.
#[derive(Default)]
struct Encoding {
    /// Shared values serialized here, with their span in the output: cached afterwards.
    captured: Vec<(Keep, usize, usize)>,
    /// Where a cached value's placeholder (`null`) was written, and the bytes to put there.
    spliced: Vec<(usize, Bytes)>,
}

thread_local! {
    /// Set while [`encode_json`] runs on this thread.
    static ENCODING: RefCell<Option<Encoding>> = const { RefCell::new(None) };
    /// How many bytes [`encode_json`]'s output holds so far.
    static WRITTEN: Cell<usize> = const { Cell::new(0) };
}

/// The placeholder a cached value writes, replaced by its bytes once the document is done.
const PLACEHOLDER: &[u8] = b"null";

impl<T: Serialize + 'static> Serialize for Shared<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if ENCODING.with(|e| e.borrow().is_none()) {
            return self.0.value.serialize(serializer);
        }
        let start = WRITTEN.get();
        if let Some(json) = self.0.json.get() {
            let done = serializer.serialize_unit()?;
            push(|e| e.spliced.push((start, json.clone())));
            return Ok(done);
        }
        let done = self.0.value.serialize(serializer)?;
        let end = WRITTEN.get();
        let inner = Arc::clone(&self.0);
        let keep = move |json: Bytes| {
            // Another thread may have cached the same bytes first; either copy is the value.
            let _ = inner.json.set(json);
        };
        push(|e| e.captured.push((Box::new(keep), start, end)));
        Ok(done)
    }
}

fn push(f: impl FnOnce(&mut Encoding)) {
    ENCODING.with(|e| {
        if let Some(encoding) = e.borrow_mut().as_mut() {
            f(encoding);
        }
    });
}

/// serde_json's writer for [`encode_json`]: a buffer that says how much it holds.
struct Counted<'a>(&'a mut Vec<u8>);

impl io::Write for Counted<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.extend_from_slice(buf);
        WRITTEN.set(self.0.len());
        Ok(buf.len())
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.0.extend_from_slice(buf);
        WRITTEN.set(self.0.len());
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// `value` as compact JSON, written into a buffer of `capacity` bytes to begin with. A
/// [`Shared`] value already encoded is copied from its earlier document; one encoded here
/// keeps its bytes (a slice of the returned document) for the next.
pub fn encode_json<T: Serialize + ?Sized>(value: &T, capacity: usize) -> serde_json::Result<Bytes> {
    /// Ends the encoding however serde_json returns, once, restoring an enclosing one.
    struct Scope {
        /// The enclosing encoding (usually none) until the scope ends.
        outer: Option<Option<Encoding>>,
        written: usize,
    }
    impl Scope {
        fn finish(&mut self) -> Encoding {
            let Some(outer) = self.outer.take() else {
                return Encoding::default();
            };
            WRITTEN.set(self.written);
            ENCODING.with(|e| e.replace(outer)).unwrap_or_default()
        }
    }
    impl Drop for Scope {
        fn drop(&mut self) {
            self.finish();
        }
    }
    let mut scope = Scope {
        outer: Some(ENCODING.with(|e| e.replace(Some(Encoding::default())))),
        written: WRITTEN.replace(0),
    };
    let mut out = Vec::with_capacity(capacity);
    serde_json::to_writer(Counted(&mut out), value)?;
    let encoding = scope.finish();
    let Some(document) = splice(out, &encoding.spliced) else {
        // Not the placeholders this module wrote: encode the whole value instead.
        return serde_json::to_vec(value).map(Bytes::from);
    };
    let document = Bytes::from(document);
    for (keep, start, end) in encoding.captured {
        let (start, end) = (
            shifted(start, &encoding.spliced),
            shifted(end, &encoding.spliced),
        );
        keep(document.slice(start..end));
    }
    Ok(document)
}

/// The document with every placeholder replaced by its bytes; `None` if one is not there.
fn splice(out: Vec<u8>, spliced: &[(usize, Bytes)]) -> Option<Vec<u8>> {
    if spliced.is_empty() {
        return Some(out);
    }
    let added: usize = spliced.iter().map(|(_, json)| json.len()).sum();
    let mut document =
        Vec::with_capacity((out.len() + added).saturating_sub(spliced.len() * PLACEHOLDER.len()));
    let mut from = 0;
    for (at, json) in spliced {
        let end = at.checked_add(PLACEHOLDER.len())?;
        if *at < from || out.get(*at..end) != Some(PLACEHOLDER) {
            return None;
        }
        document.extend_from_slice(&out[from..*at]);
        document.extend_from_slice(json);
        from = end;
    }
    document.extend_from_slice(&out[from..]);
    Some(document)
}

/// Where offset `at` of the output lies once the placeholders before it are replaced.
fn shifted(at: usize, spliced: &[(usize, Bytes)]) -> usize {
    spliced
        .iter()
        .filter(|(placed, _)| *placed < at)
        .fold(at, |at, (_, json)| at + json.len() - PLACEHOLDER.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Segment, Transcript};

    fn transcript(text: &str) -> Transcript {
        Transcript {
            language: Some("en".into()),
            duration_ms: Some(1500),
            text: Some(text.into()),
            segments: vec![Segment {
                start_ms: 0,
                end_ms: 1500,
                speaker: Some("0".into()),
                role: None,
                text: text.into(),
                confidence: Some(0.25),
            }],
        }
    }

    #[derive(Serialize)]
    struct Doc {
        id: &'static str,
        first: Option<Shared<Transcript>>,
        second: Option<Shared<Transcript>>,
    }

    fn within(inner: &[u8], outer: &[u8]) -> bool {
        let (start, end) = (
            outer.as_ptr() as usize,
            outer.as_ptr() as usize + outer.len(),
        );
        (start..=end).contains(&(inner.as_ptr() as usize))
    }

    #[test]
    fn a_shared_value_is_encoded_once_and_copied_after() {
        let shared = Shared::new(transcript("a \"quoted\" line\nand é"));
        let event = Doc {
            id: "evt",
            first: Some(shared.clone()),
            second: None,
        };
        let document = encode_json(&event, 0).unwrap();
        assert_eq!(document, serde_json::to_vec(&event).unwrap());
        let kept = shared.0.json.get().expect("kept").clone();
        assert!(within(&kept, &document), "a slice of the event, not a copy");
        assert_eq!(kept, serde_json::to_vec(&*shared).unwrap());

        // The record puts the same value elsewhere, beside another one.
        let record = Doc {
            id: "rec",
            first: Some(Shared::new(transcript("other"))),
            second: Some(shared.clone()),
        };
        let document = encode_json(&record, 16).unwrap();
        assert_eq!(document, serde_json::to_vec(&record).unwrap());
        // Copied from the event's bytes, not written again.
        assert!(within(shared.0.json.get().unwrap(), &kept));
        // The value encoded here for the first time is kept from this document, at its
        // place after the splice.
        let other = record.first.as_ref().unwrap();
        assert_eq!(
            other.0.json.get().unwrap().as_ref(),
            serde_json::to_vec(&**other).unwrap().as_slice()
        );
        // A third document with both copied.
        let both = Doc {
            id: "both",
            first: Some(shared.clone()),
            second: record.first.clone(),
        };
        assert_eq!(
            encode_json(&both, 0).unwrap(),
            serde_json::to_vec(&both).unwrap()
        );
    }

    #[test]
    fn other_serializers_see_the_value() {
        let shared = Shared::new(transcript("text"));
        let doc = Doc {
            id: "evt",
            first: Some(shared.clone()),
            second: None,
        };
        encode_json(&doc, 0).unwrap();
        assert!(shared.is_encoded());
        let pretty = serde_json::to_string_pretty(&doc).unwrap();
        assert!(pretty.contains("\n    \"language\": \"en\""), "{pretty}");
        assert_eq!(
            serde_json::to_value(&shared).unwrap(),
            serde_json::to_value(transcript("text")).unwrap()
        );
        assert!(ENCODING.with(|e| e.borrow().is_none()));
    }

    /// Serializes as `null` after encoding a document of its own.
    struct Nested(Shared<Transcript>);

    impl Serialize for Nested {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            let doc = Doc {
                id: "inner",
                first: Some(self.0.clone()),
                second: None,
            };
            encode_json(&doc, 0).map_err(serde::ser::Error::custom)?;
            serializer.serialize_unit()
        }
    }

    #[test]
    fn an_encoding_inside_another_leaves_the_outer_one_whole() {
        #[derive(Serialize)]
        struct Outer {
            before: Shared<Transcript>,
            nested: Nested,
            after: Shared<Transcript>,
        }
        let outer = Outer {
            before: Shared::new(transcript("before")),
            nested: Nested(Shared::new(transcript("nested"))),
            after: Shared::new(transcript("after")),
        };
        let document = encode_json(&outer, 0).unwrap();
        assert_eq!(document, serde_json::to_vec(&outer).unwrap());
        for shared in [&outer.before, &outer.after, &outer.nested.0] {
            assert_eq!(
                shared.0.json.get().expect("kept").as_ref(),
                serde_json::to_vec(&**shared).unwrap().as_slice()
            );
        }
        assert!(ENCODING.with(|e| e.borrow().is_none()));
        assert_eq!(WRITTEN.get(), 0);
    }

    #[test]
    fn placeholders_are_checked_before_splicing() {
        let json = Bytes::from_static(b"{\"a\":1}");
        assert_eq!(
            splice(b"[null,2]".to_vec(), &[(1, json.clone())]).as_deref(),
            Some(&b"[{\"a\":1},2]"[..])
        );
        assert_eq!(splice(b"[2,null]".to_vec(), &[(1, json.clone())]), None);
        assert_eq!(splice(b"[nu".to_vec(), &[(1, json.clone())]), None);
        assert_eq!(shifted(7, &[(1, json.clone())]), 7 + 7 - 4);
        assert_eq!(shifted(1, &[(1, json)]), 1);
    }

    #[test]
    fn equality_is_by_value_and_clones_share() {
        let a = Shared::new(transcript("text"));
        let b = Shared::new(transcript("text"));
        assert_eq!(a, b);
        assert!(!Shared::ptr_eq(&a, &b));
        assert!(Shared::ptr_eq(&a, &a.clone()));
        assert_ne!(a, Shared::new(transcript("other")));
    }

    #[test]
    fn round_trips_as_the_value() {
        let shared: Shared<Transcript> =
            serde_json::from_value(serde_json::to_value(transcript("text")).unwrap()).unwrap();
        assert_eq!(*shared, transcript("text"));
    }
}
