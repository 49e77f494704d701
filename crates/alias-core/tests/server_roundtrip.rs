//! The server side is the exact inverse of the client side:
//! alias → `Config::encode` → `decode_request` gives back the same event, and
//! answer → `encode_response` → `parse_response` gives the verdict the answer means.
//! Hostile input into either decoder never panics.
#![cfg(feature = "server")]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use alias_core::http::{Method, Request, Response, StatusCode, header};
use alias_core::server::{
    Answer, AnswerStyle, DecodeError, DecodeLimits, decode_request, encode_response,
};
use alias_core::{
    ApiHost, Config, CreateAlias, Credentials, Endpoint, InsertId, Secret, Token,
    wire::FailedRecord, wire::RetryAfter, wire::TEMPORARY_FAILURE, wire::TrackBody, wire::Verdict,
    wire::parse_response,
};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use proptest::prelude::*;

/// Ids as users write them: letters, quotes, the form and URL metacharacters, non-ASCII,
/// emoji, white space inside; or exactly 255 bytes of multi-byte characters.
fn id() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-zA-Z0-9 \"'+&=%/?#;:\\\\\n\t.@é中文🎉😀\u{7f}-]{1,40}",
        1 => (0_usize..=63).prop_map(|emoji| {
            let mut id = "🎉".repeat(emoji);
            while id.len() < 255 {
                id.push('+');
            }
            id
        }),
    ]
}

fn alias() -> impl Strategy<Value = CreateAlias> {
    let insert_id = proptest::option::of("[a-zA-Z0-9-]{1,36}");
    let seconds_ago = proptest::option::of(0_u64..3 * 24 * 3600);
    (id(), id(), insert_id, seconds_ago).prop_filter_map(
        "ids Mixpanel accepts, distinct from each other",
        |(distinct_id, alias, insert_id, seconds_ago)| {
            let mut link = CreateAlias::from_ids(&distinct_id, &alias).ok()?;
            if let Some(insert_id) = insert_id {
                link = link.with_insert_id(InsertId::new(insert_id).ok()?);
            }
            if let Some(ago) = seconds_ago {
                link = link.with_time(now() - Duration::from_secs(ago)).ok()?;
            }
            Some(link)
        },
    )
}

/// A token without `:`, since it travels as a Basic user name for `/import`.
fn token() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 +&=%é🎉_-]{1,32}".prop_filter("not blank", |t| !t.trim().is_empty())
}

#[derive(Debug, Clone)]
enum Wire {
    Track(TrackBody),
    ServiceAccount,
    ProjectToken,
    ProjectSecret,
}

fn wire() -> impl Strategy<Value = Wire> {
    prop_oneof![
        Just(Wire::Track(TrackBody::FormJson)),
        Just(Wire::Track(TrackBody::FormBase64)),
        Just(Wire::Track(TrackBody::JsonArray)),
        Just(Wire::ServiceAccount),
        Just(Wire::ProjectToken),
        Just(Wire::ProjectSecret),
    ]
}

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(1_750_000_000_123)
}

fn millis(time: SystemTime) -> u64 {
    u64::try_from(time.duration_since(UNIX_EPOCH).unwrap().as_millis()).unwrap()
}

fn config(token: &str, wire: &Wire, gzip: bool, verbose: bool) -> Config {
    let base = Config::builder(Token::new(token).unwrap())
        .api_host(ApiHost::custom("http://127.0.0.1:9/prefix").unwrap())
        .gzip(gzip)
        .verbose(verbose);
    let built = match wire {
        Wire::Track(body) => base.track_body(*body),
        Wire::ServiceAccount => base.endpoint(Endpoint::Import(
            Credentials::service_account("sa.user", Secret::new("sa:secret").unwrap(), "4242")
                .unwrap(),
        )),
        Wire::ProjectToken => base.endpoint(Endpoint::Import(Credentials::ProjectToken)),
        Wire::ProjectSecret => base.endpoint(Endpoint::Import(Credentials::ProjectSecret(
            Secret::new("project-secret").unwrap(),
        ))),
    };
    built.build()
}

