//! Event times as Mixpanel reads them (`docs/mixpanel-facts.md` §8): seconds or milliseconds since the Unix
//! epoch, as a number or a numeric string.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

/// The time a JSON `time` value stands for, in milliseconds since the Unix epoch; `None`
/// for anything but a non-negative number or numeric string.
///
/// A value below 10^11 is read as seconds: as milliseconds it would fall in 1973, and as
/// seconds it reaches the year 5138.
pub(crate) fn event_time_millis(value: &Value) -> Option<u64> {
    let seconds_or_millis = match value {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    if !seconds_or_millis.is_finite() || seconds_or_millis < 0.0 {
        return None;
    }
    let millis = if seconds_or_millis < 1e11 {
        seconds_or_millis * 1000.0
    } else {
        seconds_or_millis
    };
    // Float-to-integer `as` saturates, so no input can overflow.
    Some(millis.round() as u64)
}

/// The time a JSON `time` value stands for, read as Mixpanel reads it: seconds or
/// milliseconds since the Unix epoch (a value below 10^11 is seconds), as a number or a
/// numeric string. `None` for anything else.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use alias_core::wire::event_time;
///
/// let at = UNIX_EPOCH + Duration::from_millis(1_700_000_000_250);
/// assert_eq!(event_time(&serde_json::json!(1_700_000_000.25)), Some(at));
/// assert_eq!(event_time(&serde_json::json!("1700000000250")), Some(at));
/// assert_eq!(event_time(&serde_json::json!("soon")), None);
/// ```
pub fn event_time(value: &Value) -> Option<SystemTime> {
    event_time_millis(value).map(|millis| UNIX_EPOCH + Duration::from_millis(millis))
}
