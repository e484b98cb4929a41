//! One sub-block: the listed lines of a 1,250-line range of one exchange
//! (an eighth of it), encoded as whichever is smaller: Elias-Fano or a
//! plain 1,250-bit bitmap, after a 2-byte count.
//!
//! Why 1,250 lines and not the whole exchange: a random lookup's cost is
//! the cache lines it touches one after the other. With one block per
//! exchange (format 1) that was the directory entry, the block's start and
//! a scan of up to ~37 words of upper bits to the bucket, then the low
//! bits: three to five lines. A sub-block at the registry's density holds
//! ~140 numbers in ~100 bytes, so after the directory entry a lookup reads
//! one or two adjacent lines, and a sorted batch streams through the data
//! in address order.
//!
//! Elias-Fano for `n` sorted values below `U = 1,250`: each value is split
//! into `l` low bits, stored packed, and a high part `h = v >> l` (its
//! bucket), stored in unary: value `i` sets bit `h + i` of the "upper" bit
//! string (`n + (U - 1 >> l) + 1` bits). With `l = floor(log2(U / n))`
//! that costs at most `2 + log2(U / n)` bits per value; format 4 takes
//! `l >= 3` (below ~157 values that is the same `l`), so that a bucket
//! count fits a byte (next paragraph). Above about 22% density the bitmap
//! is smaller and is used instead; the count decides which, so it is not
//! stored.
//!
//! Format 4 adds, between the count and the upper string, one byte per
//! 64-bit word of the upper string after the first: the number of zeros
//! (bucket ends) before that word. A lookup compares its bucket with
//! those bytes all at once to find the one word that holds its bucket's
//! start, and selects inside that word: no loop, no branch on the
//! sub-block's bytes. (Format 3 counted zeros word after word until it
//! reached the bucket: a loop whose exit depended on the data, and ~100
//! instructions that each waited for the sub-block's cache line.)
//!
//! A sub-block is `count (u16) ++ hints ++ upper ++ low`, the bits
//! little-endian, padded with zeros to a multiple of 8 bytes (the
//! directory gives sizes in 8-byte units); an empty range has no
//! sub-block at all (size 0 in the directory). Readers get the data region
//! with 8 zero bytes of padding after the last sub-block, so any 64-bit
//! read starting inside one stays in bounds; lengths are checked against
//! the count, and the hints against the upper string, at open
//! (`index.rs`, [`check`]).

/// Lines per sub-block; an exchange (10,000 lines) has [`SUBS`].
pub(crate) const SPAN: u32 = 1250;
/// Sub-blocks per exchange.
pub(crate) const SUBS: usize = 8;
/// Bytes of the count before a sub-block's bits.
pub(crate) const HEAD: usize = 2;
/// Smallest low-bit width of an Elias-Fano sub-block: at most
/// `(1,249 >> 3) + 1 = 157` buckets, so every zero count fits a byte.
const MIN_LOW_BITS: u32 = 3;
/// Most hint bytes a sub-block can have (checked by a test over every
/// count): they are read with the count as one 64-bit word.
const MAX_HINTS: u32 = 6;
const _: () = {
    let mut n = 1;
    while n <= SPAN {
        assert!(
            matches!(kind(n), Kind::Bitmap) || hint_bytes(n) <= MAX_HINTS,
            "hints must fit the count's word"
        );
        n += 1;
    }
};

/// How a non-empty sub-block is encoded; a function of its count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    EliasFano,
    Bitmap,
}

const BITMAP_BYTES: usize = (SPAN as usize).div_ceil(8);

