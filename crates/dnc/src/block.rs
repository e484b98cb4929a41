//! One sub-block: the listed lines of a 1,250-line range of one exchange
//! (an eighth of it), encoded as whichever is smaller: Elias-Fano or a
//! plain 1,250-bit bitmap, after a 2-byte count.
//!
//! Why 1,250 lines and not the whole exchange: a random lookup's cost is
//! the cache lines it touches one after the other. With one block per
//! exchange (format 1) that was the directory entry, the block's start and
//! a scan of up to ~37 words of upper bits to the bucket, then the low
//! bits: three to five lines. A sub-block at the registry's density holds
//! ~140 numbers in ~92 bytes, so after the directory entry a lookup reads
//! one or two adjacent lines and scans at most five words, and a sorted
//! batch streams through the data in address order.
//!
//! Elias-Fano for `n` sorted values below `U = 1,250`: each value is split
//! into `l = floor(log2(U / n))` low bits, stored packed, and a high part
//! `h = v >> l`, stored in unary: value `i` sets bit `h + i` of the "upper"
//! bit string (`n + (U - 1 >> l) + 1` bits). That costs at most
//! `2 + log2(U / n)` bits per value, within a few percent of the
//! information-theoretic minimum at the registry's ~11% density. Above
//! about 30% density the bitmap is smaller and is used instead; the count
//! decides which, so it is not stored.
//!
//! A sub-block is `count (u16) ++ upper ++ low`, the bits little-endian,
//! byte aligned; an empty range has no sub-block at all (zero length in
//! the directory). Readers get the data region with 8 zero bytes of
//! padding after the last sub-block, so any 64-bit read starting inside
//! one stays in bounds; lengths are checked against the count at open
//! (`index.rs`).
//!
//! Lookups never need to decode: find the `h`-th zero of the upper string
//! by counting zeros 64 bits at a time, then compare the (few) low parts
//! of that bucket.

/// Lines per sub-block; an exchange (10,000 lines) has [`SUBS`].
pub(crate) const SPAN: u32 = 1250;
/// Sub-blocks per exchange.
pub(crate) const SUBS: usize = 8;
/// Bytes of the count before a sub-block's bits.
pub(crate) const HEAD: usize = 2;

/// How a non-empty sub-block is encoded; a function of its count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    EliasFano,
    Bitmap,
}

const BITMAP_BYTES: usize = (SPAN as usize).div_ceil(8);

/// Low-bit width for `n` values (1..=1,250): `floor(log2(1,250 / n))`,
/// the largest `l` with `n << l <= 1,250`, found without a division (it
/// runs on every lookup; a division costs more than the rest of the
/// arithmetic). With `k = floor(log2 n)`, `l` is `10 - k` or `9 - k`.
#[inline]
pub(crate) fn low_bits(n: u32) -> u32 {
    let n = n.clamp(1, SPAN);
    let l = 10 - (31 - n.leading_zeros());
    if n << l > SPAN { l - 1 } else { l }
}

/// Length of the upper (unary) bit string for `n` values.
#[inline]
pub(crate) fn upper_len(n: u32) -> u32 {
    n + ((SPAN - 1) >> low_bits(n)) + 1
}

fn ef_bytes(n: u32) -> usize {
    let bits = upper_len(n) as usize + n as usize * low_bits(n) as usize;
    bits.div_ceil(8)
}

/// The encoding of `n` (>= 1) values.
#[inline]
pub(crate) fn kind(n: u32) -> Kind {
    if ef_bytes(n) <= BITMAP_BYTES {
        Kind::EliasFano
    } else {
        Kind::Bitmap
    }
}

/// Size in bytes of the sub-block holding `n` values, count included
/// (0 for none).
pub(crate) fn size(n: u32) -> usize {
    match n {
        0 => 0,
        n => {
            HEAD + match kind(n) {
                Kind::EliasFano => ef_bytes(n),
                Kind::Bitmap => BITMAP_BYTES,
            }
        }
    }
}

