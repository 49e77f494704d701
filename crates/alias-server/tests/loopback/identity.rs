//! The identity systems' alias criteria, seen through HTTP.

use alias_server::{Identity, IdentitySystem, MAX_CLUSTER_IDS, Server};
use serde_json::{Value, json};

use crate::common::{alias_event, import, inspect, strict_alias_event, track_alias};

fn server(system: IdentitySystem) -> Server {
    Server::builder().identity(system).start().unwrap()
}

fn cluster(server: &Server, id: &str) -> (String, Vec<String>) {
    let Identity {
        canonical, cluster, ..
    } = server.identity(id).expect("a known id");
    (canonical, cluster)
}

fn failure_reasons(server: &Server) -> Vec<Option<String>> {
    server
        .events()
        .iter()
        .map(|e| e.str_property("$failure_reason").map(str::to_owned))
        .collect()
}

/// The `$failure_reason` of the last stored event.
fn last_failure_reason(server: &Server) -> Option<String> {
    failure_reasons(server).pop().flatten()
}

#[test]
fn original_chains_merges_and_refuses_a_reused_alias() {
    let server = server(IdentitySystem::Original);
    track_alias(&server, "anon-id", "user");
    track_alias(&server, "user", "email");
    track_alias(&server, "anon-id", "phone");
    // Already an alias: refused, yet answered as a success.
    track_alias(&server, "someone-else", "email");
    assert_eq!(
        cluster(&server, "email"),
        (
            "anon-id".into(),
            vec![
                "anon-id".into(),
                "email".into(),
                "phone".into(),
                "user".into()
            ]
        )
    );
    assert_eq!(
        failure_reasons(&server),
        [None, None, None, Some("errAliasAlreadyExists".into())]
    );
    assert_eq!(cluster(&server, "someone-else").1, ["someone-else"]);
}

#[test]
fn original_holds_500_ids_and_refuses_the_501st() {
    let server = server(IdentitySystem::Original);
    // 499 aliases make a cluster of 500 ids; one request carries them all.
    let events: Vec<Value> = (1..MAX_CLUSTER_IDS)
        .map(|i| strict_alias_event("root", &format!("id-{i}"), &format!("c-{i}")))
        .collect();
    let reply = import(&server, "strict=1", &json!(events));
    assert_eq!(
        reply.body,
        r#"{"code":200,"num_records_imported":499,"status":"OK"}"#
    );
    assert_eq!(cluster(&server, "id-77").1.len(), 500);
    assert_eq!(last_failure_reason(&server), None);

    let reply = import(
        &server,
        "strict=1",
        &json!([strict_alias_event("root", "id-500", "c-500")]),
    );
    assert_eq!(reply.status, 200);
    assert_eq!(last_failure_reason(&server).as_deref(), Some("errManyIDs"));
    assert_eq!(cluster(&server, "root").1.len(), 500);
    assert_eq!(
        cluster(&server, "id-500"),
        ("id-500".into(), vec!["id-500".into()])
    );
}

/// A cluster of `size` ids: `root` and `size - 1` aliases of it, in one request.
fn make_cluster(server: &Server, root: &str, size: usize) {
    let events: Vec<Value> = (1..size)
        .map(|i| strict_alias_event(root, &format!("{root}-{i}"), &format!("{root}-{i}")))
        .collect();
    let reply = import(server, "strict=1", &json!(events));
    assert_eq!(reply.status, 200, "{reply:?}");
}

#[test]
fn original_refuses_merging_two_clusters_that_together_pass_500_ids() {
    let server = server(IdentitySystem::Original);
    make_cluster(&server, "a", 300);
    make_cluster(&server, "b", 201);
    make_cluster(&server, "c", 200);
    import(
        &server,
        "strict=1",
        &json!([strict_alias_event("a", "b", "merge-ab")]),
    );
    assert_eq!(last_failure_reason(&server).as_deref(), Some("errManyIDs"));
    assert_eq!(cluster(&server, "b-1").0, "b");
    import(
        &server,
        "strict=1",
        &json!([strict_alias_event("a", "c", "merge-ac")]),
    );
    assert_eq!(last_failure_reason(&server), None);
    assert_eq!(cluster(&server, "c-1"), cluster(&server, "a"));
    assert_eq!(cluster(&server, "a").1.len(), 500);
}

