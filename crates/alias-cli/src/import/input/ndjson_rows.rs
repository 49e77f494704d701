//! NDJSON input: one JSON object per line; blank lines are skipped.

use std::io::{self, BufRead, BufReader, Read};

use alias_core::CreateAlias;
use serde_json::Value;

use super::super::failure_columns;
use super::tape::{self, Digests, Tape};
use super::{
    Held, MAX_ROW_BYTES, PairRow, ReadError, ReadRows, Resume, Row, RowOptions, Source, alias_of,
};

/// The UTF-8 byte order mark.
const UTF8_BOM: &[u8] = b"\xef\xbb\xbf";

/// How much of the input is read at once.
const READ_BYTES: usize = 64 * 1024;

/// An NDJSON input.
pub(crate) struct NdjsonRows<R> {
    reader: BufReader<Tape<R>>,
}

impl<R> std::fmt::Debug for NdjsonRows<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NdjsonRows")
            .field("tape", self.reader.get_ref())
            .finish_non_exhaustive()
    }
}

impl<R: Read> NdjsonRows<R> {
    /// Rows from `input`, hashed as `digests` says.
    pub(crate) fn new(input: R, digests: Digests) -> Self {
        Self {
            reader: BufReader::with_capacity(READ_BYTES, Tape::new(input, MAX_ROW_BYTES, digests)),
        }
    }

    /// The line the next non-blank line after `resume` starts on, and what `each` makes of
    /// its text; `None` at the end.
    fn read<T>(
        &mut self,
        resume: &mut Resume,
        each: impl FnOnce(&[u8]) -> T,
    ) -> Result<Option<(u64, T)>, ReadError> {
        loop {
            let line = self.reader.get_ref().row_line();
            let first = self.reader.get_ref().offset() == 0;
            let Some(end) = self
                .line_end()
                .map_err(|error| ReadError::reading(line, tape::is_row_too_long(&error), error))?
            else {
                return resume.ended().map(|()| None);
            };
            let mut text = self.reader.get_ref().row(end);
            if first {
                // Editors on Windows start UTF-8 files with a byte order mark, which is no
                // part of the JSON.
                text = text.strip_prefix(UTF8_BOM).unwrap_or(text);
            }
            let text = text.trim_ascii();
            if text.is_empty() {
                self.reader.get_mut().advance(end);
                continue;
            }
            if !resume.is_reached() {
                let tape = self.reader.get_mut();
                tape.advance(end);
                resume.check(tape)?;
                continue;
            }
            let made = each(text);
            self.reader.get_mut().advance(end);
            return Ok(Some((line, made)));
        }
    }

    /// Consumes the input through the next line end (or to the end of the input) and
    /// returns the offset reached; `None` at the end of the input.
    ///
    /// Every row is advanced past before the next is read, so the tape's boundary is where
    /// this line starts.
    fn line_end(&mut self) -> io::Result<Option<u64>> {
        let start = self.reader.get_ref().offset();
        let read = self.reader.skip_until(b'\n')?;
        Ok((read > 0).then(|| start + read as u64))
    }
}

impl<R: Read + Send> ReadRows for NdjsonRows<R> {
    fn next(
        &mut self,
        options: &RowOptions,
        resume: &mut Resume,
    ) -> Result<Option<Row>, ReadError> {
        let Some((line, (source, alias))) = self.read(resume, |text| parse(text, options))? else {
            return Ok(None);
        };
        Ok(Some(Row::new(
            line,
            self.reader.get_ref().mark(),
            options.keep_rows.then_some(source),
            alias,
        )))
    }

    fn next_pair(
        &mut self,
        options: &RowOptions,
        resume: &mut Resume,
        row: &mut PairRow,
    ) -> Result<bool, ReadError> {
        let Some((line, (source, alias))) = self.read(resume, |text| parse(text, options))? else {
            return Ok(false);
        };
        row.line = line;
        row.end = self.reader.get_ref().offset();
        row.is_pair = alias.is_ok();
        row.held = match source {
            Source::Json(fields) => Held::Json(fields),
            Source::Csv(_) | Source::Text(_) => Held::Nothing,
        };
        Ok(true)
    }

