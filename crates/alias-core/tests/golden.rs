//! Golden requests: every wire form, byte for byte.

use std::io::Read;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use alias_core::{
    ApiHost, Config, CreateAlias, Credentials, Endpoint, Secret, Token, ValidationError,
    wire::ConfigError, wire::EventName, wire::Field, wire::Link, wire::Problem, wire::Region,
    wire::TrackBody,
};
use base64::Engine as _;
use http::Request;

const NOW: Duration = Duration::from_secs(1_800_000_000);

fn now() -> SystemTime {
    UNIX_EPOCH + NOW
}

/// The seed page's example, with idempotent stamping off: the exact three properties.
fn seed_alias() -> CreateAlias {
    CreateAlias::from_ids("other_distinct_id", "your_id").unwrap()
}

fn config() -> Config {
    Config::new(Token::new("YOUR_PROJECT_TOKEN").unwrap())
}

/// The request as text: request line, headers in order, blank line, body.
fn render(request: &Request<Vec<u8>>) -> String {
    let mut text = format!("{} {}\n", request.method(), request.uri());
    for (name, value) in request.headers() {
        text.push_str(&format!("{name}: {}\n", value.to_str().unwrap()));
    }
    text.push('\n');
    text.push_str(&String::from_utf8_lossy(request.body()));
    text
}

fn one(config: &Config, alias: CreateAlias) -> Request<Vec<u8>> {
    let mut batches = config.encode(&[alias], now()).unwrap();
    assert_eq!(batches.len(), 1);
    batches.remove(0).request
}

const UA: &str = concat!("alias-core/", env!("CARGO_PKG_VERSION"));

/// With strict validation and idempotent stamping off, the request is the Python SDK's,
/// byte for byte; the defaults only add `time`, `$insert_id` and `strict=1` to it.
#[test]
fn track_form_json_matches_the_python_sdk() {
    let request = one(
        &config()
            .into_builder()
            .idempotent(false)
            .strict(false)
            .build(),
        seed_alias(),
    );
    let body = "data=%7B%22event%22%3A%22%24create_alias%22%2C%22properties%22%3A%7B%22distinct_id%22%3A%22other_distinct_id%22%2C%22alias%22%3A%22your_id%22%2C%22token%22%3A%22YOUR_PROJECT_TOKEN%22%7D%7D&verbose=1&ip=0";
    assert_eq!(
        render(&request),
        format!(
            "POST https://api.mixpanel.com/track\ncontent-type: application/x-www-form-urlencoded\naccept: application/json\nuser-agent: {UA}\ncontent-length: {}\n\n{body}",
            body.len()
        )
    );
    // The same bytes Python's `urlencode({"data": json.dumps(event, separators=(",", ":"))})`
    // produces for this event.
    let form: Vec<(String, String)> = serde_urlencoded::from_bytes(request.body()).unwrap();
    assert_eq!(
        form[0].1,
        r#"{"event":"$create_alias","properties":{"distinct_id":"other_distinct_id","alias":"your_id","token":"YOUR_PROJECT_TOKEN"}}"#
    );
}

#[test]
fn idempotent_default_adds_time_and_derived_insert_id() {
    let request = one(&config(), seed_alias());
    let form: Vec<(String, String)> = serde_urlencoded::from_bytes(request.body()).unwrap();
    assert_eq!(
        form[0].1,
        // The derived insert id is pinned: changing the derivation would break
        // deduplication between a run and its re-run.
        r#"{"event":"$create_alias","properties":{"distinct_id":"other_distinct_id","alias":"your_id","token":"YOUR_PROJECT_TOKEN","time":1800000000000,"$insert_id":"d37d44633d619b4df8dd02a3eaa71cff"}}"#
    );
    assert_eq!(form[1], ("verbose".to_owned(), "1".to_owned()));
    assert_eq!(form[2], ("ip".to_owned(), "0".to_owned()));
    assert_eq!(form[3], ("strict".to_owned(), "1".to_owned()));
}

