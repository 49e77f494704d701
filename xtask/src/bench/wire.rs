//! A minimal keep-alive HTTP/1.1 client over a std `TcpStream`.
//!
//! It measures the server's ceiling: with no HTTP stack, no runtime and nothing to encode,
//! what is left of a request's cost is the server's. It also carries the inspection calls.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;

use alias_core::http::{self, Request, Response, StatusCode, header};

/// One connection, reused request after request.
#[derive(Debug)]
pub(super) struct Connection {
    stream: BufReader<TcpStream>,
}

impl Connection {
    /// Connects to `authority` (`HOST:PORT`), with Nagle's algorithm off so that a request's
    /// head and body leave at once.
    pub(super) fn open(authority: &str) -> io::Result<Self> {
        let stream = TcpStream::connect(authority)?;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream: BufReader::new(stream),
        })
    }

    /// Sends `request` as it is (method, path, query, headers, body; `Host` and
    /// `Content-Length` added) and reads the answer, whose length must be declared.
    pub(super) fn send(&mut self, request: &Request<Vec<u8>>) -> io::Result<Response<Vec<u8>>> {
        self.write_request(request)?;
        self.read_response()
    }

    fn write_request(&mut self, request: &Request<Vec<u8>>) -> io::Result<()> {
        let uri = request.uri();
        let target = uri.path_and_query().map_or("/", |p| p.as_str());
        let host = uri.authority().map_or("", |a| a.as_str());
        let mut head =
            format!("{} {target} HTTP/1.1\r\nhost: {host}\r\n", request.method()).into_bytes();
        for (name, value) in request.headers() {
            head.extend_from_slice(name.as_str().as_bytes());
            head.extend_from_slice(b": ");
            head.extend_from_slice(value.as_bytes());
            head.extend_from_slice(b"\r\n");
        }
        if !request.headers().contains_key(header::CONTENT_LENGTH) {
            head.extend_from_slice(
                format!("content-length: {}\r\n", request.body().len()).as_bytes(),
            );
        }
        head.extend_from_slice(b"\r\n");
        let stream = self.stream.get_mut();
        stream.write_all(&head)?;
        stream.write_all(request.body())
    }

    fn read_response(&mut self) -> io::Result<Response<Vec<u8>>> {
        let mut line = String::new();
        self.read_line(&mut line)?;
        let status = line
            .split(' ')
            .nth(1)
            .and_then(|code| StatusCode::from_bytes(code.as_bytes()).ok())
            .ok_or_else(|| invalid(format!("not an HTTP status line: {line:?}")))?;
        let mut response = Response::new(Vec::new());
        *response.status_mut() = status;
        loop {
            line.clear();
            self.read_line(&mut line)?;
            let field = line.trim_end();
            if field.is_empty() {
                break;
            }
            let (name, value) = field
                .split_once(':')
                .ok_or_else(|| invalid(format!("not a header line: {field:?}")))?;
            let name = http::HeaderName::from_bytes(name.trim().as_bytes()).map_err(invalid)?;
            let value = http::HeaderValue::from_str(value.trim()).map_err(invalid)?;
            response.headers_mut().append(name, value);
        }
        let length: usize = response
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok()?.parse().ok())
            .ok_or_else(|| invalid("the answer has no Content-Length"))?;
        let body = response.body_mut();
        body.resize(length, 0);
        self.stream.read_exact(body)?;
        Ok(response)
    }

    fn read_line(&mut self, line: &mut String) -> io::Result<()> {
        if self.stream.read_line(line)? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        Ok(())
    }
}

fn invalid(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, error)
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;
    use std::thread;

    use super::*;

    /// A peer that reads two requests on one connection and answers each: the client
    /// keeps the connection and frames both directions by their declared lengths.
    fn peer(listener: TcpListener) -> Vec<String> {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream);
        let mut seen = Vec::new();
        for answer in ["1", r#"{"status":1,"error":null}"#] {
            let mut head = String::new();
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                if line == "\r\n" {
                    break;
                }
                head.push_str(&line);
            }
            let length: usize = head
                .lines()
                .find_map(|line| line.strip_prefix("content-length: "))
                .unwrap()
                .parse()
                .unwrap();
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            seen.push(head + &String::from_utf8(body).unwrap());
            let reply = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n\r\n{answer}",
                answer.len()
            );
            reader.get_mut().write_all(reply.as_bytes()).unwrap();
        }
        seen
    }

    #[test]
    fn two_requests_travel_on_one_connection() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let authority = listener.local_addr().unwrap().to_string();
        let peer = thread::spawn(move || peer(listener));
        let mut connection = Connection::open(&authority).unwrap();
        let post = Request::post(format!("http://{authority}/track?verbose=1"))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(b"data=%7B%7D".to_vec())
            .unwrap();
        let first = connection.send(&post).unwrap();
        assert_eq!(first.status(), StatusCode::OK);
        assert_eq!(first.body(), b"1");
        let get = Request::get(format!("http://{authority}/_inspect/stats"))
            .body(Vec::new())
            .unwrap();
        let second = connection.send(&get).unwrap();
        assert_eq!(second.headers()[header::CONTENT_TYPE], "text/plain");
        assert_eq!(second.body(), br#"{"status":1,"error":null}"#);

        let seen = peer.join().unwrap();
        assert_eq!(
            seen[0],
            format!(
                "POST /track?verbose=1 HTTP/1.1\r\nhost: {authority}\r\n\
                 content-type: application/x-www-form-urlencoded\r\n\
                 content-length: 11\r\ndata=%7B%7D"
            )
        );
        assert_eq!(
            seen[1],
            format!("GET /_inspect/stats HTTP/1.1\r\nhost: {authority}\r\ncontent-length: 0\r\n")
        );
    }
}
