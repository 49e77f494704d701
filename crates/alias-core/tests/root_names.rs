//! The crate's root stays small: what a caller of a client names, and the modules that hold
//! the rest. A name added to the root has to push another one into a module.

/// The most names the root may hold, modules included.
const MAX_ROOT_NAMES: usize = 25;

/// The public names of the root: its `pub mod`s (but hidden ones) and what its `pub use`s
/// bring in, outside the inline `prelude` module.
fn root_names(lib: &str) -> Vec<String> {
    let top_level = lib.split("pub mod prelude {").next().unwrap_or(lib);
    let mut names = Vec::new();
    let mut statement = String::new();
    let mut hidden = false;
    for line in top_level.lines().map(str::trim) {
        // A test aid hidden from the docs (`#[doc(hidden)]`) is not part of the root's API.
        if line == "#[doc(hidden)]" {
            hidden = true;
            continue;
        }
        if let Some(module) = line.strip_prefix("pub mod ") {
            if !std::mem::take(&mut hidden) {
                names.push(module.trim_end_matches([';', ' ', '{']).to_owned());
            }
            continue;
        }
        if line.starts_with("pub use ") || !statement.is_empty() {
            statement.push_str(line);
            if !line.ends_with(';') {
                continue;
            }
            let used = statement
                .trim_start_matches("pub use ")
                .trim_end_matches(';');
            let list = match used.split_once('{') {
                Some((_, list)) => list.trim_end_matches('}').to_owned(),
                None => used.rsplit("::").next().unwrap_or(used).to_owned(),
            };
            names.extend(
                list.split(',')
                    .map(str::trim)
                    .filter(|name| !name.is_empty())
                    .map(str::to_owned),
            );
            statement.clear();
        }
    }
    names
}

#[test]
fn the_root_holds_at_most_25_names() {
    let lib = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/lib.rs")).unwrap();
    let names = root_names(&lib);
    assert!(names.contains(&"CreateAlias".to_owned()), "{names:?}");
    assert!(names.contains(&"wire".to_owned()), "{names:?}");
    assert!(
        names.len() <= MAX_ROOT_NAMES,
        "{} names at the root: {names:?}",
        names.len()
    );
}

#[test]
fn the_prelude_has_what_a_caller_of_a_client_names() {
    use alias_core::prelude::{
        AliasOutcome, CreateAlias, DeliveryError, Rejection, RetryPolicy, Tally,
    };
    let link = CreateAlias::from_ids("anon-1", "user-1").unwrap();
    assert_eq!(link.alias().as_str(), "user-1");
    let tally = Tally {
        accepted: 2,
        ..Tally::default()
    };
    assert_eq!(tally.total(), 2);
    let outcome = AliasOutcome::Rejected(Rejection::classify(
        alias_core::http::StatusCode::BAD_REQUEST,
        None,
        "bad".to_owned(),
    ));
    assert!(!outcome.is_accepted());
    assert_eq!(
        DeliveryError::Abandoned.to_string(),
        "abandoned before an answer arrived"
    );
    assert_eq!(RetryPolicy::default().max_attempts, 8);
}
