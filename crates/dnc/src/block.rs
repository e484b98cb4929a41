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
//! padded with zeros to a multiple of 8 bytes (format 3: the directory
//! gives sizes in 8-byte units); an empty range has no sub-block at all
//! (size 0 in the directory). Readers get the data region with 8 zero bytes of
//! padding after the last sub-block, so any 64-bit read starting inside
//! one stays in bounds; lengths are checked against the count at open
//! (`index.rs`).
//!
//! Lookups never need to decode: find the `h`-th zero of the upper string
//! by counting zeros 64 bits at a time, then compare the (few) low parts
//! of that bucket, without loops or branches on the block's bytes beyond
//! the word count (`ef_contains`).

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

/// Sub-blocks start and end on multiples of 8 bytes, so that the
/// directory can give their sizes in 8-byte units, five bits each, and one
/// 64-bit directory entry locates all eight sub-blocks of an exchange
/// (index.rs). Costs ~3.5 bytes of padding per sub-block, less than the
/// 4-byte offset per sub-block that format 2's directory spent.
pub(crate) const ALIGN: usize = 8;
/// Largest sub-block, in `ALIGN` units: a bitmap (2 + 157 bytes) rounded up.
pub(crate) const MAX_UNITS: usize = (HEAD + BITMAP_BYTES).div_ceil(ALIGN);
const _: () = assert!(MAX_UNITS < 32, "a size must fit the directory's 5 bits");