/// Appends the sub-block `sub` (0..8) of an exchange's 10,000-bit set
/// (157 words) to `out`; returns its value count.
pub(crate) fn encode(lines: &[u64], sub: usize, out: &mut Vec<u8>) -> u32 {
    let lo = sub as u32 * SPAN;
    // Only the words that overlap the sub-block's range.
    let first = lo as usize / 64;
    let last = ((lo + SPAN - 1) as usize / 64).min(lines.len() - 1);
    let mut values = Vec::new();
    for_each_set(&lines[first..=last], |v| {
        let v = v + first as u32 * 64;
        if (lo..lo + SPAN).contains(&v) {
            values.push(v - lo);
        }
    });
    let n = values.len() as u32;
    let start = out.len();
    out.resize(start + size(n), 0);
    if n == 0 {
        return 0;
    }
    out[start..start + HEAD].copy_from_slice(&(n as u16).to_le_bytes());
    let block = &mut out[start + HEAD..];
    match kind(n) {
        Kind::Bitmap => {
            for v in values {
                set_bit(block, v as usize);
            }
        }
        Kind::EliasFano => {
            let l = low_bits(n);
            let upper = upper_len(n) as usize;
            for (i, v) in values.into_iter().enumerate() {
                set_bit(block, (v >> l) as usize + i);
                let low = v & ((1u32 << l) - 1);
                for b in 0..l {
                    if low >> b & 1 == 1 {
                        set_bit(block, upper + i * l as usize + b as usize);
                    }
                }
            }
        }
    }
    n
}

fn set_bit(block: &mut [u8], bit: usize) {
    block[bit / 8] |= 1 << (bit % 8);
}

/// Calls `f` with every value of a bit set, ascending.
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

