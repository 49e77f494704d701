//! Encode, decode, parse and delivery costs, each encode beside its naive two-step baseline.

use std::hint::black_box;
use std::io::Write as _;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use alias_core::server::{DecodeLimits, decode_request};
use alias_core::{
    Config, CreateAlias, Credentials, Endpoint, Token, delivery::Delivery, delivery::Input,
    wire::TrackBody, wire::parse_response,
};
use base64::Engine as _;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use flate2::Compression;
use flate2::write::GzEncoder;
use serde::Serialize;

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_800_000_000)
}

fn aliases(n: usize) -> Vec<CreateAlias> {
    (0..n)
        .map(|i| {
            CreateAlias::from_ids(
                &format!("anon-{i:08}-{}", i * 7919),
                &format!("user-{i}@example.com"),
            )
            .expect("valid ids")
        })
        .collect()
}

fn config() -> Config {
    Config::new(Token::new("0123456789abcdef0123456789abcdef").expect("token"))
}

/// The event as the naive way builds it: the same properties, serialized in one go.
#[derive(Serialize)]
struct NaiveEvent<'a> {
    event: &'static str,
    properties: NaiveProperties<'a>,
}

#[derive(Serialize)]
struct NaiveProperties<'a> {
    distinct_id: &'a str,
    alias: &'a str,
    token: &'a str,
    time: u64,
    #[serde(rename = "$insert_id")]
    insert_id: String,
}

/// The body the naive way builds it: `serde_json::to_vec` of the events (an array, or the
/// lone object a `/track` form carries alone), then the body form on top of that buffer,
/// then gzip of the whole body.
fn naive_body(aliases: &[CreateAlias], body: TrackBody, gzip: bool) -> Vec<u8> {
    let events: Vec<NaiveEvent<'_>> = aliases
        .iter()
        .map(|a| NaiveEvent {
            event: "$create_alias",
            properties: NaiveProperties {
                distinct_id: a.distinct_id().as_str(),
                alias: a.alias().as_str(),
                token: "0123456789abcdef0123456789abcdef",
                time: 1_800_000_000_000,
                insert_id: alias_core::InsertId::derive(a.distinct_id(), a.alias()).to_string(),
            },
        })
        .collect();
    let json = match events.as_slice() {
        [lone] if body != TrackBody::JsonArray => serde_json::to_vec(lone),
        all => serde_json::to_vec(all),
    }
    .expect("serializable");
    let form = |data: &[u8]| {
        let mut out = b"data=".to_vec();
        out.extend(form_urlencoded::byte_serialize(data).flat_map(str::bytes));
        out.extend_from_slice(b"&verbose=1&ip=0&strict=1");
        out
    };
    let plain = match body {
        TrackBody::JsonArray => json,
        TrackBody::FormJson => form(&json),
        TrackBody::FormBase64 => form(
            base64::engine::general_purpose::STANDARD
                .encode(&json)
                .as_bytes(),
        ),
    };
    if gzip {
        // The level the core compresses at, so that only the way of building differs.
        let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
        encoder.write_all(&plain).expect("in memory");
        encoder.finish().expect("in memory")
    } else {
        plain
    }
}

/// The body forms, by bench name.
const FORMS: [(&str, TrackBody); 3] = [
    ("form_json", TrackBody::FormJson),
    ("form_base64", TrackBody::FormBase64),
    ("json_array", TrackBody::JsonArray),
];

fn import_config() -> Config {
    config()
        .into_builder()
        .endpoint(Endpoint::Import(Credentials::ProjectToken))
        .build()
}

/// The one request `config` makes of `aliases`.
fn one_request(config: &Config, aliases: &[CreateAlias]) -> http::Request<Vec<u8>> {
    let mut batches = config.encode(aliases, now()).expect("valid");
    assert_eq!(batches.len(), 1, "every bench input fits one request");
    batches.remove(0).request
}

