//! Aliases into `http::Request<Vec<u8>>` values.
//!
//! Each event is serialized to JSON once ([`EncodedEvent`]); request bodies are then built
//! by streaming those bytes through the body form's encoders (form-urlencoding, base64,
//! gzip) with no intermediate copy of the whole JSON document. A retry or a split batch
//! reuses the same event bytes, so the server sees byte-identical events every time.

use std::io::{self, Write};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use flate2::Compression;
use flate2::write::GzEncoder;
use http::header::{self, HeaderValue};
use http::{Method, Request};

use crate::error::{Field, Problem, ValidationError};
use crate::wire::config::{Config, Endpoint, TrackBody};
use crate::wire::create_alias::{CreateAlias, EARLIEST_TIME, millis};
use crate::wire::credentials::Credentials;
use crate::wire::event_bytes::{
    FormEncoder, event_json_len_hint, form_encode_in_place, write_event_json,
};
use crate::wire::secret::Token;

/// The `User-Agent` of every request: this crate and its version.
pub const USER_AGENT: &str = concat!("alias-core/", env!("CARGO_PKG_VERSION"));

/// Mixpanel refuses a single event of 1 MB or more.
pub const MAX_EVENT_BYTES: usize = 1024 * 1024;

/// One event, encoded once and reused by every request that carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EncodedEvent {
    /// The event as it stands in the body: form-urlencoded JSON for [`TrackBody::FormJson`]
    /// (so a body is only copies of these), JSON for the other forms.
    bytes: Vec<u8>,
    /// The length of the event's JSON.
    json_len: usize,
}

impl EncodedEvent {
    /// Checks the time window and the size, and serializes `alias`. When the configuration
    /// asks for idempotent delivery, an alias without a time or insert id is encoded with
    /// the ones [`CreateAlias::stamp`] would give it (the delivery stamps its own copy
    /// first, so that the report holds what was sent).
    pub(crate) fn prepare(
        config: &Config,
        alias: &CreateAlias,
        now: SystemTime,
    ) -> Result<Self, ValidationError> {
        let stamps = config.stamps_events().then(|| alias.stamps(now));
        if let Some(time) = stamps.as_ref().map(|(t, _)| *t).or(alias.time()) {
            check_time_window(config, time, now)?;
        }
        let token = config.event_token()?;
        let form = body_form(config);
        let json_hint = event_json_len_hint(alias, &config.link, token);
        // Room for the form's longest encoding, so that neither step grows the buffer.
        let mut bytes = Vec::with_capacity(if form == BodyForm::FormJson {
            json_hint * 3 + 1
        } else {
            json_hint
        });
        let stamps = stamps.as_ref().map(|(time, id)| (*time, id.as_ref()));
        write_event_json(alias, &config.link, token, stamps, &mut bytes);
        let json_len = bytes.len();
        if form == BodyForm::FormJson {
            // In one go: the JSON arrives in some twenty small writes.
            form_encode_in_place(&mut bytes, 0);
            // The event is held until it is answered, through retries maybe: the room the
            // encoding did not use goes back (in place, without a copy).
            bytes.shrink_to_fit();
        }
        let event = Self { bytes, json_len };
        let alone = body_overhead(config) + event.cost(form);
        if event.json_len >= MAX_EVENT_BYTES || alone > config.batch_limits.max_body_bytes {
            return Err(ValidationError::new(
                Field::Event,
                Problem::TooLarge {
                    bytes: alone.max(event.json_len),
                    max: MAX_EVENT_BYTES.min(config.batch_limits.max_body_bytes),
                },
            ));
        }
        Ok(event)
    }
}

fn check_time_window(
    config: &Config,
    time: SystemTime,
    now: SystemTime,
) -> Result<(), ValidationError> {
    let window = config.time_window();
    let at = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let now_since_epoch = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let earliest = now_since_epoch
        .saturating_sub(window.past)
        .max(EARLIEST_TIME);
    let latest = now_since_epoch.saturating_add(window.future);
    if at < earliest || at > latest {
        return Err(ValidationError::new(
            Field::Time,
            Problem::OutsideWindow {
                millis: millis(at),
                window: window.description,
            },
        ));
    }
    Ok(())
}

