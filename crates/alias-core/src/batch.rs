//! Splitting any number of events into requests within the count and byte limits.

use std::ops::Range;

use crate::config::Config;
use crate::encode::{EncodedEvent, EncodedRequest, body_overhead, encode_batch};

/// Greedy, order-keeping split of `events` into ranges that each fit one request by the
/// size estimate. Runs in one pass.
pub(crate) fn plan(config: &Config, events: &[EncodedEvent]) -> Vec<Range<usize>> {
    let limits = config.limits;
    let overhead = body_overhead(config);
    let mut ranges = Vec::with_capacity(events.len() / limits.max_events.max(1) + 1);
    let mut start = 0;
    let mut size = overhead;
    for (i, event) in events.iter().enumerate() {
        let cost = event.cost_in(config);
        let full = i - start >= limits.max_events || size + cost > limits.max_body_bytes;
        if full && i > start {
            ranges.push(start..i);
            start = i;
            size = overhead;
        }
        size += cost;
    }
    if start < events.len() {
        ranges.push(start..events.len());
    }
    ranges
}

/// Encodes `range`, halving it until every request's real body fits the byte limit, and
/// hands each request to `sink` with the range it carries.
///
/// A single event always goes out as it is: [`EncodedEvent::prepare`] already refused
/// events that cannot fit alone.
pub(crate) fn fit(
    config: &Config,
    events: &[EncodedEvent],
    range: Range<usize>,
    sink: &mut dyn FnMut(Range<usize>, EncodedRequest),
) {
    let encoded = encode_batch(config, &events[range.clone()]);
    if encoded.uncompressed_len <= config.limits.max_body_bytes || range.len() == 1 {
        sink(range, encoded);
        return;
    }
    let (left, right) = halves(range);
    fit(config, events, left, sink);
    fit(config, events, right, sink);
}

/// Splits a range of at least two into two non-empty halves.
pub(crate) fn halves(range: Range<usize>) -> (Range<usize>, Range<usize>) {
    let mid = range.start + range.len() / 2;
    (range.start..mid, mid..range.end)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use super::*;
    use crate::config::{BatchLimits, TrackBody};
    use crate::create_alias::CreateAlias;
    use crate::secret::Token;

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_800_000_000)
    }

    fn aliases(n: usize) -> Vec<CreateAlias> {
        (0..n)
            .map(|i| {
                CreateAlias::from_ids(&format!("anon-{i}"), &format!("user-{i}@example.com"))
                    .unwrap()
            })
            .collect()
    }

    fn config() -> Config {
        Config::new(Token::new("tok").unwrap())
    }

    #[test]
    fn count_limit_is_respected_and_order_kept() {
        let batches = config().encode(&aliases(4001), now()).unwrap();
        let ranges: Vec<_> = batches.iter().map(|b| b.aliases.clone()).collect();
        assert_eq!(ranges, vec![0..2000, 2000..4000, 4000..4001]);
    }

    #[test]
    fn byte_limit_is_respected_in_every_form() {
        for body in [
            TrackBody::FormJson,
            TrackBody::FormBase64,
            TrackBody::JsonArray,
        ] {
            let config = config().track_body(body).batch_limits(BatchLimits {
                max_events: 2000,
                max_body_bytes: 10_000,
            });
            let batches = config.encode(&aliases(500), now()).unwrap();
            assert!(batches.len() > 1, "{body:?}");
            let mut next = 0;
            for batch in &batches {
                assert_eq!(batch.aliases.start, next, "{body:?}");
                next = batch.aliases.end;
                assert!(
                    batch.request.body().len() <= 10_000,
                    "{body:?}: {}",
                    batch.request.body().len()
                );
            }
            assert_eq!(next, 500);
            // The estimate is tight enough that batches are not far from full.
            let mean = batches
                .iter()
                .map(|b| b.request.body().len())
                .sum::<usize>()
                / batches.len();
            assert!(mean > 8_000, "{body:?}: mean body {mean}");
        }
    }

    #[test]
    fn an_event_too_large_to_fit_alone_is_refused() {
        let config = config().batch_limits(BatchLimits {
            max_events: 10,
            max_body_bytes: 200,
        });
        let big = CreateAlias::from_ids("a", "b")
            .unwrap()
            .with_property("blob", "x".repeat(300))
            .unwrap();
        let err = config.encode(&[big], now()).unwrap_err();
        assert_eq!(err.index, 0);
        assert_eq!(err.error.field, crate::error::Field::Event);
    }

    #[test]
    fn halves_are_non_empty() {
        assert_eq!(halves(3..5), (3..4, 4..5));
        assert_eq!(halves(0..5), (0..2, 2..5));
    }
}