/// Low-bit width for `n` values (1..=1,250): `floor(log2(1,250 / n))`,
/// the largest `l` with `n << l <= 1,250`, but at least [`MIN_LOW_BITS`].
/// (For 157 to ~270 values that costs `n - 156` bits more than `l = 2`
/// would: ~0.1 bit per number over the registry, for hints of one byte.)
pub(crate) const fn low_bits(n: u32) -> u32 {
    let n = if n < 1 {
        1
    } else if n > SPAN {
        SPAN
    } else {
        n
    };
    let l = 10 - (31 - n.leading_zeros());
    let l = if n << l > SPAN { l - 1 } else { l };
    if l < MIN_LOW_BITS { MIN_LOW_BITS } else { l }
}

/// Buckets (zeros of the upper string) for low-bit width `l`.
const fn buckets(l: u32) -> u32 {
    ((SPAN - 1) >> l) + 1
}

/// Length of the upper (unary) bit string for `n` values: a leading
/// zero, then for each bucket its values' ones and a zero. (The leading
/// zero makes bucket `h` start after zero `h`, counting from 0, so
/// bucket 0 needs no case of its own in a lookup.)
pub(crate) const fn upper_len(n: u32) -> u32 {
    n + buckets(low_bits(n)) + 1
}

/// Hint bytes for `n` values: one per 64-bit word of the upper string
/// after the first.
const fn hint_bytes(n: u32) -> u32 {
    upper_len(n).div_ceil(64) - 1
}

const fn ef_bytes(n: u32) -> usize {
    let bits = upper_len(n) as usize + n as usize * low_bits(n) as usize;
    hint_bytes(n) as usize + bits.div_ceil(8)
}