/// Size in bytes of the sub-block holding `n` values, count and padding
/// included (0 for none).
pub(crate) fn size(n: u32) -> usize {
    match n {
        0 => 0,
        n => (HEAD
            + match kind(n) {
                Kind::EliasFano => ef_bytes(n),
                Kind::Bitmap => BITMAP_BYTES,
            })
        .next_multiple_of(ALIGN),
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

/// At least 57 bits of the bit string starting at byte `base`, from bit
/// `bit` on (the rest of the word holds what follows).
#[inline]
fn window(data: &[u8], base: usize, bit: usize) -> u64 {
    word_at(data, base + bit / 8) >> (bit % 8)
}

/// `width` (<= 57) bits at bit `bit` of the bits starting at byte `base`.
#[inline]
fn bits_at(data: &[u8], base: usize, bit: usize, width: u32) -> u32 {
    (window(data, base, bit) & ((1u64 << width) - 1)) as u32
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Per byte of `w`, the number of set bits in that byte and all lower ones
/// (so the top byte is the popcount). Broadword, because the build targets
/// baseline x86-64, which has no `popcnt` instruction: `count_ones` would
/// be the same arithmetic without the per-byte sums `select` reuses.
#[inline]
fn byte_prefix_counts(w: u64) -> u64 {
    let s = w - ((w >> 1) & 0x5555_5555_5555_5555);
    let s = (s & 0x3333_3333_3333_3333) + ((s >> 2) & 0x3333_3333_3333_3333);
    let s = (s + (s >> 4)) & 0x0F0F_0F0F_0F0F_0F0F;
    s.wrapping_mul(ONES)
}

/// `SELECT_IN_BYTE[b][k]`: position of the `k`-th (0-based) set bit of the
/// byte `b` (8 when it has no such bit). 2 KiB, stays in L1 while lookups run.
static SELECT_IN_BYTE: [[u8; 8]; 256] = {
    let mut t = [[8u8; 8]; 256];
    let mut b = 0;
    while b < 256 {
        let (mut k, mut bit) = (0, 0);
        while bit < 8 {
            if b >> bit & 1 == 1 {
                t[b][k] = bit as u8;
                k += 1;
            }
            bit += 1;
        }
        b += 1;
    }
    t
};

/// Position of the `k`-th (0-based) set bit of `w`, given `prefix =
/// byte_prefix_counts(w)`; `w` has more than `k` set bits. No branch: the
/// byte holding the bit is the number of bytes whose running count is at
/// most `k` (compared for all eight bytes at once), then a table finishes
/// inside the byte. A loop over bytes or bits ended at a data-dependent
/// point, and the mispredicted exit stalled every lookup until its cache
/// miss returned.
#[inline]
fn select(w: u64, prefix: u64, k: u32) -> u32 {
    let kk = u64::from(k) * ONES;
    // High bit of each byte set where prefix_byte <= k (both < 128).
    let le = ((kk | HIGHS) - prefix) & HIGHS;
    let byte = ((le >> 7).wrapping_mul(ONES) >> 56) as u32 & 7;
    let before = ((prefix << 8) >> (byte * 8)) as u32 & 0xFF;
    let b = (w >> (byte * 8)) as usize & 0xFF;
    let k_in_byte = (k.wrapping_sub(before) & 7) as usize;
    byte * 8 + u32::from(SELECT_IN_BYTE[b][k_in_byte])
}

/// Where a scan of a sub-block's upper string stands: lookups in
/// ascending order reuse it, so a sorted batch counts each word of a
/// sub-block's upper string once.
#[derive(Clone, Copy, Default)]
pub(crate) struct Cursor {
    /// Bit offset (multiple of 64) of the next 64-bit chunk to count.
    chunk: u32,
    /// Zeros in the upper string before `chunk`.
    zeros_before: u32,
}

/// `SHAPES[n]`: for `n` values, `low_bits(n)` in bits 0..4,
/// `upper_len(n)` in bits 4..15, and [`BITMAP`] when the sub-block is a
/// bitmap. One load from a 2.5 KiB table that stays in cache, instead of
/// recomputing them (a bit scan, a multiplication, comparisons) in every
/// lookup: fewer instructions per lookup let the CPU run further ahead
/// into the next lookups while one waits for memory.
static SHAPES: [u16; SPAN as usize + 1] = {
    let mut t = [0u16; SPAN as usize + 1];
    let mut n = 1;
    while n <= SPAN {
        let mut l = 0;
        while n << (l + 1) <= SPAN {
            l += 1;
        }
        let upper = n + ((SPAN - 1) >> l) + 1;
        let ef_bytes = (upper + n * l).div_ceil(8);
        t[n as usize] = if ef_bytes as usize <= BITMAP_BYTES {
            (l | upper << 4) as u16
        } else {
            BITMAP
        };
        n += 1;
    }
    t
};
const BITMAP: u16 = 1 << 15;

/// Whether `line` (< 1,250) is in the non-empty sub-block at byte `base`
/// of `data`. `cursor` must come from lookups of smaller or equal `line`
/// in the same sub-block (or be fresh).
#[inline]
pub(crate) fn contains(data: &[u8], base: usize, line: u32, cursor: &mut Cursor) -> bool {
    let n = count(data, base);
    let bits = base + HEAD;
    let shape = SHAPES[n.min(SPAN) as usize];
    if shape & BITMAP != 0 {
        let byte = data.get(bits + line as usize / 8).copied().unwrap_or(0);
        byte >> (line % 8) & 1 == 1
    } else {
        let l = u32::from(shape & 0xF);
        let upper = u32::from(shape >> 4);
        ef_contains(data, bits, n, l, upper, line, cursor)
    }
}

/// Values of a bucket compared without a loop; larger buckets (rare: about
/// one value per bucket on average) take the loop after.
const BUCKET_FAST: u32 = 4;

/// Elias-Fano membership, written so that the only branches that depend on
/// the sub-block's bytes are taken the same way nearly every time (the
/// word loop aside: see below). The CPU can then run past a lookup whose
/// cache line is still on its way and start the next lookups' loads, which
/// is what makes independent lookups overlap.
#[inline]
fn ef_contains(
    data: &[u8],
    bits: usize,
    n: u32,
    l: u32,
    upper: u32,
    line: u32,
    cursor: &mut Cursor,
) -> bool {
    let h = line >> l;
    let target_low = line & ((1u32 << l) - 1);
    // Bucket h starts after the h-th zero of the upper string. Find the
    // 64-bit chunk holding it: at the registry's density the string is
    // about five words and the target is in any of them, so this exit is
    // the one unpredictable branch of a lookup.
    let mut need = h.saturating_sub(cursor.zeros_before);
    let (w, prefix) = loop {
        if cursor.chunk >= upper {
            return false; // only a corrupt sub-block runs out of zeros
        }
        // The last word also holds low bits after the string; their zeros
        // are not masked off because they come after all of the string's:
        // bucket h (h < the string's zero count) is found before them.
        let zeros = !word_at(data, bits + cursor.chunk as usize / 8);
        let prefix = byte_prefix_counts(zeros);
        let z = (prefix >> 56) as u32;
        if need <= z {
            break (zeros, prefix);
        }
        need -= z;
        cursor.zeros_before += z;
        cursor.chunk += 64;
    };
    let chunk = cursor.chunk;
    // need == 0 only when h == 0: the bucket starts at bit 0.
    let start = if need == 0 {
        0
    } else {
        chunk + select(w, prefix, need - 1) + 1
    };
    // Values before the bucket = ones before `start` = start - h; the
    // bucket is the run of ones from `start`, bounded by the string and
    // the count so that a corrupt block cannot send the reads astray.
    let first = start - h;
    let run = (!window(data, bits, start as usize)).trailing_zeros();
    let m = run
        .min(upper.saturating_sub(start))
        .min(n.saturating_sub(first));
    // The lows of the bucket's first four values, l bits each, compared
    // with the target's all at once: a field of `x` is zero where they
    // are equal, and the borrow of `x - rep` sets the top bit of the
    // lowest zero field (higher flags can be spurious, lower ones
    // cannot, so "a flag among the first m fields" is exact). EF
    // sub-blocks have l >= 1 (at l = 0 a bitmap is smaller).
    let lows = window(data, bits, (upper + first * l) as usize);
    let rep = 1 | 1 << l | 1 << (2 * l) | 1 << (3 * l);
    let x = lows ^ (u64::from(target_low) * rep);
    let flags = x.wrapping_sub(rep) & !x & (rep << (l.max(1) - 1));
    let mut hit = flags & ((1u64 << (m.min(BUCKET_FAST) * l)) - 1) != 0;
    if m > BUCKET_FAST {
        for i in first + BUCKET_FAST..first + m {
            hit |= bits_at(data, bits, (upper + i * l) as usize, l) == target_low;
        }
    }
    hit
}

/// A sub-block's membership as a plain 1,250-bit set.
pub(crate) type Lines = [u64; (SPAN as usize).div_ceil(64)];

/// Sets in `out` (cleared first) the lines of the non-empty sub-block at
/// byte `base`, for iteration. (Sorted batches do not use it: decoding
/// ~140 values to answer the ~5 lookups that fall in a sub-block cost
/// more than five cursor lookups, 15 against 21 M/s.) Stops early,
/// without panicking, on a corrupt sub-block.
pub(crate) fn decode_lines(data: &[u8], base: usize, out: &mut Lines) {
    *out = [0; 20];
    let n = count(data, base);
    let bits = base + HEAD;
    match kind(n) {
        Kind::Bitmap => {
            for (i, w) in out.iter_mut().enumerate() {
                *w = word_at(data, bits + i * 8);
            }
            // Only the 1,250 lines: the rest is padding or the next block.
            out[19] &= (1u64 << (SPAN % 64)) - 1;
        }
        Kind::EliasFano => {
            let l = low_bits(n);
            let upper = upper_len(n);
            let mut i = 0u32;
            let mut chunk = 0u32;
            while chunk < upper {
                let valid = (upper - chunk).min(64);
                let mut w = word_at(data, bits + chunk as usize / 8) & (u64::MAX >> (64 - valid));
                while w != 0 {
                    let pos = chunk + w.trailing_zeros();
                    let v = ((pos - i) << l) | bits_at(data, bits, (upper + i * l) as usize, l);
                    match out.get_mut(v as usize / 64) {
                        Some(word) if i < n => *word |= 1 << (v % 64),
                        _ => return,
                    }
                    i += 1;
                    w &= w - 1;
                }
                chunk += 64;
            }
        }
    }
}

/// Decodes every value of the non-empty sub-block at byte `base`,
/// ascending, into `out` (cleared first). Stops early, without
/// panicking, on a corrupt sub-block.
pub(crate) fn decode(data: &[u8], base: usize, out: &mut Vec<u16>) {
    out.clear();
    let mut lines = [0; 20];
    decode_lines(data, base, &mut lines);
    for_each_set(&lines, |v| {
        if v < SPAN {
            out.push(v as u16);
        }
    });
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
                assert_eq!(
                    contains(&data, 3, line, &mut Cursor::default()),
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
            let mut lines = [0; 20];
            decode_lines(&data, 3, &mut lines);
            for line in 0..SPAN {
                assert_eq!(
                    lines[line as usize / 64] >> (line % 64) & 1 == 1,
                    values.contains(&(lo + line)),
                    "decoded line {line} sub {sub} n {n}"
                );
            }
            assert_eq!(lines[19] >> (SPAN % 64), 0, "nothing past the span");
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
    fn select_finds_every_set_bit() {
        let mut words = vec![1u64, u64::MAX, 0x8000_0000_0000_0001, 0xF0F0_0000_FF00_0A0A];
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..2000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            words.push(x);
            words.push(x & x.rotate_left(17) & x.rotate_left(31));
        }
        for w in words {
            let positions: Vec<u32> = (0..64).filter(|b| w >> b & 1 == 1).collect();
            let prefix = byte_prefix_counts(w);
            assert_eq!((prefix >> 56) as usize, positions.len(), "{w:#x}");
            for (k, &p) in positions.iter().enumerate() {
                assert_eq!(select(w, prefix, k as u32), p, "{w:#x} k={k}");
            }
        }
    }

    #[test]
    fn shapes_table_matches_the_formulas() {
        assert_eq!(SHAPES[0], 0);
        for n in 1..=SPAN {
            let shape = SHAPES[n as usize];
            match kind(n) {
                Kind::Bitmap => assert_eq!(shape, BITMAP, "n = {n}"),
                Kind::EliasFano => {
                    assert_eq!(u32::from(shape & 0xF), low_bits(n), "n = {n}");
                    assert_eq!(u32::from(shape >> 4), upper_len(n), "n = {n}");
                }
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
        assert_eq!(size(SPAN), MAX_UNITS * ALIGN);
        assert!((1..=SPAN).all(|n| size(n).is_multiple_of(ALIGN) && size(n) <= MAX_UNITS * ALIGN));
        // ~5.5 bits per value at the registry's density, count and
        // padding included.
        assert!(size(140) * 8 < 140 * 56 / 10);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        #[test]
        fn exact_against_btreeset(values in proptest::collection::btree_set(0u32..10_000, 0..3000)) {
            check(&values);
        }
    }
}
