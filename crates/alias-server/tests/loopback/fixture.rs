//! The server as a test fixture: a client configured by `Server::config` reaches it with
//! its token, on either endpoint, and a blank token is refused at the start.

use alias_core::{Alias, Credentials, DistinctId, Endpoint, wire::RetryPolicy};
use alias_reqwest::Client;
use alias_server::{Server, StartError};

#[tokio::test]
async fn a_client_from_the_config_is_accepted_on_both_endpoints() {
    let server = Server::builder().token("fixture-token").start().unwrap();
    let config = server.config();
    assert_eq!(config.retry_policy(), &RetryPolicy::fast());
    let track = Client::new(config).unwrap();
    track
        .create_alias(
            DistinctId::new("anon-1").unwrap(),
            Alias::new("user-1").unwrap(),
        )
        .await
        .unwrap();
    let import = Client::new(
        server
            .config_builder()
            .endpoint(Endpoint::Import(Credentials::ProjectToken))
            .build(),
    )
    .unwrap();
    import
        .create_alias(
            DistinctId::new("anon-2").unwrap(),
            Alias::new("user-2").unwrap(),
        )
        .await
        .unwrap();

    let stats = server.stats();
    assert_eq!((stats.requests, stats.events_stored), (2, 2), "{stats:?}");
    let tokens: Vec<_> = server
        .events()
        .iter()
        .map(|e| e.token().map(str::to_owned))
        .collect();
    assert_eq!(
        tokens,
        [
            Some("fixture-token".to_owned()),
            Some("fixture-token".to_owned())
        ]
    );
    assert_eq!(server.identity("user-2").unwrap().canonical, "anon-2");
}

#[test]
fn a_blank_token_is_an_error_of_start() {
    let error = Server::builder().token(" ").start().unwrap_err();
    assert!(matches!(error, StartError::Token(_)), "{error:?}");
    assert_eq!(
        error.to_string(),
        "cannot serve a project with this token: properties.token must not be empty"
    );
}
