//! Text into validated values: `str::parse`, `TryFrom<&str>` and `TryFrom<String>` for
//! every type whose `new` validates text, each running that very `new`, so that no way in
//! skips a check.

use std::str::FromStr;

use crate::error::ValidationError;
use crate::wire::id::{Alias, DistinctId, InsertId};
use crate::wire::link::EventName;
use crate::wire::secret::{Secret, Token};

macro_rules! from_text_through_new {
    ($($name:ident),+ $(,)?) => {$(
        impl FromStr for $name {
            type Err = ValidationError;

            fn from_str(text: &str) -> Result<Self, ValidationError> {
                Self::new(text)
            }
        }

        impl TryFrom<&str> for $name {
            type Error = ValidationError;

            fn try_from(text: &str) -> Result<Self, ValidationError> {
                Self::new(text)
            }
        }

        impl TryFrom<String> for $name {
            type Error = ValidationError;

            fn try_from(text: String) -> Result<Self, ValidationError> {
                Self::new(text)
            }
        }
    )+};
}

from_text_through_new!(DistinctId, Alias, InsertId, EventName, Token, Secret);

#[cfg(test)]
mod tests {
    use std::fmt::Debug;

    use super::*;

    /// Every way in from text gives what `new` gives, for a value `new` takes and for one
    /// it refuses.
    fn agrees_with_new<T>(new: fn(String) -> Result<T, ValidationError>, good: &str, bad: &str)
    where
        T: FromStr<Err = ValidationError>
            + for<'a> TryFrom<&'a str, Error = ValidationError>
            + TryFrom<String, Error = ValidationError>
            + PartialEq
            + Debug,
    {
        for text in [good, bad] {
            let expected = new(text.to_owned());
            assert_eq!(text.parse::<T>(), expected, "{text:?}");
            assert_eq!(T::try_from(text), expected, "{text:?}");
            assert_eq!(T::try_from(text.to_owned()), expected, "{text:?}");
        }
        assert!(new(good.to_owned()).is_ok(), "{good:?}");
        assert!(new(bad.to_owned()).is_err(), "{bad:?}");
    }

    #[test]
    fn parsing_validates_as_new_does() {
        agrees_with_new(DistinctId::new, "anon-123", "null");
        agrees_with_new(Alias::new, "user@example.com", " ");
        agrees_with_new(InsertId::new, "abc-123", "a_b");
        agrees_with_new(EventName::new, "Identity Linked", "$identify");
        agrees_with_new(Token::new, "project-token", "");
        agrees_with_new(Secret::new, "project-secret", " \t");
    }

    #[test]
    fn a_refusal_names_the_field() {
        let error = "N/A".parse::<Alias>().unwrap_err();
        assert_eq!(error.field, crate::wire::Field::Alias);
        assert!(matches!(
            DistinctId::try_from("x".repeat(256)).unwrap_err().problem,
            crate::wire::Problem::TooLong { len: 256, .. }
        ));
    }
}
