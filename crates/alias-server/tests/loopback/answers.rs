//! Each answer form, byte for byte, with its status and content type.

use std::io::{Read, Write};

use alias_core::http;
use alias_server::{
    DEFAULT_PROJECT_ID, DEFAULT_SERVICE_ACCOUNT_SECRET, DEFAULT_SERVICE_ACCOUNT_USER,
    DEFAULT_TOKEN, Server,
};
use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::json;

use crate::common::{
    Reply, alias_event, basic, client, get, import, post, post_form, post_json, send,
    strict_alias_event,
};

fn form(event: &serde_json::Value, params: &str) -> String {
    let data: String = form_urlencoded::byte_serialize(event.to_string().as_bytes()).collect();
    format!("data={data}{params}")
}

fn assert_reply(reply: &Reply, status: u16, content_type: &str, body: &str) {
    assert_eq!(reply.status, status, "{reply:?}");
    assert_eq!(
        reply.content_type.as_deref(),
        Some(content_type),
        "{reply:?}"
    );
    assert_eq!(reply.body, body);
}

#[test]
fn plain_one_and_zero() {
    let server = Server::start().unwrap();
    let reply = post_form(&server, "/track", &form(&alias_event("a", "b"), ""));
    assert_reply(&reply, 200, "text/plain", "1");
    let no_token =
        json!({"event": "$create_alias", "properties": {"distinct_id": "a", "alias": "b"}});
    let reply = post_form(&server, "/track", &form(&no_token, ""));
    assert_reply(&reply, 200, "text/plain", "0");
}

#[test]
fn verbose_success_and_missing_token() {
    let server = Server::start().unwrap();
    let reply = post_form(
        &server,
        "/track",
        &form(&alias_event("a", "b"), "&verbose=1"),
    );
    assert_reply(
        &reply,
        200,
        "application/json",
        r#"{"status":1,"error":null}"#,
    );
    for token in [json!(""), json!(null)] {
        let mut event = alias_event("a", "b");
        event["properties"]["token"] = token;
        let reply = post_form(&server, "/track", &form(&event, "&verbose=1"));
        assert_reply(
            &reply,
            200,
            "application/json",
            r#"{"status":0,"error":"token, missing or empty"}"#,
        );
    }
    assert_eq!(server.events().len(), 1);
}

