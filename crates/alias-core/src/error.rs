//! Typed errors. Each derives `PartialEq` so tests can compare them whole.

use std::fmt;

use http::StatusCode;

use crate::snippet::{self, snippet};

/// The input a [`ValidationError`] is about, named as Mixpanel names it on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Field {
    /// `properties.distinct_id`: the existing id.
    DistinctId,
    /// `properties.alias`: the new id.
    Alias,
    /// `properties.$insert_id`: the deduplication key.
    InsertId,
    /// `properties.time`: when the alias was made.
    Time,
    /// `properties.token`: the project token.
    Token,
    /// A credential secret (service account or project secret).
    Secret,
    /// A service account's user name.
    ServiceAccountUser,
    /// The project id that goes with a service account.
    ProjectId,
    /// An extra event property, by name.
    Property(String),
    /// The event as a whole (its size, its number of properties).
    Event,
    /// The event's name (`event`), of an association event.
    EventName,
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::DistinctId => f.write_str("properties.distinct_id"),
            Self::Alias => f.write_str("properties.alias"),
            Self::InsertId => f.write_str("properties.$insert_id"),
            Self::Time => f.write_str("properties.time"),
            Self::Token => f.write_str("properties.token"),
            Self::Secret => f.write_str("secret"),
            Self::ServiceAccountUser => f.write_str("service account user"),
            Self::ProjectId => f.write_str("project_id"),
            Self::Property(name) => write!(f, "properties.{name}"),
            Self::Event => f.write_str("event"),
            Self::EventName => f.write_str("event name"),
        }
    }
}

/// What is wrong with a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// The value is empty or only white space.
    #[error("must not be empty")]
    Empty,
    /// The value is needed and there is none: a configuration without a project token
    /// whose endpoint needs one.
    #[error("is missing: {reason}")]
    Missing {
        /// What needs the value.
        reason: &'static str,
    },
    /// The value is one of the placeholders Mixpanel refuses as an id.
    #[error(
        "{value:?} is a placeholder Mixpanel refuses as an id (compared case-insensitively, ignoring surrounding white space)"
    )]
    Placeholder {
        /// The refused value.
        value: String,
    },
    /// The value is longer than Mixpanel keeps.
    #[error("is {len} bytes long; at most {max} are allowed")]
    TooLong {
        /// The value's length in bytes.
        len: usize,
        /// The largest length allowed.
        max: usize,
    },
    /// The value contains a character that is not allowed here.
    #[error("contains {found:?}; only {allowed} are allowed")]
    BadCharacter {
        /// The first offending character.
        found: char,
        /// The characters allowed, in words.
        allowed: &'static str,
    },
    /// The alias equals the distinct_id, which would map an id onto itself.
    #[error("equals properties.distinct_id {value:?}; an alias must be a different id")]
    SameAsDistinctId {
        /// The shared value.
        value: String,
    },
    /// The property is set by the client itself and must not be overwritten.
    #[error("is set by the client; give it through the dedicated setter, not as an extra property")]
    Reserved,
    /// The time is outside what the endpoint accepts.
    #[error("{millis} ms since the epoch is outside the accepted window ({window})")]
    OutsideWindow {
        /// The time given, in milliseconds since the Unix epoch.
        millis: u64,
        /// The window, in words.
        window: &'static str,
    },
    /// The event has more properties than Mixpanel allows.
    #[error("has {count} properties; fewer than {max} are allowed")]
    TooManyProperties {
        /// The number of properties.
        count: usize,
        /// The bound that must not be reached.
        max: usize,
    },
    /// The encoded event is larger than a request may carry.
    #[error("encodes to {bytes} bytes; the limit is {max}")]
    TooLarge {
        /// The encoded size.
        bytes: usize,
        /// The limit in force.
        max: usize,
    },
    /// The value could not be turned into JSON.
    #[error("cannot be encoded as JSON: {0}")]
    NotJson(String),
}

/// A value that cannot be sent, with the field it belongs to and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} {problem}")]
pub struct ValidationError {
    /// Where the bad value sits.
    pub field: Field,
    /// What is wrong with it.
    pub problem: Problem,
}

impl ValidationError {
    /// Pairs a field with its problem.
    pub fn new(field: Field, problem: Problem) -> Self {
        Self { field, problem }
    }
}

/// A configuration that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The base URL does not parse as an absolute `http` or `https` URL.
    #[error("api host {url:?} is not usable: {reason}")]
    BadApiHost {
        /// The URL given.
        url: String,
        /// Why it cannot be used.
        reason: &'static str,
    },
    /// Plain `http` to a host that is not loopback, without the explicit opt-in.
    #[error(
        "api host {url:?} uses plain http to a non-loopback host; use https, or allow it explicitly with `ApiHost::insecure_http`"
    )]
    InsecureHttp {
        /// The URL given.
        url: String,
    },
    /// A credential value is invalid.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
}

