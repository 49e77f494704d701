//! The failures file: every row that was not accepted, in the input's format, with the
//! `line` it came from and the `reason` (its control characters escaped, since it quotes
//! the input and the server).
//!
//! A row that went out carries the `time` and `$insert_id` it was sent with, so that
//! importing the failures file again sends the same events, which the server deduplicates
//! against any copy that did arrive. The file can be imported as it is: the reader takes
//! `time` and `$insert_id` back and knows `line` and `reason` for ours (a row's own
//! columns of those names are kept under other names, see [`failure_columns`]).

use std::borrow::Cow;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use alias_core::CreateAlias;
use alias_core::wire::escape_controls;
use serde_json::Value;

use super::appended::Appended;
use super::failure_columns;
use super::input::{Header, Source};
use crate::exit::UsageError;

/// An open failures file.
#[derive(Debug)]
pub(crate) struct Failures {
    path: PathBuf,
    writer: Writer,
}

#[derive(Debug)]
enum Writer {
    Csv {
        // Boxed: the CSV writer's buffers dwarf the other variant.
        csv: Box<csv::Writer<Appended>>,
        layout: Layout,
    },
    Ndjson(BufWriter<Appended>),
}

impl Failures {
    /// Opens the failures file at `path`: CSV with the input's columns for a CSV input
    /// (its `header`), NDJSON otherwise. A fresh import truncates it; a resumed one
    /// (`resume_len` from the checkpoint) cuts it back to what the checkpoint covers and
    /// appends, so a row is never listed twice.
    pub(crate) fn open(
        path: &Path,
        header: Option<&Header>,
        resume_len: Option<u64>,
    ) -> Result<Self, UsageError> {
        let file = Appended::open(path, "--failures", resume_len)?;
        let fresh = file.len() == 0;
        let writer = match header {
            Some(header) => {
                let layout = Layout::new(header);
                let mut csv = csv::WriterBuilder::new().flexible(true).from_writer(file);
                if fresh {
                    csv.write_record(layout.names(header).iter().map(|name| name.as_bytes()))
                        .map_err(|e| {
                            UsageError::new(format!(
                                "--failures {}: cannot write it: {e}; pass a path in a \
                                 writable directory",
                                path.display()
                            ))
                        })?;
                }
                Writer::Csv {
                    csv: Box::new(csv),
                    layout,
                }
            }
            None => Writer::Ndjson(BufWriter::new(file)),
        };
        Ok(Self {
            path: path.to_owned(),
            writer,
        })
    }

    /// The file's path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Adds the row read at `line`. `sent` is the alias as it went out, when it did.
    pub(crate) fn write(
        &mut self,
        line: u64,
        source: &Source,
        sent: Option<&CreateAlias>,
        reason: &str,
    ) -> io::Result<()> {
        let stamps = Stamps::of(sent);
        let reason = escape_controls(reason);
        match &mut self.writer {
            Writer::Csv { csv, layout } => {
                let empty = csv::ByteRecord::new();
                let record = match source {
                    Source::Csv(record) => record,
                    // A CSV input only yields CSV records.
                    Source::Json(_) | Source::Text(_) => &empty,
                };
                csv.write_record(&layout.record(record, &stamps, line, &reason))?;
            }
            Writer::Ndjson(out) => {
                let mut object = match source {
                    Source::Json(object) => object
                        .iter()
                        .map(|(name, value)| {
                            (failure_columns::written(name).into_owned(), value.clone())
                        })
                        .collect(),
                    Source::Text(text) => {
                        let mut object = serde_json::Map::new();
                        object.insert("text".to_owned(), Value::String(text.clone()));
                        object
                    }
                    Source::Csv(_) => serde_json::Map::new(),
                };
                if let Some(time) = stamps.time {
                    object.insert("time".to_owned(), Value::from(time));
                }
                if let Some(insert_id) = stamps.insert_id {
                    object.insert("$insert_id".to_owned(), Value::String(insert_id));
                }
                object.insert(failure_columns::LINE.to_owned(), Value::from(line));
                object.insert(
                    failure_columns::REASON.to_owned(),
                    Value::String(reason.into_owned()),
                );
                serde_json::to_writer(&mut *out, &object)?;
                out.write_all(b"\n")?;
            }
        }
        Ok(())
    }

    /// Writes everything buffered to the file and returns the file's length.
    pub(crate) fn flush(&mut self) -> io::Result<u64> {
        Ok(self.flushed()?.len())
    }

    /// Writes everything buffered to the file and onto the disk, and returns the file's
    /// length: a checkpoint that records this length must not outlive the rows it covers.
    pub(crate) fn sync(&mut self) -> io::Result<u64> {
        let file = self.flushed()?;
        file.sync()?;
        Ok(file.len())
    }

    fn flushed(&mut self) -> io::Result<&Appended> {
        Ok(match &mut self.writer {
            Writer::Csv { csv, .. } => {
                csv.flush()?;
                csv.get_ref()
            }
            Writer::Ndjson(out) => {
                out.flush()?;
                out.get_ref()
            }
        })
    }
}

/// The `time` (milliseconds) and `$insert_id` an alias went out with.
#[derive(Debug, Default)]
struct Stamps {
    time: Option<u64>,
    insert_id: Option<String>,
}