/// What a body holds besides its events: brackets and the form parameters.
pub(crate) fn body_overhead(config: &Config) -> usize {
    match body_form(config) {
        BodyForm::Json => 2,
        BodyForm::FormJson => "data=%5B%5D&".len() + form_params_len(config),
        BodyForm::FormBase64 => "data=&".len() + 4 + form_params_len(config),
    }
}

impl EncodedEvent {
    /// The bytes this event adds to a body of `form`, its separator included.
    fn cost(&self, form: BodyForm) -> usize {
        match form {
            BodyForm::Json => self.bytes.len() + 1,
            BodyForm::FormJson => self.bytes.len() + 3,
            // Base64 grows by 4/3; about one character in 32 is a `+` or `/` that the form
            // escapes into three.
            BodyForm::FormBase64 => (self.json_len + 1).div_ceil(3) * 4 * 17 / 16 + 1,
        }
    }

    /// [`EncodedEvent::cost`] under `config`'s body form.
    pub(crate) fn cost_in(&self, config: &Config) -> usize {
        self.cost(body_form(config))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyForm {
    Json,
    FormJson,
    FormBase64,
}

fn body_form(config: &Config) -> BodyForm {
    match (&config.endpoint, config.track_body) {
        (Endpoint::Import(_), _) | (Endpoint::Track, TrackBody::JsonArray) => BodyForm::Json,
        (Endpoint::Track, TrackBody::FormJson) => BodyForm::FormJson,
        (Endpoint::Track, TrackBody::FormBase64) => BodyForm::FormBase64,
    }
}

/// A lone event on a `/track` form goes as a bare object, as the Python and Ruby SDKs send
/// it; everything else is an array.
fn wraps_in_array(config: &Config, events: usize) -> bool {
    events != 1 || body_form(config) == BodyForm::Json
}

/// The `/track` parameters: `verbose`, `ip`, and `strict` when asked for.
fn form_params(config: &Config) -> String {
    let mut params = format!(
        "verbose={}&ip={}",
        u8::from(config.verbose),
        u8::from(config.geolocate_by_ip)
    );
    if config.strict() {
        params.push_str("&strict=1");
    }
    params
}

/// `form_params(config).len()`, without building the string.
fn form_params_len(config: &Config) -> usize {
    "verbose=0&ip=0".len()
        + if config.strict() {
            "&strict=1".len()
        } else {
            0
        }
}

fn import_query(config: &Config, credentials: &Credentials) -> String {
    let mut query = format!("strict={}", u8::from(config.strict()));
    if let Credentials::ServiceAccount { project_id, .. } = credentials {
        query.push_str("&project_id=");
        query.extend(form_urlencoded::byte_serialize(project_id.as_bytes()));
    }
    query
}

/// Writes the events as one JSON document (an array, or the lone object), in the
/// representation they are stored in: `separators` are the bracket and comma bytes of
/// that representation.
fn write_document(
    out: &mut impl Write,
    events: &[EncodedEvent],
    array: bool,
    separators: [&[u8]; 3],
) -> io::Result<()> {
    let [open, comma, close] = separators;
    if array {
        out.write_all(open)?;
    }
    for (i, event) in events.iter().enumerate() {
        if i > 0 {
            out.write_all(comma)?;
        }
        out.write_all(&event.bytes)?;
    }
    if array {
        out.write_all(close)?;
    }
    Ok(())
}

const JSON_SEPARATORS: [&[u8]; 3] = [b"[", b",", b"]"];
const FORM_SEPARATORS: [&[u8]; 3] = [b"%5B", b"%2C", b"%5D"];

/// A request ready to send, and the uncompressed length of its body.
#[derive(Debug)]
pub(crate) struct EncodedRequest {
    pub(crate) request: Request<Vec<u8>>,
    pub(crate) uncompressed_len: usize,
}

/// Builds the request carrying `events`, whose uncompressed body is about `size_hint`
/// bytes long (the batch's running estimate: exact but for a few bytes in the JSON forms,
/// an estimate for base64, whose `+` and `/` escapes depend on the whole document).
pub(crate) fn encode_batch(
    config: &Config,
    events: &[EncodedEvent],
    size_hint: usize,
) -> EncodedRequest {
    let array = wraps_in_array(config, events.len());
    let mut body = Vec::with_capacity(size_hint);
    // Writing into a Vec (directly or through the encoders) cannot fail.
    let written: io::Result<()> = (|| match body_form(config) {
        BodyForm::Json => write_document(&mut body, events, array, JSON_SEPARATORS),
        BodyForm::FormJson => {
            body.extend_from_slice(b"data=");
            write_document(&mut body, events, array, FORM_SEPARATORS)?;
            finish_form(config, &mut body);
            Ok(())
        }
        BodyForm::FormBase64 => {
            body.extend_from_slice(b"data=");
            let mut base64 = base64::write::EncoderWriter::new(FormEncoder(&mut body), &STANDARD);
            write_document(&mut base64, events, array, JSON_SEPARATORS)?;
            base64.finish()?;
            drop(base64);
            finish_form(config, &mut body);
            Ok(())
        }
    })();
    debug_assert!(written.is_ok());
    let uncompressed_len = body.len();
    let body = if config.gzip { gzip(&body) } else { body };
    EncodedRequest {
        request: build_request(config, body),
        uncompressed_len,
    }
}

fn finish_form(config: &Config, body: &mut Vec<u8>) {
    body.push(b'&');
    body.extend_from_slice(form_params(config).as_bytes());
}

fn gzip(body: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::with_capacity(body.len() / 4 + 64), Compression::fast());
    let written = encoder.write_all(body);
    debug_assert!(written.is_ok());
    encoder.finish().unwrap_or_default()
}

fn build_request(config: &Config, body: Vec<u8>) -> Request<Vec<u8>> {
    let (uri, content_type, accept) = match &config.endpoint {
        Endpoint::Track => {
            let accept = if config.verbose || config.strict() {
                "application/json"
            } else {
                "text/plain"
            };
            match body_form(config) {
                BodyForm::Json => (
                    config.api_host.uri("/track", &form_params(config)),
                    "application/json",
                    accept,
                ),
                _ => (
                    config.api_host.uri("/track", ""),
                    "application/x-www-form-urlencoded",
                    accept,
                ),
            }
        }
        Endpoint::Import(credentials) => (
            config
                .api_host
                .uri("/import", &import_query(config, credentials)),
            "application/json",
            "application/json",
        ),
    };
    let mut builder = Request::builder()
        .method(Method::POST)
        .uri(uri)
        .header(header::CONTENT_TYPE, content_type)
        .header(header::ACCEPT, accept)
        .header(header::USER_AGENT, USER_AGENT)
        .header(header::CONTENT_LENGTH, body.len());
    if config.gzip {
        builder = builder.header(header::CONTENT_ENCODING, "gzip");
    }
    if let Endpoint::Import(credentials) = &config.endpoint {
        builder = builder.header(header::AUTHORIZATION, basic_auth(config, credentials));
    }
    builder
        .body(body)
        .unwrap_or_else(|_| unreachable!("method, URI and headers are all built from valid parts"))
}

fn basic_auth(config: &Config, credentials: &Credentials) -> HeaderValue {
    let (user, password) = match credentials {
        Credentials::ServiceAccount { user, secret, .. } => (user.as_str(), secret.expose()),
        // A configuration without a token never gets here: every event of it is refused
        // before encoding (see `Config::event_token`), so no request is built.
        Credentials::ProjectToken => (config.token.as_ref().map_or("", Token::expose), ""),
        Credentials::ProjectSecret(secret) => (secret.expose(), ""),
    };
    let encoded = STANDARD.encode(format!("{user}:{password}"));
    let mut value = HeaderValue::try_from(format!("Basic {encoded}"))
        .unwrap_or_else(|_| unreachable!("base64 is always a valid header value"));
    // Keeps the value out of `Debug` output and out of HTTP/2 header compression tables.
    value.set_sensitive(true);
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_params_length_is_computed_without_building() {
        let base = Config::builder(Token::new("t").unwrap());
        for config in [
            base.clone().build(),
            base.clone().strict(false).build(),
            base.verbose(false).geolocate_by_ip(true).build(),
        ] {
            assert_eq!(form_params_len(&config), form_params(&config).len());
        }
    }
}