/// The encoding of `n` (>= 1) values.
pub(crate) const fn kind(n: u32) -> Kind {
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
            let hints = hint_bytes(n) as usize;
            let (hint, bits) = block.split_at_mut(hints);
            for (i, v) in values.into_iter().enumerate() {
                set_bit(bits, (v >> l) as usize + i + 1);
                let low = v & ((1u32 << l) - 1);
                for b in 0..l {
                    if low >> b & 1 == 1 {
                        set_bit(bits, upper + i * l as usize + b as usize);
                    }
                }
            }
            // Zeros before each word after the first (<= 158: a byte).
            let mut zeros = 0;
            for (k, h) in hint.iter_mut().enumerate() {
                for bit in k * 64..(k + 1) * 64 {
                    zeros += u32::from(bits[bit / 8] >> (bit % 8) & 1 == 0);
                }
                *h = zeros as u8;
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
/// inside the byte: ~25 instructions where `pdep` takes one (the BMI2
/// build, [`contains_bmi2`]). A loop over bytes or bits would put more
/// instructions on the predicted path of every lookup.
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

/// What a lookup needs to know about a sub-block of `n` values, from
/// one load of a table indexed by its count instead of recomputing it:
/// every instruction that waits for the sub-block's cache line holds a
/// scheduler slot, and fewer of them let the CPU run further into the
/// next lookups while one waits for memory (ADR 0301, decision 13).
#[derive(Clone, Copy)]
pub(crate) struct Shape {
    /// Ones in the bytes of the count's 64-bit word that are not hints,
    /// so that they compare as "after every bucket".
    pub(crate) pad: u64,
    /// A one at the bottom of every `l`-bit field that a lookup compares
    /// in one go ([`Shape::fields`] of them).
    pub(crate) rep: u64,
    /// Length of the upper string in bits.
    pub(crate) upper: u16,
    /// Low-bit width `l`.
    pub(crate) low: u8,
    /// Hint bytes.
    pub(crate) hints: u8,
    /// Low parts compared at once: `floor(57 / l)`, all that one
    /// unaligned 64-bit read holds.
    pub(crate) fields: u8,
    pub(crate) bitmap: bool,
}

const fn shape(n: u32) -> Shape {
    let bitmap = Shape {
        pad: 0,
        rep: 0,
        upper: 0,
        low: 0,
        hints: 0,
        fields: 0,
        bitmap: true,
    };
    if n == 0 || !matches!(kind(n), Kind::EliasFano) {
        return bitmap; // n == 0 is never in a valid file
    }
    let l = low_bits(n);
    let fields = 57 / l;
    let mut rep = 0u64;
    let mut i = 0;
    while i < fields {
        rep |= 1 << (i * l);
        i += 1;
    }
    Shape {
        pad: !0u64 << (8 * hint_bytes(n)),
        rep,
        upper: upper_len(n) as u16,
        low: l as u8,
        hints: hint_bytes(n) as u8,
        fields: fields as u8,
        bitmap: false,
    }
}

/// [`Shape`] per count, 0..=1,250 (~30 KiB; lookups at one density touch
/// a few lines of it).
pub(crate) static SHAPES: [Shape; SPAN as usize + 1] = {
    let mut t = [shape(0); SPAN as usize + 1];
    let mut n = 1;
    while n <= SPAN {
        t[n as usize] = shape(n);
        n += 1;
    }
    t
};

/// 16-bit lanes: the low byte of each, and the bit above it.
const LANES16: u64 = 0x00FF_00FF_00FF_00FF;
const ONES16: u64 = 0x0001_0001_0001_0001;
const GUARDS16: u64 = ONES16 << 8;

/// Bytes from a sub-block's start that a lookup may read: every offset it
/// computes is masked to 0..=255 and reads at most 8 bytes, so the
/// compiler drops the bounds checks (about 15 instructions a lookup, all
/// waiting for the sub-block's cache line). A valid sub-block is at most
/// 160 bytes, so the mask never changes a valid offset; the data region
/// ends with this many zero bytes ([`crate::index`]'s `TAIL`) so that
/// every sub-block has a whole view.
pub(crate) const VIEW: usize = 256 + 8;

pub(crate) type View = [u8; VIEW];

#[inline(always)]
pub(crate) fn view(data: &[u8], base: usize) -> Option<&View> {
    data.get(base..base + VIEW)?.try_into().ok()
}

/// 64 bits at byte `byte` (masked) of a view.
#[inline(always)]
pub(crate) fn view_word(v: &View, byte: usize) -> u64 {
    let b = byte & 0xFF;
    let mut w = [0; 8];
    w.copy_from_slice(&v[b..b + 8]);
    u64::from_le_bytes(w)
}

/// The body of a sub-block lookup, written once and compiled twice:
/// [`contains`] (baseline x86-64, broadword select) and
/// [`contains_bmi2`] (the CPU's `pdep` selects in one instruction). The
/// last argument selects the `$r`-th set bit of `$w`.
///
/// No loop and no bounds check on the sub-block's bytes; one branch on
/// them besides the kind: an empty bucket (37-60% of random lookups at
/// the registry's density) returns before the low parts are read. That
/// branch is data-dependent and often mispredicted, which costs little
/// here: while this lookup waits for its cache line the CPU runs on
/// along the predicted path into the next lookups and starts their
/// loads, and a flush discards instructions, not the memory reads already
/// under way. What limits how far it runs is how many instructions wait
/// for the line, so the predicted paths are kept short (ADR 0301,
/// decision 13). Arithmetic on the block's bytes wraps instead of
/// checking: open validated the hints and the upper string ([`check`]).
macro_rules! sub_block_contains {
    (
        $data:expr, $base:expr, $line:expr,
        |$hints:ident, $h:ident| $count_at_most:expr,
        |$w:ident, $r:ident| $select:expr
    ) => {{
        let line: u32 = $line;
        match $crate::block::view($data, $base) {
            None => false, // only a corrupt directory points there
            Some(v) => {
                // The count and (for Elias-Fano) up to six hint bytes.
                let head = $crate::block::view_word(v, 0);
                let shape = &$crate::block::SHAPES
                    [((head & 0xFFFF) as usize).min($crate::block::SPAN as usize)];
                if shape.bitmap {
                    v[($crate::block::HEAD + line as usize / 8) & 0xFF] >> (line % 8) & 1 == 1
                } else {
                    let l = u32::from(shape.low);
                    let h = line >> l;
                    let target_low = line & ((1 << l) - 1);
                    // Which word of the upper string holds zero h (the
                    // start of bucket h): the number of hinted words
                    // with at most h zeros before them.
                    let $hints = (head >> 16) | shape.pad;
                    let $h = h;
                    let k: u32 = $count_at_most;
                    // Zeros before word k (0 for the first word).
                    let zeros_before = (($hints << 8).wrapping_shr(8 * k) & 0xFF) as u32;
                    let upper_at = $crate::block::HEAD + usize::from(shape.hints);
                    let $w = !$crate::block::view_word(v, upper_at + 8 * k as usize);
                    let $r = h.wrapping_sub(zeros_before) & 63;
                    let pos: u32 = $select;
                    let start = (64 * k).wrapping_add(pos) + 1;
                    // The bucket is the run of ones from `start` (it ends
                    // inside the upper string, whose last bit is a zero).
                    let at = upper_at.wrapping_add(start as usize / 8);
                    let run = (!($crate::block::view_word(v, at) >> (start % 8))).trailing_zeros();
                    if run == 0 {
                        false
                    } else {
                        // Values before the bucket = ones before `start`
                        // (which has h + 1 zeros before it).
                        let first = start.wrapping_sub(h + 1);
                        // The bucket's low parts compared with the
                        // target's all at once: a field of `x` is zero
                        // where they are equal, and the borrow of
                        // `x - rep` sets the top bit of the lowest zero
                        // field (higher flags can be spurious, lower ones
                        // cannot, so "a flag among the first `run`
                        // fields" is exact).
                        let low_bit = u32::from(shape.upper).wrapping_add(first.wrapping_mul(l));
                        let at = upper_at.wrapping_add(low_bit as usize / 8);
                        let lows = $crate::block::view_word(v, at) >> (low_bit % 8);
                        let rep = shape.rep;
                        let x = lows ^ (u64::from(target_low) * rep);
                        let flags = x.wrapping_sub(rep) & !x & (rep << (l - 1));
                        let fields = u32::from(shape.fields);
                        if run <= fields {
                            flags & ((1u64 << (run * l)) - 1) != 0
                        } else {
                            $crate::block::bucket_holds(
                                v, upper_at, shape, start, first, target_low,
                            )
                        }
                    }
                }
            }
        }
    }};
}
pub(crate) use sub_block_contains;

/// Whether `line` (< 1,250) is in the non-empty sub-block at byte `base`
/// of `data`.
#[inline]
pub(crate) fn contains(data: &[u8], base: usize, line: u32) -> bool {
    sub_block_contains!(
        data,
        base,
        line,
        |hints, h| count_at_most(hints, h),
        |w, r| select(w, byte_prefix_counts(w), r)
    )
}

/// How many byte lanes of `hints` are at most `h` (< 256). Broadword:
/// the bytes compared as 16-bit lanes (bytes 0, 2, 4, 6, then 1, 3, 5,
/// 7): `0x100 + h - byte` keeps the lane's bit 8 exactly when byte <= h,
/// with no borrow between lanes.
#[inline(always)]
fn count_at_most(hints: u64, h: u32) -> u32 {
    let t = (0x100 + u64::from(h)).wrapping_mul(ONES16);
    let at_most = (t.wrapping_sub(hints & LANES16) & GUARDS16)
        + (t.wrapping_sub((hints >> 8) & LANES16) & GUARDS16);
    ((at_most >> 8).wrapping_mul(ONES16) >> 48) as u32
}

/// [`contains`] for CPUs with BMI2 (and POPCNT): `pdep` puts a one at the
/// position of the `r`-th set bit, `tzcnt` reads it. Callers check the
/// features first (`Index`); the build targets baseline x86-64, which
/// has neither.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse2,bmi1,bmi2,popcnt")]
#[cfg_attr(
    not(test),
    expect(dead_code, reason = "Index expands the macro itself")
)]
pub(crate) fn contains_bmi2(data: &[u8], base: usize, line: u32) -> bool {
    bmi2_contains!(data, base, line)
}

