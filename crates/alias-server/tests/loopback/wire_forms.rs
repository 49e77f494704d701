//! Every wire form the official SDKs and alias-core send is accepted and stored.

use std::time::SystemTime;

use alias_core::server::Event;
use alias_core::{
    ApiHost, Config, CreateAlias, Credentials, Endpoint, Secret, Token, http, wire::TrackBody,
    wire::Verdict, wire::parse_response,
};
use alias_server::{
    DEFAULT_PROJECT_ID, DEFAULT_PROJECT_SECRET, DEFAULT_SERVICE_ACCOUNT_SECRET,
    DEFAULT_SERVICE_ACCOUNT_USER, DEFAULT_TOKEN, Server,
};

use crate::common::{Reply, alias_event, basic, get, post, post_form, send};

fn ids(event: &Event) -> (Option<&str>, Option<&str>) {
    (event.distinct_id(), event.alias())
}

fn verdict(reply: &Reply) -> Verdict {
    let response = http::Response::builder()
        .status(reply.status)
        .body(reply.body.as_bytes())
        .unwrap();
    parse_response(&response).expect("a known answer")
}

#[test]
fn every_alias_core_form_with_and_without_gzip() {
    let server = Server::start().unwrap();
    let base = Config::builder(Token::new(DEFAULT_TOKEN).unwrap())
        .api_host(ApiHost::custom(server.url()).unwrap());
    let import = |credentials| base.clone().endpoint(Endpoint::Import(credentials));
    let configs = [
        base.clone().track_body(TrackBody::FormJson),
        base.clone().track_body(TrackBody::FormBase64),
        base.clone().track_body(TrackBody::JsonArray),
        base.clone().verbose(false),
        import(Credentials::ProjectToken),
        import(Credentials::ProjectSecret(
            Secret::new(DEFAULT_PROJECT_SECRET).unwrap(),
        )),
        import(
            Credentials::service_account(
                DEFAULT_SERVICE_ACCOUNT_USER,
                Secret::new(DEFAULT_SERVICE_ACCOUNT_SECRET).unwrap(),
                DEFAULT_PROJECT_ID,
            )
            .unwrap(),
        ),
    ];
    let mut expected = Vec::new();
    for (i, config) in configs.iter().enumerate() {
        for gzip in [false, true] {
            let links = [
                CreateAlias::from_ids(&format!("anon-{i}-{gzip}"), &format!("user {i} é+&=%"))
                    .unwrap(),
                CreateAlias::from_ids(&format!("anon2-{i}-{gzip}"), "🎉\"quoted\"").unwrap(),
            ];
            let config = config.clone().gzip(gzip).build();
            for batch in config.encode(&links, SystemTime::now()).unwrap() {
                let reply = send(&server, batch.request);
                let accepted = verdict(&reply);
                assert!(
                    matches!(accepted, Verdict::Accepted { .. }),
                    "{config:?}: {reply:?}"
                );
            }
            expected.extend(
                links
                    .iter()
                    .map(|l| (l.distinct_id().to_string(), l.alias().to_string())),
            );
        }
    }
    let stored: Vec<_> = server
        .events()
        .iter()
        .map(|e| {
            let (d, a) = ids(e);
            (d.unwrap().to_owned(), a.unwrap().to_owned())
        })
        .collect();
    assert_eq!(stored, expected);
    assert_eq!(server.stats().events_rejected, 0);
}

/// `/import` authenticates by its credentials and takes the project from them: an event
/// without a token, as `Config::import` sends it, is stored.
#[test]
fn import_takes_events_without_a_token_from_credentials_that_name_the_project() {
    let server = Server::start().unwrap();
    let host = ApiHost::custom(server.url()).unwrap();
    let account = Credentials::service_account(
        DEFAULT_SERVICE_ACCOUNT_USER,
        Secret::new(DEFAULT_SERVICE_ACCOUNT_SECRET).unwrap(),
        DEFAULT_PROJECT_ID,
    )
    .unwrap();
    let secret = Credentials::ProjectSecret(Secret::new(DEFAULT_PROJECT_SECRET).unwrap());
    for (i, credentials) in [account, secret].into_iter().enumerate() {
        let config = Config::builder_for_import(credentials)
            .unwrap()
            .api_host(host.clone())
            .build();
        let link = CreateAlias::from_ids(&format!("anon-{i}"), &format!("user-{i}")).unwrap();
        for batch in config.encode(&[link], SystemTime::now()).unwrap() {
            let reply = send(&server, batch.request);
            assert!(
                matches!(verdict(&reply), Verdict::Accepted { .. }),
                "{config:?}: {reply:?}"
            );
        }
    }
    let events = server.events();
    assert_eq!(events.len(), 2);
    assert!(
        events.iter().all(|event| event.token().is_none()),
        "{events:?}"
    );
    assert_eq!(server.identity("user-1").unwrap().canonical, "anon-1");
}

