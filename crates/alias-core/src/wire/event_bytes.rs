//! An event's bytes, written by hand: its compact JSON and its form encoding.
//!
//! This is the hot loop of every request (each alias is written once and reused by every
//! retry), and the only hand-written encoding in the crate. The simple way, a derived
//! `Serialize` through `serde_json::to_vec` and `form_urlencoded::byte_serialize`, produces
//! the same bytes (the differential tests below hold the two against each other on random
//! events), at about twice the cost for the default form body (0.51 of the baseline's time
//! for 2000 aliases; 0.91 for a JSON array, where only the JSON writer differs):
//! `cargo bench -p alias-core` runs each encode beside that naive baseline, and
//! `docs/performance.md` records the figures. The interface is two functions and a writer:
//! [`write_event_json`] (with [`event_json_len_hint`] to size its buffer) and
//! [`form_encode_in_place`] (with [`FormEncoder`] for streamed input).

use std::io::{self, Write};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::wire::create_alias::{CreateAlias, EVENT_NAME, millis};
use crate::wire::id::InsertId;
use crate::wire::link::Link;

/// Room for [`write_event_json`]'s output: exact for a stamped `$create_alias` whose
/// strings need no escaping and that has no extra property, so that the common event is
/// written without growing its buffer.
pub(crate) fn event_json_len_hint(alias: &CreateAlias, link: &Link, token: Option<&str>) -> usize {
    /// `{"event":"$create_alias","properties":{"distinct_id":"","alias":""}}`
    const SKELETON: usize = 68;
    /// `,"token":""`
    const TOKEN: usize = 11;
    /// `,"time":` with 13 digits, and `,"$insert_id":` with 32 hex digits in quotes.
    const STAMPS: usize = 21 + 48;
    let ids = alias.distinct_id().as_str().len() + alias.alias().as_str().len();
    let association = match link {
        Link::CreateAlias => 0,
        // `"$device_id"` and `"$user_id"` instead of `"alias"` (5 + 12 bytes more), the
        // alias again in quotes (2 more), and the name instead of `$create_alias` (13).
        Link::Association { event } => event.as_str().len() + 6 + alias.alias().as_str().len(),
    };
    let token = token.map_or(0, |token| TOKEN + token.len());
    SKELETON + STAMPS + ids + token + association
}