    fn header(&self) -> Option<&super::Header> {
        None
    }
}

/// A line as read, and the alias it asks for or why it cannot be sent.
fn parse(text: &[u8], options: &RowOptions) -> (Source, Result<CreateAlias, String>) {
    let unreadable = |reason: String| {
        let text = String::from_utf8_lossy(text).into_owned();
        (Source::Text(text), Err(reason))
    };
    match serde_json::from_slice::<Value>(text) {
        Ok(Value::Object(properties)) => {
            let fields = failure_columns::own_fields(properties);
            let alias = alias_of(&fields, options);
            (Source::Json(fields), alias)
        }
        Ok(_) => unreadable("is not a JSON object".to_owned()),
        Err(error) => unreadable(format!("is not JSON: {error}")),
    }
}

#[cfg(test)]
mod tests {

    use super::super::tape::Mark;
    use super::*;

    fn next<R: io::Read + Send>(rows: &mut NdjsonRows<R>) -> Result<Option<Row>, ReadError> {
        rows.next(&RowOptions::for_tests(), &mut Resume::at(Mark::start()))
    }

    #[test]
    fn rows_carry_their_line_and_end_and_skip_blank_lines() {
        let text = "{\"distinct_id\":\"a\",\"alias\":\"b\"}\n\n[]\r\nlast";
        let mut rows = NdjsonRows::new(text.as_bytes(), Digests::Kept);
        let first = next(&mut rows).unwrap().unwrap();
        assert_eq!((first.line, first.end.offset), (1, 32));
        assert!(first.alias.is_ok());
        let second = next(&mut rows).unwrap().unwrap();
        assert_eq!((second.line, second.end.offset), (3, 37));
        assert_eq!(second.source, Some(Source::Text("[]".into())));
        assert_eq!(second.alias.unwrap_err(), "is not a JSON object");
        let last = next(&mut rows).unwrap().unwrap();
        assert_eq!((last.line, last.end.offset), (4, 41));
        assert_eq!(last.source, Some(Source::Text("last".into())));
        assert!(next(&mut rows).unwrap().is_none());
    }

    #[test]
    fn a_byte_order_mark_before_the_first_line_is_skipped() {
        let text = "\u{feff}{\"distinct_id\":\"a\",\"alias\":\"b\"}\n\u{feff}{}\n";
        let mut rows = NdjsonRows::new(text.as_bytes(), Digests::Kept);
        let first = next(&mut rows).unwrap().unwrap();
        assert!(first.alias.is_ok(), "{:?}", first.alias);
        assert_eq!(
            first.end.offset, 35,
            "the mark is part of the first row's bytes"
        );
        // Only at the start of the input: elsewhere it is the row's own text.
        let second = next(&mut rows).unwrap().unwrap();
        assert!(second.alias.unwrap_err().starts_with("is not JSON"));
    }

    #[test]
    fn a_line_that_is_not_json_is_kept_whole() {
        let line = "x".repeat(100_000);
        let mut rows = NdjsonRows::new(line.as_bytes(), Digests::Kept);
        let row = next(&mut rows).unwrap().unwrap();
        assert_eq!(row.source, Some(Source::Text(line)));
    }

    #[test]
    fn a_line_longer_than_the_limit_is_refused_with_its_line() {
        let long = format!("{{\"a\":\"{}\"}}", "x".repeat(MAX_ROW_BYTES));
        let text = format!("{{}}\n\n{long}\n{{}}\n");
        let mut rows = NdjsonRows::new(text.as_bytes(), Digests::Kept);
        assert!(next(&mut rows).unwrap().is_some());
        assert_eq!(next(&mut rows).unwrap_err(), ReadError::TooLong { line: 3 });
        // Nothing is read from an endless line past the limit.
        let mut endless = NdjsonRows::new(io::repeat(b' '), Digests::Kept);
        assert_eq!(
            next(&mut endless).unwrap_err(),
            ReadError::TooLong { line: 1 }
        );
    }
}
