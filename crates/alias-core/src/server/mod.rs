//! The server side of the protocol (feature `server`): decode what clients send, encode
//! what Mixpanel answers.
//!
//! With this, a test peer or a proxy is a thin layer of I/O, and the client's encoder and
//! parser can be checked against their exact inverses: alias → request → decoded event, and
//! answer → response → [`Verdict`](crate::wire::Verdict).
//!
//! ```
//! use std::time::SystemTime;
//! use alias_core::server::{Answer, AnswerStyle, DecodeLimits, decode_request, encode_response};
//! use alias_core::{Config, CreateAlias, Token, wire::Verdict, wire::parse_response};
//!
//! let config = Config::new(Token::new("tok")?);
//! let batches = config.encode(&[CreateAlias::from_ids("anon-1", "user-1")?], SystemTime::now())?;
//! let decoded = decode_request(&batches[0].request, &DecodeLimits::default())?;
//! assert_eq!(decoded.records[0].as_event().and_then(|e| e.distinct_id()), Some("anon-1"));
//!
//! let answer = Answer::success(AnswerStyle::for_decoded(&decoded), 1);
//! assert_eq!(parse_response(&encode_response(&answer))?, Verdict::Accepted { imported: Some(1) });
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod answer;
mod auth;
mod body;
mod decode;
mod error;
mod json;
mod request;

pub use answer::{
    Answer, AnswerStyle, INVALID_CREDENTIALS, MISSING_TOKEN, RATE_LIMITED, VALIDATION_FAILED,
    encode_response,
};
pub use auth::BasicAuth;
pub use decode::{DecodeLimits, decode_request};
pub use error::DecodeError;
pub use request::{Api, DecodedRequest, Event, Params, Record, WireForm};
