//! What an error keeps of a body that is not Mixpanel's: enough to tell what answered, on
//! one line, bounded, with nothing a terminal would act on.
//!
//! A JSON body is kept from its start: its keys and values are the information. Anything
//! else is read as a page, usually a proxy's or a load balancer's error page, whose
//! information is one line inside much markup: its `<title>`, else its first heading,
//! else its first words with the markup left out.

use std::borrow::Cow;

use crate::escape::escape_controls;

/// The most characters kept of a JSON body ([`ParseError::SNIPPET_CHARS`]).
///
/// [`ParseError::SNIPPET_CHARS`]: crate::wire::ParseError::SNIPPET_CHARS
pub(crate) const JSON_CHARS: usize = 200;

/// The most characters kept of a page ([`ParseError::PAGE_EXCERPT_CHARS`]).
///
/// [`ParseError::PAGE_EXCERPT_CHARS`]: crate::wire::ParseError::PAGE_EXCERPT_CHARS
pub(crate) const PAGE_CHARS: usize = 80;

/// How far into a page its title or first heading is looked for: past the styles and
/// scripts some error pages carry in their head, without reading a large body whole.
const PAGE_SCAN_BYTES: usize = 8 * 1024;

/// Elements whose content is not text a reader sees.
const HIDDEN_ELEMENTS: [&str; 2] = ["script", "style"];

/// The headings, in the order a page's first heading is looked for.
const HEADINGS: [&str; 6] = ["h1", "h2", "h3", "h4", "h5", "h6"];

/// The start of `body` as one line of text: at most [`JSON_CHARS`] characters of a JSON
/// body, at most [`PAGE_CHARS`] of a page's
/// title, first heading or first words. White space runs are folded to one space and
/// control characters escaped ([`escape_controls`]).
pub(crate) fn snippet(body: &[u8]) -> String {
    let body = body.trim_ascii_start();
    if body.starts_with(b"{") || body.starts_with(b"[") {
        // A character is at most 4 bytes: this holds every character that can be kept.
        let head = &body[..body.len().min(JSON_CHARS * 4)];
        return one_line(&String::from_utf8_lossy(head), JSON_CHARS);
    }
    let page = String::from_utf8_lossy(&body[..body.len().min(PAGE_SCAN_BYTES)]);
    one_line(&page_summary(&page), PAGE_CHARS)
}

/// `text` with its white space folded, its controls escaped, cut to `chars` characters.
fn one_line(text: &str, chars: usize) -> String {
    let folded: String = text
        .split_whitespace()
        .flat_map(|word| [" ", word])
        .skip(1)
        .collect();
    escape_controls(&folded).chars().take(chars).collect()
}

/// What a page says: the text of its title, else of its first heading, else all its text.
/// Text that does not start with a tag is not markup, and is kept as it is.
fn page_summary(page: &str) -> Cow<'_, str> {
    if !page.starts_with('<') {
        return Cow::Borrowed(page);
    }
    // ASCII lowercasing keeps every byte offset, so positions found in it hold in `page`.
    let lower = page.to_ascii_lowercase();
    let parts: Vec<Part<'_>> = Parts {
        markup: page,
        lower: &lower,
        at: 0,
    }
    .collect();
    let titled = std::iter::once("title")
        .chain(HEADINGS)
        .map(|name| element_text(&parts, name))
        .find(|text| !text.trim().is_empty());
    Cow::Owned(titled.unwrap_or_else(|| text_of(&parts)))
}

/// The text inside the first `name` element, up to its end or the end of what was read.
fn element_text(parts: &[Part<'_>], name: &str) -> String {
    let inside = parts
        .iter()
        .skip_while(|part| **part != Part::Open(name))
        .skip(1)
        .take_while(|part| **part != Part::Close(name));
    text_of(inside)
}

/// The text parts, a space between each two so that words in adjacent elements stay apart.
fn text_of<'p, 'a: 'p>(parts: impl IntoIterator<Item = &'p Part<'a>>) -> String {
    let mut text = String::new();
    for part in parts {
        if let Part::Text(words) = part {
            text.push_str(words);
            text.push(' ');
        }
    }
    text
}

