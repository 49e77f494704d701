//! Helpers shared by the loopback tests: a blocking client, answers as text, raw sockets.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::OnceLock;
use std::time::Duration;

use alias_core::http;
use alias_server::{DEFAULT_TOKEN, Server};
use serde_json::{Value, json};

/// An answer, reduced to what the tests compare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) content_type: Option<String>,
    pub(crate) retry_after: Option<String>,
    pub(crate) body: String,
}

/// One client for the whole test binary: building one starts a runtime thread.
pub(crate) fn client() -> &'static reqwest::blocking::Client {
    static CLIENT: OnceLock<reqwest::blocking::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("a client")
    })
}

fn reply(response: reqwest::blocking::Response) -> Reply {
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().expect("visible header").to_owned())
    };
    let (content_type, retry_after) = (header("content-type"), header("retry-after"));
    let status = response.status().as_u16();
    let body = response.text().expect("a readable body");
    Reply {
        status,
        content_type,
        retry_after,
        body,
    }
}

/// Sends an `http::Request` as built by alias-core (or by hand) to `server`, whatever host
/// its URI names.
pub(crate) fn try_send(
    server: &Server,
    request: http::Request<Vec<u8>>,
) -> Result<Reply, reqwest::Error> {
    let (parts, body) = request.into_parts();
    let path = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    let mut builder = client().request(parts.method, format!("{}{path}", server.url()));
    for (name, value) in &parts.headers {
        builder = builder.header(name, value);
    }
    builder.body(body).send().map(reply)
}

pub(crate) fn send(server: &Server, request: http::Request<Vec<u8>>) -> Reply {
    try_send(server, request).expect("an answer")
}

pub(crate) fn get(server: &Server, path: &str) -> Reply {
    send(server, http::Request::get(path).body(Vec::new()).unwrap())
}

pub(crate) fn post(
    server: &Server,
    path: &str,
    content_type: &str,
    body: impl Into<Vec<u8>>,
) -> Reply {
    send(
        server,
        http::Request::post(path)
            .header("content-type", content_type)
            .body(body.into())
            .unwrap(),
    )
}

pub(crate) fn post_form(server: &Server, path: &str, form: &str) -> Reply {
    post(server, path, "application/x-www-form-urlencoded", form)
}

pub(crate) fn post_json(server: &Server, path: &str, json: &Value) -> Reply {
    post(server, path, "application/json", json.to_string())
}

/// `/import` with the project token as the Basic user.
pub(crate) fn import(server: &Server, query: &str, events: &Value) -> Reply {
    send(
        server,
        http::Request::post(format!("/import?{query}"))
            .header("content-type", "application/json")
            .header("authorization", basic(&format!("{DEFAULT_TOKEN}:")))
            .body(events.to_string().into_bytes())
            .unwrap(),
    )
}

pub(crate) fn basic(credential: &str) -> String {
    use base64::Engine as _;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(credential)
    )
}

/// A `$create_alias` event for the default project.
pub(crate) fn alias_event(distinct_id: &str, alias: &str) -> Value {
    json!({"event": "$create_alias", "properties": {
        "distinct_id": distinct_id, "alias": alias, "token": DEFAULT_TOKEN}})
}

/// Same, with the fields strict `/import` needs.
pub(crate) fn strict_alias_event(distinct_id: &str, alias: &str, insert_id: &str) -> Value {
    let mut event = alias_event(distinct_id, alias);
    event["properties"]["time"] = json!(now_secs());
    event["properties"]["$insert_id"] = json!(insert_id);
    event
}

pub(crate) fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Posts one alias as `data=<JSON>` to `/track` with `verbose=1`, and expects success.
pub(crate) fn track_alias(server: &Server, distinct_id: &str, alias: &str) {
    let data = alias_event(distinct_id, alias).to_string();
    let form = format!(
        "data={}&verbose=1",
        form_urlencoded::byte_serialize(data.as_bytes()).collect::<String>()
    );
    let reply = post_form(server, "/track", &form);
    assert_eq!(reply.body, r#"{"status":1,"error":null}"#);
}

/// Writes raw bytes on a fresh connection and reads until the server closes it or
/// `wait` passes; returns what was read.
pub(crate) fn raw_exchange(server: &Server, bytes: &[u8], wait: Duration) -> String {
    let mut stream = TcpStream::connect(server.addr()).expect("connect");
    stream.set_read_timeout(Some(wait)).unwrap();
    // The server may close before reading everything; what it answered is still readable.
    let _ = stream.write_all(bytes);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

/// The JSON of an inspection endpoint.
pub(crate) fn inspect(server: &Server, path: &str) -> (u16, Value) {
    let reply = get(server, &format!("/_inspect/{path}"));
    (
        reply.status,
        serde_json::from_str(&reply.body).expect("inspection answers are JSON"),
    )
}
