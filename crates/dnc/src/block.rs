//! One exchange's listed line numbers (a subset of 0..10,000), encoded as
//! whichever is smaller: Elias-Fano or a plain 10,000-bit bitmap.
//!
//! Elias-Fano for `n` sorted values below `U = 10,000`: each value is split
//! into `l = floor(log2(U / n))` low bits, stored packed, and a high part
//! `h = v >> l`, stored in unary: value `i` sets bit `h + i` of the "upper"
//! bit string (`n + (U - 1 >> l) + 1` bits). That costs at most
//! `2 + log2(U / n)` bits per value, within a few percent of the
//! information-theoretic minimum at the registry's ~11% density. Above
//! about 30% density the bitmap is smaller and is used instead.
//!
//! A block is `upper ++ low` as one little-endian bit string, byte aligned.
//! Readers get the data region with 8 zero bytes of padding after the last
//! block, so any 64-bit read starting inside a block stays in bounds; the
//! directory entries are checked against that at open (`index.rs`).
//!
//! Lookups never need to decode a block: find the `h`-th zero of the upper
//! string by counting zeros 64 bits at a time, then compare the (few) low
//! parts of that bucket.

use crate::number::LINES;

/// How a block is encoded (2 bits of a directory entry).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Empty = 0,
    EliasFano = 1,
    Bitmap = 2,
}

impl Kind {
    pub(crate) fn from_bits(bits: u64) -> Option<Kind> {
        match bits {
            0 => Some(Kind::Empty),
            1 => Some(Kind::EliasFano),
            2 => Some(Kind::Bitmap),
            _ => None,
        }
    }
}

const BITMAP_BYTES: usize = LINES as usize / 8;

/// Low-bit width for `n` values (1..=10,000): `floor(log2(10,000 / n))`,
/// the largest `l` with `n << l <= 10,000`, found without a division (it
/// runs on every lookup; a division costs more than the rest of the
/// arithmetic). With `k = floor(log2 n)`, `l` is `13 - k` or `12 - k`.
#[inline]
pub(crate) fn low_bits(n: u32) -> u32 {
    let n = n.clamp(1, LINES);
    let l = 13 - (31 - n.leading_zeros());
    if n << l > LINES { l - 1 } else { l }
}

/// Length of the upper (unary) bit string for `n` values.
#[inline]
pub(crate) fn upper_len(n: u32) -> u32 {
    n + ((LINES - 1) >> low_bits(n)) + 1
}

fn ef_bytes(n: u32) -> usize {
    let bits = upper_len(n) as usize + n as usize * low_bits(n) as usize;
    bits.div_ceil(8)
}

/// Which encoding `n` values get, and its size in bytes.
pub(crate) fn choose(n: u32) -> (Kind, usize) {
    if n == 0 {
        (Kind::Empty, 0)
    } else if ef_bytes(n) <= BITMAP_BYTES {
        (Kind::EliasFano, ef_bytes(n))
    } else {
        (Kind::Bitmap, BITMAP_BYTES)
    }
}

/// Size in bytes of a block of this kind holding `n` values.
pub(crate) fn size(kind: Kind, n: u32) -> usize {
    match kind {
        Kind::Empty => 0,
        Kind::EliasFano => ef_bytes(n),
        Kind::Bitmap => BITMAP_BYTES,
    }
}

/// Appends the block for `lines` (a 10,000-bit set as 157 words) to `out`;
/// returns its kind and value count.
pub(crate) fn encode(lines: &[u64], out: &mut Vec<u8>) -> (Kind, u32) {
    let n: u32 = lines.iter().map(|w| w.count_ones()).sum();
    let (kind, bytes) = choose(n);
    let start = out.len();
    out.resize(start + bytes, 0);
    let block = &mut out[start..];
    match kind {
        Kind::Empty => {}
        Kind::Bitmap => {
            for (i, byte) in block.iter_mut().enumerate() {
                *byte = (lines[i / 8] >> ((i % 8) * 8)) as u8;
            }
        }
        Kind::EliasFano => {
            let l = low_bits(n);
            let upper = upper_len(n) as usize;
            let mut i = 0usize;
            for_each_set(lines, |v| {
                let h = (v >> l) as usize;
                set_bit(block, h + i);
                let low = v & ((1u32 << l) - 1);
                for b in 0..l {
                    if low >> b & 1 == 1 {
                        set_bit(block, upper + i * l as usize + b as usize);
                    }
                }
                i += 1;
            });
        }
    }
    (kind, n)
}

