//! What a parser has taken from the input since the last row boundary, bounded.
//!
//! The csv crate, like any reader of lines, holds a whole record before handing it over:
//! on an input without line ends (`/dev/zero`) it grows until memory runs out. A [`Tape`]
//! sits between the input and the parser and keeps the bytes handed out since the caller
//! last marked a row boundary. It refuses to hand out more once those reach the row limit,
//! so a row longer than that fails as it is read and is never held whole. The bytes kept
//! are also the row as it was written, quotes and line ends included, which the parsed
//! record no longer shows.
//!
//! A tape made [`Digests::Kept`] hashes each byte as the boundary passes it, so that every
//! row boundary has a [`Mark`]: where it is, and a digest of all the input before it. Only
//! a resumable import needs those; a pass that reads the input once makes its tape
//! [`Digests::Skipped`] and spares the hashing, a tenth of its time.

use std::io::{self, Read};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A row boundary in the input and what the input held before it: where a resumed import
/// picks up, and how it knows that the input up to there is the one it read before.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Mark {
    /// The bytes before the boundary.
    pub(crate) offset: u64,
    /// The line the boundary is on, from 1.
    pub(crate) line: u64,
    /// SHA-256 of the bytes before the boundary, when the tape keeps digests: a checkpoint
    /// is only written from one that does, and is refused without it.
    #[serde(with = "hex")]
    pub(crate) sha256: Option<[u8; 32]>,
}

impl Mark {
    /// The start of any input.
    pub(crate) fn start() -> Self {
        Self {
            offset: 0,
            line: 1,
            sha256: Some(Sha256::new().finalize().into()),
        }
    }
}

/// Whether a [`Tape`] hashes the input, to give [`Mark`]s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Digests {
    /// Every boundary has a mark.
    Kept,
    /// No boundary has one: the input is read once, never resumed.
    Skipped,
}

/// A digest as 64 lowercase hex digits; a missing one as `null`, which is never read back.
mod hex {
    use std::fmt::Write;

    use serde::{Deserialize, Deserializer, Serializer, de};

    pub(super) fn serialize<S: Serializer>(
        digest: &Option<[u8; 32]>,
        out: S,
    ) -> Result<S::Ok, S::Error> {
        let Some(digest) = digest else {
            return out.serialize_none();
        };
        let mut text = String::with_capacity(64);
        for byte in digest {
            // Writing to a String cannot fail.
            let _ = write!(text, "{byte:02x}");
        }
        out.serialize_str(&text)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        input: D,
    ) -> Result<Option<[u8; 32]>, D::Error> {
        let text = String::deserialize(input)?;
        let invalid = || de::Error::invalid_value(de::Unexpected::Str(&text), &"64 hex digits");
        let mut digest = [0; 32];
        if text.len() != 64 || !text.is_ascii() {
            return Err(invalid());
        }
        for (byte, pair) in digest.iter_mut().zip(text.as_bytes().chunks(2)) {
            let pair = std::str::from_utf8(pair).map_err(|_| invalid())?;
            *byte = u8::from_str_radix(pair, 16).map_err(|_| invalid())?;
        }
        Ok(Some(digest))
    }
}

/// Reads from `R` for a parser, keeping what it hands out since the last row boundary.
///
/// Parsers read ahead, so the bytes kept may run past the end of the row just parsed.
/// But a buffered parser asks for more only once it has used up all it was handed, so
/// when it asks, every byte kept belongs to the row it is reading: that is what the limit
/// bounds.
pub(crate) struct Tape<R> {
    inner: R,
    /// The bytes handed out since the boundary are `kept[start..]`.
    kept: Vec<u8>,
    start: usize,
    /// The input offset of the boundary.
    offset: u64,
    /// The line the boundary is on, from 1.
    line: u64,
    /// Whether the byte just before the boundary is a `\r`, which a `\n` right after it
    /// joins into one line end.
    after_cr: bool,
    /// The bytes before the boundary, hashed, with [`Digests::Kept`].
    hashed: Option<Sha256>,
    /// The most bytes handed out past the boundary.
    limit: usize,
    /// The input has ended.
    ended: bool,
}

