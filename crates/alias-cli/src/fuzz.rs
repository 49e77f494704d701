//! The properties that must hold whatever bytes an import is given, as its input or as its
//! checkpoint file, written once for the cargo-fuzz targets of `fuzz/` (`csv_rows`,
//! `ndjson_rows`, `checkpoint`) and for the corpus proptest of the workspace tests, which
//! runs on stable.
//!
//! Each function panics when a property is broken, which a fuzzer reports like a crash of
//! the reader itself. The properties are those a resumed import stands on. Reading an input
//! from its start, then again from some of its row boundaries:
//!
//! - rows come in order: each starts on a later line and ends past the previous one, within
//!   the input;
//! - each row's end mark holds the SHA-256 of exactly the input's bytes before it;
//! - resuming at a row's end gives the same rows after it, and the same ending, as the
//!   whole read;
//! - resuming at that end over an input with one byte before it changed gives no row and
//!   ends in an error;
//! - a pass over the pairs (`check`, chain resolution), which reads leaner, sees the same
//!   rows, ids and pairs, and ends the same way, as the whole read.
//!
//! Behind the `fuzz` feature and hidden from the docs: a test aid, not part of the API.

use std::io::Cursor;

use sha2::{Digest, Sha256};

use crate::import::checkpoint::Checkpoint;
use crate::import::input::{
    Format, Input, Mark, ReadError, Resume, Row, RowOptions, both_readings,
};

/// Reads `input` as a CSV import (header first) and checks the properties of the [module docs](self).
///
/// # Panics
///
/// When one of them does not hold.
pub fn csv_rows(input: &[u8]) {
    rows(input, Format::Csv);
}

/// Reads `input` as an NDJSON import and checks the properties of the [module docs](self).
///
/// # Panics
///
/// When one of them does not hold.
pub fn ndjson_rows(input: &[u8]) {
    rows(input, Format::Ndjson);
}

/// Checks the properties of the module docs on `input` read in `format`.
fn rows(input: &[u8], format: Format) {
    let whole = read(input, format, Mark::start());
    let mut previous: Option<&Row> = None;
    for row in &whole.rows {
        if let Some(previous) = previous {
            assert!(row.line > previous.line, "lines go back: {row:?}");
            assert!(
                row.end.offset > previous.end.offset,
                "a row ends before the previous one: {row:?}"
            );
        }
        assert!(row.end.offset <= input.len() as u64, "ends past the input");
        assert!(row.end.line >= row.line, "ends before its first line");
        let before = &input[..row.end.offset as usize];
        assert_eq!(
            row.end.sha256,
            Some(<[u8; 32]>::from(Sha256::digest(before))),
            "the mark at {} lies about the bytes before it",
            row.end.offset
        );
        previous = Some(row);
    }

    let (full, pass) = both_readings(input, format);
    assert_eq!(pass, full, "a pass reads otherwise than the whole read");

    // The first, the middle and the last boundary: a handful of reads per input rather
    // than one per row.
    let count = whole.rows.len();
    let mut tried: Vec<usize> = [0, count / 2, count.saturating_sub(1)]
        .into_iter()
        .filter(|&i| i < count)
        .collect();
    tried.dedup();
    for index in tried {
        let mark = whole.rows[index].end.clone();
        let resumed = read(input, format, mark.clone());
        assert_eq!(
            (describe(&resumed.rows), &resumed.ending),
            (describe(&whole.rows[index + 1..]), &whole.ending),
            "resuming at {mark:?} reads otherwise than the whole read"
        );

        if mark.offset > 0 {
            let mut changed = input.to_vec();
            changed[(mark.offset / 2) as usize] ^= 1;
            let after_change = read(&changed, format, mark.clone());
            assert!(
                after_change.rows.is_empty(),
                "an input changed before {mark:?} gave rows: {:?}",
                after_change.rows
            );
            assert!(
                after_change.ending.is_err(),
                "an input changed before {mark:?} was read to its end"
            );
        }
    }
}

/// Reads `bytes` as a checkpoint file and checks that:
///
/// - only a file of at most 64 KiB is read;
/// - a checkpoint read writes back to bytes that read as the same checkpoint;
/// - its default time and counts can be taken, and resuming at its mark can start.
///
/// # Panics
///
/// When one of these does not hold.
pub fn checkpoint(bytes: &[u8]) {
    let Ok(checkpoint) = Checkpoint::from_bytes(bytes) else {
        return;
    };
    assert!(bytes.len() <= 64 * 1024, "read {} bytes", bytes.len());
    let written = checkpoint.to_bytes().expect("a checkpoint serialises");
    assert_eq!(
        Checkpoint::from_bytes(&written).as_ref(),
        Ok(&checkpoint),
        "written back as {}",
        String::from_utf8_lossy(&written)
    );
    let _ = checkpoint.default_time();
    let _ = checkpoint.tally();
    let _ = Resume::at(checkpoint.resume);
}

/// What one read of an input gave.
struct Reading {
    /// Its rows, in order.
    rows: Vec<Row>,
    /// How it ended: at the end of the input, with an error reading it, or with the CSV
    /// header refused (the message).
    ending: Result<(), Ending>,
}

/// Why a read ended early.
#[derive(Debug, Clone, PartialEq)]
enum Ending {
    Header(String),
    Row(ReadError),
}

/// Rows in a form that compares: each one's line, end, source and alias.
fn describe(rows: &[Row]) -> Vec<String> {
    rows.iter().map(|row| format!("{row:?}")).collect()
}

/// Reads every row of `input` after `mark`, to the end or the first error.
fn read(input: &[u8], format: Format, mark: Mark) -> Reading {
    let options = RowOptions::for_tests();
    let reader = Box::new(Cursor::new(input.to_vec()));
    let mut input = match Input::from_text(reader, format, options.extra_columns, "fuzz") {
        Ok(input) => input,
        Err(error) => {
            return Reading {
                rows: Vec::new(),
                ending: Err(Ending::Header(error.to_string())),
            };
        }
    };
    let mut resume = Resume::at(mark);
    let mut rows = Vec::new();
    loop {
        match input.next_row(&options, &mut resume) {
            Ok(Some(row)) => rows.push(row),
            Ok(None) => {
                return Reading {
                    rows,
                    ending: Ok(()),
                };
            }
            Err(error) => {
                return Reading {
                    rows,
                    ending: Err(Ending::Row(error)),
                };
            }
        }
    }
}
