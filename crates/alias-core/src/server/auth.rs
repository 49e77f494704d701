//! HTTP Basic credentials of an `/import` call.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::HeaderValue;

use super::error::DecodeError;
use crate::wire::secret::Secret;

/// The user and password of an `Authorization: Basic` header.
///
/// The user is the project token, the project secret (deprecated) or a service account's
/// name; the password is empty or a service account's secret. Since the user can itself be a
/// secret, `Debug` prints neither.
#[derive(Clone, PartialEq, Eq)]
pub struct BasicAuth {
    user: String,
    password: Option<Secret>,
}

impl BasicAuth {
    /// Reads an `Authorization` header value.
    pub fn from_header(value: &HeaderValue) -> Result<Self, DecodeError> {
        let bad = |reason| DecodeError::BadAuthorization { reason };
        let value = value
            .to_str()
            .map_err(|_| bad("it is not visible ASCII"))?
            .trim();
        let (scheme, encoded) = value
            .split_once(' ')
            .ok_or(bad("expected `Basic <base64 of user:password>`"))?;
        if !scheme.eq_ignore_ascii_case("basic") {
            return Err(bad("only the Basic scheme is accepted"));
        }
        let decoded = STANDARD
            .decode(encoded.trim())
            .map_err(|_| bad("the Basic credential is not valid base64"))?;
        let decoded =
            String::from_utf8(decoded).map_err(|_| bad("the Basic credential is not UTF-8"))?;
        let (user, password) = decoded.split_once(':').ok_or(bad(
            "the Basic credential has no ':' between user and password",
        ))?;
        Ok(Self {
            user: user.to_owned(),
            // `Secret` refuses a blank value, which is exactly "no password".
            password: Secret::new(password).ok(),
        })
    }

    /// The Basic user name: a project token, a project secret or a service account's name.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The password, unless it is empty.
    pub fn password(&self) -> Option<&Secret> {
        self.password.as_ref()
    }
}

impl fmt::Debug for BasicAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BasicAuth")
            .field("user", &"<redacted>")
            .field("password", &self.password)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(credential: &str) -> HeaderValue {
        HeaderValue::try_from(format!("Basic {}", STANDARD.encode(credential))).unwrap()
    }

    #[test]
    fn token_user_with_empty_password() {
        let auth = BasicAuth::from_header(&header("tok-123:")).unwrap();
        assert_eq!(auth.user(), "tok-123");
        assert_eq!(auth.password(), None);
    }

    #[test]
    fn service_account_secret_may_contain_colons_and_never_prints() {
        let auth = BasicAuth::from_header(&header("sa.user:se:cret-visible")).unwrap();
        assert_eq!(auth.user(), "sa.user");
        assert_eq!(auth.password().map(Secret::expose), Some("se:cret-visible"));
        let shown = format!("{auth:?}");
        assert!(
            !shown.contains("visible") && !shown.contains("sa.user"),
            "{shown}"
        );
    }

    #[test]
    fn unusable_headers_say_why() {
        let cases = [
            ("Bearer abc", "only the Basic scheme is accepted"),
            ("Basic", "expected `Basic <base64 of user:password>`"),
            ("Basic !!!", "the Basic credential is not valid base64"),
        ];
        for (value, reason) in cases {
            assert_eq!(
                BasicAuth::from_header(&HeaderValue::from_static(value)),
                Err(DecodeError::BadAuthorization { reason }),
                "{value}"
            );
        }
        assert_eq!(
            BasicAuth::from_header(&header("no-colon")),
            Err(DecodeError::BadAuthorization {
                reason: "the Basic credential has no ':' between user and password"
            })
        );
    }
}