#[test]
fn legacy_aliases_an_id_once_and_records_no_failure_reason() {
    let server = server(IdentitySystem::Legacy);
    track_alias(&server, "anon-id", "user");
    track_alias(&server, "elsewhere", "user");
    track_alias(&server, "anon-id", "user");
    track_alias(&server, "user", "email");
    // $failure_reason is documented for Original ID Merge only.
    assert_eq!(failure_reasons(&server), [None, None, None, None]);
    assert_eq!(cluster(&server, "user").0, "anon-id");
    assert_eq!(cluster(&server, "email").0, "anon-id");
    assert_eq!(cluster(&server, "elsewhere").1, ["elsewhere"]);
}

#[test]
fn simplified_stores_aliases_but_ignores_them() {
    let server = server(IdentitySystem::Simplified);
    track_alias(&server, "anon-id", "user");
    track_alias(&server, "other", "user");
    assert_eq!(failure_reasons(&server), [None, None]);
    assert_eq!(
        cluster(&server, "user"),
        ("user".into(), vec!["user".into()])
    );
    assert_eq!(server.events().len(), 2);
}

#[test]
fn simplified_refuses_identity_events_on_import_and_stores_nothing_of_the_request() {
    let server = server(IdentitySystem::Simplified);
    let refusal = concat!(
        r#"{"code":400,"error":"some data points in the request failed validation","#,
        r#""failed_records":["identity events are not allowed when project is using simplified identity management"],"#,
        r#""num_records_imported":0,"status":"Bad Request"}"#
    );
    let mut ordinary = strict_alias_event("device-1", "unused", "ordinary-1");
    ordinary["event"] = json!("Signed up");
    for (i, name) in ["$create_alias", "$identify", "$merge"].iter().enumerate() {
        let mut identity_event = strict_alias_event("device-1", "user", &format!("identity-{i}"));
        identity_event["event"] = json!(name);
        for query in ["strict=1", "strict=0"] {
            let reply = import(&server, query, &json!([ordinary, identity_event]));
            assert_eq!(
                (reply.status, reply.body.as_str()),
                (400, refusal),
                "{name} {query}"
            );
        }
    }
    assert!(server.events().is_empty());
    let stats = server.stats();
    assert_eq!((stats.events_received, stats.events_rejected), (12, 12));
    // Without identity events, the same project imports.
    let reply = import(&server, "strict=1", &json!([ordinary]));
    assert_eq!(reply.status, 200, "{reply:?}");
}

/// An event that associates `device_id` with `user_id` under Simplified ID Merge.
fn association(device_id: &str, user_id: &str, insert_id: &str) -> Value {
    let mut event = strict_alias_event(user_id, "unused", insert_id);
    event["event"] = json!("Logged in");
    let properties = event["properties"].as_object_mut().unwrap();
    properties.remove("alias");
    properties.insert("$device_id".into(), json!(device_id));
    properties.insert("$user_id".into(), json!(user_id));
    event
}

#[test]
fn simplified_links_device_ids_to_user_ids_on_both_endpoints() {
    let server = server(IdentitySystem::Simplified);
    crate::common::post_json(
        &server,
        "/track",
        &json!([association("device-1", "user-a", "t-1")]),
    );
    let reply = import(
        &server,
        "strict=1",
        &json!([association("device-2", "user-a", "i-1")]),
    );
    assert_eq!(reply.status, 200, "{reply:?}");
    let cluster_of_a = vec!["device-1".to_owned(), "device-2".into(), "user-a".into()];
    assert_eq!(
        cluster(&server, "device-1"),
        ("user-a".into(), cluster_of_a.clone())
    );
    let (status, body) = inspect(&server, "identity/device-2");
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"id": "device-2", "canonical": "user-a", "cluster": cluster_of_a})
    );

    // First write wins: the device stays with user-a; the event is stored and says why.
    track_association(&server, "device-1", "user-b");
    assert_eq!(cluster(&server, "device-1").0, "user-a");
    assert_eq!(
        cluster(&server, "user-b"),
        ("user-b".into(), vec!["user-b".into()])
    );
    let last = server.events().pop().unwrap();
    assert_eq!(
        last.str_property("$identity_failure_reason"),
        Some("errAnonDistinctIdAssignedAlready")
    );
    assert_eq!(server.events().len(), 3);
}