/// The body of [`contains_bmi2`], for `Index`'s BMI2 functions to
/// expand in place (a `#[target_feature]` function cannot be
/// `#[inline(always)]`, and the compiler did not inline this one: a call,
/// with its register saves, in every lookup). Only valid inside a
/// function built with `sse2,bmi1,bmi2,popcnt`.
#[cfg(target_arch = "x86_64")]
macro_rules! bmi2_contains {
    ($data:expr, $base:expr, $line:expr) => {{
        use core::arch::x86_64::{
            _mm_cmpeq_epi8, _mm_cvtsi64_si128, _mm_movemask_epi8, _mm_set1_epi8, _mm_setzero_si128,
            _mm_subs_epu8,
        };
        $crate::block::sub_block_contains!(
            $data,
            $base,
            $line,
            // SSE2: a lane is at most h where subtracting h saturates to 0.
            |hints, h| {
                let lanes = _mm_cvtsi64_si128(hints as i64);
                let over = _mm_subs_epu8(lanes, _mm_set1_epi8(h as u8 as i8));
                let at_most = _mm_movemask_epi8(_mm_cmpeq_epi8(over, _mm_setzero_si128()));
                (at_most as u32 & 0xFF).count_ones()
            },
            |w, r| core::arch::x86_64::_pdep_u64(1u64 << r, w).trailing_zeros()
        )
    }};
}
#[cfg(target_arch = "x86_64")]
pub(crate) use bmi2_contains;

