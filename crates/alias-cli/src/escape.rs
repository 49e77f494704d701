//! Text from outside the program (ids, CSV fields, input lines, file names, a server's
//! answer) made safe to show. A terminal acts on control characters: an id holding
//! `ESC [2J` would clear the operator's screen, an OSC sequence can retitle the window or
//! forge a link, a carriage return overwrites what was printed, and a newline can forge a
//! whole line, a summary line included. Bidirectional controls reorder what is shown.

use std::borrow::Cow;
use std::fmt::Write;

/// `text` with every control character (C0, DEL, C1), every bidirectional control and the
/// Unicode line and paragraph separators written as escapes (`\n`, `\r`, `\t`,
/// `\u{1b}`...), so that what is shown is plain text that hides none of `text`.
pub(crate) fn controls(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut escaped = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => escaped.push_str("\\n"),
            '\r' => escaped.push_str("\\r"),
            '\t' => escaped.push_str("\\t"),
            c if needs_escape(c) => {
                // Writing to a String cannot fail.
                let _ = write!(escaped, "\\u{{{:x}}}", u32::from(c));
            }
            c => escaped.push(c),
        }
    }
    Cow::Owned(escaped)
}

fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            // Arabic letter mark, left-to-right and right-to-left marks, embeddings,
            // overrides and isolates.
            '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
            // Line and paragraph separators.
            | '\u{2028}' | '\u{2029}'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_kept_as_it_is() {
        let text = "user-1 \"quoted\" \\ é 中文 🙂";
        assert!(matches!(controls(text), Cow::Borrowed(kept) if kept == text));
    }

    #[test]
    fn every_control_is_written_as_an_escape() {
        assert_eq!(
            controls("a\u{1b}[31mred\u{1b}[0m\u{7}\r\n\tz"),
            "a\\u{1b}[31mred\\u{1b}[0m\\u{7}\\r\\n\\tz"
        );
        // OSC 8 (a link), ended by ST, and the C1 form of CSI.
        assert_eq!(
            controls("\u{1b}]8;;http://x\u{1b}\\\u{9b}2J"),
            "\\u{1b}]8;;http://x\\u{1b}\\\\u{9b}2J"
        );
        assert_eq!(controls("\0\u{7f}\u{85}"), "\\u{0}\\u{7f}\\u{85}");
        assert_eq!(
            controls("abc\u{202e}fed\u{2066}\u{2028}"),
            "abc\\u{202e}fed\\u{2066}\\u{2028}"
        );
    }

    #[test]
    fn nothing_escaped_is_left_for_a_terminal_to_act_on() {
        let every_char = (0..0x3000).filter_map(char::from_u32).collect::<String>();
        let escaped = controls(&every_char);
        assert!(!escaped.chars().any(needs_escape), "{escaped}");
    }
}