fn set_bit(block: &mut [u8], bit: usize) {
    block[bit / 8] |= 1 << (bit % 8);
}

/// Calls `f` with every value of a 10,000-bit set, ascending.
pub(crate) fn for_each_set(lines: &[u64], mut f: impl FnMut(u32)) {
    for (wi, &w) in lines.iter().enumerate() {
        let mut w = w;
        while w != 0 {
            let b = w.trailing_zeros();
            f(wi as u32 * 64 + b);
            w &= w - 1;
        }
    }
}

/// 64 bits of `data` starting at byte `byte` (zero past the end, which the
/// validated layout never reaches).
#[inline]
fn word_at(data: &[u8], byte: usize) -> u64 {
    match data.get(byte..byte + 8) {
        Some(s) => u64::from_le_bytes([s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]]),
        None => 0,
    }
}

/// `width` (<= 57) bits at bit `bit` of the block starting at byte `base`.
#[inline]
fn bits_at(data: &[u8], base: usize, bit: usize, width: u32) -> u32 {
    let w = word_at(data, base + bit / 8) >> (bit % 8);
    (w & ((1u64 << width) - 1)) as u32
}

/// Position of the `k`-th (0-based) set bit of `w`, which has more than `k`.
#[inline]
fn select_in_word(mut w: u64, k: u32) -> u32 {
    for _ in 0..k {
        w &= w - 1;
    }
    w.trailing_zeros()
}

/// Where a scan of an Elias-Fano block's upper string stands: lookups in
/// ascending order reuse it, so a sorted batch reads each block once.
#[derive(Clone, Copy, Default)]
pub(crate) struct Cursor {
    /// Bit offset (multiple of 64) of the next 64-bit chunk to count.
    chunk: u32,
    /// Zeros in the upper string before `chunk`.
    zeros_before: u32,
}

/// Whether `line` is in the block of `kind` with `n` values at byte `base`
/// of `data`. `cursor` must come from lookups of smaller or equal `line`
/// in the same block (or be fresh).
#[inline]
pub(crate) fn contains(
    data: &[u8],
    base: usize,
    kind: Kind,
    n: u32,
    line: u32,
    cursor: &mut Cursor,
) -> bool {
    match kind {
        Kind::Empty => false,
        Kind::Bitmap => {
            let byte = data.get(base + line as usize / 8).copied().unwrap_or(0);
            byte >> (line % 8) & 1 == 1
        }
        Kind::EliasFano => ef_contains(data, base, n, line, cursor),
    }
}

#[inline]
fn ef_contains(data: &[u8], base: usize, n: u32, line: u32, cursor: &mut Cursor) -> bool {
    let l = low_bits(n);
    let upper = upper_len(n);
    let h = line >> l;
    let target_low = line & ((1 << l) - 1);
    // Start of bucket h: just after the h-th zero (1-based) of the upper string.
    let start = if h == 0 {
        0
    } else {
        loop {
            if cursor.chunk >= upper {
                return false; // only a corrupt block runs out of zeros
            }
            let valid = (upper - cursor.chunk).min(64);
            let mask = if valid == 64 {
                u64::MAX
            } else {
                (1u64 << valid) - 1
            };
            let zeros = !word_at(data, base + cursor.chunk as usize / 8) & mask;
            let z = zeros.count_ones();
            if cursor.zeros_before + z >= h {
                break cursor.chunk + select_in_word(zeros, h - cursor.zeros_before - 1) + 1;
            }
            cursor.zeros_before += z;
            cursor.chunk += 64;
        }
    };
    // Values before the bucket = ones before `start` = start - h.
    let mut i = start - h;
    let mut pos = start;
    while pos < upper && i < n {
        if bits_at(data, base, pos as usize, 1) == 0 {
            return false; // end of the bucket
        }
        let low = bits_at(data, base, (upper + i * l) as usize, l);
        if low >= target_low {
            return low == target_low;
        }
        i += 1;
        pos += 1;
    }
    false
}

