//! The expectations of a case, checked against what the client and the server report.

use std::collections::HashSet;

use alias_server::Server;
use serde_json::{Map, Value};

use crate::client::{Observed, OutcomeKind};
use crate::vector::{EventExpect, Expect, IdentityExpect};

/// `None` when `seen` is `expected`, else a line saying both.
pub fn equal<T: PartialEq + std::fmt::Debug + ?Sized>(
    what: &str,
    expected: &T,
    seen: &T,
) -> Option<String> {
    (expected != seen).then(|| format!("{what}: expected {expected:?}, got {seen:?}"))
}

/// Every expectation of `expect` that does not hold.
pub fn all(expect: &Expect, observed: &[Observed], server: &Server) -> Vec<String> {
    let mut failures = client_side(expect, observed);
    if let Some(stats) = &expect.stats {
        failures.extend(server_stats(stats, server));
    }
    if let Some(events) = &expect.events {
        failures.extend(stored_events(events, server));
    }
    if let Some(identities) = &expect.identity {
        failures.extend(
            identities
                .iter()
                .filter_map(|expected| identity(expected, server)),
        );
    }
    failures
}

/// The expectations on what the client reported that do not hold.
pub fn client_side(expect: &Expect, observed: &[Observed]) -> Vec<String> {
    let mut failures = Vec::new();
    if let Some(counts) = &expect.outcomes {
        failures.extend(outcome_counts(counts, observed));
    }
    if let Some(per_alias) = &expect.per_alias {
        failures.extend(per_alias_outcomes(per_alias, observed));
    }
    failures
}

const KINDS: [OutcomeKind; 4] = [
    OutcomeKind::Accepted,
    OutcomeKind::Rejected,
    OutcomeKind::Invalid,
    OutcomeKind::Undelivered,
];

fn outcome_counts(expected: &Map<String, Value>, observed: &[Observed]) -> Vec<String> {
    let mut failures: Vec<String> = expected
        .keys()
        .filter(|name| !KINDS.iter().any(|k| k.name() == name.as_str()))
        .map(|name| format!("unknown outcome kind {name:?} in the vector"))
        .collect();
    for kind in KINDS {
        let want = expected
            .get(kind.name())
            .and_then(Value::as_u64)
            .unwrap_or(0);
        let got = observed.iter().filter(|o| o.kind == kind).count() as u64;
        if want != got {
            let examples: Vec<_> = observed
                .iter()
                .filter(|o| o.kind == kind)
                .take(3)
                .map(|o| o.detail.as_str())
                .collect();
            failures.push(format!(
                "{} aliases: expected {want}, got {got} (e.g. {examples:?})",
                kind.name()
            ));
        }
    }
    failures
}

fn per_alias_outcomes(expected: &[Value], observed: &[Observed]) -> Vec<String> {
    if expected.len() != observed.len() {
        return vec![format!(
            "per_alias lists {} outcomes for {} aliases",
            expected.len(),
            observed.len()
        )];
    }
    expected
        .iter()
        .zip(observed)
        .enumerate()
        .filter_map(|(i, (want, got))| {
            let (kind, field) = match want {
                Value::String(kind) => (kind.as_str(), None),
                Value::Object(map) => match map.iter().next() {
                    Some((kind, field)) => (kind.as_str(), field.as_str()),
                    None => return Some(format!("alias #{i}: empty expectation")),
                },
                other => return Some(format!("alias #{i}: unreadable expectation {other}")),
            };
            if kind != got.kind.name() {
                return Some(format!(
                    "alias #{i}: expected {kind}, got {} ({})",
                    got.kind.name(),
                    got.detail
                ));
            }
            let field = field?;
            (got.field.as_deref() != Some(field) && !got.detail.contains(field)).then(|| {
                format!(
                    "alias #{i}: expected field {field}, got {:?} ({})",
                    got.field, got.detail
                )
            })
        })
        .collect()
}

