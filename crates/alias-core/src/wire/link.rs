//! How a pair of ids is linked: `$create_alias`, or an association event.

use std::fmt;

use crate::error::{Field, Problem, ValidationError};
use crate::wire::id::MAX_ID_BYTES;

/// How a pair of ids is linked on the wire (`docs/mixpanel-facts.md` §7; the crate README tells which to use).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Link {
    /// A `$create_alias` event: `alias` becomes another name of `distinct_id`. What Original
    /// ID Merge and Legacy projects read. A Simplified ID Merge project refuses it on
    /// `/import` ([`Rejection::IdentityEventsNotAllowed`](crate::Rejection)) and ignores it
    /// on `/track`.
    #[default]
    CreateAlias,
    /// An event named `event` carrying `$device_id` = the distinct_id and `$user_id` = the
    /// alias (its `distinct_id` is the alias), with the same token, `time` and
    /// `$insert_id` rules: how Simplified ID Merge links ids, retroactively for the device's
    /// earlier events; the first user a device is linked to wins. Original ID Merge and
    /// Legacy store it without linking anything.
    Association {
        /// The event's name, e.g. `Identity Linked`.
        event: EventName,
    },
}

/// The name of a custom event, as [`Link::Association`] sends it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EventName(String);

impl EventName {
    /// Validates an event name: not blank, at most 255 bytes, and not `$`-prefixed, since
    /// those names are Mixpanel's own (`$identify`, `$merge`, `$create_alias`, ...).
    ///
    /// ```
    /// use alias_core::wire::EventName;
    ///
    /// assert!(EventName::new("Identity Linked").is_ok());
    /// assert!(EventName::new("$identify").is_err());
    /// ```
    pub fn new(name: impl Into<String>) -> Result<Self, ValidationError> {
        let name = name.into();
        let field = Field::EventName;
        if name.trim().is_empty() {
            return Err(ValidationError::new(field, Problem::Empty));
        }
        if name.starts_with('$') {
            return Err(ValidationError::new(field, Problem::Reserved));
        }
        if name.len() > MAX_ID_BYTES {
            return Err(ValidationError::new(
                field,
                Problem::TooLong {
                    len: name.len(),
                    max: MAX_ID_BYTES,
                },
            ));
        }
        Ok(Self(name))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EventName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
