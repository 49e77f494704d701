//! Tokens that `/track` events carried for a project the server was not given.
//!
//! Mixpanel answers such events `1` and drops them later, and so does the server; a
//! mistyped token therefore looks like success. The server tells a hook of each distinct
//! token once, so that a command line can warn without printing per event.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

/// How many distinct unknown tokens are remembered. Later new ones are not reported, so
/// that a stream of made-up tokens cannot grow the server's memory.
const MAX_REMEMBERED: usize = 1024;

/// Tokens are told apart by at most this many bytes (Mixpanel's are 32 characters), so
/// that a huge token costs no more memory than a real one.
const KEY_BYTES: usize = 64;

/// What the server calls for each distinct unknown token, with the token as sent.
#[derive(Clone)]
pub(crate) struct UnknownTokenHook(Arc<dyn Fn(&str) + Send + Sync>);

impl UnknownTokenHook {
    pub(crate) fn new(hook: impl Fn(&str) + Send + Sync + 'static) -> Self {
        Self(Arc::new(hook))
    }

    pub(crate) fn call(&self, token: &str) {
        (self.0)(token);
    }
}

impl fmt::Debug for UnknownTokenHook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("UnknownTokenHook(..)")
    }
}

/// The unknown tokens reported so far.
#[derive(Debug, Default)]
pub(crate) struct UnknownTokens {
    seen: HashSet<String>,
}

impl UnknownTokens {
    /// Whether `token` is to be reported: the first time it is seen, while fewer than
    /// [`MAX_REMEMBERED`] tokens are remembered.
    pub(crate) fn first_sighting(&mut self, token: &str) -> bool {
        let key = prefix(token, KEY_BYTES);
        if self.seen.len() >= MAX_REMEMBERED || self.seen.contains(key) {
            return false;
        }
        self.seen.insert(key.to_owned());
        true
    }
}

/// The longest start of `text` of at most `max` bytes that ends on a character boundary.
fn prefix(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_token_is_reported_once() {
        let mut tokens = UnknownTokens::default();
        assert!(tokens.first_sighting("abc"));
        assert!(!tokens.first_sighting("abc"));
        assert!(tokens.first_sighting("abd"));
    }

    #[test]
    fn memory_is_bounded_in_count_and_size() {
        let mut tokens = UnknownTokens::default();
        let huge = "é".repeat(100_000);
        assert!(tokens.first_sighting(&huge));
        assert!(tokens.seen.iter().all(|key| key.len() <= KEY_BYTES));
        // Tokens that share their first 64 bytes are one.
        assert!(!tokens.first_sighting(&format!("{huge}x")));
        for i in 1..MAX_REMEMBERED {
            assert!(tokens.first_sighting(&format!("token-{i}")));
        }
        assert!(!tokens.first_sighting("one-too-many"));
        assert_eq!(tokens.seen.len(), MAX_REMEMBERED);
    }

    #[test]
    fn prefixes_end_on_character_boundaries() {
        assert_eq!(prefix("ééé", 3), "é");
        assert_eq!(prefix("abc", 64), "abc");
    }
}
