//! The events' JSON: from `data` (raw or base64) to records, with the nesting bounded.

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde_json::Value;

use super::error::DecodeError;
use super::request::Record;

/// Standard base64, padded or not: Node, Ruby and PHP pad, hand-written clients often don't.
const STANDARD_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The URL-safe alphabet (`-` and `_`), padded or not.
const URL_SAFE_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The JSON text a `data` value holds, and whether it was base64.
///
/// Raw JSON starts with `{` or `[` (`docs/mixpanel-facts.md` §3); anything else is read as base64. Before
/// decoding, white space is dropped (some encoders wrap lines) and a space is read back as
/// `+`: PHP puts base64 into the form body without escaping it, so the form decoder has
/// turned every `+` into a space.
pub(crate) fn data_to_json(data: &str) -> Result<(Vec<u8>, bool), DecodeError> {
    let trimmed = data.trim();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        return Ok((trimmed.as_bytes().to_vec(), false));
    }
    let cleaned: Vec<u8> = trimmed
        .bytes()
        .filter(|b| !matches!(b, b'\n' | b'\r' | b'\t'))
        .map(|b| if b == b' ' { b'+' } else { b })
        .collect();
    let engine = if cleaned.iter().any(|b| matches!(b, b'-' | b'_')) {
        &URL_SAFE_LENIENT
    } else {
        &STANDARD_LENIENT
    };
    let json = engine
        .decode(&cleaned)
        .map_err(|e| DecodeError::BadBase64 {
            reason: e.to_string(),
        })?;
    Ok((json, true))
}

/// Refuses JSON that nests deeper than `max_depth`, before any recursive parser sees it.
///
/// A linear scan with no recursion: brackets inside strings do not count. The scan does not
/// validate; the parser that runs afterwards does.
pub(crate) fn check_depth(json: &[u8], max_depth: usize) -> Result<(), DecodeError> {
    let mut depth = 0_usize;
    let mut in_string = false;
    let mut escaped = false;
    for &byte in json {
        if in_string {
            if escaped {
                escaped = false;
            } else if byte == b'\\' {
                escaped = true;
            } else if byte == b'"' {
                in_string = false;
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max_depth {
                    return Err(DecodeError::TooDeep { max_depth });
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// Parses a JSON text holding one event, an array of events, or several values one after
/// another (NDJSON). Returns the records and whether there was more than one top-level
/// value.
pub(crate) fn parse_records(
    json: &[u8],
    max_depth: usize,
) -> Result<(Vec<Record>, bool), DecodeError> {
    check_depth(json, max_depth)?;
    let mut records = Vec::new();
    let mut values = 0_usize;
    for value in serde_json::Deserializer::from_slice(json).into_iter::<Value>() {
        let value = value.map_err(|e| DecodeError::BadJson {
            line: e.line(),
            column: e.column(),
            reason: e.to_string(),
        })?;
        values += 1;
        match value {
            Value::Array(items) => records.extend(items.into_iter().map(Record::from_value)),
            other => records.push(Record::from_value(other)),
        }
    }
    if values == 0 {
        return Err(DecodeError::MissingData);
    }
    Ok((records, values > 1))
}

#[cfg(test)]
mod tests {
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

    use super::*;

    const EVENT: &str = r#"{"event":"e","properties":{"k":"??>>"}}"#;

    #[test]
    fn raw_json_and_every_base64_flavour() {
        assert_eq!(
            data_to_json(&format!(" {EVENT}\n")).unwrap(),
            (EVENT.as_bytes().to_vec(), false)
        );
        let standard = STANDARD.encode(EVENT);
        assert!(
            standard.contains('/') || standard.contains('+'),
            "{standard}"
        );
        let flavours = [
            standard.clone(),
            standard.trim_end_matches('=').to_owned(),
            standard.replace('+', " "),
            URL_SAFE_NO_PAD.encode(EVENT),
            format!("{}\n{}", &standard[..20], &standard[20..]),
        ];
        for data in flavours {
            assert_eq!(
                data_to_json(&data).unwrap(),
                (EVENT.as_bytes().to_vec(), true),
                "{data}"
            );
        }
        assert!(matches!(
            data_to_json("not base64!"),
            Err(DecodeError::BadBase64 { .. })
        ));
    }

    #[test]
    fn depth_is_bounded_without_recursion() {
        let deep = "[".repeat(100_000);
        assert_eq!(
            parse_records(deep.as_bytes(), 64),
            Err(DecodeError::TooDeep { max_depth: 64 })
        );
        let at_limit = format!("{}{}", "[".repeat(3), "]".repeat(3));
        assert!(check_depth(at_limit.as_bytes(), 3).is_ok());
        assert!(check_depth(at_limit.as_bytes(), 2).is_err());
        // Brackets inside strings, escaped quotes included, do not count.
        assert!(check_depth(br#"[{"a":"[[[\"[[[{{{"}]"#, 2).is_ok());
    }

    #[test]
    fn one_object_an_array_or_ndjson() {
        let (records, many) = parse_records(EVENT.as_bytes(), 8).unwrap();
        assert_eq!((records.len(), many), (1, false));
        let (records, many) = parse_records(format!("[{EVENT},{EVENT}]").as_bytes(), 8).unwrap();
        assert_eq!((records.len(), many), (2, false));
        let (records, many) =
            parse_records(format!("{EVENT}\n{EVENT}\n{EVENT}\n").as_bytes(), 8).unwrap();
        assert_eq!((records.len(), many), (3, true));
        assert!(records.iter().all(|r| r.as_event().is_some()));
    }

    #[test]
    fn bad_json_says_where() {
        let err = parse_records(format!("{EVENT}\n{{\"event\":").as_bytes(), 8).unwrap_err();
        assert!(
            matches!(err, DecodeError::BadJson { line: 2, .. }),
            "{err:?}"
        );
        assert_eq!(parse_records(b"  \n", 8), Err(DecodeError::MissingData));
    }
}