#[test]
fn track_form_base64_matches_the_ruby_sdk() {
    let request = one(
        &config()
            .into_builder()
            .idempotent(false)
            .verbose(false)
            .strict(false)
            .track_body(TrackBody::FormBase64)
            .build(),
        seed_alias(),
    );
    let json = r#"{"event":"$create_alias","properties":{"distinct_id":"other_distinct_id","alias":"your_id","token":"YOUR_PROJECT_TOKEN"}}"#;
    let encoded: String = form_urlencoded::byte_serialize(
        base64::engine::general_purpose::STANDARD
            .encode(json)
            .as_bytes(),
    )
    .collect();
    let body = format!("data={encoded}&verbose=0&ip=0");
    assert_eq!(
        render(&request),
        format!(
            "POST https://api.mixpanel.com/track\ncontent-type: application/x-www-form-urlencoded\naccept: text/plain\nuser-agent: {UA}\ncontent-length: {}\n\n{body}",
            body.len()
        )
    );
}

#[test]
fn track_json_array_puts_parameters_in_the_query() {
    let two = [seed_alias(), CreateAlias::from_ids("d2", "a2").unwrap()];
    let config = config()
        .into_builder()
        .idempotent(false)
        .strict(true)
        .track_body(TrackBody::JsonArray)
        .build();
    let batches = config.encode(&two, now()).unwrap();
    let body = r#"[{"event":"$create_alias","properties":{"distinct_id":"other_distinct_id","alias":"your_id","token":"YOUR_PROJECT_TOKEN"}},{"event":"$create_alias","properties":{"distinct_id":"d2","alias":"a2","token":"YOUR_PROJECT_TOKEN"}}]"#;
    assert_eq!(
        render(&batches[0].request),
        format!(
            "POST https://api.mixpanel.com/track?verbose=1&ip=0&strict=1\ncontent-type: application/json\naccept: application/json\nuser-agent: {UA}\ncontent-length: {}\n\n{body}",
            body.len()
        )
    );
}

