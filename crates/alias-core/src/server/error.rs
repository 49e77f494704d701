//! Why a request cannot be decoded.

/// A request that is not a usable ingestion call. Each message says what is wrong, so that
/// a server can hand it back to the client as the error of its answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The path ends neither with `/track` nor with `/import`.
    #[error(
        "path {path:?} is not an ingestion endpoint: expected one ending with /track or /import"
    )]
    UnknownPath {
        /// The request's path.
        path: String,
    },
    /// The endpoint does not take this method (`/track` takes GET and POST, `/import` POST).
    #[error("{method} is not allowed on {endpoint}")]
    MethodNotAllowed {
        /// The request's method.
        method: String,
        /// The endpoint's path, `/track` or `/import`.
        endpoint: &'static str,
    },
    /// The body is compressed in a way this decoder does not read.
    #[error("Content-Encoding {encoding:?} is not supported: send identity or gzip")]
    UnsupportedEncoding {
        /// The `Content-Encoding` given.
        encoding: String,
    },
    /// The body, once decompressed, is larger than the limit.
    #[error("request exceeds max limit of {limit} bytes")]
    TooLarge {
        /// The limit in force, in uncompressed bytes.
        limit: usize,
    },
    /// The body says it is gzip but is not a valid gzip stream.
    #[error("the gzip body cannot be decompressed: {reason}")]
    BadGzip {
        /// The decompressor's description.
        reason: String,
    },
    /// No events: no `data` parameter and no body.
    #[error("data, missing or empty")]
    MissingData,
    /// `data` is neither JSON nor base64 of JSON.
    #[error("data is neither JSON nor base64 of JSON: {reason}")]
    BadBase64 {
        /// The base64 decoder's description.
        reason: String,
    },
    /// The events are not valid JSON.
    #[error("the events are not valid JSON (line {line}, column {column}): {reason}")]
    BadJson {
        /// 1-based line of the error in the decoded JSON text.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// The JSON parser's description.
        reason: String,
    },
    /// The JSON nests arrays and objects deeper than the limit.
    #[error("the events nest arrays and objects deeper than {max_depth} levels")]
    TooDeep {
        /// The deepest nesting allowed.
        max_depth: usize,
    },
    /// The `Authorization` header is present but not a readable HTTP Basic credential.
    #[error("the Authorization header is not usable: {reason}")]
    BadAuthorization {
        /// What is wrong with it.
        reason: &'static str,
    },
}