/// A response that does not look like anything Mixpanel sends.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unexpected answer (HTTP {status}): {snippet:?}")]
pub struct ParseError {
    /// The HTTP status of the answer.
    pub status: StatusCode,
    /// What the body says, on one line with its control characters escaped: the start of
    /// a JSON body, at most [`ParseError::SNIPPET_CHARS`] characters; of anything else
    /// (an HTML error page, plain text) its title, first heading or first words, at most
    /// [`ParseError::PAGE_EXCERPT_CHARS`] characters.
    pub snippet: String,
}

impl ParseError {
    /// The most characters an error keeps of a body, and of a JSON body in particular,
    /// whose keys and values are the information.
    pub const SNIPPET_CHARS: usize = snippet::JSON_CHARS;

    /// The most characters an error keeps of a body that is not JSON: a proxy's error
    /// page is mostly markup around one line, its title (`503 Service Unavailable`),
    /// which is all a log line or an error message needs.
    pub const PAGE_EXCERPT_CHARS: usize = snippet::PAGE_CHARS;

    pub(crate) fn new(status: StatusCode, body: &[u8]) -> Self {
        Self {
            status,
            snippet: snippet(body),
        }
    }
}

/// How the transport failed to carry a request, as reported by an adapter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransportErrorKind {
    /// No connection could be made.
    Connect,
    /// The connect or request timeout passed.
    Timeout,
    /// The connection closed or reset before a full answer arrived.
    Closed,
    /// The answer's body was larger than the adapter reads.
    BodyTooLarge,
    /// The request cannot be sent as built: the HTTP client cannot express its URL or a
    /// header, or a stand-in for one (a printer of requests) cannot take it. Sending it
    /// again cannot help, so it is not retried.
    InvalidRequest,
    /// Anything else the HTTP client reported.
    Other,
}

/// A failure below HTTP: the request may or may not have reached the server.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind:?}: {message}")]
pub struct TransportError {
    /// What kind of failure it was.
    pub kind: TransportErrorKind,
    /// The HTTP client's description.
    pub message: String,
    /// The answer's status, when the failure came after the answer's head (a body over
    /// the cap, a body cut short): a delivery then decides by the status, so that a 400
    /// whose body could not be read is still a final 400.
    pub status: Option<StatusCode>,
}

impl TransportErrorKind {
    /// The kind an I/O failure of `kind` stands for, if it stands for one: what adapters
    /// find at the bottom of their HTTP client's error chains.
    ///
    /// ```
    /// use std::io::ErrorKind;
    /// use alias_core::driver::TransportErrorKind;
    ///
    /// assert_eq!(TransportErrorKind::from_io(ErrorKind::ConnectionReset), Some(TransportErrorKind::Closed));
    /// assert_eq!(TransportErrorKind::from_io(ErrorKind::InvalidData), None);
    /// ```
    pub fn from_io(kind: std::io::ErrorKind) -> Option<Self> {
        use std::io::ErrorKind;
        match kind {
            ErrorKind::TimedOut => Some(Self::Timeout),
            ErrorKind::ConnectionRefused
            | ErrorKind::HostUnreachable
            | ErrorKind::NetworkUnreachable => Some(Self::Connect),
            ErrorKind::ConnectionReset
            | ErrorKind::ConnectionAborted
            | ErrorKind::BrokenPipe
            | ErrorKind::NotConnected
            | ErrorKind::UnexpectedEof => Some(Self::Closed),
            _ => None,
        }
    }
}

impl TransportError {
    /// Describes a transport failure.
    pub fn new(kind: TransportErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            status: None,
        }
    }

    /// The same failure, after an answer whose head had `status`.
    pub fn after_status(mut self, status: StatusCode) -> Self {
        self.status = Some(status);
        self
    }

    /// Describes a transport failure by an HTTP client's error, naming every link of its
    /// source chain: HTTP clients often say only "error sending request" at the top.
    ///
    /// ```
    /// use alias_core::{driver::TransportError, driver::TransportErrorKind};
    ///
    /// #[derive(Debug, thiserror::Error)]
    /// #[error("error sending request")]
    /// struct Sending(#[source] std::io::Error);
    ///
    /// let cause = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset by peer");
    /// let error = TransportError::from_chain(TransportErrorKind::Closed, &Sending(cause));
    /// assert_eq!(error.message, "error sending request: reset by peer");
    /// ```
    pub fn from_chain(kind: TransportErrorKind, error: &(dyn std::error::Error + 'static)) -> Self {
        let mut message = error.to_string();
        let mut source = error.source();
        while let Some(cause) = source {
            message.push_str(": ");
            message.push_str(&cause.to_string());
            source = cause.source();
        }
        Self {
            kind,
            message,
            status: None,
        }
    }

    /// An answer with `status` whose body is over `limit` bytes, the adapter's read cap.
    pub fn body_too_large(status: StatusCode, limit: usize) -> Self {
        Self::new(
            TransportErrorKind::BodyTooLarge,
            format!("the answer's body is over {limit} bytes"),
        )
        .after_status(status)
    }
}

/// An alias, among several handed over at once, that cannot be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("alias #{index}: {error}")]
pub struct EncodeError {
    /// The alias's 0-based position in the input.
    pub index: usize,
    /// What is wrong with it.
    pub error: ValidationError,
}