impl<R> std::fmt::Debug for Tape<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tape")
            .field("offset", &self.offset)
            .field("line", &self.line)
            .field("kept", &(self.kept.len() - self.start))
            .finish_non_exhaustive()
    }
}

/// The error a [`Tape`] reports when the row being read is longer than its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the row is longer than the limit")]
pub(crate) struct RowTooLong;

impl<R: Read> Tape<R> {
    /// A tape over `inner` that refuses rows longer than `limit` bytes, hashing what it
    /// reads as `digests` says.
    pub(crate) fn new(inner: R, limit: usize, digests: Digests) -> Self {
        Self {
            inner,
            kept: Vec::new(),
            start: 0,
            offset: 0,
            line: 1,
            after_cr: false,
            hashed: (digests == Digests::Kept).then(Sha256::new),
            limit,
            ended: false,
        }
    }

    /// The bytes handed out since the boundary.
    fn pending(&self) -> &[u8] {
        &self.kept[self.start..]
    }

    /// The row that ends at input offset `end`, as written, from the boundary on (with any
    /// blank lines before it).
    pub(crate) fn row(&self, end: u64) -> &[u8] {
        let len = usize::try_from(end.saturating_sub(self.offset)).unwrap_or(usize::MAX);
        let pending = self.pending();
        &pending[..len.min(pending.len())]
    }

    /// The line the next row starts on: the boundary's, past the blank lines that follow
    /// it.
    pub(crate) fn row_line(&self) -> u64 {
        let pending = self.pending();
        let blank = pending
            .iter()
            .take_while(|&&b| b == b'\n' || b == b'\r')
            .count();
        self.line + line_ends(&pending[..blank], self.after_cr).0
    }

    /// Whether the row ending at `end` ends the input.
    pub(crate) fn ends_input(&self, end: u64) -> bool {
        self.ended && end == self.offset + self.pending().len() as u64
    }

    /// Moves the boundary to input offset `end`, the end of a row the parser has read.
    pub(crate) fn advance(&mut self, end: u64) {
        let row = &self.kept[self.start..][..self.row(end).len()];
        if let Some(hashed) = &mut self.hashed {
            hashed.update(row);
        }
        let (lines, after_cr) = line_ends(row, self.after_cr);
        let len = row.len();
        self.start += len;
        self.offset += len as u64;
        self.line += lines;
        self.after_cr = after_cr;
    }

    /// The boundary's mark, without its digest from a tape made [`Digests::Skipped`].
    pub(crate) fn mark(&self) -> Mark {
        Mark {
            offset: self.offset,
            line: self.line,
            sha256: self.hashed.clone().map(|hashed| hashed.finalize().into()),
        }
    }

    /// The input offset of the boundary.
    pub(crate) fn offset(&self) -> u64 {
        self.offset
    }
}

impl<R: Read> Read for Tape<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let room = self.limit.saturating_sub(self.pending().len());
        if room == 0 {
            return Err(io::Error::new(io::ErrorKind::InvalidData, RowTooLong));
        }
        let wanted = buf.len().min(room);
        let read = self.inner.read(&mut buf[..wanted])?;
        self.ended |= read == 0;
        // Drops the bytes behind the boundary once they are most of what is kept, so that
        // each byte is moved at most once on average.
        if self.start > 0 && self.start >= self.kept.len() / 2 {
            self.kept.drain(..self.start);
            self.start = 0;
        }
        self.kept.extend_from_slice(&buf[..read]);
        Ok(read)
    }
}

/// The line ends in `bytes`, which follow a `\r` when `after_cr`, and whether they end in a
/// `\r`. A line ends with `\n`, `\r\n` or a lone `\r`, as CSV records and text editors
/// take them, so that rows ended by a lone `\r` are each given a line of their own.
fn line_ends(bytes: &[u8], mut after_cr: bool) -> (u64, bool) {
    let mut lines = 0;
    for &byte in bytes {
        if byte == b'\r' || (byte == b'\n' && !after_cr) {
            lines += 1;
        }
        after_cr = byte == b'\r';
    }
    (lines, after_cr)
}

/// Whether `error` is a [`Tape`] refusing a row that is too long.
pub(crate) fn is_row_too_long(error: &io::Error) -> bool {
    error
        .get_ref()
        .is_some_and(|inner| inner.downcast_ref::<RowTooLong>().is_some())
}

