//! The two columns the failures file adds to each row, `line` and `reason`, and how a
//! row's own columns of those names are kept beside them.
//!
//! A row's own `line` or `reason` is written as `input_line` or `input_reason`; so that
//! the renaming can always be undone, an own name that already is `input_` and a renamed
//! name gets one `input_` more (`input_line` becomes `input_input_line`). Reading a
//! failures file back undoes it, so importing it sends every property under its own name.
//!
//! A CSV is read as a failures file when its header ends with the columns `line` and
//! `reason`, as this program writes one; an NDJSON object, when it holds an integer `line`
//! and a string `reason`. Those two are then ours, not data.

use std::borrow::Cow;

use serde_json::{Map, Value};

/// The input line a failed row came from.
pub(crate) const LINE: &str = "line";
/// What became of a failed row.
pub(crate) const REASON: &str = "reason";
/// What a row's own column of one of those names is written with.
const PREFIX: &str = "input_";

/// Whether `name`, past any number of [`PREFIX`], is one of ours.
fn is_renamed(name: &str) -> bool {
    let mut own = name;
    while let Some(shorter) = own.strip_prefix(PREFIX) {
        own = shorter;
    }
    own == LINE || own == REASON
}

/// The name a row's own column `name` is written under in the failures file.
pub(crate) fn written(name: &str) -> Cow<'_, str> {
    if is_renamed(name) {
        Cow::Owned(format!("{PREFIX}{name}"))
    } else {
        Cow::Borrowed(name)
    }
}

/// The row's own name of column `name` of a failures file.
pub(crate) fn read_back(name: &str) -> &str {
    match name.strip_prefix(PREFIX) {
        Some(own) if is_renamed(own) => own,
        _ => name,
    }
}

/// Whether a CSV header with these column names is a failures file's.
pub(crate) fn is_failures_header(names: &[String]) -> bool {
    names.ends_with(&[LINE.to_owned(), REASON.to_owned()])
}

/// A row of an NDJSON input, with what this program added to it in a failures file taken
/// away and its own names given back.
pub(crate) fn own_fields(object: Map<String, Value>) -> Map<String, Value> {
    let ours = object.get(LINE).is_some_and(Value::is_u64)
        && object.get(REASON).is_some_and(Value::is_string);
    if !ours {
        return object;
    }
    object
        .into_iter()
        .filter(|(name, _)| name != LINE && name != REASON)
        .map(|(name, value)| (read_back(&name).to_owned(), value))
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn own_names_that_clash_are_renamed_and_read_back() {
        for (own, in_file) in [
            ("line", "input_line"),
            ("reason", "input_reason"),
            ("input_line", "input_input_line"),
            ("input_input_reason", "input_input_input_reason"),
            ("plan", "plan"),
            ("input_plan", "input_plan"),
            ("lines", "lines"),
        ] {
            assert_eq!(written(own), in_file);
            assert_eq!(read_back(in_file), own);
        }
    }

    #[test]
    fn a_failures_header_ends_with_our_two_columns() {
        let names = |names: &[&str]| names.iter().map(|&n| n.to_owned()).collect::<Vec<_>>();
        assert!(is_failures_header(&names(&[
            "distinct_id",
            "alias",
            "line",
            "reason"
        ])));
        assert!(!is_failures_header(&names(&[
            "distinct_id",
            "line",
            "reason",
            "alias"
        ])));
        assert!(!is_failures_header(&names(&["reason", "line"])));
    }

    #[test]
    fn a_failures_row_loses_our_fields_and_gets_its_names_back() {
        let ours = json!({"distinct_id": "a", "input_line": 9, "line": 3, "reason": "x"});
        let Value::Object(ours) = ours else {
            unreachable!()
        };
        assert_eq!(
            Value::Object(own_fields(ours)),
            json!({"distinct_id": "a", "line": 9})
        );
        // A `line` that is not a line number is the row's own.
        let own = json!({"distinct_id": "a", "line": "top", "reason": "x", "input_line": 1});
        let Value::Object(own) = own else {
            unreachable!()
        };
        assert_eq!(Value::Object(own_fields(own.clone())), Value::Object(own));
    }
}