#[test]
fn python_form() {
    let server = Server::builder().token("py-token").start().unwrap();
    let reply = post_form(
        &server,
        "/track",
        "data=%7B%22event%22%3A%22%24create_alias%22%2C%22properties%22%3A%7B%22distinct_id%22%3A%22anon-7f3a%22%2C%22alias%22%3A%22Zo%5Cu00eb+%5Cud83c%5Cudf89+%2B1+%26+co%3D50%25%22%2C%22token%22%3A%22py-token%22%7D%7D&verbose=1&ip=0",
    );
    assert_eq!(reply.body, r#"{"status":1,"error":null}"#);
    assert_eq!(
        ids(&server.events()[0]),
        (Some("anon-7f3a"), Some("Zoë 🎉 +1 & co=50%"))
    );
}

#[test]
fn node_get_with_base64_data() {
    let server = Server::builder().token("node-token").start().unwrap();
    let reply = get(
        &server,
        "/track?ip=0&verbose=0&data=eyJldmVudCI6IiRjcmVhdGVfYWxpYXMiLCJwcm9wZXJ0aWVzIjp7ImRpc3RpbmN0X2lkIjoiZGV2aWNlOjAiLCJhbGlhcyI6ImpvK25vZGVAZXhhbXBsZS5jb20%2FPn4%2FPz4%2BIiwidG9rZW4iOiJub2RlLXRva2VuIiwibXBfbGliIjoibm9kZSIsIiRsaWJfdmVyc2lvbiI6IjAuMjQuMCJ9fQ%3D%3D",
    );
    // Node in default mode requires exactly `1`.
    assert_eq!(reply.body, "1");
    assert_eq!(
        ids(&server.events()[0]),
        (Some("device:0"), Some("jo+node@example.com?>~??>>"))
    );
}

#[test]
fn ruby_form_with_base64() {
    let server = Server::builder().token("ruby-token").start().unwrap();
    let reply = post_form(
        &server,
        "/track",
        "data=eyJldmVudCI6IiRjcmVhdGVfYWxpYXMiLCJwcm9wZXJ0aWVzIjp7ImRpc3RpbmN0X2lkIjoicnVieS1hbm9uIiwiYWxpYXMiOiLDvG7Dr2NvZGUgcsO8YnkiLCJ0b2tlbiI6InJ1YnktdG9rZW4ifX0%3D&verbose=1",
    );
    assert_eq!(reply.body, r#"{"status":1,"error":null}"#);
    assert_eq!(
        ids(&server.events()[0]),
        (Some("ruby-anon"), Some("ünïcode rüby"))
    );
}

#[test]
fn php_raw_base64_array() {
    let server = Server::builder().token("php-token").start().unwrap();
    let reply = post_form(
        &server,
        "/track",
        "data=W3siZXZlbnQiOiIkY3JlYXRlX2FsaWFzIiwicHJvcGVydGllcyI6eyJkaXN0aW5jdF9pZCI6InBocC1hbm9uLTEwMCIsImFsaWFzIjoicGhwQGV4YW1wbGUuY29tXC9+Pz4/Pz4+IiwidG9rZW4iOiJwaHAtdG9rZW4ifX1d",
    );
    assert_eq!(reply.body, "1");
    assert_eq!(
        ids(&server.events()[0]),
        (Some("php-anon-100"), Some("php@example.com/~?>??>>"))
    );
}

#[test]
fn go_raw_json_form_accepting_text() {
    let server = Server::builder().token("go-token").start().unwrap();
    let request = http::Request::post("/track")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "text/plain")
        .body(b"data=%7B%22event%22%3A%22%24create_alias%22%2C%22properties%22%3A%7B%22distinct_id%22%3A%22go%5Cu003canon%5Cu003e%22%2C%22alias%22%3A%22a%5Cu0026b%22%2C%22token%22%3A%22go-token%22%7D%7D".to_vec())
        .unwrap();
    let reply = send(&server, request);
    assert_eq!(reply.body, "1");
    assert_eq!(ids(&server.events()[0]), (Some("go<anon>"), Some("a&b")));
}

#[test]
fn json_body_on_track_and_ndjson_on_import_with_a_service_account() {
    let server = Server::start().unwrap();
    let events = serde_json::json!([alias_event("a1", "b1"), alias_event("a2", "b2")]);
    let reply = post(
        &server,
        "/track?verbose=1",
        "application/json",
        events.to_string(),
    );
    assert_eq!(reply.body, r#"{"status":1,"error":null}"#);

    let ndjson = format!(
        "{}\n{}\n",
        crate::common::strict_alias_event("a3", "b3", "n-1"),
        crate::common::strict_alias_event("a4", "b4", "n-2")
    );
    let request = http::Request::post(format!("/import?strict=1&project_id={DEFAULT_PROJECT_ID}"))
        .header("content-type", "application/x-ndjson")
        .header(
            "authorization",
            basic(&format!(
                "{DEFAULT_SERVICE_ACCOUNT_USER}:{DEFAULT_SERVICE_ACCOUNT_SECRET}"
            )),
        )
        .body(ndjson.into_bytes())
        .unwrap();
    let reply = send(&server, request);
    assert_eq!(
        reply.body,
        r#"{"code":200,"num_records_imported":2,"status":"OK"}"#
    );
    let aliases: Vec<_> = server
        .events()
        .iter()
        .map(|e| e.alias().unwrap().to_owned())
        .collect();
    assert_eq!(aliases, ["b1", "b2", "b3", "b4"]);
}

#[test]
fn a_path_prefix_is_served_like_the_root() {
    let server = Server::start().unwrap();
    let reply = post(
        &server,
        "/mixpanel/track/",
        "application/json",
        alias_event("p1", "p2").to_string(),
    );
    assert_eq!(reply.body, "1");
    assert_eq!(server.events().len(), 1);
}