proptest! {
    #[test]
    fn aliases_survive_encode_then_decode(
        aliases in proptest::collection::vec(alias(), 1..5),
        token in token(),
        wire in wire(),
        gzip in any::<bool>(),
        verbose in any::<bool>(),
    ) {
        let config = config(&token, &wire, gzip, verbose);
        let batches = config.encode(&aliases, now()).unwrap();
        let mut decoded_events = Vec::new();
        for batch in &batches {
            let decoded = decode_request(&batch.request, &DecodeLimits::default()).unwrap();
            prop_assert_eq!(decoded.gzip, gzip);
            prop_assert_eq!(decoded.records.len(), batch.aliases.len());
            match &wire {
                Wire::Track(_) => {
                    prop_assert!(decoded.auth.is_none());
                    prop_assert_eq!(decoded.params.verbose, verbose);
                }
                Wire::ServiceAccount => {
                    let auth = decoded.auth.as_ref().unwrap();
                    prop_assert_eq!(auth.user(), "sa.user");
                    prop_assert_eq!(auth.password().map(Secret::expose), Some("sa:secret"));
                    prop_assert_eq!(decoded.params.project_id.as_deref(), Some("4242"));
                }
                Wire::ProjectToken => {
                    let auth = decoded.auth.as_ref().unwrap();
                    prop_assert_eq!(auth.user(), token.as_str());
                    prop_assert!(auth.password().is_none());
                }
                Wire::ProjectSecret => {
                    let auth = decoded.auth.as_ref().unwrap();
                    prop_assert_eq!(auth.user(), "project-secret");
                    prop_assert!(auth.password().is_none());
                }
            }
            decoded_events.extend(decoded.records.into_iter().map(|r| r.as_event().cloned().unwrap()));
        }
        prop_assert_eq!(decoded_events.len(), aliases.len());
        for (sent, got) in aliases.iter().zip(&decoded_events) {
            prop_assert_eq!(got.event.as_str(), "$create_alias");
            prop_assert_eq!(got.distinct_id(), Some(sent.distinct_id().as_str()));
            prop_assert_eq!(got.alias(), Some(sent.alias().as_str()));
            prop_assert_eq!(got.token(), Some(token.as_str()));
            let insert_id = sent
                .insert_id()
                .cloned()
                .unwrap_or_else(|| InsertId::derive(sent.distinct_id(), sent.alias()));
            prop_assert_eq!(got.insert_id(), Some(insert_id.as_str()));
            prop_assert_eq!(got.time_millis(), Some(millis(sent.time().unwrap_or(now()))));
        }
    }

    #[test]
    fn answers_survive_encode_then_parse(answer in answer()) {
        let response = encode_response(&answer);
        prop_assert_eq!(parse_response(&response), Ok(expected_verdict(&answer)));
    }

    #[test]
    fn arbitrary_requests_never_panic(
        get in any::<bool>(),
        path in "(/[a-z_]{0,8}){0,3}(/track|/import|/)?/?",
        query in proptest::collection::vec(any::<u8>(), 0..200),
        body in proptest::collection::vec(any::<u8>(), 0..2000),
        content_type in header_value(),
        encoding in header_value(),
        authorization in header_value(),
    ) {
        let query = form_urlencoded::byte_serialize(&query).collect::<String>();
        let mut builder = Request::builder()
            .method(if get { Method::GET } else { Method::POST })
            .uri(format!("{path}?data={query}"));
        for (name, value) in [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_ENCODING, encoding),
            (header::AUTHORIZATION, authorization),
        ] {
            if let Some(value) = value {
                builder = builder.header(name, value);
            }
        }
        if let Ok(request) = builder.body(body) {
            let decoded = decode_request(&request, &DecodeLimits { max_body_bytes: 1500, max_depth: 8 });
            let _ = AnswerStyle::for_undecodable(&request);
            if let Err(error) = decoded {
                prop_assert!(!error.to_string().is_empty());
            }
        }
    }

    #[test]
    fn arbitrary_bodies_never_panic_in_any_json_position(
        body in proptest::collection::vec(any::<u8>(), 0..2000),
        form in 0_u8..4,
    ) {
        let mut bytes = match form {
            0 => b"data=".to_vec(),
            1 => b"data=[".to_vec(),
            2 => b"[{\"event\":\"e\",\"properties\":".to_vec(),
            _ => Vec::new(),
        };
        bytes.extend_from_slice(&body);
        let request = Request::post("/import").body(bytes).unwrap();
        let _ = decode_request(&request, &DecodeLimits::default());
    }

    #[test]
    fn arbitrary_responses_never_panic(
        status in 100_u16..1000,
        body in proptest::collection::vec(any::<u8>(), 0..500),
        retry_after in header_value(),
    ) {
        let mut response = Response::new(body);
        if let Ok(status) = StatusCode::from_u16(status) {
            *response.status_mut() = status;
        }
        if let Some(value) = retry_after.and_then(|v| v.parse().ok()) {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        let _ = parse_response(&response);
    }
}