/// The count stored at the head of the sub-block at byte `base`.
#[inline]
pub(crate) fn count(data: &[u8], base: usize) -> u32 {
    match data.get(base..base + HEAD) {
        Some(s) => u32::from(u16::from_le_bytes([s[0], s[1]])),
        None => 0,
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

/// `width` (<= 57) bits at bit `bit` of the bits starting at byte `base`.
#[inline]
fn bits_at(data: &[u8], base: usize, bit: usize, width: u32) -> u32 {
    let w = word_at(data, base + bit / 8) >> (bit % 8);
    (w & ((1u64 << width) - 1)) as u32
}

/// Position of the `k`-th (0-based) set bit of `w`, which has more than `k`.
/// Skips whole bytes by their popcount first: clearing bits one at a time
/// took ~17 dependent steps on average (about 34 zeros per upper word).
#[inline]
fn select_in_word(w: u64, k: u32) -> u32 {
    let (mut w, mut k, mut base) = (w, k, 0);
    loop {
        let c = (w as u8).count_ones();
        if k < c || base >= 56 {
            break;
        }
        k -= c;
        w >>= 8;
        base += 8;
    }
    let mut b = w & 0xFF;
    for _ in 0..k {
        b &= b.wrapping_sub(1);
    }
    base + b.trailing_zeros()
}

/// Where a scan of a sub-block's upper string stands: lookups in
/// ascending order reuse it, so a sorted batch reads each sub-block once.
#[derive(Clone, Copy, Default)]
pub(crate) struct Cursor {
    /// Bit offset (multiple of 64) of the next 64-bit chunk to count.
    chunk: u32,
    /// Zeros in the upper string before `chunk`.
    zeros_before: u32,
}

/// Whether `line` (< 1,250) is in the non-empty sub-block at byte `base`
/// of `data`. `cursor` must come from lookups of smaller or equal `line`
/// in the same sub-block (or be fresh).
#[inline]
pub(crate) fn contains(data: &[u8], base: usize, line: u32, cursor: &mut Cursor) -> bool {
    let n = count(data, base);
    if n == 0 {
        return false; // only a corrupt sub-block (validated at open)
    }
    let bits = base + HEAD;
    match kind(n) {
        Kind::Bitmap => {
            let byte = data.get(bits + line as usize / 8).copied().unwrap_or(0);
            byte >> (line % 8) & 1 == 1
        }
        Kind::EliasFano => ef_contains(data, bits, n, line, cursor),
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

/// Decodes every value of the non-empty sub-block at byte `base`,
/// ascending, into `out` (cleared first). Stops early, without
/// panicking, on a corrupt sub-block.
pub(crate) fn decode(data: &[u8], base: usize, out: &mut Vec<u16>) {
    out.clear();
    let n = count(data, base);
    if n == 0 {
        return;
    }
    let base = base + HEAD;
    match kind(n) {
        Kind::Bitmap => {
            for line in 0..SPAN {
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
                    if v >= SPAN {
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
    use crate::number::LINES;
    use proptest::prelude::*;

    fn set_of(values: &[u32]) -> Vec<u64> {
        let mut words = vec![0u64; (LINES as usize).div_ceil(64)];
        for &v in values {
            words[v as usize / 64] |= 1 << (v % 64);
        }
        words
    }

    /// Encodes all eight sub-blocks of an exchange and checks every line.
    fn check(values: &std::collections::BTreeSet<u32>) {
        let v: Vec<u32> = values.iter().copied().collect();
        let words = set_of(&v);
        for sub in 0..SUBS {
            let lo = sub as u32 * SPAN;
            let mut data = Vec::new();
            // Something before the sub-block, so offsets are exercised.
            data.extend_from_slice(&[0xA5; 3]);
            let n = encode(&words, sub, &mut data);
            let expected: Vec<u32> = v
                .iter()
                .filter(|&&x| (lo..lo + SPAN).contains(&x))
                .map(|&x| x - lo)
                .collect();
            assert_eq!(n as usize, expected.len());
            assert_eq!(data.len() - 3, size(n));
            if n == 0 {
                continue;
            }
            assert_eq!(count(&data, 3), n);
            data.extend_from_slice(&[0xFF; 8]); // hostile padding: must not matter
            for line in 0..SPAN {
                let mut c = Cursor::default();
                assert_eq!(
                    contains(&data, 3, line, &mut c),
                    values.contains(&(lo + line)),
                    "line {line} sub {sub} n {n}"
                );
            }
            // One cursor across ascending lookups gives the same answers.
            let mut c = Cursor::default();
            for line in 0..SPAN {
                assert_eq!(
                    contains(&data, 3, line, &mut c),
                    values.contains(&(lo + line))
                );
            }
            let mut out = Vec::new();
            decode(&data, 3, &mut out);
            assert_eq!(out.iter().map(|&x| x as u32).collect::<Vec<_>>(), expected);
        }
    }

    #[test]
    fn edges() {
        check(&[].into());
        check(&[0].into());
        check(&[9999].into());
        check(&[0, 1249, 1250, 2499, 2500, 9999].into());
        check(&(0..10_000).collect());
        check(&(0..10_000).step_by(3).collect());
        check(&(0..10_000).step_by(9).collect());
        check(&(5000..5100).collect());
        check(&(1200..1300).collect());
    }

    #[test]
    fn select_in_word_finds_every_set_bit() {
        for w in [1u64, u64::MAX, 0x8000_0000_0000_0001, 0xF0F0_0000_FF00_0A0A] {
            let positions: Vec<u32> = (0..64).filter(|b| w >> b & 1 == 1).collect();
            for (k, &p) in positions.iter().enumerate() {
                assert_eq!(select_in_word(w, k as u32), p, "{w:#x} k={k}");
            }
        }
    }

    #[test]
    fn low_bits_is_floor_log2_of_span_over_count() {
        for n in 1..=SPAN {
            assert_eq!(low_bits(n), 31 - (SPAN / n).leading_zeros(), "n = {n}");
        }
    }

    #[test]
    fn encoding_choice() {
        assert_eq!(SPAN as usize * SUBS, LINES as usize);
        assert_eq!(low_bits(1), 10);
        assert_eq!(low_bits(140), 3);
        assert_eq!(low_bits(SPAN), 0);
        assert_eq!(kind(140), Kind::EliasFano);
        assert_eq!(kind(625), Kind::Bitmap);
        assert_eq!(size(0), 0);
        // ~5.3 bits per value at the registry's density, count included.
        assert!(size(140) * 8 < 140 * 54 / 10);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        #[test]
        fn exact_against_btreeset(values in proptest::collection::btree_set(0u32..10_000, 0..3000)) {
            check(&values);
        }
    }
}