/// A piece of markup a reader would see, or a tag that bounds one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part<'a> {
    /// An opening tag, by its name in lower case.
    Open(&'a str),
    /// A closing tag, by its name in lower case.
    Close(&'a str),
    /// Text between tags.
    Text(&'a str),
}

/// The parts of a page in order, without comments, declarations, or the content of the
/// elements that hold no visible text. Markup left open at the end of what was read ends
/// the page.
struct Parts<'a> {
    markup: &'a str,
    /// `markup` in ASCII lower case, for matching tag names.
    lower: &'a str,
    /// Where the next part starts.
    at: usize,
}

impl<'a> Iterator for Parts<'a> {
    type Item = Part<'a>;

    fn next(&mut self) -> Option<Part<'a>> {
        loop {
            let rest = self.markup.get(self.at..).filter(|rest| !rest.is_empty())?;
            match rest.find('<') {
                None => {
                    self.at = self.markup.len();
                    return Some(Part::Text(rest));
                }
                Some(0) => {}
                Some(text_len) => {
                    self.at += text_len;
                    return Some(Part::Text(&rest[..text_len]));
                }
            }
            let tag = &self.lower[self.at..];
            if tag.starts_with("<!--") {
                self.at = tag
                    .find("-->")
                    .map_or(self.markup.len(), |end| self.at + end + 3);
                continue;
            }
            self.at = tag
                .find('>')
                .map_or(self.markup.len(), |end| self.at + end + 1);
            let (closing, name) = match tag[1..].strip_prefix('/') {
                Some(after_slash) => (true, tag_name(after_slash)),
                None => (false, tag_name(&tag[1..])),
            };
            if closing {
                return Some(Part::Close(name));
            }
            if HIDDEN_ELEMENTS.contains(&name) {
                self.at = self.end_of_closing_tag(name);
                continue;
            }
            if !name.is_empty() {
                return Some(Part::Open(name));
            }
        }
    }
}

impl Parts<'_> {
    /// The position after the closing tag `</name>` that follows, or the end of the page.
    fn end_of_closing_tag(&self, name: &str) -> usize {
        let from = self.at;
        self.lower[from..]
            .match_indices("</")
            .map(|(at, _)| from + at)
            .find(|&at| tag_name(&self.lower[at + 2..]) == name)
            .and_then(|at| self.lower[at..].find('>').map(|end| at + end + 1))
            .unwrap_or(self.markup.len())
    }
}

/// The tag name at the start of `after_bracket`; empty for `<!DOCTYPE ...>` and the like.
fn tag_name(after_bracket: &str) -> &str {
    let len = after_bracket
        .find(|c: char| c == '>' || c == '/' || c == '!' || c.is_ascii_whitespace())
        .unwrap_or(after_bracket.len());
    &after_bracket[..len]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(body: &str) -> String {
        snippet(body.as_bytes())
    }

    #[test]
    fn a_proxy_page_is_told_by_its_title() {
        let nginx = "<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n<body>\r\n<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";
        assert_eq!(of(nginx), "503 Service Temporarily Unavailable");
        let google = "<!DOCTYPE html>\n<html lang=en>\n  <meta charset=utf-8>\n  <TITLE>Error 502 (Server Error)!!1</TITLE>\n  <style>*{margin:0}</style>";
        assert_eq!(of(google), "Error 502 (Server Error)!!1");
    }

    #[test]
    fn without_a_title_the_first_heading_then_the_text() {
        assert_eq!(
            of("<html><body><p>intro</p><h2>Busy</h2><h1 class=\"x\">Bad <b>gateway</b></h1>"),
            "Bad gateway"
        );
        assert_eq!(of("<html><title> </title><h3>Down</h3></html>"), "Down");
        assert_eq!(
            of(
                "<html><!-- <h1>no</h1> --><style>h1{x:1}</style><script>if(a<b)x()</script><body>Try   again\nlater</body>"
            ),
            "Try again later"
        );
        assert_eq!(of("<p>cut off <b"), "cut off");
        assert_eq!(
            of("<html><titles>not a title</titles></html>"),
            "not a title"
        );
    }

    #[test]
    fn a_page_keeps_a_short_excerpt() {
        let long = format!("<html><body><p>{}</p></body></html>", "word ".repeat(100));
        assert_eq!(of(&long).chars().count(), PAGE_CHARS);
        let title = format!("<title>{}</title>", "t".repeat(500));
        assert_eq!(of(&title), "t".repeat(PAGE_CHARS));
        assert_eq!(of(&"x".repeat(10_000)), "x".repeat(PAGE_CHARS));
        assert_eq!(of("Service Unavailable\n"), "Service Unavailable");
    }

    #[test]
    fn json_keeps_its_start() {
        let body = format!(r#"{{"status":1,"error":"{}"}}"#, "e".repeat(1000));
        let kept = of(&body);
        assert_eq!(kept.chars().count(), JSON_CHARS);
        assert!(kept.starts_with(r#"{"status":1,"error":"eee"#), "{kept}");
        assert_eq!(of("  [1,\n 2]"), "[1, 2]");
        assert_eq!(of(r#"{"status":1,"error":"#), r#"{"status":1,"error":"#);
    }

    #[test]
    fn text_from_the_page_cannot_drive_a_terminal() {
        assert_eq!(
            of("<title>\u{1b}[31mdown\u{7}</title>"),
            "\\u{1b}[31mdown\\u{7}"
        );
        assert_eq!(of("plain\u{202e}txt"), "plain\\u{202e}txt");
    }

    #[test]
    fn odd_bytes_and_markup_do_not_panic() {
        for body in [
            &b"<"[..],
            b"<!--",
            b"<title",
            b"<title>",
            b"<script>",
            b"</",
            b"<\xff\xfe>\xc3",
            "<h1>é</h1>".as_bytes(),
            b"",
            b"   ",
        ] {
            let kept = snippet(body);
            assert!(kept.chars().count() <= PAGE_CHARS);
        }
        assert_eq!(of("<title>é"), "é");
    }
}