/// Header values worth trying: absent, known ones, and arbitrary visible text.
fn header_value() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        Just(Some("application/x-www-form-urlencoded".to_owned())),
        Just(Some("application/json".to_owned())),
        Just(Some("application/x-ndjson".to_owned())),
        Just(Some("gzip".to_owned())),
        Just(Some(format!("Basic {}", STANDARD.encode("user:pass")))),
        "[ -~]{0,40}".prop_map(Some),
    ]
}

/// Objects naming an event, objects naming none, and plain strings (all `None` but the
/// message), as Simplified ID Merge answers them.
fn failed_record() -> impl Strategy<Value = FailedRecord> {
    (
        proptest::option::of(0_usize..2000),
        proptest::option::of("[a-zA-Z0-9-]{1,36}"),
        proptest::option::of("properties\\.[a-z$_]{1,12}"),
        "[ -~é🎉]{0,40}",
    )
        .prop_map(|(index, insert_id, field, message)| FailedRecord {
            index,
            insert_id,
            field,
            message,
        })
}

fn message() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(TEMPORARY_FAILURE.to_owned()),
        "[ -~é🎉\"\\\\\n]{1,60}".prop_filter("not blank", |m| !m.trim().is_empty()),
    ]
}

fn answer() -> impl Strategy<Value = Answer> {
    prop_oneof![
        any::<bool>().prop_map(Answer::Plain),
        proptest::option::of(message()).prop_map(|error| Answer::Verbose { error }),
        any::<u64>().prop_map(|n| Answer::Imported {
            num_records_imported: n
        }),
        (
            any::<u64>(),
            proptest::collection::vec(failed_record(), 1..5)
        )
            .prop_map(|(n, failed_records)| Answer::ValidationFailed {
                num_records_imported: n,
                failed_records,
            }),
        Just(Answer::identity_events_not_allowed()),
        message().prop_map(|error| Answer::BadRequest { error }),
        message().prop_map(|error| Answer::Unauthorized { error }),
        any::<usize>().prop_map(|limit| Answer::TooLarge { limit }),
        proptest::option::of(0_u64..100_000)
            .prop_map(|retry_after_secs| Answer::RateLimited { retry_after_secs }),
        (500_u16..600).prop_map(|s| Answer::ServerError {
            status: StatusCode::from_u16(s).unwrap()
        }),
        (500_u16..600).prop_map(|s| Answer::ProxyError {
            status: StatusCode::from_u16(s).unwrap()
        }),
    ]
}

/// Text from the server as a client shows it: control characters escaped.
fn printable(text: &str) -> String {
    alias_core::wire::escape_controls(text).into_owned()
}