/// Each encode bench beside its naive baseline, which builds the same bytes (checked here,
/// so that the ratio compares like with like). An `/import` body is a `/track` JSON array
/// body, so `naive/json_array` is the baseline of `import/json_array` too.
fn encode(c: &mut Criterion) {
    for n in [1, 50, 2000] {
        let input = aliases(n);
        let mut group = c.benchmark_group(format!("encode/{n}"));
        group.throughput(Throughput::Elements(n as u64));
        for (name, form) in FORMS {
            assert_eq!(
                one_request(&config().into_builder().track_body(form).build(), &input).body(),
                &naive_body(&input, form, false),
                "{name}: the baseline builds the same body"
            );
            for gzip in [false, true] {
                let config = config().into_builder().track_body(form).gzip(gzip).build();
                let label = if gzip {
                    format!("{name}+gzip")
                } else {
                    name.to_owned()
                };
                group.bench_function(BenchmarkId::new("track", &label), |b| {
                    b.iter(|| config.encode(black_box(&input), now()).expect("valid"))
                });
                group.bench_function(BenchmarkId::new("naive", &label), |b| {
                    b.iter(|| naive_body(black_box(&input), form, gzip))
                });
            }
        }
        assert_eq!(
            one_request(&import_config(), &input).body(),
            &naive_body(&input, TrackBody::JsonArray, false),
            "import: the baseline builds the same body"
        );
        for gzip in [false, true] {
            let config = import_config().into_builder().gzip(gzip).build();
            let label = if gzip {
                "json_array+gzip"
            } else {
                "json_array"
            };
            group.bench_function(BenchmarkId::new("import", label), |b| {
                b.iter(|| config.encode(black_box(&input), now()).expect("valid"))
            });
        }
        group.finish();
    }
}

/// The server side: a 2000-alias request of each form back into events.
fn decode(c: &mut Criterion) {
    let input = aliases(2000);
    let limits = DecodeLimits::default();
    let mut group = c.benchmark_group("decode/2000");
    group.throughput(Throughput::Elements(2000));
    let configs = FORMS
        .map(|(name, form)| {
            (
                format!("track/{name}"),
                config().into_builder().track_body(form).build(),
            )
        })
        .into_iter()
        .chain([(
            "track/form_json+gzip".to_owned(),
            config().into_builder().gzip(true).build(),
        )])
        .chain([("import/json_array".to_owned(), import_config())]);
    for (name, config) in configs {
        let request = one_request(&config, &input);
        assert_eq!(
            decode_request(&request, &limits)
                .expect("decodes")
                .records
                .len(),
            2000
        );
        group.bench_function(name, |b| {
            b.iter(|| decode_request(black_box(&request), &limits).expect("decodes"))
        });
    }
    group.finish();
}

fn response(status: u16, body: Vec<u8>) -> http::Response<Vec<u8>> {
    http::Response::builder()
        .status(status)
        .body(body)
        .expect("valid response")
}

fn parse(c: &mut Criterion) {
    let failed: Vec<String> = (0..2000)
        .map(|i| format!(r#"{{"index":{i},"insert_id":"id-{i}","field":"properties.time","message":"'properties.time' is invalid: must be specified"}}"#))
        .collect();
    let strict_400 = format!(
        r#"{{"code":400,"error":"some data points in the request failed validation","failed_records":[{}],"num_records_imported":0,"status":"Bad Request"}}"#,
        failed.join(",")
    );
    let cases = [
        ("plain", response(200, b"1".to_vec())),
        (
            "verbose",
            response(200, br#"{"status":1,"error":null}"#.to_vec()),
        ),
        (
            "strict_200",
            response(
                200,
                br#"{"code":200,"num_records_imported":2000,"status":"OK"}"#.to_vec(),
            ),
        ),
        (
            "strict_400_2000_failed",
            response(400, strict_400.into_bytes()),
        ),
    ];
    let mut group = c.benchmark_group("parse");
    for (name, answer) in &cases {
        group.bench_function(*name, |b| {
            b.iter(|| parse_response(black_box(answer)).expect("known"))
        });
    }
    group.finish();
}

fn delivery_round(c: &mut Criterion) {
    let input = aliases(2000);
    let ok = response(200, br#"{"status":1,"error":null}"#.to_vec());
    let mut group = c.benchmark_group("delivery");
    group.throughput(Throughput::Elements(2000));
    group.bench_function("round/2000", |b| {
        b.iter(|| {
            let start = Instant::now();
            let mut delivery = Delivery::new(config(), start, now(), 1);
            for alias in input.iter().cloned() {
                delivery.handle_input(Input::Alias(alias, now()), start);
            }
            delivery.handle_input(Input::Ended, start);
            let outgoing = delivery.poll_transmit(start).expect("one batch is ready");
            delivery.handle_answer(outgoing.id, Ok(ok.clone()), start);
            black_box(std::iter::from_fn(|| delivery.poll_finished()).collect::<Vec<_>>())
        })
    });
    group.finish();
}

criterion_group!(benches, encode, decode, parse, delivery_round);
criterion_main!(benches);
