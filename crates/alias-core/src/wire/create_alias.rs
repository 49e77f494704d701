//! The `$create_alias` event: what a caller asks for, validated before anything is encoded.

use std::borrow::Cow;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::{Field, Problem, ValidationError};
use crate::wire::id::{Alias, DistinctId, InsertId};

/// The event name Mixpanel reads as "link these two ids".
pub const EVENT_NAME: &str = "$create_alias";

/// Mixpanel refuses events with 255 properties or more.
pub const MAX_PROPERTIES: usize = 255;

/// Properties the client writes itself; an extra property must not overwrite them.
/// `$device_id` and `$user_id` link ids by themselves under Simplified ID Merge (`docs/mixpanel-facts.md` §7),
/// so they are set only by [`Link::Association`](crate::wire::Link::Association).
const RESERVED_PROPERTIES: [&str; 7] = [
    "token",
    "distinct_id",
    "alias",
    "time",
    "$insert_id",
    "$device_id",
    "$user_id",
];

/// 1971-01-01T00:00:00Z: `/import` refuses anything earlier, and so does this crate everywhere,
/// since such a time is always a unit mistake (seconds read as milliseconds or the reverse).
pub(crate) const EARLIEST_TIME: Duration = Duration::from_secs(31_536_000);

/// One request to link `alias` to `distinct_id`.
///
/// Both ids are typed, so the two cannot be swapped by argument order, the classic bug of
/// the official SDKs (Python takes `alias(alias_id, original)`, Node `alias(distinct_id,
/// alias)`).
///
/// ```
/// use alias_core::{Alias, CreateAlias, DistinctId};
///
/// let link = CreateAlias::new(DistinctId::new("anon-123")?, Alias::new("user@example.com")?)?
///     .with_property("source", "signup-form")?;
/// assert_eq!(link.alias().as_str(), "user@example.com");
/// # Ok::<(), alias_core::ValidationError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct CreateAlias {
    distinct_id: DistinctId,
    alias: Alias,
    properties: Map<String, Value>,
    time: Option<SystemTime>,
    insert_id: Option<InsertId>,
}

impl CreateAlias {
    /// Links `alias` (the new id) to `distinct_id` (the existing one).
    ///
    /// Fails when the two are equal: mapping an id onto itself is meaningless, and the
    /// server's behaviour for it is undocumented.
    pub fn new(distinct_id: DistinctId, alias: Alias) -> Result<Self, ValidationError> {
        if distinct_id.as_str() == alias.as_str() {
            return Err(ValidationError::new(
                Field::Alias,
                Problem::SameAsDistinctId {
                    value: alias.as_str().to_owned(),
                },
            ));
        }
        Ok(Self {
            distinct_id,
            alias,
            properties: Map::new(),
            time: None,
            insert_id: None,
        })
    }

    /// Validates both ids from text and links them, naming the arguments so they cannot be
    /// swapped unnoticed at the call site.
    pub fn from_ids(distinct_id: &str, alias: &str) -> Result<Self, ValidationError> {
        Self::new(DistinctId::new(distinct_id)?, Alias::new(alias)?)
    }

    /// Adds an extra event property.
    ///
    /// Refuses the names the client writes itself (`token`, `distinct_id`, `alias`, `time`,
    /// `$insert_id`) and a property count that Mixpanel would refuse.
    pub fn with_property(
        mut self,
        name: impl Into<String>,
        value: impl Serialize,
    ) -> Result<Self, ValidationError> {
        let name = name.into();
        Self::check_property_name(&name)?;
        let field = Field::Property(name.clone());
        let value = serde_json::to_value(value)
            .map_err(|e| ValidationError::new(field.clone(), Problem::NotJson(e.to_string())))?;
        self.properties.insert(name, value);
        let count = self.property_count();
        if count >= MAX_PROPERTIES {
            return Err(ValidationError::new(
                Field::Event,
                Problem::TooManyProperties {
                    count,
                    max: MAX_PROPERTIES,
                },
            ));
        }
        Ok(self)
    }

    /// Whether `name` can be an extra property: not empty, and not one the client writes
    /// itself (`token`, `distinct_id`, `alias`, `time`, `$insert_id`, `$device_id`,
    /// `$user_id`).
    ///
    /// ```
    /// use alias_core::CreateAlias;
    ///
    /// assert!(CreateAlias::check_property_name("plan").is_ok());
    /// assert!(CreateAlias::check_property_name("token").is_err());
    /// ```
    pub fn check_property_name(name: &str) -> Result<(), ValidationError> {
        let field = || Field::Property(name.to_owned());
        if RESERVED_PROPERTIES.contains(&name) {
            return Err(ValidationError::new(field(), Problem::Reserved));
        }
        if name.is_empty() {
            return Err(ValidationError::new(field(), Problem::Empty));
        }
        Ok(())
    }

    /// Sets the event time. Without one, the time is fixed when the alias is first encoded.
    pub fn with_time(mut self, time: SystemTime) -> Result<Self, ValidationError> {
        let since_epoch = time.duration_since(UNIX_EPOCH).unwrap_or_default();
        if since_epoch < EARLIEST_TIME {
            return Err(ValidationError::new(
                Field::Time,
                Problem::OutsideWindow {
                    millis: millis(since_epoch),
                    window: "not before 1971-01-01",
                },
            ));
        }
        self.time = Some(time);
        Ok(self)
    }