/// What each answer means to a client, written from the facts sheet rather than from the
/// parser.
fn expected_verdict(answer: &Answer) -> Verdict {
    match answer {
        Answer::Plain(true) | Answer::Verbose { error: None } => {
            Verdict::Accepted { imported: None }
        }
        Answer::Plain(false) => Verdict::Rejected {
            status: StatusCode::OK,
            message: "Mixpanel answered 0: one or more events are invalid".into(),
        },
        Answer::Verbose { error: Some(error) } if error == TEMPORARY_FAILURE => Verdict::Retry {
            status: StatusCode::OK,
            retry_after: None,
            message: error.clone(),
        },
        Answer::Verbose { error: Some(error) } => Verdict::Rejected {
            status: StatusCode::OK,
            message: printable(error),
        },
        Answer::Imported {
            num_records_imported,
        } => Verdict::Accepted {
            imported: Some(*num_records_imported),
        },
        Answer::ValidationFailed {
            num_records_imported,
            failed_records,
        } => Verdict::PartiallyRejected {
            imported: Some(*num_records_imported),
            failed: failed_records
                .iter()
                .map(|record| FailedRecord {
                    index: record.index,
                    insert_id: record.insert_id.as_deref().map(printable),
                    field: record.field.as_deref().map(printable),
                    message: printable(&record.message),
                })
                .collect(),
        },
        Answer::BadRequest { error } => Verdict::Rejected {
            status: StatusCode::BAD_REQUEST,
            message: printable(error),
        },
        Answer::Unauthorized { error } => Verdict::Rejected {
            status: StatusCode::UNAUTHORIZED,
            message: printable(error),
        },
        Answer::TooLarge { limit } => Verdict::TooLarge {
            message: format!("request exceeds max limit of {limit} bytes"),
        },
        Answer::RateLimited { retry_after_secs } => Verdict::Retry {
            status: StatusCode::TOO_MANY_REQUESTS,
            retry_after: retry_after_secs.map(|secs| RetryAfter::Delay(Duration::from_secs(secs))),
            message:
                "Project exceeded rate limits. Please retry the request with exponential backoff."
                    .into(),
        },
        Answer::ServerError { status } => Verdict::Retry {
            status: *status,
            retry_after: None,
            message: TEMPORARY_FAILURE.into(),
        },
        // The page's title, which is all an error keeps of a page.
        Answer::ProxyError { status } => Verdict::Retry {
            status: *status,
            retry_after: None,
            message: format!(
                "{} {}",
                status.as_u16(),
                status.canonical_reason().unwrap_or("Error")
            ),
        },
    }
}

#[test]
fn a_hundred_thousand_nested_brackets_are_an_error_in_every_form() {
    let deep = "[".repeat(100_000);
    let encoded = form_urlencoded::byte_serialize(deep.as_bytes()).collect::<String>();
    // A URI holds at most 64 KiB, so the query carries 40,000 brackets, as base64.
    let query = STANDARD.encode("[".repeat(40_000));
    let requests = [
        Request::get(format!("/track?data={query}"))
            .body(Vec::new())
            .unwrap(),
        Request::post("/track")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(format!("data={encoded}").into_bytes())
            .unwrap(),
        Request::post("/track")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(format!("data={}", STANDARD.encode(&deep)).into_bytes())
            .unwrap(),
        Request::post("/import")
            .body(deep.clone().into_bytes())
            .unwrap(),
    ];
    let limits = DecodeLimits::default();
    for request in requests {
        assert_eq!(
            decode_request(&request, &limits),
            Err(DecodeError::TooDeep {
                max_depth: limits.max_depth
            })
        );
    }
    // Above serde_json's own bound, its recursion limit answers instead: still an error.
    let request = Request::post("/import").body(deep.into_bytes()).unwrap();
    let lenient = DecodeLimits {
        max_depth: usize::MAX,
        ..limits
    };
    assert!(matches!(
        decode_request(&request, &lenient),
        Err(DecodeError::BadJson { .. })
    ));
}
