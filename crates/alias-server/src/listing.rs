//! `GET /_inspect/events`: a page of the stored events as one JSON array, written a chunk
//! at a time.
//!
//! The store can hold gigabytes. Building the listing whole would hold a copy per reader
//! (and the state lock while it is built), so a few clients that ask and never read could
//! exhaust memory and stall ingestion. Instead each chunk is serialized when the
//! connection is ready to send it, under the lock for that chunk only: a reader that
//! stops reading stops costing anything but its socket.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame};

use crate::shared::Shared;
use crate::store::View;

/// A chunk is cut after the event that takes it past this size.
const CHUNK_BYTES: usize = 64 * 1024;

/// Which stored events a listing holds: `limit` events (all when `None`) from position
/// `offset` of `view`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Page {
    pub(crate) offset: usize,
    pub(crate) limit: Option<usize>,
    pub(crate) view: View,
}

impl Page {
    /// The page a query string asks for with `offset`, `limit` and `view` (`query`, the
    /// default, or `raw`); other parameters are ignored. The error names the parameter
    /// that is not a whole number, or not a view.
    pub(crate) fn from_query(query: Option<&str>) -> Result<Self, String> {
        let mut page = Self::default();
        for pair in query.unwrap_or_default().split('&') {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let number = || {
                value
                    .parse::<usize>()
                    .map_err(|_| format!("{name} must be a whole number, not {value:?}"))
            };
            match name {
                "offset" => page.offset = number()?,
                "limit" => page.limit = Some(number()?),
                "view" => {
                    page.view = match value {
                        "query" => View::Query,
                        "raw" => View::Raw,
                        _ => return Err(format!("view must be query or raw, not {value:?}")),
                    }
                }
                _ => {}
            }
        }
        Ok(page)
    }

    /// The positions of the page in a store of `len` events.
    pub(crate) fn range(self, len: usize) -> std::ops::Range<usize> {
        let start = self.offset.min(len);
        let end = self
            .limit
            .map_or(len, |limit| start.saturating_add(limit).min(len));
        start..end
    }
}

/// The body of a listing.
#[derive(Debug)]
pub(crate) struct EventListing {
    shared: Arc<Shared>,
    /// The position of the next event to write.
    next: usize,
    /// The position after the last event of the page, fixed when the listing starts so
    /// that events arriving meanwhile cannot make it endless.
    end: usize,
    /// Whether no event has been written yet (the next one takes no comma).
    first: bool,
    view: View,
    /// The store's generation when the listing started: after a reset, the positions
    /// name other events, and the listing ends where it is.
    generation: u64,
    progress: Progress,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Progress {
    NotStarted,
    Writing,
    Done,
}

impl EventListing {
    pub(crate) fn new(shared: Arc<Shared>, page: Page) -> Self {
        let (range, generation) = {
            let state = shared.state();
            (page.range(state.store.len(page.view)), state.generation)
        };
        Self {
            shared,
            next: range.start,
            end: range.end,
            first: true,
            view: page.view,
            generation,
            progress: Progress::NotStarted,
        }
    }

    fn next_chunk(&mut self) -> Option<Bytes> {
        let mut chunk = Vec::with_capacity(CHUNK_BYTES);
        match self.progress {
            Progress::Done => return None,
            Progress::NotStarted => {
                chunk.push(b'[');
                self.progress = Progress::Writing;
            }
            Progress::Writing => {}
        }
        {
            let state = self.shared.state();
            // After a reset the positions name other events: the listing ends here.
            let unchanged = state.generation == self.generation;
            if unchanged {
                while self.next < self.end && chunk.len() < CHUNK_BYTES {
                    let Some(event) = state.store.get(self.view, self.next) else {
                        self.end = self.next;
                        break;
                    };
                    if !self.first {
                        chunk.push(b',');
                    }
                    self.first = false;
                    // An event is a JSON object with string keys, and writing into a
                    // Vec does not fail: this cannot go wrong.
                    let _ = serde_json::to_writer(&mut chunk, event);
                    self.next += 1;
                }
            } else {
                self.end = self.next;
            }
        }
        if self.next == self.end {
            chunk.push(b']');
            self.progress = Progress::Done;
        }
        Some(Bytes::from(chunk))
    }
}

impl Body for EventListing {
    type Data = Bytes;
    type Error = Infallible;

    /// hyper asks for the next frame only once the previous ones are on their way, so a
    /// listing nobody reads stops here.
    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(
            self.get_mut()
                .next_chunk()
                .map(|chunk| Ok(Frame::data(chunk))),
        )
    }

