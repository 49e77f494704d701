//! The input as it is stored: plain text, or gzip-compressed, as Mixpanel's own importer
//! takes CSV and NDJSON.
//!
//! Compression is recognised by the input's first two bytes, the gzip magic number
//! `1f 8b`, whatever the input is called: standard input has no name, and a name can be
//! wrong either way (a download decompressed on the way that kept its `.gz`, a gzip file
//! renamed `.csv`). No CSV or NDJSON text starts with those bytes (`1f` is a control
//! character, `8b` cannot start a UTF-8 character), so plain text is never taken for gzip.
//!
//! Everything past this module reads the decompressed text: rows, their lines, the row
//! limit (so a gzip bomb stops at its first row longer than the limit, its rest never
//! decompressed), and the checkpoint's offsets and digest. Only progress counts the
//! compressed bytes, since the file's size is all there is to compare with.
//!
//! A file of several gzip members (`cat a.gz b.gz`, or what parallel compressors write)
//! is one gzip file: it is read to its end, not to the end of its first member.

use std::io::{self, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use flate2::read::MultiGzDecoder;

/// The first two bytes of every gzip member.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// An input's text, decompressed if it was compressed.
pub(super) struct Opened {
    /// The text rows are read from.
    pub(super) text: Box<dyn Read + Send>,
    /// For a compressed input, how much of it the decoder has read; `None` for plain text,
    /// whose stored bytes are its text.
    pub(super) compressed: Option<CompressedBytes>,
}

/// How many bytes of a compressed input the decoder has read so far, shared between the
/// decoder and whoever reports progress.
#[derive(Debug, Clone, Default)]
pub(crate) struct CompressedBytes(Arc<AtomicU64>);

impl CompressedBytes {
    /// The bytes read so far.
    pub(crate) fn get(&self) -> u64 {
        // Read and written on the reader thread only; the atomic just lets it be shared.
        self.0.load(Ordering::Relaxed)
    }
}

/// The text of `input`: decompressed when it starts with the gzip magic number, as it is
/// otherwise.
pub(super) fn open(mut input: Box<dyn Read + Send>) -> io::Result<Opened> {
    let (head, len) = read_head(&mut input)?;
    let input = io::Cursor::new(head).take(len as u64).chain(input);
    if head[..len] != GZIP_MAGIC {
        return Ok(Opened {
            text: Box::new(input),
            compressed: None,
        });
    }
    let read = CompressedBytes::default();
    let counted = Counted {
        inner: input,
        read: read.clone(),
    };
    Ok(Opened {
        text: Box::new(Gunzip(MultiGzDecoder::new(counted))),
        compressed: Some(read),
    })
}

/// The first bytes of `input`, as many as the magic number has unless the input is
/// shorter: a pipe may hand them over one at a time.
fn read_head(input: &mut impl Read) -> io::Result<([u8; 2], usize)> {
    let mut head = [0; GZIP_MAGIC.len()];
    let mut len = 0;
    while len < head.len() {
        match input.read(&mut head[len..]) {
            Ok(0) => break,
            Ok(read) => len += read,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok((head, len))
}

/// A reader that counts the bytes read through it.
struct Counted<R> {
    inner: R,
    read: CompressedBytes,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = self.inner.read(buf)?;
        self.read.0.fetch_add(read as u64, Ordering::Relaxed);
        Ok(read)
    }
}

/// The decoder, its errors saying that they come from decompressing: flate2's own
/// ("corrupt deflate stream", "invalid gzip header") do not name gzip.
struct Gunzip<R: Read>(MultiGzDecoder<R>);

impl<R: Read> Read for Gunzip<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf).map_err(|error| match error.kind() {
            io::ErrorKind::Interrupted => error,
            kind => io::Error::new(
                kind,
                format!(
                    "cannot decompress the gzip input ({error}): it may be damaged or cut short"
                ),
            ),
        })
    }
}

#[cfg(test)]
pub(super) mod tests {
    use std::io::Write;

    use flate2::Compression;
    use flate2::write::GzEncoder;

    use super::*;

    /// `text`, gzip-compressed.
    pub(in crate::import::input) fn gzip(text: &[u8]) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(text).unwrap();
        encoder.finish().unwrap()
    }

    fn read_all(stored: Vec<u8>) -> (io::Result<Vec<u8>>, Option<u64>) {
        let opened = open(Box::new(io::Cursor::new(stored))).unwrap();
        let mut text = Vec::new();
        let read = { opened.text }.read_to_end(&mut text).map(|_| text);
        (read, opened.compressed.map(|c| c.get()))
    }

    #[test]
    fn gzip_is_recognised_by_its_bytes_and_plain_text_passes_as_it_is() {
        let text = b"distinct_id,alias\nanon-1,user-1\n";
        let stored = gzip(text);
        let stored_len = stored.len() as u64;
        assert_eq!(read_all(stored).0.unwrap(), text);
        assert_eq!(read_all(gzip(text)).1, Some(stored_len));
        for plain in [&text[..], b"", b"\x1f", b"\x1fx, not gzip"] {
            let (read, compressed) = read_all(plain.to_vec());
            assert_eq!(read.unwrap(), plain);
            assert_eq!(compressed, None);
        }
    }

    #[test]
    fn every_member_of_a_multi_member_file_is_read() {
        let mut stored = gzip(b"distinct_id,alias\nanon-1,user-1\n");
        stored.extend(gzip(b"anon-2,user-2\n"));
        assert_eq!(
            read_all(stored).0.unwrap(),
            b"distinct_id,alias\nanon-1,user-1\nanon-2,user-2\n"
        );
    }

    #[test]
    fn a_damaged_or_cut_file_is_an_error_that_names_gzip() {
        let text: Vec<u8> = (0..2000)
            .flat_map(|i| format!("anon-{i},user-{i}\n").into_bytes())
            .collect();
        let stored = gzip(&text);
        let mut cut = stored.clone();
        cut.truncate(stored.len() / 2);
        let mut damaged = stored;
        let middle = damaged.len() / 2;
        damaged[middle..middle + 8].fill(0xff);
        for broken in [cut, damaged] {
            let error = read_all(broken).0.unwrap_err();
            assert!(
                error
                    .to_string()
                    .starts_with("cannot decompress the gzip input ("),
                "{error}"
            );
        }
    }
}
