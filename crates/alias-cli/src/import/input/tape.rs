//! What a parser has taken from the input since the last row boundary, bounded.
//!
//! The csv crate, like any reader of lines, holds a whole record before handing it over:
//! on an input without line ends (`/dev/zero`) it grows until memory runs out. A [`Tape`]
//! sits between the input and the parser and keeps the bytes handed out since the caller
//! last marked a row boundary. It refuses to hand out more once those reach the row limit,
//! so a row longer than that fails as it is read and is never held whole. The bytes kept
//! are also the row as it was written, quotes and line ends included, which the parsed
//! record no longer shows.

use std::io::{self, Read};

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
    /// A tape over `inner` that refuses rows longer than `limit` bytes.
    pub(crate) fn new(inner: R, limit: usize) -> Self {
        Self {
            inner,
            kept: Vec::new(),
            start: 0,
            offset: 0,
            line: 1,
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
        let blank = self
            .pending()
            .iter()
            .take_while(|&&b| b == b'\n' || b == b'\r')
            .filter(|&&b| b == b'\n')
            .count();
        self.line + blank as u64
    }

    /// Whether the row ending at `end` ends the input.
    pub(crate) fn ends_input(&self, end: u64) -> bool {
        self.ended && end == self.offset + self.pending().len() as u64
    }

    /// Moves the boundary to input offset `end`, the end of a row the parser has read.
    pub(crate) fn advance(&mut self, end: u64) {
        let row = self.row(end);
        let (len, lines) = (row.len(), row.iter().filter(|&&b| b == b'\n').count());
        self.start += len;
        self.offset += len as u64;
        self.line += lines as u64;
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
        let mut tape = Tape::new(&b"a,b\n\n\r\nc,d\ne"[..], 64);
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
    }

    #[test]
    fn a_row_longer_than_the_limit_fails_as_it_is_read() {
        let endless = io::repeat(b'x');
        let mut tape = Tape::new(endless, 1000);
        let mut buffered = io::BufReader::with_capacity(64, &mut tape);
        let error = buffered.read_until(b'\n', &mut Vec::new()).unwrap_err();
        assert!(is_row_too_long(&error), "{error}");
        drop(buffered);
        assert_eq!(tape.pending().len(), 1000);
        assert!(!is_row_too_long(&io::Error::other("disk")));
    }

    #[test]
    fn the_limit_counts_from_the_last_boundary() {
        let mut tape = Tape::new(io::repeat(b'x').take(250), 100);
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
