//! CSV input: a header naming the columns, then one record per row.

use std::borrow::Cow;
use std::io::Read;

use alias_core::CreateAlias;
use csv::ByteRecord;
use serde_json::Value;

use super::super::failure_columns;
use super::excerpt::{cut, excerpt};
use super::tape::{self, Digests, Tape};
use super::{
    Fields, KNOWN_FIELDS, MAX_ROW_BYTES, PairRow, ReadError, ReadRows, Resume, Row, RowOptions,
    Source, alias_of,
};
use crate::exit::UsageError;

/// The CSV header: the column names and where the known ones are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Header {
    /// The names of the row's own columns, trimmed: in a failures file, the names they were
    /// written from, and without the two columns the failures file adds.
    pub(crate) names: Vec<String>,
    /// The number of columns of the header, the failures file's own included.
    pub(crate) width: usize,
    /// What each of the row's own columns is, in order: looked up once here, not by name in
    /// every row.
    columns: Vec<Column>,
    /// The columns that become extra properties (with `--extra-columns`).
    extras: Vec<usize>,
    /// Where `distinct_id` and `alias` are.
    pub(super) ids: [usize; 2],
}

/// What a column of the header is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    /// One of [`KNOWN_FIELDS`], by its place there.
    Known(usize),
    /// An extra property (with `--extra-columns`).
    Extra,
    /// Not read.
    Ignored,
}

impl Header {
    /// Reads the header record: it must name `distinct_id` and `alias`, and with
    /// `extra_columns` every other column must be a property name Mixpanel takes.
    pub(crate) fn new(
        record: &ByteRecord,
        extra_columns: bool,
        input: &str,
    ) -> Result<Self, UsageError> {
        let written: Vec<String> = record
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let name = String::from_utf8_lossy(name);
                // A byte order mark, as spreadsheet programs write, is not part of the name.
                let name = if i == 0 {
                    name.trim_start_matches('\u{feff}')
                } else {
                    &name
                };
                name.trim().to_owned()
            })
            .collect();
        let names: Vec<String> = if failure_columns::is_failures_header(&written) {
            written[..written.len() - 2]
                .iter()
                .map(|name| failure_columns::read_back(name).to_owned())
                .collect()
        } else {
            written.clone()
        };
        let mut seen = std::collections::HashSet::new();
        if let Some(repeated) = names.iter().find(|name| !seen.insert(name.as_str())) {
            // Which of two `alias` columns is meant cannot be guessed: the first would be
            // sent and the second silently dropped.
            return Err(UsageError::new(format!(
                "{input}: the CSV header names the column {:?} twice (it has {}); rename or \
                 remove one of them",
                cut(repeated),
                excerpt(&written.join(", "))
            )));
        }
        let mut ids = [0; 2];
        for (at, required) in ids.iter_mut().zip(["distinct_id", "alias"]) {
            *at = names.iter().position(|n| n == required).ok_or_else(|| {
                UsageError::new(format!(
                    "{input}: the CSV header has no {required:?} column (it has {}); make the \
                     first line a header naming distinct_id and alias, or pass --format ndjson \
                     for NDJSON input",
                    excerpt(&written.join(", "))
                ))
            })?;
        }
        let mut extras = Vec::new();
        let mut columns = Vec::with_capacity(names.len());
        for (i, name) in names.iter().enumerate() {
            if let Some(known) = KNOWN_FIELDS.iter().position(|k| k == name) {
                columns.push(Column::Known(known));
                continue;
            }
            if !extra_columns {
                columns.push(Column::Ignored);
                continue;
            }
            // The core says which names can be properties; no second list here.
            if let Err(refused) = CreateAlias::check_property_name(name) {
                return Err(UsageError::new(format!(
                    "--extra-columns: column {name:?} of {input} cannot be an event property \
                     ({}); rename or remove the column, or drop --extra-columns",
                    refused.problem
                )));
            }
            columns.push(Column::Extra);
            extras.push(i);
        }
        Ok(Self {
            names,
            width: written.len(),
            columns,
            extras,
            ids,
        })
    }

    /// The record's fields as event properties: the ids always, `time` and `$insert_id`
    /// when not empty, the extra columns when not empty; each of them must be UTF-8.
    pub(super) fn fields<'a>(&'a self, record: &'a ByteRecord) -> Result<CsvFields<'a>, String> {
        if record.len() != self.width {
            return Err(format!(
                "has {} fields; the header has {}",
                record.len(),
                self.width
            ));
        }
        let mut known = [None; KNOWN_FIELDS.len()];
        for ((name, column), field) in self.names.iter().zip(&self.columns).zip(record) {
            let wanted = match column {
                Column::Known(0 | 1) => true,
                Column::Known(_) | Column::Extra => !field.is_empty(),
                Column::Ignored => false,
            };
            if wanted {
                let text = std::str::from_utf8(field)
                    .map_err(|_| format!("column {:?} is not valid UTF-8", cut(name)))?;
                if let Column::Known(at) = column {
                    known[*at] = Some(text);
                }
            }
        }
        Ok(CsvFields {
            header: self,
            record,
            known,
        })
    }
}

