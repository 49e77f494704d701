//! The one batching rule: when a batch is full, how it is split, and what it encodes to.
//!
//! Both ways of turning aliases into requests use it: [`Config::encode`], all at once, and
//! the [`Delivery`](crate::delivery::Delivery), alias by alias with retries. A batch fills while the
//! next event fits Mixpanel's count and (estimated) byte limits; once encoded, a body that
//! turns out over the byte limit (base64's escapes make the estimate short) is split in
//! halves, as a 413 answer would split it.

use std::collections::VecDeque;
use std::ops::Range;
use std::time::{Instant, SystemTime};

use http::Request;

use crate::error::EncodeError;
use crate::wire::config::Config;
use crate::wire::create_alias::CreateAlias;
use crate::wire::encode::{EncodedEvent, EncodedRequest, body_overhead, encode_batch};

/// Aliases travelling together in one request, and the state of their delivery.
#[derive(Debug)]
pub(crate) struct PendingBatch {
    /// Names the batch in tracing; stays the same across its retries.
    pub(crate) id: u64,
    /// Where each event's alias stands in the input, in body order.
    pub(crate) positions: Vec<u64>,
    pub(crate) events: Vec<EncodedEvent>,
    /// Upper bound of the uncompressed body, to close the batch before it overflows.
    size: usize,
    pub(crate) attempts: u32,
    /// Attempts answered 429: expected at volume, they do not use up the attempt budget.
    pub(crate) throttled: u32,
    /// The attempt last answered 429: when it is the last attempt, the batch waits out a
    /// rate limit's refusal, not a failure's.
    pub(crate) throttled_attempt: Option<u32>,
    /// When the batch was first sent: its retry budget counts from there.
    pub(crate) first_sent: Option<Instant>,
    /// When it was last sent: a 429 for an attempt sent at the old rate says nothing about
    /// the new one.
    pub(crate) last_sent: Option<Instant>,
}

impl PendingBatch {
    /// An empty batch numbered `id`.
    pub(crate) fn new(id: u64, config: &Config) -> Self {
        Self {
            id,
            positions: Vec::new(),
            events: Vec::new(),
            size: body_overhead(config),
            attempts: 0,
            throttled: 0,
            throttled_attempt: None,
            first_sent: None,
            last_sent: None,
        }
    }

    /// How many events it carries.
    pub(crate) fn len(&self) -> usize {
        self.events.len()
    }

    /// Whether `event` can join without breaking the count or byte limit. An empty batch
    /// takes any event: one that cannot fit alone was refused when it was encoded.
    pub(crate) fn has_room_for(&self, config: &Config, event: &EncodedEvent) -> bool {
        let limits = config.batch_limits;
        self.events.is_empty()
            || (self.events.len() < limits.max_events
                && self.size + event.cost_in(config) <= limits.max_body_bytes)
    }

    /// Adds the event of the alias at `position`.
    pub(crate) fn push(&mut self, config: &Config, position: u64, event: EncodedEvent) {
        self.size += event.cost_in(config);
        self.positions.push(position);
        self.events.push(event);
    }

    /// The request carrying the batch; `None` when its real body is over the byte limit
    /// and it has events enough to be split instead.
    pub(crate) fn encode(&self, config: &Config) -> Option<EncodedRequest> {
        let encoded = encode_batch(config, &self.events, self.size);
        let overflows =
            encoded.uncompressed_len > config.batch_limits.max_body_bytes && self.events.len() > 1;
        (!overflows).then_some(encoded)
    }

    /// Two non-empty halves, numbered `first_id` and `first_id + 1`, each with a fresh
    /// retry budget. The batch must hold at least two events.
    pub(crate) fn split(self, config: &Config, first_id: u64) -> (Self, Self) {
        let mid = self.events.len() / 2;
        let mut left = Self::new(first_id, config);
        let mut right = Self::new(first_id + 1, config);
        for (i, (position, event)) in self.positions.into_iter().zip(self.events).enumerate() {
            let half = if i < mid { &mut left } else { &mut right };
            half.push(config, position, event);
        }
        (left, right)
    }
}

