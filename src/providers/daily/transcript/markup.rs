//! Markup inside cue text: voice tags, formatting tags and (WebVTT) character references.

use std::borrow::Cow;

/// How much markup a cue's text may carry.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Markup {
    /// Every `<…>` is a tag and `&…;` an entity (a literal `<` must be escaped in WebVTT).
    WebVtt,
    /// Only the usual formatting tags are removed; any other `<` is text.
    Srt,
}

/// `<v Name>rest` or `<v.class Name>rest` at the start of a line: `(Name, rest)`.
pub(super) fn voice_tag(line: &str) -> Option<(&str, &str)> {
    let inner = line.strip_prefix("<v")?;
    if !inner.starts_with([' ', '\t', '.']) {
        return None;
    }
    let (tag, rest) = inner.split_once('>')?;
    // Classes (`.loud`) come first and contain no whitespace; the annotation is the rest.
    let name = if tag.starts_with('.') {
        tag.split_once(char::is_whitespace)?.1
    } else {
        tag
    };
    let name = name.trim();
    (!name.is_empty()).then_some((name, rest))
}

/// Removes tags (and, for WebVTT, decodes entities). Borrows when there is nothing to do.
pub(super) fn clean_markup(text: &str, markup: Markup) -> Cow<'_, str> {
    let entities = markup == Markup::WebVtt;
    let has_markup = text.contains('<') || (entities && text.contains('&'));
    if !has_markup {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(|c| c == '<' || (entities && c == '&')) {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        if rest.starts_with('<') {
            if let Some(close) = rest.find('>') {
                if markup == Markup::WebVtt || is_srt_tag(&rest[1..close]) {
                    rest = &rest[close + 1..];
                    continue;
                }
            }
            out.push('<');
            rest = &rest[1..];
        } else {
            match entity(rest) {
                Some((decoded, len)) => {
                    out.push(decoded);
                    rest = &rest[len..];
                }
                None => {
                    out.push('&');
                    rest = &rest[1..];
                }
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// The formatting tags SRT players understand (`<i>`, `</b>`, `<font color=…>`, voice tags).
pub(super) fn is_srt_tag(tag: &str) -> bool {
    let tag = tag.strip_prefix('/').unwrap_or(tag);
    let name = tag
        .split(|c: char| c.is_whitespace() || c == '.')
        .next()
        .unwrap_or(tag);
    ["b", "i", "u", "s", "v", "c", "font"]
        .iter()
        .any(|known| name.eq_ignore_ascii_case(known))
}

/// An HTML character reference at the start of `text`: the character and the bytes it spans.
pub(super) fn entity(text: &str) -> Option<(char, usize)> {
    let end = text.find(';').filter(|end| *end <= 12)?;
    let name = &text[1..end];
    let decoded = match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => ' ',
        "lrm" => '\u{200e}',
        "rlm" => '\u{200f}',
        _ => {
            let number = name.strip_prefix('#')?;
            let code = match number.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => number.parse().ok()?,
            };
            char::from_u32(code)?
        }
    };
    Some((decoded, end + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_is_removed_and_entities_decoded() {
        assert_eq!(
            clean_markup(
                "<i>Take</i> 2 &lt; 3 &amp; <c.loud>rest</c>&#33;",
                Markup::WebVtt
            ),
            "Take 2 < 3 & rest!"
        );
        assert_eq!(
            clean_markup("Tom &unknown; Jerry &", Markup::WebVtt),
            "Tom &unknown; Jerry &"
        );
        assert_eq!(
            clean_markup(
                "<b>BP</b> <font color=\"red\">x</font> < 140 & <y>",
                Markup::Srt
            ),
            "BP x < 140 & <y>"
        );
        assert!(matches!(
            clean_markup("plain", Markup::WebVtt),
            Cow::Borrowed("plain")
        ));
        assert_eq!(clean_markup("broken <i", Markup::WebVtt), "broken <i");
    }
}
