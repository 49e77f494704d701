//! `--dry-run`: a transport that prints each request instead of sending it.
//!
//! The dry run goes through the same delivery as a real one (validation, batching, the
//! failures file), so what it prints is what would be sent. Its configuration holds
//! placeholders instead of the token and secrets (see [`crate::options`]), and the
//! `Authorization` value is masked on top, so no secret can reach the output.

use std::cell::RefCell;
use std::io::Write;

use alias_core::http::header::AUTHORIZATION;
use alias_core::http::{Request, Response};
use alias_core::{driver::TransportError, driver::TransportErrorKind};

use crate::options::REDACTED;

/// Writes each request to `out` and answers it with Mixpanel's plain "accepted" (`1`), which
/// every endpoint's parser reads as success.
#[derive(Debug)]
pub(crate) struct Printer<W> {
    out: RefCell<W>,
}

impl<W: Write> Printer<W> {
    /// A printer writing to `out`.
    pub(crate) fn new(out: W) -> Self {
        Self {
            out: RefCell::new(out),
        }
    }

    /// Prints `request` and answers it as Mixpanel answers an accepted one.
    pub(crate) fn print(
        &self,
        request: &Request<Vec<u8>>,
    ) -> Result<Response<Vec<u8>>, TransportError> {
        let mut out = self.out.borrow_mut();
        out.write_all(render(request).as_bytes())
            .and_then(|()| out.flush())
            .map_err(|e| {
                // Not retried: a closed or full output fails again on every try.
                TransportError::new(
                    TransportErrorKind::InvalidRequest,
                    format!("cannot print the request: {e}"),
                )
            })?;
        Ok(Response::new(b"1".to_vec()))
    }
}

/// The request as text: request line, headers (the `Authorization` value masked), a blank
/// line, the body as sent (or its length when it is not text), a blank line.
fn render(request: &Request<Vec<u8>>) -> String {
    let mut text = format!("{} {}\n", request.method(), request.uri());
    for (name, value) in request.headers() {
        let value = if name == AUTHORIZATION {
            let scheme = value
                .to_str()
                .ok()
                .and_then(|v| v.split_once(' '))
                .map_or("", |(scheme, _)| scheme);
            format!("{scheme} {REDACTED}")
        } else {
            String::from_utf8_lossy(value.as_bytes()).into_owned()
        };
        text.push_str(&format!("{name}: {value}\n"));
    }
    text.push('\n');
    match std::str::from_utf8(request.body()) {
        Ok(body) => text.push_str(body),
        Err(_) => text.push_str(&format!("<{} bytes, not text>", request.body().len())),
    }
    text.push_str("\n\n");
    text
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use alias_core::{Config, CreateAlias, Credentials, Endpoint, Secret, Token};

    use super::*;

    #[test]
    fn the_authorization_value_is_masked_and_the_rest_kept() {
        let config = Config::builder(Token::new("tok-visible").unwrap())
            .endpoint(Endpoint::Import(
                Credentials::service_account("sa", Secret::new("sa-visible").unwrap(), "7")
                    .unwrap(),
            ))
            .build();
        let alias = CreateAlias::from_ids("anon-1", "user-1").unwrap();
        let batches = config.encode(&[alias], SystemTime::now()).unwrap();
        let text = render(&batches[0].request);
        assert!(text.starts_with("POST https://api.mixpanel.com/import?strict=1&project_id=7\n"));
        assert!(text.contains("authorization: Basic <redacted>\n"), "{text}");
        assert!(
            text.contains(r#""distinct_id":"anon-1","alias":"user-1""#),
            "{text}"
        );
        // The Basic value is base64 of "sa:sa-visible"; neither form may show.
        assert!(
            !text.contains("sa-visible") && !text.contains("c2E6c2Et"),
            "{text}"
        );
    }

    #[test]
    fn printing_answers_accepted() {
        let printer = Printer::new(Vec::new());
        let request = Request::post("http://127.0.0.1/track")
            .body(vec![0xff, 0xfe])
            .unwrap();
        let answer = printer.print(&request).unwrap();
        assert_eq!(
            alias_core::wire::parse_response(&answer),
            Ok(alias_core::wire::Verdict::Accepted { imported: None })
        );
        let printed = String::from_utf8(printer.out.into_inner()).unwrap();
        assert_eq!(
            printed,
            "POST http://127.0.0.1/track\n\n<2 bytes, not text>\n\n"
        );
    }
}
