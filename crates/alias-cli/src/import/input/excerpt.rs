//! What a message quotes of the input: a short start of it, never the input itself.
//!
//! A row can be a mebibyte long and a misread file (a spreadsheet, an archive) is binary:
//! quoted whole, either would flood the terminal, the log and the failures file's `reason`
//! column. A message names the line; the excerpt only has to be recognisable.

use std::borrow::Cow;

use alias_core::wire::escape_controls;

/// The most characters a message quotes of one value of the input.
const EXCERPT_CHARS: usize = 60;

/// Marks where an excerpt was cut.
const CUT: char = '…';

/// `text` as a message quotes it: its control characters escaped, then cut to
/// [`EXCERPT_CHARS`] characters, escapes included, with `…` after a cut. An escape is
/// never cut in two.
pub(super) fn excerpt(text: &str) -> String {
    let mut shown = String::new();
    let mut chars = 0;
    for (at, char) in text.char_indices() {
        let escaped = escape_controls(&text[at..at + char.len_utf8()]);
        chars += escaped.chars().count();
        if chars > EXCERPT_CHARS {
            shown.push(CUT);
            break;
        }
        shown.push_str(&escaped);
    }
    shown
}

/// `text` cut to [`EXCERPT_CHARS`] characters, with `…` after a cut, for a value a
/// message shows quoted with `{:?}`, which escapes it itself.
pub(super) fn cut(text: &str) -> Cow<'_, str> {
    match text.char_indices().nth(EXCERPT_CHARS) {
        Some((end, _)) => Cow::Owned(format!("{}{CUT}", &text[..end])),
        None => Cow::Borrowed(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_text_is_quoted_whole_and_a_long_one_cut() {
        assert_eq!(excerpt("anon-1"), "anon-1");
        let sixty = "é".repeat(60);
        assert_eq!(excerpt(&sixty), sixty);
        assert_eq!(excerpt(&format!("{sixty}x")), format!("{sixty}…"));
        assert_eq!(cut(&sixty), sixty);
        assert_eq!(cut(&format!("{sixty}x")), format!("{sixty}…"));
    }

    #[test]
    fn controls_are_escaped_and_counted_as_shown_never_cut_in_two() {
        // The start of a zip file: each repeat is 23 characters once escaped, so after two
        // of them and 12 more, the next escape would end past 60.
        let binary = "PK\u{3}\u{4}\u{14}\0".repeat(1000);
        let unit = r"PK\u{3}\u{4}\u{14}\u{0}";
        assert_eq!(excerpt(&binary), format!(r"{unit}{unit}PK\u{{3}}\u{{4}}…"));
    }
}
