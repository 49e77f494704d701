//! What every client sends: the same aliases, in the same batches, at the same concurrency.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use alias_core::{ApiHost, Config, CreateAlias, Token, wire::BatchLimits};
use alias_server::DEFAULT_TOKEN;
use flate2::Compression;
use flate2::write::GzEncoder;

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

/// How the CSV that `mixpanel-alias import` reads is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CsvFile {
    /// Plain text.
    Plain,
    /// gzip-compressed, as exports often come.
    Gzip,
}

impl CsvFile {
    /// Both, in table order.
    pub(super) const ALL: [Self; 2] = [Self::Plain, Self::Gzip];

    /// How the table names it.
    pub(super) fn name(self) -> &'static str {
        match self {
            Self::Plain => "csv",
            Self::Gzip => "gzip csv",
        }
    }

    /// The file name of `rows` aliases stored this way.
    pub(super) fn file_name(self, rows: usize) -> String {
        match self {
            Self::Plain => format!("aliases-{rows}.csv"),
            Self::Gzip => format!("aliases-{rows}.csv.gz"),
        }
    }

    /// Writes `ids` to `path` as the CSV `mixpanel-alias import` reads, stored this way.
    pub(super) fn write(
        self,
        ids: impl Iterator<Item = (String, String)>,
        path: &Path,
    ) -> Result<(), String> {
        let failed = |e: io::Error| format!("cannot write {}: {e}", path.display());
        let file = BufWriter::new(File::create(path).map_err(failed)?);
        let written = match self {
            Self::Plain => write_rows(ids, file),
            Self::Gzip => {
                let mut gzip = GzEncoder::new(file, Compression::default());
                write_rows(ids, &mut gzip).and_then(|()| gzip.finish()?.flush())
            }
        };
        written.map_err(failed)
    }
}

fn write_rows(ids: impl Iterator<Item = (String, String)>, mut out: impl Write) -> io::Result<()> {
    writeln!(out, "distinct_id,alias")?;
    for (distinct_id, alias) in ids {
        writeln!(out, "{distinct_id},{alias}")?;
    }
    out.flush()
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
