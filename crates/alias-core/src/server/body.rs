//! The request body, decompressed within a bound.

use std::io::Read;

use flate2::read::MultiGzDecoder;
use http::HeaderMap;
use http::header::CONTENT_ENCODING;

use super::error::DecodeError;

/// The uncompressed body, and whether it was gzip.
pub(crate) struct Body<'a> {
    pub(crate) bytes: std::borrow::Cow<'a, [u8]>,
    pub(crate) gzip: bool,
}

/// Reads `body` as its `Content-Encoding` says, refusing more than `limit` uncompressed
/// bytes. Decompression stops one byte past the limit, so a small gzip bomb costs at most
/// `limit + 1` bytes of memory, never its full expansion.
pub(crate) fn uncompressed<'a>(
    headers: &HeaderMap,
    body: &'a [u8],
    limit: usize,
) -> Result<Body<'a>, DecodeError> {
    let encoding = headers
        .get(CONTENT_ENCODING)
        .map(|v| {
            String::from_utf8_lossy(v.as_bytes())
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    match encoding.as_str() {
        "" | "identity" => {
            if body.len() > limit {
                return Err(DecodeError::TooLarge { limit });
            }
            Ok(Body {
                bytes: body.into(),
                gzip: false,
            })
        }
        "gzip" | "x-gzip" => {
            let mut out = Vec::with_capacity(body.len().saturating_mul(4).min(limit));
            let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
            MultiGzDecoder::new(body)
                .take(cap)
                .read_to_end(&mut out)
                .map_err(|e| DecodeError::BadGzip {
                    reason: e.to_string(),
                })?;
            if out.len() > limit {
                return Err(DecodeError::TooLarge { limit });
            }
            Ok(Body {
                bytes: out.into(),
                gzip: true,
            })
        }
        _ => Err(DecodeError::UnsupportedEncoding { encoding }),
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use flate2::Compression;
    use flate2::write::GzEncoder;
    use http::HeaderValue;

    use super::*;

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    fn headers(encoding: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_ENCODING, HeaderValue::from_static(encoding));
        headers
    }

    #[test]
    fn gzip_is_decompressed() {
        let body = gzip(b"[1,2,3]");
        let decoded = uncompressed(&headers("GZip"), &body, 100).unwrap();
        assert!(decoded.gzip);
        assert_eq!(&*decoded.bytes, b"[1,2,3]");
    }

    #[test]
    fn a_gzip_bomb_stops_at_the_limit() {
        // 8 MiB of zeros compress to about 8 KiB.
        let bomb = gzip(&vec![0; 8 << 20]);
        assert!(bomb.len() < 20_000);
        assert_eq!(
            uncompressed(&headers("gzip"), &bomb, 64 << 10).err(),
            Some(DecodeError::TooLarge { limit: 64 << 10 })
        );
    }

    #[test]
    fn bad_gzip_unknown_encodings_and_large_plain_bodies_are_refused() {
        assert!(matches!(
            uncompressed(&headers("gzip"), b"not gzip", 100).err(),
            Some(DecodeError::BadGzip { .. })
        ));
        assert_eq!(
            uncompressed(&headers("br"), b"x", 100).err(),
            Some(DecodeError::UnsupportedEncoding {
                encoding: "br".into()
            })
        );
        assert_eq!(
            uncompressed(&HeaderMap::new(), b"12345", 4).err(),
            Some(DecodeError::TooLarge { limit: 4 })
        );
        assert_eq!(
            &*uncompressed(&headers("identity"), b"1234", 4)
                .unwrap()
                .bytes,
            b"1234"
        );
    }
}