#[test]
fn verbose_refusals_of_undecodable_data_say_why() {
    let server = Server::start().unwrap();
    let reply = post_form(&server, "/track", "data=%%%%&verbose=1");
    assert_eq!(reply.status, 200);
    assert!(
        reply
            .body
            .starts_with(r#"{"status":0,"error":"data is neither JSON nor base64 of JSON"#),
        "{reply:?}"
    );
    let reply = post_form(&server, "/track", "verbose=1");
    assert_reply(
        &reply,
        200,
        "application/json",
        r#"{"status":0,"error":"data, missing or empty"}"#,
    );
}

#[test]
fn strict_success_and_partial_failure() {
    let server = Server::start().unwrap();
    let events = json!([
        strict_alias_event("a1", "b1", "id-1"),
        strict_alias_event("a2", "b2", "id-2")
    ]);
    let reply = import(&server, "strict=1", &events);
    assert_reply(
        &reply,
        200,
        "application/json",
        r#"{"code":200,"num_records_imported":2,"status":"OK"}"#,
    );

    let mut no_time = strict_alias_event("a3", "b3", "id-3");
    no_time["properties"]
        .as_object_mut()
        .unwrap()
        .remove("time");
    let mut no_insert_id = strict_alias_event("a4", "b4", "unused");
    no_insert_id["properties"]
        .as_object_mut()
        .unwrap()
        .remove("$insert_id");
    let events = json!([
        no_time,
        strict_alias_event("a5", "b5", "id-5"),
        no_insert_id,
        strict_alias_event("a6", "null", "id-6"),
    ]);
    let reply = import(&server, "strict=1", &events);
    assert_reply(
        &reply,
        400,
        "application/json",
        concat!(
            r#"{"code":400,"error":"some data points in the request failed validation","failed_records":["#,
            r#"{"index":0,"insert_id":"id-3","field":"properties.time","message":"'time' is missing"},"#,
            r#"{"index":2,"field":"properties.$insert_id","message":"'$insert_id' is missing"},"#,
            r#"{"index":3,"insert_id":"id-6","field":"properties.alias","message":"\"null\" is not allowed as an id of $create_alias (empty or a placeholder)"}],"#,
            r#""num_records_imported":1,"status":"Bad Request"}"#
        ),
    );
    // The partial success stored the good event.
    let aliases: Vec<_> = server
        .events()
        .iter()
        .map(|e| e.alias().unwrap().to_owned())
        .collect();
    assert_eq!(aliases, ["b1", "b2", "b5"]);
}

#[test]
fn unauthorized() {
    let server = Server::start().unwrap();
    let events = json!([strict_alias_event("a", "b", "x-1")]);
    let attempt = |authorization: Option<String>, query: &str| {
        let mut request = http::Request::post(format!("/import?{query}"));
        if let Some(authorization) = authorization {
            request = request.header("authorization", authorization);
        }
        send(
            &server,
            request.body(events.to_string().into_bytes()).unwrap(),
        )
    };
    let invalid = r#"{"code":401,"error":"Invalid credentials","status":"Unauthorized"}"#;
    let service_account = basic(&format!(
        "{DEFAULT_SERVICE_ACCOUNT_USER}:{DEFAULT_SERVICE_ACCOUNT_SECRET}"
    ));
    for (authorization, query) in [
        (None, "strict=1".to_owned()),
        (Some(basic("not-the-token:")), "strict=1".to_owned()),
        (Some("Bearer x".to_owned()), "strict=1".to_owned()),
        (
            Some(basic(&format!("{DEFAULT_SERVICE_ACCOUNT_USER}:wrong"))),
            format!("project_id={DEFAULT_PROJECT_ID}"),
        ),
        (Some(service_account.clone()), "project_id=999".to_owned()),
    ] {
        assert_reply(
            &attempt(authorization, &query),
            401,
            "application/json",
            invalid,
        );
    }
    assert_reply(
        &attempt(Some(service_account), "strict=1"),
        401,
        "application/json",
        r#"{"code":401,"error":"Unauthorized, invalid project secret","status":"Unauthorized"}"#,
    );
    assert!(server.events().is_empty());
}

#[test]
fn too_large_by_declared_length_by_stream_and_by_gzip_expansion() {
    let server = Server::builder().max_body_bytes(1000).start().unwrap();
    let expected = r#"{"code":413,"error":"request exceeds max limit of 1000 bytes","status":"Request Entity Too Large"}"#;

    let big = json!([alias_event("a", &"x".repeat(1200))]).to_string();
    assert_reply(
        &post(&server, "/track", "application/json", big.clone()),
        413,
        "application/json",
        expected,
    );

    // Chunked, so the server learns the size only while reading.
    let response = client()
        .post(format!("{}/track", server.url()))
        .body(reqwest::blocking::Body::new(std::io::Cursor::new(
            big.into_bytes(),
        )))
        .send()
        .unwrap();
    assert_eq!(response.status(), 413);
    assert_eq!(response.text().unwrap(), expected);

    let mut gzip = GzEncoder::new(Vec::new(), Compression::best());
    gzip.write_all(&vec![b' '; 100_000]).unwrap();
    let bomb = gzip.finish().unwrap();
    assert!(bomb.len() < 1000);
    let request = http::Request::post("/import")
        .header("content-encoding", "gzip")
        .header("authorization", basic(&format!("{DEFAULT_TOKEN}:")))
        .body(bomb)
        .unwrap();
    assert_reply(&send(&server, request), 413, "application/json", expected);
    assert_eq!(server.stats().events_received, 0);
}

#[test]
fn more_than_2000_events() {
    let server = Server::start().unwrap();
    let events: Vec<_> = (0..2001)
        .map(|i| alias_event("a", &format!("b{i}")))
        .collect();
    let reply = post_json(&server, "/track?verbose=1", &json!(events));
    assert_reply(
        &reply,
        200,
        "application/json",
        r#"{"status":0,"error":"the request has 2001 events; at most 2000 are allowed"}"#,
    );
    let reply = import(&server, "strict=1", &json!(events));
    assert_reply(
        &reply,
        400,
        "application/json",
        r#"{"code":400,"error":"the request has 2001 events; at most 2000 are allowed","status":"Bad Request"}"#,
    );
    assert!(server.events().is_empty());
}

#[test]
fn fault_answers() {
    let html = |code: &str| {
        format!(
            "<html>\r\n<head><title>{code}</title></head>\r\n<body>\r\n<center><h1>{code}</h1></center>\r\n</body>\r\n</html>\r\n"
        )
    };
    let cases = [
        ("500=1", 500, "application/json", r#"{"code":500,"error":"a temporary failure occurred","status":"Internal Server Error"}"#.to_owned()),
        ("502=1", 502, "text/html", html("502 Bad Gateway")),
        ("503=1", 503, "text/html", html("503 Service Unavailable")),
        ("429=1", 429, "application/json", r#"{"code":429,"error":"Project exceeded rate limits. Please retry the request with exponential backoff.","status":"Too Many Requests"}"#.to_owned()),
    ];
    for (spec, status, content_type, body) in cases {
        let server = Server::builder()
            .faults(spec.parse().unwrap())
            .start()
            .unwrap();
        let reply = post_form(
            &server,
            "/track",
            &form(&alias_event("a", "b"), "&verbose=1"),
        );
        assert_reply(&reply, status, content_type, &body);
        // Mixpanel documents no Retry-After: the server sends none unless told to.
        assert_eq!(reply.retry_after, None, "{spec}");
        assert!(server.events().is_empty(), "{spec}");
    }
}

#[test]
fn wrong_method_and_unknown_path() {
    let server = Server::start().unwrap();
    assert_eq!(get(&server, "/import").status, 405);
    assert_eq!(get(&server, "/engage").status, 404);
    // Raw, to see the exact status line of a request hyper cannot parse.
    let mut stream = std::net::TcpStream::connect(server.addr()).unwrap();
    stream
        .write_all(b"BREW /track HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
        .unwrap();
    let mut head = [0; 12];
    stream.read_exact(&mut head).unwrap();
    assert_eq!(&head, b"HTTP/1.1 405");
}

#[test]
fn a_server_clock_behind_refuses_events_from_its_future() {
    let server = Server::builder().clock_skew_secs(-7200).start().unwrap();
    let mut past = strict_alias_event("a1", "b1", "p-1");
    past["properties"]["time"] = json!(crate::common::now_secs() - 3 * 3600);
    let events = json!([strict_alias_event("a2", "b2", "f-1"), past]);
    let reply = import(&server, "strict=1", &events);
    assert_reply(
        &reply,
        400,
        "application/json",
        r#"{"code":400,"error":"some data points in the request failed validation","failed_records":[{"index":0,"insert_id":"f-1","field":"properties.time","message":"'time' is more than 1 hour in the future"}],"num_records_imported":1,"status":"Bad Request"}"#,
    );
    assert_eq!(server.events()[0].alias(), Some("b1"));
}

#[test]
fn a_server_clock_behind_overwrites_track_times_from_its_future() {
    let server = Server::builder().clock_skew_secs(-7200).start().unwrap();
    let now = crate::common::now_secs();
    let mut future = alias_event("a1", "b1");
    future["properties"]["time"] = json!(now);
    let mut past = alias_event("a2", "b2");
    past["properties"]["time"] = json!(now - 3 * 3600);
    let reply = post_json(&server, "/track?verbose=1", &json!([future, past]));
    assert_eq!(reply.body, r#"{"status":1,"error":null}"#);
    let times: Vec<u64> = server
        .events()
        .iter()
        .map(|e| e.time_millis().unwrap())
        .collect();
    // The server's clock reads about two hours ago: the event from its future now carries
    // the server's time, before the time sent and after the past one.
    assert!(times[0] < now * 1000 - 3600 * 1000, "{times:?}");
    assert!(times[0] > (now - 3 * 3600) * 1000, "{times:?}");
    assert_eq!(times[1], (now - 3 * 3600) * 1000);
}

#[test]
fn an_event_of_1_mib_or_more_is_refused_alone_in_each_style() {
    let server = Server::start().unwrap();
    let mut big = strict_alias_event("big-anon", "big-user", "big-1");
    big["properties"]["padding"] = json!("p".repeat(1024 * 1024));
    let small = strict_alias_event("small-anon", "small-user", "small-1");
    let message =
        |size: usize| format!("the event is {size} bytes of JSON; fewer than 1048576 are allowed");
    let size = big.to_string().len();

    let reply = post_json(&server, "/track", &json!([big]));
    assert_reply(&reply, 200, "text/plain", "0");
    let reply = post_json(&server, "/track?verbose=1", &json!([big]));
    assert_reply(
        &reply,
        200,
        "application/json",
        &format!(r#"{{"status":0,"error":"{}"}}"#, message(size)),
    );
    let reply = import(&server, "strict=1", &json!([small, big]));
    assert_reply(
        &reply,
        400,
        "application/json",
        &format!(
            r#"{{"code":400,"error":"some data points in the request failed validation","failed_records":[{{"index":1,"insert_id":"big-1","field":"properties","message":"{}"}}],"num_records_imported":1,"status":"Bad Request"}}"#,
            message(size)
        ),
    );
    let aliases: Vec<_> = server
        .events()
        .iter()
        .map(|e| e.alias().unwrap().to_owned())
        .collect();
    assert_eq!(aliases, ["small-user"]);
}