    fn is_end_stream(&self) -> bool {
        self.progress == Progress::Done
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::faults::{FaultDice, FaultSpec};
    use crate::identity::IdentitySystem;
    use crate::shared::Settings;

    fn shared_with_events(count: usize, padding: usize) -> Arc<Shared> {
        let shared = Arc::new(Shared::new(
            Settings::default(),
            FaultDice::new(FaultSpec::none(), 0),
        ));
        {
            let mut state = shared.state();
            for i in 0..count {
                let event = serde_json::from_value(json!({"event": "e", "properties": {
                    "n": i, "padding": "p".repeat(padding)}}))
                .unwrap();
                state.store.store(event, IdentitySystem::Original, false);
            }
        }
        shared
    }

    /// The chunks of a whole listing.
    fn chunks(mut listing: EventListing) -> Vec<Bytes> {
        std::iter::from_fn(|| listing.next_chunk()).collect()
    }

    fn numbers(chunks: &[Bytes]) -> Vec<u64> {
        let text: Vec<u8> = chunks.concat();
        let events: Value = serde_json::from_slice(&text).unwrap();
        events
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["properties"]["n"].as_u64().unwrap())
            .collect()
    }

    #[test]
    fn pages_from_the_query() {
        assert_eq!(Page::from_query(None), Ok(Page::default()));
        assert_eq!(
            Page::from_query(Some("limit=5&offset=10&x=y")),
            Ok(Page {
                offset: 10,
                limit: Some(5),
                view: View::Query,
            })
        );
        assert_eq!(
            Page::from_query(Some("view=raw")).map(|page| page.view),
            Ok(View::Raw)
        );
        assert!(Page::from_query(Some("view=all")).is_err());
        assert_eq!(
            Page::from_query(Some("offset=-1")),
            Err("offset must be a whole number, not \"-1\"".to_owned())
        );
        assert!(Page::from_query(Some("limit")).is_err());
        let page = |offset, limit| Page {
            offset,
            limit,
            view: View::Query,
        };
        assert_eq!(page(2, Some(3)).range(10), 2..5);
        assert_eq!(page(8, Some(3)).range(10), 8..10);
        assert_eq!(page(20, None).range(10), 10..10);
        assert_eq!(page(1, Some(usize::MAX)).range(10), 1..10);
    }

    #[test]
    fn a_big_listing_comes_in_bounded_chunks() {
        let shared = shared_with_events(100, 10_000);
        let chunks = chunks(EventListing::new(Arc::clone(&shared), Page::default()));
        assert!(chunks.len() > 10, "{} chunks", chunks.len());
        assert!(chunks.iter().all(|c| c.len() < CHUNK_BYTES + 11_000));
        assert_eq!(numbers(&chunks), (0..100).collect::<Vec<_>>());
        let page = Page {
            offset: 95,
            limit: Some(10),
            view: View::Query,
        };
        assert_eq!(
            numbers(&self::chunks(EventListing::new(shared, page))),
            [95, 96, 97, 98, 99]
        );
    }

    #[test]
    fn empty_listings_and_events_arriving_meanwhile() {
        let shared = shared_with_events(0, 0);
        assert_eq!(
            chunks(EventListing::new(Arc::clone(&shared), Page::default())).concat(),
            b"[]"
        );
        let shared = shared_with_events(3, 0);
        let mut listing = EventListing::new(Arc::clone(&shared), Page::default());
        let first = listing.next_chunk().unwrap();
        let event =
            serde_json::from_value(json!({"event": "late", "properties": {"n": 3}})).unwrap();
        shared
            .state()
            .store
            .store(event, IdentitySystem::Original, false);
        assert!(
            listing.next_chunk().is_none(),
            "the page was fixed at the start"
        );
        assert_eq!(numbers(&[first]), [0, 1, 2]);
    }

    #[test]
    fn a_reset_ends_a_listing_as_valid_json() {
        let shared = shared_with_events(100, 10_000);
        let mut listing = EventListing::new(Arc::clone(&shared), Page::default());
        let first = listing.next_chunk().unwrap();
        shared.reset();
        let rest: Vec<Bytes> = std::iter::from_fn(|| listing.next_chunk()).collect();
        let mut all = vec![first];
        all.extend(rest);
        let listed = numbers(&all);
        assert!(!listed.is_empty() && listed.len() < 100, "{}", listed.len());
    }
}