#[test]
fn several_aliases_on_a_form_go_as_an_array() {
    let two = [seed_alias(), CreateAlias::from_ids("d2", "a2").unwrap()];
    let batches = config()
        .into_builder()
        .idempotent(false)
        .build()
        .encode(&two, now())
        .unwrap();
    let form: Vec<(String, String)> =
        serde_urlencoded::from_bytes(batches[0].request.body()).unwrap();
    assert!(
        form[0].1.starts_with(r#"[{"event":"$create_alias""#),
        "{}",
        form[0].1
    );
    assert!(form[0].1.ends_with(r#""token":"YOUR_PROJECT_TOKEN"}}]"#));
}

fn import_config(credentials: Credentials) -> Config {
    config()
        .into_builder()
        .endpoint(Endpoint::Import(credentials))
        .build()
}

fn auth_of(request: &Request<Vec<u8>>) -> String {
    let value = &request.headers()["authorization"];
    assert!(
        value.is_sensitive(),
        "the Authorization header is marked sensitive"
    );
    let encoded = value.to_str().unwrap().strip_prefix("Basic ").unwrap();
    String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .unwrap(),
    )
    .unwrap()
}

#[test]
fn import_with_a_service_account() {
    let credentials = Credentials::service_account(
        "sa-user.123.mp-service-account",
        Secret::new("sa-secret").unwrap(),
        "4242",
    )
    .unwrap();
    let request = one(&import_config(credentials), seed_alias());
    assert_eq!(
        request.uri(),
        "https://api.mixpanel.com/import?strict=1&project_id=4242"
    );
    assert_eq!(
        auth_of(&request),
        "sa-user.123.mp-service-account:sa-secret"
    );
    assert_eq!(request.headers()["content-type"], "application/json");
    let events: serde_json::Value = serde_json::from_slice(request.body()).unwrap();
    let properties = &events[0]["properties"];
    assert_eq!(properties["time"], 1_800_000_000_000u64);
    assert_eq!(properties["$insert_id"].as_str().unwrap().len(), 32);
    // Idempotent stamping cannot be turned off for /import: strict mode needs both.
    let request = one(
        &import_config(Credentials::ProjectToken)
            .into_builder()
            .idempotent(false)
            .build(),
        seed_alias(),
    );
    let events: serde_json::Value = serde_json::from_slice(request.body()).unwrap();
    assert!(events[0]["properties"]["$insert_id"].is_string());
}

#[test]
fn import_with_the_project_token_or_secret() {
    let request = one(&import_config(Credentials::ProjectToken), seed_alias());
    assert_eq!(request.uri(), "https://api.mixpanel.com/import?strict=1");
    assert_eq!(auth_of(&request), "YOUR_PROJECT_TOKEN:");
    let request = one(
        &import_config(Credentials::ProjectSecret(
            Secret::new("proj-secret").unwrap(),
        ))
        .into_builder()
        .strict(false)
        .build(),
        seed_alias(),
    );
    assert_eq!(request.uri(), "https://api.mixpanel.com/import?strict=0");
    assert_eq!(auth_of(&request), "proj-secret:");
}

#[test]
fn gzip_compresses_the_same_body() {
    let plain = one(&config(), seed_alias());
    let zipped = one(&config().into_builder().gzip(true).build(), seed_alias());
    assert_eq!(zipped.headers()["content-encoding"], "gzip");
    assert_eq!(
        zipped.headers()["content-length"],
        zipped.body().len().to_string().as_str()
    );
    let mut unzipped = Vec::new();
    flate2::read::GzDecoder::new(zipped.body().as_slice())
        .read_to_end(&mut unzipped)
        .unwrap();
    assert_eq!(&unzipped, plain.body());
}

#[test]
fn regions_and_custom_hosts_select_the_url() {
    for (region, url) in [
        (Region::Us, "https://api.mixpanel.com/track"),
        (Region::Eu, "https://api-eu.mixpanel.com/track"),
        (Region::In, "https://api-in.mixpanel.com/track"),
    ] {
        assert_eq!(
            one(
                &config().into_builder().region(region).build(),
                seed_alias()
            )
            .uri(),
            url
        );
    }
    let host = ApiHost::custom("http://127.0.0.1:8080/mixpanel").unwrap();
    assert_eq!(
        one(
            &config().into_builder().api_host(host).build(),
            seed_alias()
        )
        .uri(),
        "http://127.0.0.1:8080/mixpanel/track"
    );
}

#[test]
fn unicode_and_reserved_url_characters_survive_the_form() {
    let alias = CreateAlias::from_ids("anon+1&x=2%3", "ünïcødé 🦀 \"quoted\"").unwrap();
    let request = one(&config().into_builder().idempotent(false).build(), alias);
    let form: Vec<(String, String)> = serde_urlencoded::from_bytes(request.body()).unwrap();
    assert_eq!(
        form.len(),
        4,
        "data, verbose, ip and strict: the reserved characters did not leak into the form"
    );
    let event: serde_json::Value = serde_json::from_str(&form[0].1).unwrap();
    assert_eq!(event["properties"]["distinct_id"], "anon+1&x=2%3");
    assert_eq!(event["properties"]["alias"], "ünïcødé 🦀 \"quoted\"");
}

fn association() -> Link {
    Link::Association {
        event: EventName::new("Identity Linked").unwrap(),
    }
}

#[test]
fn association_events_link_the_device_to_the_user_on_track() {
    let request = one(
        &config().into_builder().link(association()).build(),
        seed_alias(),
    );
    let form: Vec<(String, String)> = serde_urlencoded::from_bytes(request.body()).unwrap();
    assert_eq!(
        form[0].1,
        // The insert id is the pair's, as for $create_alias: the event name keeps the two
        // apart in Mixpanel's dedup key.
        r#"{"event":"Identity Linked","properties":{"distinct_id":"your_id","$device_id":"other_distinct_id","$user_id":"your_id","token":"YOUR_PROJECT_TOKEN","time":1800000000000,"$insert_id":"d37d44633d619b4df8dd02a3eaa71cff"}}"#
    );
}

#[test]
fn association_events_go_to_import_with_strict_fields() {
    let config = import_config(Credentials::ProjectToken)
        .into_builder()
        .link(association())
        .build();
    let request = one(
        &config,
        seed_alias().with_property("source", "crm").unwrap(),
    );
    assert_eq!(request.uri(), "https://api.mixpanel.com/import?strict=1");
    assert_eq!(
        String::from_utf8(request.body().clone()).unwrap(),
        r#"[{"event":"Identity Linked","properties":{"distinct_id":"your_id","$device_id":"other_distinct_id","$user_id":"your_id","token":"YOUR_PROJECT_TOKEN","time":1800000000000,"$insert_id":"d37d44633d619b4df8dd02a3eaa71cff","source":"crm"}}]"#
    );
}

fn service_account() -> Credentials {
    Credentials::service_account(
        "sa-user.123.mp-service-account",
        Secret::new("sa-secret").unwrap(),
        "4242",
    )
    .unwrap()
}

/// Without a token, `/import` takes the project from the credentials, and the events
/// carry only what Mixpanel's specification requires there: no `token` property.
#[test]
fn import_without_a_token_sends_events_without_one() {
    let config = Config::import(service_account()).unwrap();
    let request = one(&config, seed_alias());
    let body = r#"[{"event":"$create_alias","properties":{"distinct_id":"other_distinct_id","alias":"your_id","time":1800000000000,"$insert_id":"d37d44633d619b4df8dd02a3eaa71cff"}}]"#;
    let authorization = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD
            .encode("sa-user.123.mp-service-account:sa-secret")
    );
    assert_eq!(
        render(&request),
        format!(
            "POST https://api.mixpanel.com/import?strict=1&project_id=4242\ncontent-type: application/json\naccept: application/json\nuser-agent: {UA}\ncontent-length: {}\nauthorization: {authorization}\n\n{body}",
            body.len()
        )
    );

    let config = Config::builder_for_import(Credentials::ProjectSecret(
        Secret::new("proj-secret").unwrap(),
    ))
    .unwrap()
    .link(association())
    .build();
    let request = one(&config, seed_alias());
    assert_eq!(request.uri(), "https://api.mixpanel.com/import?strict=1");
    assert_eq!(auth_of(&request), "proj-secret:");
    assert_eq!(
        String::from_utf8(request.body().clone()).unwrap(),
        r#"[{"event":"Identity Linked","properties":{"distinct_id":"your_id","$device_id":"other_distinct_id","$user_id":"your_id","time":1800000000000,"$insert_id":"d37d44633d619b4df8dd02a3eaa71cff"}}]"#
    );
}

/// A configuration without a token cannot authenticate with it, nor send to `/track`:
/// refused when it is made, or, when the endpoint is changed afterwards, alias by alias
/// before anything is encoded.
#[test]
fn without_a_token_only_credentials_that_name_the_project_can_send() {
    let missing = |error: &ValidationError| {
        assert_eq!(error.field, Field::Token);
        assert!(matches!(error.problem, Problem::Missing { .. }), "{error}");
    };
    let Err(ConfigError::Invalid(error)) = Config::import(Credentials::ProjectToken) else {
        panic!("the project token credentials need a token");
    };
    missing(&error);
    assert!(
        error
            .to_string()
            .starts_with("properties.token is missing: "),
        "{error}"
    );
    for endpoint in [Endpoint::Track, Endpoint::Import(Credentials::ProjectToken)] {
        let config = Config::builder_for_import(service_account())
            .unwrap()
            .endpoint(endpoint)
            .build();
        let error = config.encode(&[seed_alias()], now()).unwrap_err();
        missing(&error.error);
    }
}
