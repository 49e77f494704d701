//! Byte-level mutations, in the manner of libFuzzer's, without its coverage feedback.
//!
//! Each call applies one to four stacked mutations chosen at random: bit flips, bytes that
//! matter to HTTP, JSON, forms and base64, inserted and deleted ranges, repeated ranges
//! (which grow nesting and lists), dictionary tokens, boundary numbers, and splices from
//! another corpus entry.

use fastrand::Rng;

/// Bytes that change how a parser branches.
const INTERESTING_BYTES: &[u8] = b"\x00\xff\x80\xc3{}[]\"\\:,=&%+/-_ \r\n\t01";

/// Numbers at the edges of what the parsers read: statuses, counts, indexes, seconds.
const INTERESTING_NUMBERS: &[&[u8]] = &[
    b"0",
    b"-1",
    b"1",
    b"99",
    b"199",
    b"1000",
    b"65535",
    b"4294967296",
    b"18446744073709551615",
    b"18446744073709551616",
    b"9223372036854775808",
    b"1e400",
    b"-0.0",
    b"1.5",
];

/// Mutates `input` in place, never beyond `max_len` bytes. `other` is another corpus entry
/// to splice from; `dictionary` holds tokens of the target's formats.
pub(crate) fn mutate(
    rng: &mut Rng,
    input: &mut Vec<u8>,
    other: &[u8],
    dictionary: &[&[u8]],
    max_len: usize,
) {
    for _ in 0..rng.usize(1..=4) {
        match rng.u8(0..10) {
            0 => flip_bit(rng, input),
            1 => set_byte(rng, input),
            2 => {
                let bytes = random_bytes(rng);
                insert(rng, input, &bytes);
            }
            3 => delete_range(rng, input),
            4 => repeat_range(rng, input),
            5 => {
                let token = dictionary[rng.usize(..dictionary.len())];
                insert(rng, input, token);
            }
            6 => replace_number(rng, input),
            7 => splice(rng, input, other),
            8 => input.truncate(rng.usize(..=input.len())),
            _ => swap_ranges(rng, input),
        }
    }
    input.truncate(max_len);
}

fn flip_bit(rng: &mut Rng, input: &mut [u8]) {
    if !input.is_empty() {
        let at = rng.usize(..input.len());
        input[at] ^= 1 << rng.u8(0..8);
    }
}

fn set_byte(rng: &mut Rng, input: &mut [u8]) {
    if !input.is_empty() {
        let at = rng.usize(..input.len());
        input[at] = INTERESTING_BYTES[rng.usize(..INTERESTING_BYTES.len())];
    }
}

fn random_bytes(rng: &mut Rng) -> Vec<u8> {
    (0..rng.usize(1..=8)).map(|_| rng.u8(..)).collect()
}

fn insert(rng: &mut Rng, input: &mut Vec<u8>, bytes: &[u8]) {
    let at = rng.usize(..=input.len());
    input.splice(at..at, bytes.iter().copied());
}

/// A random range of `input`, possibly empty.
fn range(rng: &mut Rng, input: &[u8]) -> std::ops::Range<usize> {
    let start = rng.usize(..=input.len());
    let end = rng.usize(start..=input.len().min(start + 64));
    start..end
}

fn delete_range(rng: &mut Rng, input: &mut Vec<u8>) {
    let range = range(rng, input);
    input.drain(range);
}

/// Repeats a range up to 64 times in place: `[[[`, `{"a":1},{"a":1},...`.
fn repeat_range(rng: &mut Rng, input: &mut Vec<u8>) {
    let range = range(rng, input);
    let copy = input[range.clone()].to_vec();
    let times = rng.usize(1..=64);
    input.splice(
        range.end..range.end,
        copy.iter().copied().cycle().take(copy.len() * times),
    );
}

/// Replaces the first run of digits at or after a random point with a boundary number.
fn replace_number(rng: &mut Rng, input: &mut Vec<u8>) {
    let from = rng.usize(..=input.len());
    let Some(start) = input[from..].iter().position(u8::is_ascii_digit) else {
        return;
    };
    let start = from + start;
    let len = input[start..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    let number = INTERESTING_NUMBERS[rng.usize(..INTERESTING_NUMBERS.len())];
    input.splice(start..start + len, number.iter().copied());
}

fn splice(rng: &mut Rng, input: &mut Vec<u8>, other: &[u8]) {
    let taken = range(rng, other);
    let replaced = range(rng, input);
    input.splice(replaced, other[taken].iter().copied());
}

fn swap_ranges(rng: &mut Rng, input: &mut [u8]) {
    if input.len() < 2 {
        return;
    }
    let len = rng.usize(1..=(input.len() / 2).min(32));
    let first = rng.usize(..=input.len() / 2 - len);
    let second = rng.usize(input.len() / 2..=input.len() - len);
    let (head, tail) = input.split_at_mut(second);
    head[first..first + len].swap_with_slice(&mut tail[..len]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutants_stay_within_the_length_bound_and_differ() {
        let mut rng = Rng::with_seed(1);
        let seed = b"HTTP/1.1 200 OK\r\n\r\n{\"status\":1,\"error\":null}".to_vec();
        let mut changed = 0;
        for _ in 0..2000 {
            let mut input = seed.clone();
            mutate(&mut rng, &mut input, b"[1,2,3]", &[b"{", b"\"code\":"], 64);
            assert!(input.len() <= 64, "{}", input.len());
            changed += usize::from(input != seed);
        }
        // A stack of mutations can cancel out, but rarely.
        assert!(changed > 1900, "{changed}");
    }

    #[test]
    fn an_empty_input_grows() {
        let mut rng = Rng::with_seed(2);
        let grew = (0..100).any(|_| {
            let mut input = Vec::new();
            mutate(&mut rng, &mut input, b"", &[b"x"], 16);
            !input.is_empty()
        });
        assert!(grew);
    }

    #[test]
    fn numbers_are_replaced_whole() {
        let mut rng = Rng::with_seed(3);
        let mut input = b"status 200 end".to_vec();
        while input == b"status 200 end" {
            replace_number(&mut rng, &mut input);
        }
        let text = String::from_utf8(input).unwrap();
        assert!(
            text.starts_with("status ") && text.ends_with(" end"),
            "{text}"
        );
        assert!(!text.contains("200"), "{text}");
    }
}