/// A CSV record's fields, checked by [`Header::fields`]: read by name without a map built.
pub(super) struct CsvFields<'a> {
    header: &'a Header,
    record: &'a ByteRecord,
    /// The [`KNOWN_FIELDS`] the record has.
    known: [Option<&'a str>; KNOWN_FIELDS.len()],
}

impl Fields for CsvFields<'_> {
    fn text(&self, name: &str) -> Result<Option<&str>, String> {
        Ok(KNOWN_FIELDS
            .iter()
            .position(|k| *k == name)
            .and_then(|at| self.known[at]))
    }

    fn time(&self) -> Option<Cow<'_, Value>> {
        let text = self.text("time").ok().flatten()?;
        Some(Cow::Owned(Value::String(text.to_owned())))
    }

    fn extras(&self) -> impl Iterator<Item = (&str, Cow<'_, Value>)> {
        self.header.extras.iter().filter_map(|&i| {
            let field = self.record.get(i).filter(|field| !field.is_empty())?;
            // Checked by `Header::fields`.
            let text = std::str::from_utf8(field).ok()?;
            Some((
                self.header.names[i].as_str(),
                Cow::Owned(Value::String(text.to_owned())),
            ))
        })
    }
}

/// A CSV input past its header.
pub(crate) struct CsvRows<R> {
    csv: csv::Reader<Tape<R>>,
    header: Header,
    /// The record read last, its buffers reused for the next.
    record: ByteRecord,
    /// Whether a quote left open cut the record read last.
    cut: bool,
}

impl<R> std::fmt::Debug for CsvRows<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CsvRows")
            .field("header", &self.header)
            .finish_non_exhaustive()
    }
}

impl<R: Read> CsvRows<R> {
    /// Reads and checks the header of `input`, called `name` in messages, hashing the input
    /// as `digests` says.
    pub(crate) fn open(
        input: R,
        extra_columns: bool,
        name: &str,
        digests: Digests,
    ) -> Result<Self, UsageError> {
        let mut csv = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(Tape::new(input, MAX_ROW_BYTES, digests));
        let mut record = ByteRecord::new();
        let has_header = csv.read_byte_record(&mut record).map_err(|e| {
            let why = if is_row_too_long(&e) {
                format!("its first line is longer than {MAX_ROW_BYTES} bytes")
            } else {
                e.to_string()
            };
            UsageError::new(format!(
                "{name}: cannot read the CSV header: {why}; check that the input is CSV whose \
                 first line names the columns"
            ))
        })?;
        if !has_header {
            return Err(UsageError::new(format!(
                "{name}: the input is empty; pass a CSV file whose first line names the \
                 distinct_id and alias columns"
            )));
        }
        let header = Header::new(&record, extra_columns, name)?;
        let end = csv.position().byte();
        csv.get_mut().advance(end);
        Ok(Self {
            csv,
            header,
            record,
            cut: false,
        })
    }