/// Proof that this CPU has SSE2, BMI1, BMI2 and POPCNT, the features
/// [`contains_bmi2`] is built for: [`Bmi2::detect`] is the only way to
/// get one. `Index` calls the BMI2 lookups only when it holds one (its
/// `by_cpu!`, the crate's one `unsafe`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Bmi2(());

impl Bmi2 {
    /// `Some` when the CPU has the features (std caches the check).
    pub(crate) fn detect() -> Option<Bmi2> {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("sse2")
            && std::is_x86_feature_detected!("bmi1")
            && std::is_x86_feature_detected!("bmi2")
            && std::is_x86_feature_detected!("popcnt")
        {
            return Some(Bmi2(()));
        }
        None
    }

    /// [`contains`] with `pdep`, for the tests of this module.
    #[cfg(all(test, target_arch = "x86_64"))]
    pub(crate) fn contains(self, data: &[u8], base: usize, line: u32) -> bool {
        #[allow(unsafe_code)]
        // SAFETY: `self` exists only if `detect` found the features
        // `contains_bmi2` is built for (test code only).
        unsafe {
            contains_bmi2(data, base, line)
        }
    }
}

/// The exact loop for a bucket of more values than one read holds (more
/// than 19 at `l = 3`, so only with `l >= 4` and a crowded bucket).
#[cold]
pub(crate) fn bucket_holds(
    v: &View,
    upper_at: usize,
    shape: &Shape,
    start: u32,
    first: u32,
    target_low: u32,
) -> bool {
    let l = u32::from(shape.low);
    let bits = |bit: u32, width: u32| {
        let w = view_word(v, upper_at + bit as usize / 8) >> (bit % 8);
        (w & ((1u64 << width) - 1)) as u32
    };
    let upper = u32::from(shape.upper);
    let mut i = 0u32;
    while start.wrapping_add(i) < upper && bits(start.wrapping_add(i), 1) == 1 {
        if bits(upper.wrapping_add(first.wrapping_add(i).wrapping_mul(l)), l) == target_low {
            return true;
        }
        i += 1;
    }
    false
}