fn server_stats(expected: &Map<String, Value>, server: &Server) -> Vec<String> {
    let stats = match serde_json::to_value(server.stats()) {
        Ok(Value::Object(stats)) => stats,
        other => return vec![format!("server stats are not an object: {other:?}")],
    };
    expected
        .iter()
        .filter_map(|(name, want)| {
            let Some(got) = stats.get(name).and_then(Value::as_u64) else {
                return Some(format!("server has no counter {name:?}"));
            };
            match want {
                Value::Number(n) if n.as_u64() == Some(got) => None,
                Value::Number(n) => Some(format!("server {name}: expected {n}, got {got}")),
                Value::Object(bound) => match bound.get("min").and_then(Value::as_u64) {
                    Some(min) if got >= min => None,
                    Some(min) => Some(format!("server {name}: expected at least {min}, got {got}")),
                    None => Some(format!("server {name}: unreadable bound {bound:?}")),
                },
                other => Some(format!("server {name}: unreadable expectation {other}")),
            }
        })
        .collect()
}

fn stored_events(expected: &[EventExpect], server: &Server) -> Vec<String> {
    let events = server.events();
    let mut used = HashSet::new();
    let mut failures = Vec::new();
    for want in expected {
        let found = events.iter().enumerate().find(|(i, event)| {
            let matches = |name: &str, want: Option<&str>| {
                want.is_none_or(|want| event.str_property(name) == Some(want))
            };
            !used.contains(i)
                && want.event.as_deref().is_none_or(|name| event.event == name)
                && matches("alias", want.alias.as_deref())
                && matches("distinct_id", want.distinct_id.as_deref())
        });
        let label = want
            .alias
            .as_deref()
            .or(want.event.as_deref())
            .unwrap_or("?");
        let Some((index, event)) = found else {
            failures.push(format!(
                "no stored event with alias or name {label:?}{}",
                want.distinct_id
                    .as_deref()
                    .map(|d| format!(" and distinct_id {d:?}"))
                    .unwrap_or_default()
            ));
            continue;
        };
        used.insert(index);
        let reason = event.properties.get("$failure_reason");
        match &want.failure_reason {
            None => {}
            Some(Value::Null) if reason.is_some() => {
                failures.push(format!(
                    "event {:?}: unexpected $failure_reason {}",
                    label,
                    reason.unwrap_or(&Value::Null)
                ));
            }
            Some(Value::Object(any))
                if any.get("any") == Some(&Value::Bool(true)) && reason.is_none() =>
            {
                failures.push(format!(
                    "event {:?}: expected a $failure_reason, found none",
                    label
                ));
            }
            Some(Value::String(expected)) if reason != Some(&Value::String(expected.clone())) => {
                failures.push(format!(
                    "event {:?}: expected $failure_reason {expected:?}, got {reason:?}",
                    label
                ));
            }
            Some(_) => {}
        }
        for (name, value) in want.properties.iter().flatten() {
            if event.properties.get(name) != Some(value) {
                failures.push(format!(
                    "event {:?}: property {name} expected {value}, got {:?}",
                    label,
                    event.properties.get(name)
                ));
            }
        }
    }
    failures
}

fn identity(expected: &IdentityExpect, server: &Server) -> Option<String> {
    let Some(seen) = server.identity(&expected.id) else {
        return Some(format!("the server has never seen id {:?}", expected.id));
    };
    let mut problems = Vec::new();
    if let Some(canonical) = &expected.canonical {
        problems.extend(equal("canonical", canonical, &seen.canonical));
    }
    if let Some(cluster) = &expected.cluster {
        problems.extend(equal("cluster", cluster, &seen.cluster));
    }
    if let Some(size) = expected.cluster_size {
        problems.extend(equal("cluster size", &size, &seen.cluster.len()));
    }
    (!problems.is_empty())
        .then(|| format!("identity of {:?}: {}", expected.id, problems.join("; ")))
}