/// Decodes every value of a block, ascending, into `out` (cleared first).
/// Stops early, without panicking, on a corrupt block.
pub(crate) fn decode(data: &[u8], base: usize, kind: Kind, n: u32, out: &mut Vec<u16>) {
    out.clear();
    match kind {
        Kind::Empty => {}
        Kind::Bitmap => {
            for line in 0..LINES {
                let byte = data.get(base + line as usize / 8).copied().unwrap_or(0);
                if byte >> (line % 8) & 1 == 1 {
                    out.push(line as u16);
                }
            }
        }
        Kind::EliasFano => {
            let l = low_bits(n);
            let upper = upper_len(n);
            let mut h = 0u32;
            let mut i = 0u32;
            for pos in 0..upper {
                if i >= n {
                    break;
                }
                if bits_at(data, base, pos as usize, 1) == 1 {
                    let low = bits_at(data, base, (upper + i * l) as usize, l);
                    let v = (h << l) | low;
                    if v >= LINES {
                        return;
                    }
                    out.push(v as u16);
                    i += 1;
                } else {
                    h += 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn set_of(values: &[u32]) -> Vec<u64> {
        let mut words = vec![0u64; (LINES as usize).div_ceil(64)];
        for &v in values {
            words[v as usize / 64] |= 1 << (v % 64);
        }
        words
    }

    fn check(values: &std::collections::BTreeSet<u32>) {
        let v: Vec<u32> = values.iter().copied().collect();
        let mut data = Vec::new();
        // Something before the block, so offsets are exercised.
        data.extend_from_slice(&[0xA5; 3]);
        let (kind, n) = encode(&set_of(&v), &mut data);
        assert_eq!(n as usize, v.len());
        assert_eq!(data.len() - 3, size(kind, n));
        data.extend_from_slice(&[0xFF; 8]); // hostile padding: must not matter
        for line in 0..LINES {
            let mut c = Cursor::default();
            assert_eq!(
                contains(&data, 3, kind, n, line, &mut c),
                values.contains(&line),
                "line {line} kind {kind:?} n {n}"
            );
        }
        // One cursor across ascending lookups gives the same answers.
        let mut c = Cursor::default();
        for line in 0..LINES {
            assert_eq!(
                contains(&data, 3, kind, n, line, &mut c),
                values.contains(&line)
            );
        }
        let mut out = Vec::new();
        decode(&data, 3, kind, n, &mut out);
        assert_eq!(out.iter().map(|&x| x as u32).collect::<Vec<_>>(), v);
    }

    #[test]
    fn edges() {
        check(&[].into());
        check(&[0].into());
        check(&[9999].into());
        check(&[0, 9999].into());
        check(&(0..10_000).collect());
        check(&(0..10_000).step_by(3).collect());
        check(&(0..10_000).step_by(9).collect());
        check(&(5000..5100).collect());
    }

    #[test]
    fn low_bits_is_floor_log2_of_universe_over_count() {
        for n in 1..=LINES {
            assert_eq!(low_bits(n), 31 - (LINES / n).leading_zeros(), "n = {n}");
        }
    }

    #[test]
    fn encoding_choice() {
        assert_eq!(low_bits(1), 13);
        assert_eq!(low_bits(1120), 3);
        assert_eq!(low_bits(10_000), 0);
        assert_eq!(choose(1120).0, Kind::EliasFano);
        assert_eq!(choose(5000).0, Kind::Bitmap);
        // ~5.1 bits per value at the registry's density.
        assert!(ef_bytes(1120) * 8 < 1120 * 53 / 10);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        #[test]
        fn exact_against_btreeset(values in proptest::collection::btree_set(0u32..10_000, 0..3000)) {
            check(&values);
        }
    }
}
