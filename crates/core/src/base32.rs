//! Crockford base32, lower case, without padding.
//!
//! Used for identifiers and tokens because it survives copy/paste, is case
//! insensitive when read back, and avoids the letters I, L, O and U that are
//! easily confused (see <https://www.crockford.com/base32.html>).

const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// Encodes `bytes` as a big-endian bit stream, 5 bits per character.
pub fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let mut buffer: u32 = 0;
    let mut bits = 0u32;
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((buffer >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// The value of one character, accepting upper case and the usual
/// look-alikes so a human-typed identifier still parses.
pub fn digit(c: u8) -> Option<u8> {
    let c = c.to_ascii_lowercase();
    match c {
        b'o' => Some(0),
        b'i' | b'l' => Some(1),
        _ => ALPHABET.iter().position(|&a| a == c).map(|p| p as u8),
    }
}

/// Whether `s` consists only of canonical (lower-case) alphabet characters.
pub fn is_canonical(s: &str) -> bool {
    s.bytes().all(|c| CANONICAL[usize::from(c)])
}

/// Which bytes are canonical digits: a table, because identifiers and
/// tokens are checked on every request and a search of the alphabet per
/// character was a measurable share of a request's CPU.
const CANONICAL: [bool; 256] = {
    let mut table = [false; 256];
    let mut i = 0;
    while i < ALPHABET.len() {
        table[ALPHABET[i] as usize] = true;
        i += 1;
    }
    table
};

/// Encodes a number into exactly `width` characters, most significant first.
pub fn encode_u64(mut value: u64, width: usize) -> String {
    let mut out = vec![b'0'; width];
    for slot in out.iter_mut().rev() {
        *slot = ALPHABET[(value & 31) as usize];
        value >>= 5;
    }
    String::from_utf8(out).expect("alphabet is ASCII")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_known_vectors() {
        assert_eq!(encode(&[]), "");
        assert_eq!(encode(&[0xff]), "zw");
        assert_eq!(encode(&[0, 0, 0, 0, 0]), "00000000");
        assert_eq!(encode(&[0xff; 5]), "zzzzzzzz");
        assert_eq!(encode_u64(31, 3), "00z");
    }

    #[test]
    fn digits_accept_lookalikes() {
        assert_eq!(digit(b'O'), Some(0));
        assert_eq!(digit(b'L'), Some(1));
        assert_eq!(digit(b'u'), None);
        assert!(is_canonical("0123abcz"));
        assert!(!is_canonical("ABC"));
        // The table agrees with the alphabet on every byte.
        for b in 0..=255u8 {
            let one = [b];
            let Ok(text) = std::str::from_utf8(&one) else {
                continue;
            };
            assert_eq!(is_canonical(text), ALPHABET.contains(&b), "byte {b}");
        }
    }
}