/// Whether the non-empty sub-block at byte `base` is well formed beyond
/// its length (which the caller checks against the count): for
/// Elias-Fano, the upper string holds exactly `n` ones and ends with a
/// zero, and every hint is the number of zeros before its word. A
/// lookup trusts exactly these.
pub(crate) fn check(data: &[u8], base: usize) -> bool {
    let n = count(data, base);
    let shape = &SHAPES[(n as usize).min(SPAN as usize)];
    if n == 0 || shape.bitmap {
        return n != 0;
    }
    let upper_at = base + HEAD + usize::from(shape.hints);
    let upper = u32::from(shape.upper);
    let mut zeros = 0;
    let mut chunk = 0;
    while chunk < upper {
        if chunk > 0 {
            let hint = data.get(base + HEAD + (chunk / 64 - 1) as usize).copied();
            if hint != Some(zeros as u8) {
                return false;
            }
        }
        let valid = (upper - chunk).min(64);
        let w = word_at(data, upper_at + chunk as usize / 8) & (u64::MAX >> (64 - valid));
        zeros += valid - w.count_ones();
        chunk += 64;
    }
    zeros == upper - n
        && bits_at(data, upper_at, 0, 1) == 0
        && bits_at(data, upper_at, upper as usize - 1, 1) == 0
}

/// A sub-block's membership as a plain 1,250-bit set.
pub(crate) type Lines = [u64; (SPAN as usize).div_ceil(64)];

