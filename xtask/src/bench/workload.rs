//! What every client sends: the same aliases, in the same batches, at the same concurrency.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use alias_core::{ApiHost, BatchLimits, Config, CreateAlias, Token};
use alias_server::DEFAULT_TOKEN;

/// Aliases per request: Mixpanel's maximum.
pub(super) const BATCH: usize = 2000;
/// Requests in flight at once: the clients' default.
pub(super) const CONCURRENCY: usize = 4;

/// The (distinct_id, alias) pairs of the first `count` aliases: all distinct, as in a real
/// import.
pub(super) fn ids(count: usize) -> impl Iterator<Item = (String, String)> {
    (0..count).map(|i| (format!("anon-{i:08}"), format!("user-{i}@example.com")))
}

/// The aliases of `ids`, as a library user builds them.
pub(super) fn aliases<'a>(
    ids: impl IntoIterator<Item = &'a (String, String)>,
) -> impl Iterator<Item = CreateAlias> {
    // The ids are valid; an alias lost here would show as one not accepted.
    ids.into_iter()
        .filter_map(|(distinct_id, alias)| CreateAlias::from_ids(distinct_id, alias).ok())
}

/// Writes `ids` as the CSV `mixpanel-alias import` reads.
pub(super) fn write_csv(
    ids: impl Iterator<Item = (String, String)>,
    path: &Path,
) -> Result<(), String> {
    let failed = |e: std::io::Error| format!("cannot write {}: {e}", path.display());
    let mut out = BufWriter::new(File::create(path).map_err(failed)?);
    writeln!(out, "distinct_id,alias").map_err(failed)?;
    for (distinct_id, alias) in ids {
        writeln!(out, "{distinct_id},{alias}").map_err(failed)?;
    }
    out.flush().map_err(failed)
}

/// The library clients' configuration: the defaults (form JSON on `/track`, verbose
/// answers, idempotent events), sent to `url` in batches of [`BATCH`], [`CONCURRENCY`] at
/// once.
pub(super) fn config(url: &str) -> Result<Config, String> {
    let token = Token::new(DEFAULT_TOKEN).map_err(|e| e.to_string())?;
    let host = ApiHost::custom(url).map_err(|e| e.to_string())?;
    Ok(Config::builder(token)
        .api_host(host)
        .batch_limits(BatchLimits {
            max_events: BATCH,
            ..BatchLimits::default()
        })
        .concurrency(CONCURRENCY)
        .build())
}