    /// Reads the next record after `resume` into `self.record` and gives the line it
    /// starts on; `None` at the end.
    fn read(&mut self, resume: &mut Resume) -> Result<Option<u64>, ReadError> {
        loop {
            match self.csv.read_byte_record(&mut self.record) {
                Ok(true) => {}
                Ok(false) => return resume.ended().map(|()| None),
                Err(error) => {
                    let line = self.csv.get_ref().row_line();
                    return Err(ReadError::reading(line, is_row_too_long(&error), error));
                }
            }
            let end = self.csv.position().byte();
            let tape = self.csv.get_mut();
            let line = tape.row_line();
            // A quote left open runs to the end of the input, which the csv crate takes as
            // the end of the field: the row is cut, not whole.
            self.cut = tape.ends_input(end) && ends_inside_quotes(tape.row(end));
            tape.advance(end);
            if !resume.is_reached() {
                resume.check(tape)?;
                continue;
            }
            return Ok(Some(line));
        }
    }

    /// The alias `self.record` asks for, or why it cannot be sent.
    fn alias(&self, options: &RowOptions) -> Result<CreateAlias, String> {
        if self.cut {
            return Err(
                "a quote opened in this row is never closed: the rest of the input \
                 was read into its last field"
                    .to_owned(),
            );
        }
        self.header
            .fields(&self.record)
            .and_then(|fields| alias_of(&fields, options))
    }
}

impl<R: Read + Send> ReadRows for CsvRows<R> {
    fn header(&self) -> Option<&Header> {
        Some(&self.header)
    }

    fn next(
        &mut self,
        options: &RowOptions,
        resume: &mut Resume,
    ) -> Result<Option<Row>, ReadError> {
        let Some(line) = self.read(resume)? else {
            return Ok(None);
        };
        let alias = self.alias(options);
        let end = self.csv.get_ref().mark();
        Ok(Some(Row::new(
            line,
            end,
            options.keep_rows.then(|| Source::Csv(self.record.clone())),
            alias,
        )))
    }

    fn next_pair(
        &mut self,
        options: &RowOptions,
        resume: &mut Resume,
        row: &mut PairRow,
    ) -> Result<bool, ReadError> {
        let Some(line) = self.read(resume)? else {
            return Ok(false);
        };
        row.line = line;
        row.end = self.csv.get_ref().offset();
        row.is_pair = self.alias(options).is_ok();
        row.held = super::Held::Csv(self.header.ids);
        std::mem::swap(&mut row.record, &mut self.record);
        Ok(true)
    }
}

fn is_row_too_long(error: &csv::Error) -> bool {
    matches!(error.kind(), csv::ErrorKind::Io(io) if tape::is_row_too_long(io))
}

/// Whether `row`, as written, ends inside a quoted field, reading quotes as the csv crate
/// does by default: a field that starts with `"` runs to the next `"` that is not doubled,
/// and a `"` anywhere else is a plain character.
fn ends_inside_quotes(row: &[u8]) -> bool {
    #[derive(Clone, Copy, PartialEq, Eq)]
    enum State {
        FieldStart,
        Plain,
        Quoted,
        QuoteInQuoted,
    }
    let end = row
        .iter()
        .fold(State::FieldStart, |state, &byte| match (state, byte) {
            (State::FieldStart, b'"') | (State::QuoteInQuoted, b'"') => State::Quoted,
            (State::Quoted, b'"') => State::QuoteInQuoted,
            (State::Quoted, _) => State::Quoted,
            (_, b',' | b'\n' | b'\r') => State::FieldStart,
            _ => State::Plain,
        });
    end == State::Quoted
}

#[cfg(test)]
mod tests {

    use super::super::tape::Mark;
    use super::*;

    fn record(fields: &[&str]) -> ByteRecord {
        ByteRecord::from(fields.to_vec())
    }

    /// The fields `header` reads from `record`, by name.
    fn fields_of(
        header: &Header,
        record: &ByteRecord,
    ) -> Result<std::collections::HashMap<String, Value>, String> {
        let fields = header.fields(record)?;
        let mut found: std::collections::HashMap<String, Value> = KNOWN_FIELDS
            .iter()
            .filter_map(|name| Some((name.to_string(), Value::from(fields.text(name).ok()??))))
            .collect();
        found.extend(
            fields
                .extras()
                .map(|(name, value)| (name.to_owned(), value.into_owned())),
        );
        Ok(found)
    }

