//! Transport security: https by default and for real, plain http only to this machine
//! unless explicitly allowed. (That no redirect carries credentials elsewhere is in
//! hostile_answers.rs.)

use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use alias_core::{
    AliasOutcome, ApiHost, Config, CreateAlias, Credentials, DeliveryError, Endpoint, Token,
    driver::TransportLimits, wire::ConfigError, wire::Region, wire::RetryPolicy, wire::TrackBody,
};
use alias_server::DEFAULT_TOKEN;
use alias_tests::adapter::Adapter;
use alias_tests::raw_server::RawServer;

fn token() -> Token {
    Token::new(DEFAULT_TOKEN).unwrap()
}

#[test]
fn every_request_goes_over_https_unless_a_host_says_otherwise() {
    let link = [CreateAlias::from_ids("anon-1", "user-1").unwrap()];
    let mut configs = vec![Config::new(token())];
    for region in [Region::Us, Region::Eu, Region::In] {
        for body in [
            TrackBody::FormJson,
            TrackBody::FormBase64,
            TrackBody::JsonArray,
        ] {
            configs.push(
                Config::builder(token())
                    .region(region)
                    .track_body(body)
                    .build(),
            );
        }
        configs.push(
            Config::builder(token())
                .region(region)
                .endpoint(Endpoint::Import(Credentials::ProjectToken))
                .build(),
        );
    }
    assert_eq!(
        Config::new(token()).api_host().to_string(),
        "https://api.mixpanel.com"
    );
    for config in configs {
        let batches = config.encode(&link, SystemTime::now()).unwrap();
        let uri = batches[0].request.uri();
        assert_eq!(uri.scheme_str(), Some("https"), "{uri}");
    }
}

#[test]
fn plain_http_is_refused_for_any_host_but_this_machine() {
    let refused = [
        "http://10.0.0.1",
        "HTTP://api.mixpanel.com",
        "http://127.0.0.1.example.com",
        "http://localhost.example.com",
        "http://0.0.0.0:8080",
        "http://[::ffff:7f00:1]",
        "http://127.1",
    ];
    for url in refused {
        assert_eq!(
            ApiHost::custom(url),
            Err(ConfigError::InsecureHttp {
                url: url.to_owned()
            }),
            "{url}"
        );
        // Allowed only when asked for by name.
        let allowed = ApiHost::insecure_http(url).unwrap();
        assert!(!allowed.is_loopback(), "{url}");
    }
    for url in [
        "http://127.0.0.1:9",
        "http://127.3.2.1",
        "http://LocalHost:1",
        "http://[::1]:9",
    ] {
        assert!(ApiHost::custom(url).unwrap().is_loopback(), "{url}");
    }
}

/// A peer that speaks plain HTTP where the client was told https: it must see a TLS
/// handshake, never the request, and the client must fail rather than fall back.
fn https_is_never_downgraded(adapter: Adapter) {
    let first_bytes = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&first_bytes);
    let server = RawServer::start(move |exchange| {
        if let Some(bytes) = exchange.read_bytes() {
            seen.lock().unwrap().push(bytes);
        }
        let _ = exchange.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n1");
    });
    let url = format!("https://127.0.0.1:{}", server.port());
    let config = Config::builder(token())
        .api_host(ApiHost::custom(&url).unwrap())
        .retry_policy(RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::fast()
        })
        .build();

    let report = adapter
        .client(config, TransportLimits::default())
        .send(vec![CreateAlias::from_ids("anon-1", "user-1").unwrap()]);

    let AliasOutcome::Undelivered(undelivered) = &report.entries[0].outcome else {
        panic!("{adapter:?}: {report:?}");
    };
    assert!(
        matches!(undelivered.last_error, DeliveryError::Transport(_)),
        "{undelivered:?}"
    );
    // surf's rustls gives up on an IP address before its handshake, so nothing may arrive
    // at all; whatever does arrive must be TLS.
    for bytes in first_bytes.lock().unwrap().iter() {
        // 0x16: a TLS handshake record.
        assert_eq!(
            bytes.first(),
            Some(&0x16),
            "{adapter:?}: {:?}",
            String::from_utf8_lossy(bytes)
        );
    }
}

alias_tests::adapter_suite!(https_is_never_downgraded);

#[test]
fn the_cli_refuses_plain_http_elsewhere_and_defaults_to_https() {
    let cli = alias_tests::cli::build_binary(false).expect("mixpanel-alias builds");
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.csv");
    std::fs::write(&input, "distinct_id,alias\nanon-1,user-1\n").unwrap();
    let create = ["create", "--distinct-id", "anon-1", "--alias", "user-1"];
    let import = ["import", input.to_str().unwrap()];
    for command in [&create[..], &import[..]] {
        let output = Command::new(&cli)
            .args(command)
            .args(["--token", DEFAULT_TOKEN, "--api-host", "http://10.0.0.1"])
            .env_remove("RUST_LOG")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains("--api-host") && stderr.contains("https"),
            "{stderr}"
        );

        let output = Command::new(&cli)
            .args(command)
            .args(["--token", DEFAULT_TOKEN, "--dry-run", "--region", "eu"])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            stdout.contains("https://api-eu.mixpanel.com/track"),
            "{stdout}"
        );
        assert!(!stdout.contains("http://"), "{stdout}");
    }
}