/// Writes the event that links `alias`'s two ids as `link` says, as compact JSON, its
/// properties in the order the Python SDK writes them. `stamps` stand in for the alias's
/// own time and insert id. Without a `token` (on `/import`, whose credentials name the
/// project) the event has no `token` property.
///
/// The keys and punctuation are written as literal bytes and only the values go through
/// serde_json's escaping: a derived `Serialize` would escape the constant keys of every
/// event again.
pub(crate) fn write_event_json(
    alias: &CreateAlias,
    link: &Link,
    token: Option<&str>,
    stamps: Option<(SystemTime, &InsertId)>,
    out: &mut Vec<u8>,
) {
    let time = stamps.map(|(t, _)| t).or(alias.time());
    let insert_id = stamps.map(|(_, id)| id).or(alias.insert_id());
    let distinct_id = alias.distinct_id().as_str();
    let user = alias.alias().as_str();
    // Writing strings, integers and `serde_json::Value`s into a Vec cannot fail.
    let written = (|| {
        out.write_all(br#"{"event":"#)?;
        match link {
            Link::CreateAlias => {
                serde_json::to_writer(&mut *out, EVENT_NAME)?;
                out.write_all(br#","properties":{"distinct_id":"#)?;
                serde_json::to_writer(&mut *out, distinct_id)?;
                out.write_all(br#","alias":"#)?;
                serde_json::to_writer(&mut *out, user)?;
            }
            // The user's events are read under the user id; the device's are merged into
            // it (`docs/mixpanel-facts.md` §7).
            Link::Association { event } => {
                serde_json::to_writer(&mut *out, event.as_str())?;
                out.write_all(br#","properties":{"distinct_id":"#)?;
                serde_json::to_writer(&mut *out, user)?;
                out.write_all(br#","$device_id":"#)?;
                serde_json::to_writer(&mut *out, distinct_id)?;
                out.write_all(br#","$user_id":"#)?;
                serde_json::to_writer(&mut *out, user)?;
            }
        }
        if let Some(token) = token {
            out.write_all(br#","token":"#)?;
            serde_json::to_writer(&mut *out, token)?;
        }
        if let Some(time) = time {
            out.write_all(br#","time":"#)?;
            let since_epoch = time.duration_since(UNIX_EPOCH).unwrap_or_default();
            serde_json::to_writer(&mut *out, &millis(since_epoch))?;
        }
        if let Some(insert_id) = insert_id {
            out.write_all(br#","$insert_id":"#)?;
            serde_json::to_writer(&mut *out, insert_id.as_str())?;
        }
        for (name, value) in alias.properties() {
            out.write_all(b",")?;
            serde_json::to_writer(&mut *out, name)?;
            out.write_all(b":")?;
            serde_json::to_writer(&mut *out, value)?;
        }
        out.write_all(b"}}")
    })();
    debug_assert!(written.is_ok());
}

/// Form-urlencodes `out[start..]` where it stands, as `form_urlencoded` does (keeps
/// `[A-Za-z0-9*-._]`, a space becomes `+`, the rest `%XX`).
///
/// About a third of an event's JSON is escaped bytes (`{`, `"`, `:`, `,`), in no pattern a
/// branch predictor could learn, so no branch depends on the bytes. The buffer grows to
/// three bytes per byte plus one, and the bytes are expanded into it from the back, each
/// as one four-byte store of its table entry, which ends with the encoding: with three
/// bytes of room per byte still to read, a store never reaches an unread byte, and what it
/// writes before the encoding is overwritten by the next one. The result is then moved
/// down to `start`.
pub(crate) fn form_encode_in_place(out: &mut Vec<u8>, start: usize) {
    let raw_end = out.len();
    out.resize(start + (raw_end - start) * 3 + 1, 0);
    let mut write = out.len();
    for read in (start..raw_end).rev() {
        let entry = ENCODED[usize::from(out[read])];
        out[write - 4..write].copy_from_slice(&entry);
        write -= usize::from(entry[0]);
    }
    out.copy_within(write.., start);
    out.truncate(out.len() - (write - start));
}

/// Whether `form_urlencoded` keeps a byte as it is.
const fn kept(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'*' | b'-' | b'.' | b'_')
}

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

/// Each byte's encoding: its length, then the encoding right-aligned in three bytes.
const ENCODED: [[u8; 4]; 256] = {
    let mut table = [[0; 4]; 256];
    let mut byte = 0;
    while byte < 256 {
        table[byte] = if kept(byte as u8) {
            [1, 0, 0, byte as u8]
        } else if byte == b' ' as usize {
            [1, 0, 0, b'+']
        } else {
            [3, b'%', HEX_UPPER[byte >> 4], HEX_UPPER[byte & 0xf]]
        };
        byte += 1;
    }
    table
};

/// A writer that form-urlencodes everything written through it, for the base64 form,
/// whose encoder writes in large chunks.
pub(crate) struct FormEncoder<'a>(pub(crate) &'a mut Vec<u8>);

impl Write for FormEncoder<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let start = self.0.len();
        self.0.extend_from_slice(buf);
        form_encode_in_place(self.0, start);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use proptest::prelude::*;
    use serde::Serialize;
    use serde_json::{Map, Value};

    use super::*;
    use crate::wire::link::EventName;

    /// The simple way to write the same event: a derived `Serialize`, fields in wire order.
    #[derive(Serialize)]
    struct Simple<'a> {
        event: &'a str,
        properties: SimpleProperties<'a>,
    }

    #[derive(Serialize)]
    struct SimpleProperties<'a> {
        distinct_id: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        alias: Option<&'a str>,
        #[serde(rename = "$device_id", skip_serializing_if = "Option::is_none")]
        device_id: Option<&'a str>,
        #[serde(rename = "$user_id", skip_serializing_if = "Option::is_none")]
        user_id: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        token: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        time: Option<u64>,
        #[serde(rename = "$insert_id", skip_serializing_if = "Option::is_none")]
        insert_id: Option<&'a str>,
        #[serde(flatten)]
        extra: &'a Map<String, Value>,
    }

    fn simple(alias: &CreateAlias, link: &Link, token: Option<&str>, time: Option<u64>) -> Vec<u8> {
        let (event, distinct_id, alias_field, device_id, user_id) = match link {
            Link::CreateAlias => (
                EVENT_NAME,
                alias.distinct_id().as_str(),
                Some(alias.alias().as_str()),
                None,
                None,
            ),
            Link::Association { event } => (
                event.as_str(),
                alias.alias().as_str(),
                None,
                Some(alias.distinct_id().as_str()),
                Some(alias.alias().as_str()),
            ),
        };
        serde_json::to_vec(&Simple {
            event,
            properties: SimpleProperties {
                distinct_id,
                alias: alias_field,
                device_id,
                user_id,
                token,
                time,
                insert_id: alias.insert_id().map(InsertId::as_str),
                extra: alias.properties(),
            },
        })
        .unwrap()
    }

    fn id() -> impl Strategy<Value = String> {
        // Letters, digits, quotes, backslashes, controls, non-ASCII and emoji.
        "[a-zA-Z0-9 \"\\\\\u{0}-\u{1f}é€🎉/+&=%]{1,40}"
            .prop_filter("a real id", |id| !crate::wire::id::is_placeholder(id))
    }

    fn extra() -> impl Strategy<Value = Vec<(String, Value)>> {
        let value = prop_oneof![
            any::<i64>().prop_map(Value::from),
            any::<bool>().prop_map(Value::from),
            "[ -~é\u{0}-\u{1f}]{0,20}".prop_map(Value::from),
            Just(serde_json::json!({"nested": [1, "two", null]})),
        ];
        proptest::collection::vec(("[a-z_]{1,12}", value), 0..5)
    }

    proptest! {
        #[test]
        fn the_hand_written_json_is_the_derived_serialize_byte_for_byte(
            distinct_id in id(),
            user in id(),
            extra in extra(),
            time in proptest::option::of(31_536_000_000_u64..4_000_000_000_000),
            association in any::<bool>(),
            token in proptest::option::of("[ -~é]{1,40}"),
        ) {
            prop_assume!(distinct_id != user);
            let mut alias = CreateAlias::from_ids(&distinct_id, &user).unwrap();
            for (name, value) in extra {
                if let Ok(with) = alias.clone().with_property(name, value) {
                    alias = with;
                }
            }
            if let Some(millis) = time {
                alias = alias.with_time(UNIX_EPOCH + Duration::from_millis(millis)).unwrap();
            }
            let link = if association {
                Link::Association { event: EventName::new("Identity Linked").unwrap() }
            } else {
                Link::CreateAlias
            };
            let token = token.as_deref();
            let mut fast = Vec::new();
            write_event_json(&alias, &link, token, None, &mut fast);
            prop_assert_eq!(
                String::from_utf8(fast).unwrap(),
                String::from_utf8(simple(&alias, &link, token, time)).unwrap()
            );
        }

        #[test]
        fn form_encoding_in_place_is_form_urlencoded(
            prefix in proptest::collection::vec(any::<u8>(), 0..8),
            bytes in proptest::collection::vec(any::<u8>(), 0..300),
        ) {
            let mut out = prefix.clone();
            out.extend_from_slice(&bytes);
            form_encode_in_place(&mut out, prefix.len());
            let mut expected = prefix;
            expected.extend(form_urlencoded::byte_serialize(&bytes).flat_map(str::bytes));
            prop_assert_eq!(out, expected);
        }
    }

    #[test]
    fn the_length_hint_is_exact_for_a_plain_stamped_event() {
        let alias = CreateAlias::from_ids("anon-1", "user-1").unwrap();
        let stamps = alias.stamps(UNIX_EPOCH + Duration::from_secs(1_700_000_000));
        let links = [
            Link::CreateAlias,
            Link::Association {
                event: EventName::new("Identity Linked").unwrap(),
            },
        ];
        for (link, token) in links
            .iter()
            .flat_map(|link| [(link, Some("TOKEN")), (link, None)])
        {
            let mut out = Vec::new();
            write_event_json(&alias, link, token, Some((stamps.0, &stamps.1)), &mut out);
            assert_eq!(event_json_len_hint(&alias, link, token), out.len());
        }
    }

    #[test]
    fn form_encoding_matches_form_urlencoded_on_every_byte() {
        let every_byte: Vec<u8> = (0..=255).collect();
        let expected: String = form_urlencoded::byte_serialize(&every_byte).collect();
        let mut out = b"kept".to_vec();
        let mut encoder = FormEncoder(&mut out);
        encoder.write_all(&every_byte).unwrap();
        encoder.write_all(b"").unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), format!("kept{expected}"));
    }
}