    /// The rows of `text` after `resume`, up to the end or the first error.
    fn rows_after(text: &str, resume: Mark) -> Vec<Result<Row, ReadError>> {
        let mut csv = CsvRows::open(text.as_bytes(), false, "in.csv", Digests::Kept).unwrap();
        let mut resume = Resume::at(resume);
        let mut failed = false;
        std::iter::from_fn(|| {
            let next = csv
                .next(&RowOptions::for_tests(), &mut resume)
                .transpose()
                .filter(|_| !failed)?;
            failed = next.is_err();
            Some(next)
        })
        .collect()
    }

    fn rows(text: &str) -> Vec<Result<Row, ReadError>> {
        rows_after(text, Mark::start())
    }

    #[test]
    fn a_column_named_twice_is_refused() {
        for names in [
            &["distinct_id", "alias", "alias"][..],
            &["distinct_id", "alias", "plan", " plan"],
        ] {
            let error = Header::new(&record(names), true, "in.csv").unwrap_err();
            assert!(
                error.to_string().contains("names the column"),
                "{names:?}: {error}"
            );
            assert!(error.to_string().contains("twice"), "{names:?}: {error}");
        }
    }

    #[test]
    fn the_header_needs_both_ids_and_ignores_a_byte_order_mark() {
        let header = Header::new(
            &record(&["\u{feff}distinct_id", " alias ", "plan"]),
            true,
            "in.csv",
        )
        .unwrap();
        assert_eq!(header.names, ["distinct_id", "alias", "plan"]);
        let properties = fields_of(&header, &record(&["anon-1", "user-1", "pro"])).unwrap();
        assert_eq!(properties["plan"], "pro");
        let error = Header::new(&record(&["id", "alias"]), false, "in.csv").unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("in.csv: the CSV header has no \"distinct_id\""),
            "{error}"
        );
    }

    #[test]
    fn a_binary_header_is_quoted_as_an_escaped_excerpt() {
        let binary = "PK\u{3}\u{4}\u{14}\0\u{8}\0\u{8}\0".repeat(10_000);
        let error = Header::new(&record(&[&binary, "more"]), false, "aliases.xlsx")
            .unwrap_err()
            .to_string();
        assert!(error.len() < 400, "{} bytes", error.len());
        assert!(!error.chars().any(char::is_control), "{error}");
        assert!(
            error.contains(r"(it has PK\u{3}\u{4}\u{14}\u{0}\u{8}\u{0}\u{8}\u{0}PK"),
            "{error}"
        );
        let long = "n".repeat(10_000);
        let header =
            Header::new(&record(&["distinct_id", "alias", &long]), true, "in.csv").unwrap();
        let error = fields_of(
            &header,
            &ByteRecord::from(vec![&b"anon-1"[..], b"user-1", b"\xff"]),
        )
        .unwrap_err();
        assert_eq!(
            error,
            format!("column \"{}…\" is not valid UTF-8", "n".repeat(60))
        );
    }

    #[test]
    fn a_failures_files_header_gives_back_the_rows_own_columns() {
        let header = Header::new(
            &record(&[
                "distinct_id",
                "alias",
                "input_line",
                "plan",
                "line",
                "reason",
            ]),
            true,
            "failures.csv",
        )
        .unwrap();
        assert_eq!(header.names, ["distinct_id", "alias", "line", "plan"]);
        assert_eq!(header.width, 6);
        let properties = fields_of(
            &header,
            &record(&["anon-1", "user-1", "12", "pro", "3", "invalid: x"]),
        )
        .unwrap();
        assert_eq!(properties["line"], "12");
        assert!(!properties.contains_key("reason"));
        // A plain input's own `line` and `reason` are data like any other column.
        let plain = Header::new(
            &record(&["distinct_id", "alias", "reason", "line"]),
            true,
            "in.csv",
        )
        .unwrap();
        let properties = fields_of(&plain, &record(&["anon-1", "user-1", "moved", "7"])).unwrap();
        assert_eq!(
            (&properties["reason"], &properties["line"]),
            (&"moved".into(), &"7".into())
        );
    }

    #[test]
    fn extra_columns_are_sent_only_when_asked_and_empty_cells_never() {
        let plain =
            Header::new(&record(&["distinct_id", "alias", "plan"]), false, "in.csv").unwrap();
        let properties = fields_of(&plain, &record(&["anon-1", "user-1", "pro"])).unwrap();
        assert!(!properties.contains_key("plan"));
        let extra = Header::new(
            &record(&["distinct_id", "alias", "plan", "time"]),
            true,
            "in.csv",
        )
        .unwrap();
        let properties = fields_of(&extra, &record(&["anon-1", "user-1", "", ""])).unwrap();
        assert_eq!(properties.len(), 2);
    }

    #[test]
    fn rows_carry_the_line_they_start_on_and_their_end() {
        let rows = rows("distinct_id,alias\n\na,\"b\r\nc\"\r\nd,e\n");
        let found: Vec<(u64, u64)> = rows
            .iter()
            .map(|row| row.as_ref().map(|row| (row.line, row.end.offset)).unwrap())
            .collect();
        // Line 2 is blank; the first row spans lines 3 and 4 and ends with CRLF.
        assert_eq!(found, [(3, 28), (5, 33)]);
        assert!(rows.iter().all(|row| row.as_ref().unwrap().alias.is_ok()));
    }

    #[test]
    fn a_resumed_input_starts_after_its_mark_once_the_bytes_before_it_match() {
        let text = "distinct_id,alias\na,b\nc,d\ne,f\n";
        let mark = rows(text)[1].as_ref().unwrap().end.clone();
        let after = rows_after(text, mark.clone());
        assert_eq!(after.len(), 1);
        assert_eq!(after[0].as_ref().unwrap().line, 4);
        // Rows past the mark may change; the bytes before it may not.
        let grown = rows_after("distinct_id,alias\na,b\nc,d\nE,F\ng,h\n", mark.clone());
        assert_eq!(grown.len(), 2);
        let changes = [
            "distinct_id,alias\na,b\nc,D\ne,f\n",
            "distinct_id,alias\na,b\nc,dd\ne,f\n",
            "distinct_id,alias\na,b\n",
            "distinct_id,alias\na,b\nc,d",
        ];
        for changed in changes {
            let rows = rows_after(changed, mark.clone());
            assert_eq!(
                rows.last().unwrap().as_ref().unwrap_err(),
                &ReadError::Changed {
                    offset: mark.offset,
                    line: mark.line
                },
                "{changed:?}"
            );
        }
    }

    #[test]
    fn a_quote_left_open_at_the_end_makes_an_invalid_row() {
        let rows = rows("distinct_id,alias\na,b\nc,\"d\ne,f\n");
        assert!(rows[0].as_ref().unwrap().alias.is_ok());
        let cut = rows[1].as_ref().unwrap();
        assert_eq!(cut.line, 3);
        assert!(
            cut.alias.as_ref().unwrap_err().contains("never closed"),
            "{:?}",
            cut.alias
        );
        assert_eq!(rows.len(), 2);
        // Closed quotes, doubled quotes and quotes inside a plain field are whole rows.
        for whole in ["c,\"d\"", "c,\"d\"\"\"", "c,d\"", "c,\"d\"\"x\"\n"] {
            let rows = self::rows(&format!("distinct_id,alias\n{whole}"));
            assert!(rows[0].as_ref().unwrap().alias.is_ok(), "{whole}");
        }
    }

    #[test]
    fn a_record_longer_than_the_limit_is_refused_with_its_line() {
        let long = "x".repeat(MAX_ROW_BYTES);
        let rows = rows(&format!("distinct_id,alias\na,b\n\nc,{long}\nd,e\n"));
        assert!(rows[0].is_ok());
        assert_eq!(
            rows[1].as_ref().unwrap_err(),
            &ReadError::TooLong { line: 4 }
        );
        assert_eq!(rows.len(), 2);
    }

    #[test]
    fn a_header_longer_than_the_limit_is_a_usage_error() {
        let endless = std::io::repeat(0);
        let error = CsvRows::open(endless, false, "/dev/zero", Digests::Skipped).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("its first line is longer than 1048576 bytes"),
            "{error}"
        );
    }
}