/// One request of a [`Config::encode`] call, and which aliases it carries.
#[derive(Debug)]
pub struct Batch {
    /// The request to send.
    pub request: Request<Vec<u8>>,
    /// The positions, in the input, of the aliases it carries, in body order: the `index` of
    /// a strict answer's failed record is relative to `aliases.start`.
    pub aliases: Range<usize>,
}

impl Config {
    /// Encodes `aliases` into as few requests as the batch limits allow.
    ///
    /// `now` fixes the time of aliases that have none (when delivery is idempotent) and is
    /// the reference for the time window. This is the one-shot form; [`crate::delivery::Delivery`]
    /// also retries, splits and tracks every alias to a final outcome.
    ///
    /// ```
    /// use std::time::SystemTime;
    /// use alias_core::{Config, CreateAlias, Token};
    ///
    /// let config = Config::new(Token::new("YOUR_PROJECT_TOKEN")?);
    /// let aliases = [CreateAlias::from_ids("anon-123", "user@example.com")?];
    /// let batches = config.encode(&aliases, SystemTime::now())?;
    /// assert_eq!(batches.len(), 1);
    /// assert_eq!(batches[0].request.uri(), "https://api.mixpanel.com/track");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn encode(
        &self,
        aliases: &[CreateAlias],
        now: SystemTime,
    ) -> Result<Vec<Batch>, EncodeError> {
        let mut pending = VecDeque::new();
        let mut open = PendingBatch::new(0, self);
        for (index, alias) in aliases.iter().enumerate() {
            let event = EncodedEvent::prepare(self, alias, now)
                .map_err(|error| EncodeError { index, error })?;
            if !open.has_room_for(self, &event) {
                pending.push_back(std::mem::replace(&mut open, PendingBatch::new(0, self)));
            }
            open.push(self, index as u64, event);
        }
        if open.len() > 0 {
            pending.push_back(open);
        }
        let mut batches = Vec::with_capacity(pending.len());
        while let Some(batch) = pending.pop_front() {
            match batch.encode(self) {
                Some(encoded) => batches.push(Batch {
                    request: encoded.request,
                    aliases: range_of(&batch.positions),
                }),
                None => {
                    let (left, right) = batch.split(self, 0);
                    pending.push_front(right);
                    pending.push_front(left);
                }
            }
        }
        Ok(batches)
    }
}

/// The input range of a batch's positions, which follow each other.
fn range_of(positions: &[u64]) -> Range<usize> {
    let start = positions.first().map_or(0, |&p| p as usize);
    start..start + positions.len()
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use super::*;
    use crate::wire::config::{BatchLimits, TrackBody};
    use crate::wire::create_alias::CreateAlias;
    use crate::wire::secret::Token;

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
            let config = config()
                .into_builder()
                .track_body(body)
                .batch_limits(BatchLimits {
                    max_events: 2000,
                    max_body_bytes: 10_000,
                })
                .build();
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
        let config = config()
            .into_builder()
            .batch_limits(BatchLimits {
                max_events: 10,
                max_body_bytes: 200,
            })
            .build();
        let big = CreateAlias::from_ids("a", "b")
            .unwrap()
            .with_property("blob", "x".repeat(300))
            .unwrap();
        let err = config.encode(&[big], now()).unwrap_err();
        assert_eq!(err.index, 0);
        assert_eq!(err.error.field, crate::error::Field::Event);
    }

    #[test]
    fn halves_are_non_empty_keep_order_and_start_afresh() {
        let config = config();
        let mut batch = PendingBatch::new(1, &config);
        for (i, alias) in aliases(5).iter().enumerate() {
            let event = EncodedEvent::prepare(&config, alias, now()).unwrap();
            batch.push(&config, i as u64 + 10, event);
        }
        batch.attempts = 3;
        let (left, right) = batch.split(&config, 7);
        assert_eq!((left.id, left.positions), (7, vec![10, 11]));
        assert_eq!((right.id, right.positions), (8, vec![12, 13, 14]));
        assert_eq!((left.attempts, right.attempts), (0, 0));
    }
}
