//! The state every connection of one server shares.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use alias_core::server::DecodeLimits;

use crate::credentials::Project;
use crate::faults::FaultDice;
use crate::identity::IdentitySystem;
use crate::rate_limit::{DEFAULT_WINDOW, Limits, RollingWindow};
use crate::store::Store;
use crate::unknown_tokens::{UnknownTokenHook, UnknownTokens};

/// Mixpanel's documented limit of a request's uncompressed body: 10 MB
/// (`docs/mixpanel-facts.md` §3, §4, where the 2 MiB of an example is the other reading).
pub(crate) const MAX_BODY_BYTES: usize = 10_000_000;

/// A server's fixed settings.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) identity: IdentitySystem,
    pub(crate) project: Project,
    /// Body and nesting bounds; `max_body_bytes` bounds the body on the wire and once
    /// decompressed.
    pub(crate) limits: DecodeLimits,
    pub(crate) slow_delay: Duration,
    pub(crate) header_timeout: Duration,
    pub(crate) body_timeout: Duration,
    pub(crate) max_connections: usize,
    /// Seconds the server's clock is ahead of the machine's (negative: behind).
    pub(crate) clock_skew_secs: i64,
    /// Told of each distinct token `/track` events carry for another project.
    pub(crate) unknown_token_hook: Option<UnknownTokenHook>,
    /// The project's rate limit, in events per second.
    pub(crate) rate_limit: Option<u32>,
    /// The project's rate limit, in uncompressed bytes per second.
    pub(crate) rate_limit_bytes: Option<u64>,
    /// The rate limit's rolling window.
    pub(crate) rate_limit_window: Duration,
    /// Whether 429s carry `Retry-After` (Mixpanel documents none for ingestion).
    pub(crate) retry_after: bool,
    /// Whether 429s (the rate limit's and the fault's) are a front-end proxy's HTML page
    /// instead of Mixpanel's JSON.
    pub(crate) html_429: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            identity: IdentitySystem::default(),
            project: Project::default(),
            limits: DecodeLimits {
                max_body_bytes: MAX_BODY_BYTES,
                ..DecodeLimits::default()
            },
            slow_delay: Duration::from_secs(1),
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            max_connections: 1024,
            clock_skew_secs: 0,
            unknown_token_hook: None,
            rate_limit: None,
            rate_limit_bytes: None,
            rate_limit_window: DEFAULT_WINDOW,
            retry_after: false,
            html_429: false,
        }
    }
}

impl Settings {
    /// The server's idea of the time now: the machine's clock, skewed as configured.
    pub(crate) fn now(&self) -> SystemTime {
        let now = SystemTime::now();
        let skew = Duration::from_secs(self.clock_skew_secs.unsigned_abs());
        let skewed = if self.clock_skew_secs >= 0 {
            now.checked_add(skew)
        } else {
            now.checked_sub(skew)
        };
        skewed.unwrap_or(now)
    }

    /// The project's rate limit, if it has one: a limit of events, of bytes, or both.
    fn rolling_window(&self) -> Option<RollingWindow> {
        if self.rate_limit.is_none() && self.rate_limit_bytes.is_none() {
            return None;
        }
        Some(RollingWindow::new(Limits::new(
            self.rate_limit,
            self.rate_limit_bytes,
            self.rate_limit_window,
        )))
    }
}

/// What changes as requests arrive.
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) store: Store,
    pub(crate) dice: FaultDice,
    /// The project's rate limit, if it has one.
    pub(crate) rate_limit: Option<RollingWindow>,
    /// Not cleared by a reset: each token is reported once per server.
    pub(crate) unknown_tokens: UnknownTokens,
    /// How many resets there have been: a listing of events that sees it change knows
    /// the positions it holds name other events.
    pub(crate) generation: u64,
}

impl State {
    pub(crate) fn new(settings: &Settings, dice: FaultDice) -> Self {
        Self {
            store: Store::default(),
            dice,
            rate_limit: settings.rolling_window(),
            unknown_tokens: UnknownTokens::default(),
            generation: 0,
        }
    }
}

/// Settings and state, shared by the accept loop, every connection and the handle.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) settings: Settings,
    state: Mutex<State>,
}

impl Shared {
    pub(crate) fn new(settings: Settings, dice: FaultDice) -> Self {
        let state = Mutex::new(State::new(&settings, dice));
        Self { settings, state }
    }

    /// Locks the state. Critical sections never panic on input, but if one ever did, the
    /// server would go on with the state as it was rather than fail every later request.
    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Clears events, identities and counters, restarts the fault sequence and empties the
    /// rate limit's window.
    pub(crate) fn reset(&self) {
        let mut state = self.state();
        state.store = Store::default();
        state.dice.restart();
        state.rate_limit = self.settings.rolling_window();
        state.generation += 1;
    }
}