impl Stamps {
    fn of(sent: Option<&CreateAlias>) -> Self {
        let Some(sent) = sent else {
            return Self::default();
        };
        Self {
            time: sent.time().map(super::epoch_millis),
            insert_id: sent.insert_id().map(|id| id.as_str().to_owned()),
        }
    }
}

/// The columns of a CSV failures file: the row's own (without the `line` and `reason` of
/// an input that is itself a failures file), plus `time` and `$insert_id` where missing,
/// plus `line` and `reason`.
#[derive(Debug)]
struct Layout {
    columns: Vec<Column>,
    /// Fields of the input header; fields past these are kept at the end of the row.
    width: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    Input(usize),
    Time(Option<usize>),
    InsertId(Option<usize>),
    Line,
    Reason,
}

impl Layout {
    fn new(header: &Header) -> Self {
        let mut columns = Vec::new();
        let (mut time, mut insert_id) = (false, false);
        for (i, name) in header.names.iter().enumerate() {
            columns.push(match name.as_str() {
                "time" if !time => {
                    time = true;
                    Column::Time(Some(i))
                }
                "$insert_id" if !insert_id => {
                    insert_id = true;
                    Column::InsertId(Some(i))
                }
                _ => Column::Input(i),
            });
        }
        if !time {
            columns.push(Column::Time(None));
        }
        if !insert_id {
            columns.push(Column::InsertId(None));
        }
        columns.extend([Column::Line, Column::Reason]);
        Self {
            columns,
            width: header.width,
        }
    }

    fn names<'a>(&self, header: &'a Header) -> Vec<Cow<'a, str>> {
        self.columns
            .iter()
            .map(|column| match column {
                Column::Input(i) => failure_columns::written(&header.names[*i]),
                Column::Time(_) => Cow::Borrowed("time"),
                Column::InsertId(_) => Cow::Borrowed("$insert_id"),
                Column::Line => Cow::Borrowed(failure_columns::LINE),
                Column::Reason => Cow::Borrowed(failure_columns::REASON),
            })
            .collect()
    }

    fn record(
        &self,
        input: &csv::ByteRecord,
        stamps: &Stamps,
        line: u64,
        reason: &str,
    ) -> csv::ByteRecord {
        let field = |i: &Option<usize>| i.and_then(|i| input.get(i)).unwrap_or_default();
        let mut out = csv::ByteRecord::new();
        for column in &self.columns {
            match column {
                Column::Input(i) => out.push_field(input.get(*i).unwrap_or_default()),
                Column::Time(i) => match stamps.time {
                    Some(time) => out.push_field(time.to_string().as_bytes()),
                    None => out.push_field(field(i)),
                },
                Column::InsertId(i) => match &stamps.insert_id {
                    Some(insert_id) => out.push_field(insert_id.as_bytes()),
                    None => out.push_field(field(i)),
                },
                Column::Line => out.push_field(line.to_string().as_bytes()),
                Column::Reason => out.push_field(reason.as_bytes()),
            }
        }
        // A row longer than the header keeps its surplus, so nothing of it is lost.
        for surplus in input.iter().skip(self.width) {
            out.push_field(surplus);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use alias_core::InsertId;

    use super::*;

    fn header(names: &[&str]) -> Header {
        Header::new(&csv::ByteRecord::from(names.to_vec()), false, "in.csv").unwrap()
    }

    #[test]
    fn a_failures_file_imported_again_keeps_its_columns_and_takes_new_stamps() {
        let layout = Layout::new(&header(&[
            "distinct_id",
            "alias",
            "time",
            "$insert_id",
            "line",
            "reason",
        ]));
        let input = csv::ByteRecord::from(vec![
            "anon-1",
            "user-1",
            "1",
            "old-id",
            "9",
            "old reason",
            "surplus",
        ]);
        let sent = CreateAlias::from_ids("anon-1", "user-1")
            .unwrap()
            .with_time(UNIX_EPOCH + Duration::from_millis(1_700_000_000_123))
            .unwrap()
            .with_insert_id(InsertId::new("new-id").unwrap());
        let out = layout.record(&input, &Stamps::of(Some(&sent)), 3, "rejected: no");
        let out: Vec<&[u8]> = out.iter().collect();
        assert_eq!(
            out,
            [
                &b"anon-1"[..],
                b"user-1",
                b"1700000000123",
                b"new-id",
                b"3",
                b"rejected: no",
                b"surplus"
            ]
        );
        let unsent = layout.record(&input, &Stamps::of(None), 3, "invalid");
        assert_eq!(&unsent[2], b"1");
        assert_eq!(&unsent[3], b"old-id");
    }

    #[test]
    fn a_resumed_file_is_cut_back_to_the_checkpoint_and_appended_to() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("failures.ndjson");
        std::fs::write(
            &path,
            "{\"line\":2}\n{\"line\":3,\"after\":\"checkpoint\"}\n",
        )
        .unwrap();
        let mut failures = Failures::open(&path, None, Some(11)).unwrap();
        failures
            .write(4, &Source::Text("x".into()), None, "invalid: is not JSON")
            .unwrap();
        let len = failures.flush().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            "{\"line\":2}\n{\"line\":4,\"reason\":\"invalid: is not JSON\",\"text\":\"x\"}\n"
        );
        assert_eq!(len, text.len() as u64);
    }
}