    /// Sets the `$insert_id`. Without one, it is derived from the two ids when idempotent
    /// delivery is on (see [`InsertId::derive`]).
    pub fn with_insert_id(mut self, insert_id: InsertId) -> Self {
        self.insert_id = Some(insert_id);
        self
    }

    /// The existing id.
    pub fn distinct_id(&self) -> &DistinctId {
        &self.distinct_id
    }

    /// The new id.
    pub fn alias(&self) -> &Alias {
        &self.alias
    }

    /// The extra properties.
    pub fn properties(&self) -> &Map<String, Value> {
        &self.properties
    }

    /// The event time, if set.
    pub fn time(&self) -> Option<SystemTime> {
        self.time
    }

    /// The `$insert_id`, if set.
    pub fn insert_id(&self) -> Option<&InsertId> {
        self.insert_id.as_ref()
    }

    /// Moves the time the delivery gave (see `Delivery`'s rule on times ahead of the
    /// server's clock).
    pub(crate) fn set_time(&mut self, time: SystemTime) {
        self.time = Some(time);
    }

    /// Gives the alias a time and an insert id where it has none, so that every later
    /// attempt sends the same event and the server can drop repeats.
    pub(crate) fn stamp(&mut self, now: SystemTime) {
        self.time.get_or_insert(now);
        if self.insert_id.is_none() {
            self.insert_id = Some(InsertId::derive(&self.distinct_id, &self.alias));
        }
    }

    /// The properties on the wire under the larger of the two links (an association
    /// event's distinct_id, `$device_id`, `$user_id` and token), the extras, and `time` and
    /// `$insert_id` counted whether set or not, since stamping may add both after this
    /// check.
    fn property_count(&self) -> usize {
        6 + self.properties.len()
    }

    /// The `time` and `$insert_id` [`CreateAlias::stamp`] would give, without changing the
    /// alias: what a one-shot encode sends. Borrowed when the alias has its own, as every
    /// alias of a delivery does once stamped.
    pub(crate) fn stamps(&self, now: SystemTime) -> (SystemTime, Cow<'_, InsertId>) {
        let insert_id = match &self.insert_id {
            Some(id) => Cow::Borrowed(id),
            None => Cow::Owned(InsertId::derive(&self.distinct_id, &self.alias)),
        };
        (self.time.unwrap_or(now), insert_id)
    }
}

/// Whole milliseconds, saturating: the wire form of `time`.
pub(crate) fn millis(since_epoch: Duration) -> u64 {
    u64::try_from(since_epoch.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::event_bytes::write_event_json;
    use crate::wire::link::{EventName, Link};

    fn link() -> CreateAlias {
        CreateAlias::from_ids("anon-1", "user-1").unwrap()
    }

    #[test]
    fn alias_equal_to_distinct_id_is_refused() {
        let err = CreateAlias::from_ids("same", "same").unwrap_err();
        assert_eq!(err.field, Field::Alias);
        assert_eq!(
            err.problem,
            Problem::SameAsDistinctId {
                value: "same".into()
            }
        );
    }

    #[test]
    fn reserved_properties_are_refused_by_name() {
        for name in RESERVED_PROPERTIES {
            let err = link().with_property(name, "x").unwrap_err();
            assert_eq!(
                err,
                ValidationError::new(Field::Property(name.into()), Problem::Reserved)
            );
        }
    }

    #[test]
    fn association_events_carry_both_ids_under_the_user() {
        let association = Link::Association {
            event: EventName::new("Identity Linked").unwrap(),
        };
        let mut out = Vec::new();
        write_event_json(&link(), &association, Some("TOKEN"), None, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"event":"Identity Linked","properties":{"distinct_id":"user-1","$device_id":"anon-1","$user_id":"user-1","token":"TOKEN"}}"#
        );
    }

    #[test]
    fn property_count_is_bounded() {
        let mut alias = link();
        // 248 extras + distinct_id, $device_id, $user_id, token, time, $insert_id = 254 on
        // the wire of an association event, the larger of the two.
        for i in 0..248 {
            alias = alias.with_property(format!("p{i}"), i).unwrap();
        }
        let err = alias.with_property("one-too-many", 1).unwrap_err();
        assert_eq!(
            err.problem,
            Problem::TooManyProperties {
                count: 255,
                max: 255
            }
        );
    }

    #[test]
    fn times_before_1971_are_refused() {
        let err = link()
            .with_time(UNIX_EPOCH + Duration::from_secs(1_000))
            .unwrap_err();
        assert_eq!(err.field, Field::Time);
        assert!(link().with_time(UNIX_EPOCH + EARLIEST_TIME).is_ok());
    }

    #[test]
    fn json_has_the_python_sdk_shape() {
        let mut out = Vec::new();
        write_event_json(&link(), &Link::CreateAlias, Some("TOKEN"), None, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"event":"$create_alias","properties":{"distinct_id":"anon-1","alias":"user-1","token":"TOKEN"}}"#
        );
    }

    #[test]
    fn stamping_fills_time_and_insert_id_once() {
        let mut alias = link();
        let first = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        alias.stamp(first);
        alias.stamp(first + Duration::from_secs(60));
        assert_eq!(alias.time(), Some(first));
        let mut out = Vec::new();
        write_event_json(&alias, &Link::CreateAlias, Some("T"), None, &mut out);
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains(r#""time":1700000000000,"$insert_id":""#),
            "{text}"
        );
    }
}
