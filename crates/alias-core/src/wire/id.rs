//! Validated identifiers: the two ids an alias links, and the deduplication key.

use std::fmt;

use sha2::{Digest, Sha256};

use crate::error::{Field, Problem, ValidationError};

/// Longest id Mixpanel keeps; string properties are truncated past 255 bytes.
pub const MAX_ID_BYTES: usize = 255;

/// Longest `$insert_id` Mixpanel accepts.
pub const MAX_INSERT_ID_BYTES: usize = 36;

/// Values Mixpanel refuses as a distinct_id (`docs/mixpanel-facts.md` §8), and `lmy47d`, which Mixpanel's
/// importer also treats as bad. Compared case-insensitively after
/// trimming: `"Null"` or `" none "` are the same placeholder to a person reading a report,
/// and an alias is never worth making from one.
const PLACEHOLDERS: [&str; 19] = [
    "00000000-0000-0000-0000-000000000000",
    "anon",
    "anonymous",
    "nil",
    "none",
    "null",
    "n/a",
    "na",
    "undefined",
    "unknown",
    "<nil>",
    "0",
    "-1",
    "true",
    "false",
    "[]",
    "{}",
    // Not in Mixpanel's list, but refused by its own importer (`docs/mixpanel-facts.md` §8).
    "lmy47d",
    "",
];

/// Whether Mixpanel refuses `value` as an id: empty, blank, or a placeholder.
pub fn is_placeholder(value: &str) -> bool {
    let value = value.trim();
    PLACEHOLDERS.iter().any(|p| p.eq_ignore_ascii_case(value))
}

fn validate_id(field: Field, value: &str) -> Result<(), ValidationError> {
    if value.trim().is_empty() {
        return Err(ValidationError::new(field, Problem::Empty));
    }
    if is_placeholder(value) {
        return Err(ValidationError::new(
            field,
            Problem::Placeholder {
                value: value.to_owned(),
            },
        ));
    }
    if value.len() > MAX_ID_BYTES {
        return Err(ValidationError::new(
            field,
            Problem::TooLong {
                len: value.len(),
                max: MAX_ID_BYTES,
            },
        ));
    }
    Ok(())
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $field:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// Validates an id: not empty, not a placeholder, at most 255 bytes.
            pub fn new(value: impl Into<String>) -> Result<Self, ValidationError> {
                let value = value.into();
                validate_id($field, &value)?;
                Ok(Self(value))
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

id_type!(
    /// The existing id that an alias will be read as (`properties.distinct_id`).
    DistinctId,
    Field::DistinctId
);

id_type!(
    /// The new id that Mixpanel will read as the distinct_id (`properties.alias`).
    ///
    /// Each alias maps to one distinct_id only.
    Alias,
    Field::Alias
);

/// A `$insert_id`: Mixpanel's deduplication key, at most 36 bytes of `[A-Za-z0-9-]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct InsertId(String);

impl InsertId {
    /// Validates an insert id.
    pub fn new(value: impl Into<String>) -> Result<Self, ValidationError> {
        let value = value.into();
        let field = Field::InsertId;
        if value.is_empty() {
            return Err(ValidationError::new(field, Problem::Empty));
        }
        if value.len() > MAX_INSERT_ID_BYTES {
            return Err(ValidationError::new(
                field,
                Problem::TooLong {
                    len: value.len(),
                    max: MAX_INSERT_ID_BYTES,
                },
            ));
        }
        if let Some(found) = value
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
        {
            return Err(ValidationError::new(
                field,
                Problem::BadCharacter {
                    found,
                    allowed: "ASCII letters, digits and '-'",
                },
            ));
        }
        if is_placeholder(&value) {
            return Err(ValidationError::new(field, Problem::Placeholder { value }));
        }
        Ok(Self(value))
    }

    /// The insert id that the same (distinct_id, alias) pair always gets: 32 hex digits of
    /// SHA-256 over both ids. A retry, or a re-run of the same import, therefore carries the
    /// same key, and the server drops the second copy.
    pub fn derive(distinct_id: &DistinctId, alias: &Alias) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(distinct_id.as_str().as_bytes());
        // The separator keeps ("ab", "c") and ("a", "bc") apart.
        hasher.update([0]);
        hasher.update(alias.as_str().as_bytes());
        let digest = hasher.finalize();
        let mut hex = String::with_capacity(32);
        for byte in &digest[..16] {
            hex.push(char::from(HEX[usize::from(byte >> 4)]));
            hex.push(char::from(HEX[usize::from(byte & 0xf)]));
        }
        Self(hex)
    }

    /// The insert id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

impl fmt::Display for InsertId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_refused_in_any_case_and_padding() {
        for value in [
            "null", "NULL", " Null ", "n/a", "N/A", "<nil>", "{}", "0", "-1", "lmy47d", "LMY47D",
        ] {
            let err = DistinctId::new(value).unwrap_err();
            assert_eq!(err.field, Field::DistinctId);
            assert!(
                matches!(err.problem, Problem::Placeholder { .. }),
                "{value}"
            );
        }
        let err = Alias::new("Anonymous").unwrap_err();
        assert_eq!(err.field, Field::Alias);
        assert!(
            err.to_string()
                .starts_with("properties.alias \"Anonymous\" is a placeholder")
        );
    }

    #[test]
    fn ids_that_merely_contain_a_placeholder_are_fine() {
        for value in ["null-user", "00", "user-0", "nonexistent", "na1"] {
            assert!(DistinctId::new(value).is_ok(), "{value}");
        }
    }

    #[test]
    fn empty_and_blank_ids_are_refused() {
        assert_eq!(
            Alias::new(" \t"),
            Err(ValidationError::new(Field::Alias, Problem::Empty))
        );
    }

    #[test]
    fn length_is_counted_in_bytes() {
        assert!(DistinctId::new("é".repeat(127)).is_ok()); // 254 bytes
        assert_eq!(
            DistinctId::new("é".repeat(128)),
            Err(ValidationError::new(
                Field::DistinctId,
                Problem::TooLong { len: 256, max: 255 }
            ))
        );
    }

    #[test]
    fn insert_id_rules() {
        assert!(InsertId::new("abc-DEF-123").is_ok());
        assert!(matches!(
            InsertId::new("a".repeat(37)).unwrap_err().problem,
            Problem::TooLong { len: 37, max: 36 }
        ));
        assert!(matches!(
            InsertId::new("a_b").unwrap_err().problem,
            Problem::BadCharacter { found: '_', .. }
        ));
        assert!(matches!(
            InsertId::new("undefined").unwrap_err().problem,
            Problem::Placeholder { .. }
        ));
    }

    #[test]
    fn derived_insert_id_is_stable_valid_and_order_sensitive() {
        let d = DistinctId::new("anon-1").unwrap();
        let a = Alias::new("user@example.com").unwrap();
        let id = InsertId::derive(&d, &a);
        assert_eq!(id, InsertId::derive(&d, &a));
        assert_eq!(InsertId::new(id.as_str()), Ok(id.clone()));
        let swapped = InsertId::derive(
            &DistinctId::new("user@example.com").unwrap(),
            &Alias::new("anon-1").unwrap(),
        );
        assert_ne!(id, swapped);
        let split_differently = InsertId::derive(
            &DistinctId::new("anon-").unwrap(),
            &Alias::new("1user@example.com").unwrap(),
        );
        assert_ne!(id, split_differently);
    }
}