#[cfg(test)]
mod tests {
    use std::io::BufRead;

    use super::*;

    #[test]
    fn rows_are_kept_from_the_boundary_with_their_lines() {
        let mut tape = Tape::new(&b"a,b\n\n\r\nc,d\ne"[..], 64, Digests::Kept);
        let mut buffered = io::BufReader::with_capacity(4, &mut tape);
        let mut first = Vec::new();
        buffered.read_until(b'\n', &mut first).unwrap();
        drop(buffered);
        assert_eq!(tape.row(4), b"a,b\n");
        assert_eq!(tape.row_line(), 1);
        tape.advance(4);
        let mut rest = Vec::new();
        tape.read_to_end(&mut rest).unwrap();
        assert_eq!(tape.row(11), b"\n\r\nc,d\n");
        assert_eq!(tape.row_line(), 4);
        assert!(!tape.ends_input(11));
        tape.advance(11);
        assert_eq!((tape.offset, tape.line), (11, 5));
        assert!(tape.ends_input(12));
        assert_eq!(
            tape.mark().sha256,
            Some(<[u8; 32]>::from(Sha256::digest(b"a,b\n\n\r\nc,d\n")))
        );
    }

    #[test]
    fn a_lone_cr_ends_a_line_and_a_crlf_split_by_a_boundary_ends_one() {
        assert_eq!(line_ends(b"a\rb\r\nc\n", false), (3, false));
        assert_eq!(line_ends(b"a\r", false), (1, true));
        // The `\n` of a `\r\n` whose `\r` ended the previous row.
        assert_eq!(line_ends(b"\nb\n", true), (1, false));
        let mut tape = Tape::new(&b"a\rb\r\nc"[..], 64, Digests::Skipped);
        tape.read_to_end(&mut Vec::new()).unwrap();
        tape.advance(2);
        assert_eq!(tape.line, 2);
        assert_eq!(tape.mark().sha256, None, "a tape without digests");
        tape.advance(5);
        assert_eq!((tape.line, tape.row_line()), (3, 3));
        tape.advance(6);
        assert_eq!(tape.line, 3);
    }

    #[test]
    fn a_mark_is_stored_with_its_digest_in_hex_and_read_back() {
        let mark = Mark::start();
        let json = serde_json::to_string(&mark).unwrap();
        assert_eq!(
            json,
            r#"{"offset":0,"line":1,"sha256":"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}"#
        );
        assert_eq!(serde_json::from_str::<Mark>(&json).unwrap(), mark);
        let short = json.replace("b855\"", "b8\"");
        assert!(serde_json::from_str::<Mark>(&short).is_err());
        let not_hex = json.replace("e3b0", "e3g0");
        assert!(serde_json::from_str::<Mark>(&not_hex).is_err());
        let without = Mark {
            sha256: None,
            ..mark
        };
        let json = serde_json::to_string(&without).unwrap();
        assert!(json.ends_with(r#""sha256":null}"#), "{json}");
        assert!(
            serde_json::from_str::<Mark>(&json).is_err(),
            "never resumed from"
        );
    }

    #[test]
    fn a_row_longer_than_the_limit_fails_as_it_is_read() {
        let endless = io::repeat(b'x');
        let mut tape = Tape::new(endless, 1000, Digests::Skipped);
        let mut buffered = io::BufReader::with_capacity(64, &mut tape);
        let error = buffered.read_until(b'\n', &mut Vec::new()).unwrap_err();
        assert!(is_row_too_long(&error), "{error}");
        drop(buffered);
        assert_eq!(tape.pending().len(), 1000);
        assert!(!is_row_too_long(&io::Error::other("disk")));
    }

    #[test]
    fn the_limit_counts_from_the_last_boundary() {
        let mut tape = Tape::new(io::repeat(b'x').take(250), 100, Digests::Skipped);
        let mut buf = [0; 80];
        for end in [80, 160, 240] {
            assert_eq!(tape.read(&mut buf).unwrap(), 80);
            tape.advance(end);
        }
        assert_eq!(tape.read(&mut buf).unwrap(), 10);
        assert_eq!(tape.read(&mut buf).unwrap(), 0);
        assert!(tape.kept.len() <= 200, "{}", tape.kept.len());
    }
}