fn track_association(server: &Server, device_id: &str, user_id: &str) {
    let reply = crate::common::post_json(
        server,
        "/track?verbose=1",
        &json!([association(device_id, user_id, "t-2")]),
    );
    assert_eq!(reply.body, r#"{"status":1,"error":null}"#);
}

#[test]
fn original_and_legacy_store_device_and_user_ids_inertly() {
    for system in [IdentitySystem::Original, IdentitySystem::Legacy] {
        let server = server(system);
        track_association(&server, "device-1", "user-a");
        assert!(server.identity("device-1").is_none(), "{system}");
        assert_eq!(cluster(&server, "user-a").1, ["user-a"], "{system}");
        let stored = server.events().pop().unwrap();
        assert_eq!(stored.str_property("$device_id"), Some("device-1"));
        assert_eq!(stored.str_property("$identity_failure_reason"), None);
    }
}

#[test]
fn the_identity_endpoint_agrees_with_the_handle() {
    let server = server(IdentitySystem::Original);
    track_alias(&server, "anon 1", "user+1@example.com/é");
    let (status, body) = inspect(&server, "identity/user%2B1%40example.com%2F%C3%A9");
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"id": "user+1@example.com/é", "canonical": "anon 1", "cluster": ["anon 1", "user+1@example.com/é"]})
    );
    let expected = serde_json::to_value(server.identity("user+1@example.com/é").unwrap()).unwrap();
    assert_eq!(body, expected);
    let (status, _) = inspect(&server, "identity/anon%201");
    assert_eq!(status, 200);
    let (status, _) = inspect(&server, "identity/never-seen");
    assert_eq!(status, 404);
    // An alias of an id to itself (open in the facts) changes nothing and fails nothing.
    crate::common::post_json(&server, "/track", &json!([alias_event("same", "same")]));
    assert_eq!(cluster(&server, "same").1, ["same"]);
}

/// An Original ID Merge event named `name` from `distinct_id`, with `extra` properties.
fn identity_event(name: &str, distinct_id: &str, insert_id: &str, extra: Value) -> Value {
    let mut event = strict_alias_event(distinct_id, "unused", insert_id);
    event["event"] = json!(name);
    let properties = event["properties"].as_object_mut().unwrap();
    properties.remove("alias");
    if let Value::Object(extra) = extra {
        properties.extend(extra);
    }
    event
}

#[test]
fn original_merges_on_identify_and_on_merge_through_import_only() {
    let server = server(IdentitySystem::Original);
    let identify = identity_event(
        "$identify",
        "user-a",
        "i-1",
        json!({"$identified_id": "user-a", "$anon_id": "anon-1"}),
    );
    let merge = identity_event(
        "$merge",
        "user-a",
        "m-1",
        json!({"$distinct_ids": ["user-a", "user-b"]}),
    );
    let reply = crate::common::post_json(&server, "/track?verbose=1", &json!([identify, merge]));
    assert_eq!(reply.body, r#"{"status":1,"error":null}"#);
    assert_eq!(cluster(&server, "anon-1").0, "user-a");
    // $merge counts on /import only: on /track it is an ordinary event.
    assert!(server.identity("user-b").is_none());
    // Another $insert_id, or it would be dropped as a repeat of the /track one.
    let mut merge = merge;
    merge["properties"]["$insert_id"] = json!("m-2");
    let reply = import(&server, "strict=1", &json!([merge]));
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(
        cluster(&server, "user-b"),
        (
            "user-a".into(),
            vec!["anon-1".into(), "user-a".into(), "user-b".into()]
        )
    );
}