/// Sets in `out` (cleared first) the lines of the non-empty sub-block at
/// byte `base`, for iteration. (Sorted batches do not use it: decoding
/// ~140 values to answer the ~5 lookups that fall in a sub-block cost
/// more than five lookups; format 3 measured 15 against 21 M/s.) Stops
/// early, without panicking, on a corrupt sub-block.
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
            let bits = bits + hint_bytes(n) as usize;
            let mut i = 0u32;
            let mut chunk = 0u32;
            while chunk < upper {
                let valid = (upper - chunk).min(64);
                let mut w = word_at(data, bits + chunk as usize / 8) & (u64::MAX >> (64 - valid));
                while w != 0 {
                    let pos = chunk + w.trailing_zeros();
                    let high = pos.wrapping_sub(i + 1);
                    let v = high.wrapping_shl(l) | bits_at(data, bits, (upper + i * l) as usize, l);
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
    fn check_exchange(values: &std::collections::BTreeSet<u32>) {
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
            data.extend_from_slice(&[0xFF; VIEW]); // hostile padding: must not matter
            assert!(check(&data, 3), "sub {sub} n {n}");
            for line in 0..SPAN {
                let listed = values.contains(&(lo + line));
                assert_eq!(
                    contains(&data, 3, line),
                    listed,
                    "line {line} sub {sub} n {n}"
                );
                if let Some(bmi2) = Bmi2::detect() {
                    assert_eq!(
                        bmi2.contains(&data, 3, line),
                        listed,
                        "bmi2 line {line} sub {sub}"
                    );
                }
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
        check_exchange(&[].into());
        check_exchange(&[0].into());
        check_exchange(&[9999].into());
        check_exchange(&[0, 1249, 1250, 2499, 2500, 9999].into());
        check_exchange(&(0..10_000).collect());
        check_exchange(&(0..10_000).step_by(3).collect());
        check_exchange(&(0..10_000).step_by(9).collect());
        check_exchange(&(5000..5100).collect());
        check_exchange(&(1200..1300).collect());
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
        assert!(SHAPES[0].bitmap);
        for n in 1..=SPAN {
            let shape = SHAPES[n as usize];
            match kind(n) {
                Kind::Bitmap => assert!(shape.bitmap, "n = {n}"),
                Kind::EliasFano => {
                    assert!(!shape.bitmap);
                    assert_eq!(u32::from(shape.low), low_bits(n), "n = {n}");
                    assert_eq!(u32::from(shape.upper), upper_len(n), "n = {n}");
                    assert_eq!(u32::from(shape.hints), hint_bytes(n), "n = {n}");
                    assert_eq!(shape.pad, u64::MAX << (8 * hint_bytes(n)), "n = {n}");
                    assert_eq!(shape.rep.count_ones(), u32::from(shape.fields), "n = {n}");
                }
            }
        }
    }

    #[test]
    fn low_bits_is_floor_log2_of_span_over_count_but_at_least_3() {
        for n in 1..=SPAN {
            let l = 31 - (SPAN / n).leading_zeros();
            assert_eq!(low_bits(n), l.max(MIN_LOW_BITS), "n = {n}");
        }
    }

    /// The lookup reads the count and the hints as one 64-bit word, and
    /// compares hints (zero counts) below 256 with buckets below 256.
    #[test]
    fn hints_fit_the_count_word_and_a_byte() {
        for n in 1..=SPAN {
            if kind(n) == Kind::EliasFano {
                assert!(hint_bytes(n) <= MAX_HINTS, "n = {n}");
                assert!(buckets(low_bits(n)) < 256, "n = {n}");
                let s = SHAPES[n as usize];
                assert!(!s.bitmap && s.fields >= 1 && u32::from(s.fields) * low_bits(n) <= 57);
            } else {
                assert!(SHAPES[n as usize].bitmap, "n = {n}");
            }
        }
    }

    /// Buckets crowded past what one read compares (the slow loop),
    /// hostile padding after them, and a bucket that starts a word.
    #[test]
    fn crowded_buckets_and_word_edges() {
        // 40 values: l = 4 (16-line buckets); fill buckets whole.
        let mut v: std::collections::BTreeSet<u32> = (0..16).collect();
        v.extend(32..48);
        v.extend([100, 1249]);
        check_values(&v);
        // Few values, l up to 10: one bucket of all of them.
        check_values(&(0..7).collect());
        check_values(&[1249].into());
        check_values(&(1240..1250).collect());
        // Every count from 1 to 400, values spread or packed.
        for n in 1..400u32 {
            check_values(&(0..n).map(|i| i * SPAN / n).collect());
            check_values(&(0..n).collect());
            check_values(&(SPAN - n..SPAN).collect());
        }
    }

    /// `check` of one sub-block's values (all < 1,250) against the set.
    fn check_values(values: &std::collections::BTreeSet<u32>) {
        check_exchange(values);
    }

    /// A corrupt hint or upper string is caught by `check` (index.rs
    /// refuses the file), and lookups in it do not panic.
    #[test]
    fn corrupt_sub_blocks_are_detected_and_do_not_panic() {
        let values: Vec<u32> = (0..140).map(|i| i * 8 + i % 5).collect();
        let words = set_of(&values);
        let mut good = Vec::new();
        encode(&words, 0, &mut good);
        good.extend_from_slice(&[0; VIEW]);
        assert!(check(&good, 0));
        let n = count(&good, 0) as usize;
        assert_eq!(n, 140);
        let hints = hint_bytes(140) as usize;
        assert!(hints >= 2);
        for at in HEAD..HEAD + hints + 40 {
            for bit in 0..8 {
                let mut bad = good.clone();
                bad[at] ^= 1 << bit;
                if at < HEAD + hints {
                    assert!(!check(&bad, 0), "hint byte {at} bit {bit}");
                }
                for line in 0..SPAN {
                    let _ = contains(&bad, 0, line);
                    if let Some(bmi2) = Bmi2::detect() {
                        let _ = bmi2.contains(&bad, 0, line);
                    }
                }
            }
        }
    }

    #[test]
    fn encoding_choice() {
        assert_eq!(SPAN as usize * SUBS, LINES as usize);
        assert_eq!(low_bits(1), 10);
        assert_eq!(low_bits(140), 3);
        assert_eq!(low_bits(SPAN), MIN_LOW_BITS);
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
            check_exchange(&values);
        }
    }
}
