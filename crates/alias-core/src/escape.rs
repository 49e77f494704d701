//! Text from outside made safe to print.

use std::borrow::Cow;
use std::fmt::Write as _;

/// `text` with every character that a terminal would act on rather than show written as
/// a visible escape: C0 and C1 controls (ANSI and OSC sequences, BEL; a line break, a
/// carriage return and a tab as `\n`, `\r`, `\t`), the bidirectional controls that
/// reorder what follows them, and the Unicode line and paragraph separators.
///
/// Text from outside (a server's answer, an input file) passes through this before it
/// reaches a message, so that printing an error cannot rewrite the operator's screen or
/// forge a line; and nothing of it is hidden.
///
/// ```
/// use alias_core::wire::escape_controls;
///
/// assert_eq!(escape_controls("plain text"), "plain text");
/// assert_eq!(escape_controls("red\u{1b}[31m\r\n\u{7}"), "red\\u{1b}[31m\\r\\n\\u{7}");
/// ```
pub fn escape_controls(text: &str) -> Cow<'_, str> {
    if !text.chars().any(acts_on_a_terminal) {
        return Cow::Borrowed(text);
    }
    let mut escaped = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => escaped.push_str("\\n"),
            '\r' => escaped.push_str("\\r"),
            '\t' => escaped.push_str("\\t"),
            // Writing to a String cannot fail.
            c if acts_on_a_terminal(c) => {
                let _ = write!(escaped, "\\u{{{:x}}}", u32::from(c));
            }
            c => escaped.push(c),
        }
    }
    Cow::Owned(escaped)
}

fn acts_on_a_terminal(c: char) -> bool {
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
        assert!(matches!(escape_controls(text), Cow::Borrowed(kept) if kept == text));
    }

    #[test]
    fn every_control_is_written_as_an_escape() {
        assert_eq!(
            escape_controls("a\u{1b}[31mred\u{1b}[0m\u{7}\r\n\tz"),
            "a\\u{1b}[31mred\\u{1b}[0m\\u{7}\\r\\n\\tz"
        );
        // OSC 8 (a link), ended by ST, and the C1 form of CSI.
        assert_eq!(
            escape_controls("\u{1b}]8;;http://x\u{1b}\\\u{9b}2J"),
            "\\u{1b}]8;;http://x\\u{1b}\\\\u{9b}2J"
        );
        assert_eq!(escape_controls("\0\u{7f}\u{85}"), "\\u{0}\\u{7f}\\u{85}");
        assert_eq!(
            escape_controls("abc\u{202e}fed\u{2066}\u{2028}"),
            "abc\\u{202e}fed\\u{2066}\\u{2028}"
        );
    }

    #[test]
    fn nothing_escaped_is_left_for_a_terminal_to_act_on() {
        let every_char = (0..0x3000).filter_map(char::from_u32).collect::<String>();
        let escaped = escape_controls(&every_char);
        assert!(!escaped.chars().any(acts_on_a_terminal), "{escaped}");
    }
}
