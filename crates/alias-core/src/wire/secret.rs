//! Credentials that must never be printed.
//!
//! Each type here keeps its value private and prints `<redacted>` from both `Debug` and
//! `Display`, so that a secret cannot reach a log line, an error message or a panic by way
//! of formatting. The only way to read the value is the explicit `expose` method.

use std::fmt;

use crate::error::{Field, Problem, ValidationError};

/// A Mixpanel project token.
///
/// The token identifies the project the events belong to; it does not authenticate
/// (Mixpanel matches tokens to projects after answering). It is still kept out of logs,
/// because a leaked token lets anyone write into the project.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// Wraps a project token, refusing an empty or blank one.
    pub fn new(token: impl Into<String>) -> Result<Self, ValidationError> {
        let token = token.into();
        if token.trim().is_empty() {
            return Err(ValidationError::new(Field::Token, Problem::Empty));
        }
        Ok(Self(token))
    }

    /// The token itself, for putting it on the wire.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// A secret: a service account's secret or a project's API secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret, refusing an empty or blank one.
    pub fn new(secret: impl Into<String>) -> Result<Self, ValidationError> {
        let secret = secret.into();
        if secret.trim().is_empty() {
            return Err(ValidationError::new(Field::Secret, Problem::Empty));
        }
        Ok(Self(secret))
    }

    /// The secret itself, for building the `Authorization` header.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatting_never_shows_the_value() {
        let token = Token::new("tok-visible-42").unwrap();
        let secret = Secret::new("sec-visible-42").unwrap();
        for shown in [
            format!("{token:?}"),
            format!("{token}"),
            format!("{secret:?}"),
            format!("{secret}"),
            format!("{:#?}", (&token, &secret)),
        ] {
            assert!(!shown.contains("visible-42"), "{shown}");
        }
        assert_eq!(token.expose(), "tok-visible-42");
        assert_eq!(secret.expose(), "sec-visible-42");
    }

    #[test]
    fn blank_values_are_refused() {
        assert_eq!(
            Token::new("  "),
            Err(ValidationError::new(Field::Token, Problem::Empty))
        );
        assert_eq!(
            Secret::new(""),
            Err(ValidationError::new(Field::Secret, Problem::Empty))
        );
    }
}
