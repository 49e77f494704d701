//! Translation between `http` values and reqwest's, and reqwest's errors into
//! [`TransportError`]s. Shared by the async and the blocking client.

use std::error::Error as StdError;
use std::io;

use alias_core::{driver::TransportError, driver::TransportErrorKind};
use http::{HeaderMap, Response, StatusCode, Version};

/// An answer from its parts.
pub(crate) fn assemble(
    status: StatusCode,
    version: Version,
    headers: HeaderMap,
    body: Vec<u8>,
) -> Response<Vec<u8>> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    *response.version_mut() = version;
    *response.headers_mut() = headers;
    response
}

/// A reqwest error (or an I/O error carrying one, as the blocking body reader returns) as a
/// transport error.
pub(crate) fn classify(error: &(dyn StdError + 'static)) -> TransportError {
    TransportError::from_chain(kind(error), error)
}

fn kind(error: &(dyn StdError + 'static)) -> TransportErrorKind {
    if let Some(error) = find::<reqwest::Error>(error) {
        // A request reqwest cannot build (a URL it refuses) fails the same way every time.
        if error.is_builder() {
            return TransportErrorKind::InvalidRequest;
        }
        // reqwest knows timeouts and connect failures wherever they sit in its chain.
        if error.is_timeout() {
            return TransportErrorKind::Timeout;
        }
        if error.is_connect() {
            return TransportErrorKind::Connect;
        }
    }
    let mut link = Some(error);
    while let Some(error) = link {
        if let Some(kind) = io_kind(error) {
            return kind;
        }
        if let Some(error) = error.downcast_ref::<hyper::Error>() {
            if error.is_timeout() {
                return TransportErrorKind::Timeout;
            }
            // The peer closed the connection before a whole answer came.
            if error.is_incomplete_message() || error.is_canceled() || error.is_closed() {
                return TransportErrorKind::Closed;
            }
        }
        link = error.source();
    }
    TransportErrorKind::Other
}

fn io_kind(error: &(dyn StdError + 'static)) -> Option<TransportErrorKind> {
    TransportErrorKind::from_io(error.downcast_ref::<io::Error>()?.kind())
}

/// The first error of type `E` in the chain, looking inside I/O errors that carry one.
fn find<'a, E: StdError + 'static>(error: &'a (dyn StdError + 'static)) -> Option<&'a E> {
    let mut link = Some(error);
    while let Some(error) = link {
        if let Some(found) = error.downcast_ref::<E>() {
            return Some(found);
        }
        if let Some(inner) = error
            .downcast_ref::<io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|inner| inner.downcast_ref::<E>())
        {
            return Some(inner);
        }
        link = error.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_kinds_map_to_transport_kinds() {
        for (io_kind, expected) in [
            (io::ErrorKind::ConnectionReset, TransportErrorKind::Closed),
            (io::ErrorKind::UnexpectedEof, TransportErrorKind::Closed),
            (io::ErrorKind::BrokenPipe, TransportErrorKind::Closed),
            (
                io::ErrorKind::ConnectionRefused,
                TransportErrorKind::Connect,
            ),
            (io::ErrorKind::TimedOut, TransportErrorKind::Timeout),
            (io::ErrorKind::InvalidData, TransportErrorKind::Other),
        ] {
            let error = io::Error::new(io_kind, "boom");
            assert_eq!(classify(&error).kind, expected, "{io_kind:?}");
        }
    }

    #[test]
    fn the_message_names_every_link_of_the_chain() {
        #[derive(Debug, thiserror::Error)]
        #[error("sending failed")]
        struct Outer(#[source] io::Error);
        let error = Outer(io::Error::new(
            io::ErrorKind::ConnectionReset,
            "reset by peer",
        ));
        let transport = classify(&error);
        assert_eq!(transport.kind, TransportErrorKind::Closed);
        assert_eq!(transport.message, "sending failed: reset by peer");
    }

    #[test]
    fn assembled_answers_keep_every_part() {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", "7".parse().unwrap());
        let response = assemble(
            StatusCode::TOO_MANY_REQUESTS,
            Version::HTTP_11,
            headers,
            b"{}".to_vec(),
        );
        assert_eq!(response.status(), 429);
        assert_eq!(response.version(), Version::HTTP_11);
        assert_eq!(response.headers()["retry-after"], "7");
        assert_eq!(response.body(), b"{}");
    }
}
