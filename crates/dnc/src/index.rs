//! The on-disk index format and [`Index`], one loaded, immutable list
//! version. Layout (all integers little-endian; docs/adr/0301-dnc-index.md):
//!
//! ```text
//! offset  size      field
//! 0       8         magic "TGDNCIDX"
//! 8       4         format version (4)
//! 12      4         header length (128)
//! 16      8         file length
//! 24      8         numbers in the list
//! 32      4         A: area codes with a version date
//! 36      4         P: area codes with a directory
//! 40      8         data region offset
//! 48      8         data region length (blocks + 8 zero bytes)
//! 56      4         CRC-32 of the whole file, this field read as zero
//! 60      2         list name length (1..=64)
//! 62      2         reserved, 0
//! 64      64        list name, UTF-8, zero padded
//! 128     A * 8     area codes: npa u16, year i16, month u8, day u8, 0 u16; ascending
//! ..      800 * 4   directory slot per area code 200..=999, u32::MAX = none
//! ..      P*800*8   directory: per directory slot, per exchange
//!                   200..=999, a u64: bits 0..24 the offset of the
//!                   exchange's first sub-block from the slot's first
//!                   one, in 8-byte units; bits 24 + 5k .. 29 + 5k the
//!                   size of its sub-block k (0..8, each 1,250 lines) in
//!                   8-byte units, 0 when empty. Sub-blocks follow each
//!                   other with no gap, so the offsets are the running sum
//!                   of the sizes (checked at open) and a slot's first
//!                   sub-block is where the previous slot's last one ends
//! ..                data region: the sub-blocks in directory order, each
//!                   padded to a multiple of 8 bytes (block.rs), then 264
//!                   zero bytes
//! ```
//!
//! Why one 8-byte entry per exchange: format 2 gave every sub-block a
//! 4-byte offset, a 9.3 MB directory for the national list. Every random
//! lookup then missed the cache twice, once in the directory and once in
//! the sub-block, one after the other (~170 ns each on the development
//! machine). This directory is 2.3 MB, small enough to stay mostly in
//! cache while lookups run, so a lookup waits for one memory access.
//!
//! Formats 1 (one block per exchange), 2 (a 4-byte offset per
//! sub-block) and 3 (sub-blocks without zero-count hints, 8 bytes of
//! tail) are refused with [`IndexError::UnsupportedVersion`]: re-import
//! the list.

use std::fs::File;
use std::path::Path;

use jiff::civil::Date;

use crate::block::{self, ALIGN, MAX_UNITS, SPAN, SUBS};
use crate::number::{CODES, FIRST_CODE, valid_code};

pub(crate) const MAGIC: [u8; 8] = *b"TGDNCIDX";
/// The only format version this build reads and writes.
pub const FORMAT_VERSION: u32 = 4;
pub(crate) const HEADER_LEN: usize = 128;
pub(crate) const CRC_AT: usize = 56;
/// Longest list name.
pub const MAX_LIST_NAME: usize = 64;
/// Zero bytes after the last sub-block: a lookup reads a fixed-size view
/// from a sub-block's start (block.rs, `VIEW`).
pub(crate) const TAIL: usize = block::VIEW;
/// Directory entries per area code: one per exchange.
pub(crate) const ENTRIES: usize = CODES;
/// Bits of a directory entry holding the exchange's offset.
pub(crate) const OFFSET_BITS: u32 = 24;
/// Bits per sub-block size in a directory entry.
pub(crate) const SIZE_BITS: u32 = 5;

/// A directory entry: the exchange's offset and its sub-blocks' sizes,
/// both in `ALIGN` units. `None` when it does not fit (the builder's
/// guard; an area code's data is at most ~1 MB, far under the 128 MiB
/// the offset can address).
pub(crate) fn entry(offset_units: usize, sizes_units: &[usize; SUBS]) -> Option<u64> {
    if offset_units >= 1 << OFFSET_BITS || sizes_units.iter().any(|&s| s > MAX_UNITS) {
        return None;
    }
    let mut e = offset_units as u64;
    for (k, &s) in sizes_units.iter().enumerate() {
        e |= (s as u64) << (OFFSET_BITS + SIZE_BITS * k as u32);
    }
    Some(e)
}

/// 5-bit lanes of the sizes at bits 0, 10, 20, 30 (pairs are added into
/// 10-bit lanes before the lanes are summed by one multiplication).
const EVEN_LANES: u64 = 0x1F | 0x1F << 10 | 0x1F << 20 | 0x1F << 30;

/// Where sub-block `sub` of the exchange with directory entry `e` starts
/// (in `ALIGN` units from the slot's first sub-block) and its size in
/// units. Branch-free: the offset is the entry's plus the sizes of the
/// sub-blocks before `sub`, summed as lanes.
#[inline]
pub(crate) fn locate(e: u64, sub: usize) -> (usize, usize) {
    let sizes = e >> OFFSET_BITS;
    let shift = SIZE_BITS * sub as u32;
    let size = (sizes >> shift) & 0x1F;
    let before = sizes & ((1u64 << shift) - 1);
    let pairs = (before & EVEN_LANES) + ((before >> SIZE_BITS) & EVEN_LANES);
    // Lane i (at bit 10 i) times 2^(10 (3 - i)) lands at bit 30; the sum is
    // at most 7 x 20 = 140 and the partial sums below bit 30 stay under
    // 2^10, so nothing carries into it.
    let sum = (pairs.wrapping_mul(1 | 1 << 10 | 1 << 20 | 1 << 30) >> 30) & 0x3FF;
    (
        (e & ((1 << OFFSET_BITS) - 1)) as usize + sum as usize,
        size as usize,
    )
}

/// Byte offsets of the tables, derived from the counts.
pub(crate) struct Layout {
    pub(crate) area_codes: usize,
    pub(crate) slots: usize,
    pub(crate) directory: usize,
    pub(crate) data: usize,
}

impl Layout {
    pub(crate) fn new(area_codes: usize, npas: usize) -> Layout {
        let slots = HEADER_LEN + area_codes * 8;
        let directory = slots + CODES * 4;
        let data = directory + npas * ENTRIES * 8;
        Layout {
            area_codes: HEADER_LEN,
            slots,
            directory,
            data,
        }
    }
}

/// Why an index file cannot be used or written.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("not a Tollgate DNC index file (bad magic)")]
    NotAnIndex,
    #[error(
        "index format version {0} is not supported (this build reads version 4; re-import the list to rebuild it)"
    )]
    UnsupportedVersion(u32),
    #[error("index file is corrupt: {0}")]
    Corrupt(String),
    #[error("index file checksum mismatch (damaged or truncated file)")]
    Checksum,
    #[error(
        "list name {0:?} is not `national`, `state:XX` or a name of 1-64 letters, digits, `-`, `_`, `.`"
    )]
    ListName(String),
    #[error("area code {0:03} has numbers but no version date")]
    MissingVersion(u16),
    #[error("the list is too large for the index format")]
    TooLarge,
}

impl IndexError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> IndexError {
        IndexError::Io {
            path: path.display().to_string(),
            source,
        }
    }
}

/// Checks a list name: `national`, `state:XX` (two capital letters), or an
/// organization's list name of 1-64 ASCII letters, digits, `-`, `_`, `.`.
pub fn validate_list_name(name: &str) -> Result<(), IndexError> {
    let ok = if name == "national" {
        true
    } else if let Some(state) = name.strip_prefix("state:") {
        state.len() == 2 && state.bytes().all(|b| b.is_ascii_uppercase())
    } else {
        !name.is_empty()
            && name.len() <= MAX_LIST_NAME
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    };
    if ok {
        Ok(())
    } else {
        Err(IndexError::ListName(name.to_owned()))
    }
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}
fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}
#[inline]
fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(w)
}

/// CRC-32 of a file given as `head ++ rest`, with the checksum field (in
/// `head`) read as zero.
pub(crate) fn checksum(head: &[u8], rest: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&head[..CRC_AT]);
    h.update(&[0; 4]);
    h.update(&head[CRC_AT + 4..]);
    h.update(rest);
    h.finalize()
}

/// Lookups of [`Index::contains_many`] whose memory reads are started
/// together: enough to keep the memory system busy (a core tracks a
/// couple of dozen misses), few enough that the first ones have arrived
/// when the group's lookups start.
const GROUP: usize = 16;

/// `$fast` (a `#[target_feature]` method of [`Index`], built for BMI2)
/// when the CPU has BMI2, `$portable` otherwise. The crate's one
/// `unsafe` (ADR 0301, decision 14): calling a function built for CPU
/// features from code built for baseline x86-64 is `unsafe` in Rust,
/// because running it on a CPU without them would be undefined
/// behaviour. `Index::bmi2` is `Some` only when `Bmi2::detect` found
/// them on this CPU (block.rs).
macro_rules! by_cpu {
    ($self:ident, $fast:expr, $portable:expr) => {
        match $self.bmi2 {
            #[cfg(target_arch = "x86_64")]
            #[allow(unsafe_code)]
            // SAFETY: `bmi2` is `Some` only if this CPU has SSE2, BMI1,
            // BMI2 and POPCNT, the features `$fast` is built for; it has
            // no other precondition (safe code reading through
            // bounds-checked slices).
            Some(_) => unsafe { $fast },
            _ => $portable,
        }
    };
}

/// Which batch call [`Index::batch`] runs.
#[derive(Clone, Copy)]
enum Batch {
    Sorted,
    Any,
}

/// Where an area code's directory and sub-blocks are in the loaded file.
#[derive(Clone, Copy)]
struct Code {
    /// Byte offset of its first directory entry (exchange 200).
    entries: usize,
    /// Byte offset of its first sub-block.
    base: usize,
}

/// One list version, loaded and validated; immutable. Share it behind an
/// `Arc` and swap the `Arc` to move to a new version: lookups in flight
/// keep the old version's memory alive until they finish.
pub struct Index {
    map: memmap2::Mmap,
    /// Lookups use `pdep` when the CPU has it (block.rs, `Bmi2`).
    bmi2: Option<block::Bmi2>,
    list: String,
    numbers: u64,
    /// Per area code 200..=999, where its directory and data are.
    codes: Vec<Option<Code>>,
    versions: Vec<(u16, Date)>,
    version_by_code: Vec<Option<Date>>,
}

impl std::fmt::Debug for Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Index")
            .field("list", &self.list)
            .field("numbers", &self.numbers)
            .field("area_codes", &self.versions.len())
            .finish()
    }
}

impl Index {
    /// Loads `path` into memory and validates it: header, checksum of the
    /// whole file, every table and every directory entry's bounds. A
    /// damaged or truncated file is an error, never a panic or a wrong
    /// answer later.
    pub fn open(path: &Path) -> Result<Index, IndexError> {
        Index::open_inspecting(path, |_| {})
    }

    /// [`Index::open`], showing `inspect` every byte of the file, in
    /// order, as it is read: a caller that must also hash the file (the
    /// server checks the SHA-256 recorded for a list version) does it in
    /// the same single pass, over bytes already in cache. The index is
    /// built from exactly the bytes inspected.
    pub fn open_inspecting(path: &Path, inspect: impl FnMut(&[u8])) -> Result<Index, IndexError> {
        let mut file = File::open(path).map_err(|e| IndexError::io(path, e))?;
        let map = crate::map::load(&mut file, inspect).map_err(|e| IndexError::io(path, e))?;
        Index::validate(map)
    }

    fn validate(map: memmap2::Mmap) -> Result<Index, IndexError> {
        let b: &[u8] = &map;
        let corrupt = |what: &str| IndexError::Corrupt(what.to_owned());
        if b.len() < HEADER_LEN {
            return Err(if b.len() >= 8 && b[..8] != MAGIC {
                IndexError::NotAnIndex
            } else {
                corrupt("shorter than its header")
            });
        }
        if b[..8] != MAGIC {
            return Err(IndexError::NotAnIndex);
        }
        let version = u32_at(b, 8);
        if version != FORMAT_VERSION {
            return Err(IndexError::UnsupportedVersion(version));
        }
        if u32_at(b, 12) as usize != HEADER_LEN {
            return Err(corrupt("header length"));
        }
        if u64_at(b, 16) != b.len() as u64 {
            return Err(corrupt(
                "file length does not match the header (truncated?)",
            ));
        }
        if checksum(b, &[]) != u32_at(b, CRC_AT) {
            return Err(IndexError::Checksum);
        }
        let numbers = u64_at(b, 24);
        let area_codes = u32_at(b, 32) as usize;
        let npas = u32_at(b, 36) as usize;
        if area_codes > CODES || npas > CODES {
            return Err(corrupt("table counts"));
        }
        let layout = Layout::new(area_codes, npas);
        let data_len = u64_at(b, 48);
        if u64_at(b, 40) != layout.data as u64
            || (layout.data as u64).checked_add(data_len) != Some(b.len() as u64)
            || (data_len as usize) < TAIL
        {
            return Err(corrupt("data region bounds"));
        }
        let name_len = u16_at(b, 60) as usize;
        if name_len == 0 || name_len > MAX_LIST_NAME {
            return Err(corrupt("list name length"));
        }
        let list = std::str::from_utf8(&b[64..64 + name_len])
            .map_err(|_| corrupt("list name is not UTF-8"))?
            .to_owned();
        validate_list_name(&list).map_err(|_| corrupt("list name"))?;

        let mut versions = Vec::with_capacity(area_codes);
        let mut version_by_code = vec![None; CODES];
        for i in 0..area_codes {
            let at = layout.area_codes + i * 8;
            let npa = u16_at(b, at);
            let date = Date::new(u16_at(b, at + 2) as i16, b[at + 4] as i8, b[at + 5] as i8)
                .map_err(|_| corrupt("area code version date"))?;
            if !valid_code(npa) || versions.last().is_some_and(|&(p, _)| p >= npa) {
                return Err(corrupt("area code table"));
            }
            versions.push((npa, date));
            version_by_code[(npa - FIRST_CODE) as usize] = Some(date);
        }

        let mut slot_of = vec![None; CODES];
        let mut used = vec![false; npas];
        let data_end = data_len as usize - TAIL;
        for (code, version) in version_by_code.iter().enumerate() {
            let slot = u32_at(b, layout.slots + code * 4);
            if slot == u32::MAX {
                continue;
            }
            let s = slot as usize;
            if s >= npas || used[s] || !valid_code(FIRST_CODE + code as u16) {
                return Err(corrupt("directory slot table"));
            }
            used[s] = true;
            slot_of[code] = Some(s);
            if version.is_none() {
                return Err(IndexError::MissingVersion(FIRST_CODE + code as u16));
            }
        }
        if used.iter().any(|u| !u) {
            return Err(corrupt("unreferenced directory"));
        }
        // The directory partitions the data region: slots follow each other
        // in slot order, each exchange's offset is the running sum of the
        // sizes before it, each sub-block is exactly as long as its count
        // (1..=1,250) says, and the last one ends at the region's end. Only
        // exchanges that can exist hold any. This also gives each slot's
        // start, which the file does not store.
        let data = &b[layout.data..];
        let mut slot_base = Vec::with_capacity(npas);
        let mut at = 0usize; // bytes into the data region
        let mut total = 0u64;
        for s in 0..npas {
            slot_base.push(at);
            let mut units = 0usize; // from the slot's start
            for x in 0..ENTRIES {
                let e = u64_at(b, layout.directory + (s * ENTRIES + x) * 8);
                if (e & ((1 << OFFSET_BITS) - 1)) as usize != units {
                    return Err(corrupt("directory offset"));
                }
                if e >> OFFSET_BITS != 0 && !valid_code(FIRST_CODE + x as u16) {
                    return Err(corrupt("sub-blocks under an exchange that cannot exist"));
                }
                for sub in 0..SUBS {
                    let (offset, size) = locate(e, sub);
                    debug_assert_eq!(offset, units);
                    if size == 0 {
                        continue;
                    }
                    let start = at + units * ALIGN;
                    let n = block::count(data, start);
                    if !(1..=SPAN).contains(&n)
                        || block::size(n) != size * ALIGN
                        || start + size * ALIGN > data_end
                        || !block::check(data, start)
                    {
                        return Err(corrupt("directory entry"));
                    }
                    total += u64::from(n);
                    units += size;
                }
            }
            at += units * ALIGN;
        }
        if at != data_end {
            return Err(corrupt("directory bounds"));
        }
        if total != numbers {
            return Err(corrupt("number count"));
        }
        let codes = slot_of
            .iter()
            .map(|s| {
                s.map(|s| Code {
                    entries: layout.directory + s * ENTRIES * 8,
                    base: layout.data + slot_base[s],
                })
            })
            .collect();
        Ok(Index {
            bmi2: block::Bmi2::detect(),
            list,
            numbers,
            codes,
            versions,
            version_by_code,
            map,
        })
    }

    /// The list's name: `national`, `state:FL` or an organization's list.
    pub fn list(&self) -> &str {
        &self.list
    }

    /// How many numbers the list holds.
    pub fn len(&self) -> u64 {
        self.numbers
    }

    /// Whether the list holds no number.
    pub fn is_empty(&self) -> bool {
        self.numbers == 0
    }

    /// The version date of an area code's data, `None` when this list does
    /// not cover it (which a caller must treat as "unknown", never "not listed").
    pub fn area_code_version(&self, npa: u16) -> Option<Date> {
        let i = npa.checked_sub(FIRST_CODE)? as usize;
        self.version_by_code.get(i).copied().flatten()
    }

    /// Every covered area code and its version date, ascending.
    pub fn area_codes(&self) -> impl Iterator<Item = (u16, Date)> + '_ {
        self.versions.iter().copied()
    }

    /// Start and size (bytes) of the sub-block that holds `number`'s line,
    /// and the line within it, or `None` when the number is not a NANP
    /// number or that sub-block is empty. One read of the directory, which
    /// gives the sizes of all the exchange's sub-blocks.
    #[inline]
    fn sub_block(&self, number: u64) -> Option<(usize, usize, u32)> {
        if number >= 10_000_000_000 {
            return None;
        }
        // Two divisions by constants (multiplications): the 1,250-line
        // range, whose low three bits are the sub-block (1,250 x 8 =
        // 10,000), then the area code.
        let range = number / u64::from(SPAN);
        let line = (number - range * u64::from(SPAN)) as u32;
        let sub = (range % SUBS as u64) as usize;
        let exchange = range / SUBS as u64;
        let npa = (exchange / 1000) as usize;
        let nxx = (exchange - npa as u64 * 1000) as usize;
        let code = npa.checked_sub(FIRST_CODE as usize)?;
        let x = nxx.checked_sub(FIRST_CODE as usize)?;
        let c = (*self.codes.get(code)?)?;
        let (units, size) = locate(u64_at(&self.map, c.entries + x * 8), sub);
        (size != 0).then_some((c.base + units * ALIGN, size * ALIGN, line))
    }

    /// Whether the list holds `number` (ten digits, e.g. `2125550123`).
    /// Exact: never a false "not listed" for a number the import added.
    #[inline]
    pub fn contains(&self, number: u64) -> bool {
        by_cpu!(
            self,
            self.contains_bmi2(number),
            self.contains_with(number, block::contains)
        )
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "sse2,bmi1,bmi2,popcnt")]
    fn contains_bmi2(&self, number: u64) -> bool {
        self.contains_with(number, |data, base, line| {
            block::bmi2_contains!(data, base, line)
        })
    }

    /// [`Index::contains`] with a sub-block lookup; inlined into each
    /// caller, so that the BMI2 build is one function, with no call
    /// between finding the sub-block and looking inside it.
    #[inline(always)]
    fn contains_with(&self, number: u64, in_block: impl Fn(&[u8], usize, u32) -> bool) -> bool {
        match self.sub_block(number) {
            Some((base, size, line)) => {
                // A sub-block (~100 bytes) spans two or three cache lines,
                // and the later ones (upper words, low parts) are addressed
                // only after the first has been read: reading a byte 64
                // bytes in and its last byte now puts all its misses in
                // flight together instead of one after the other.
                // Through the sub-block's fixed-size view (the lookup
                // takes the same one): no bounds check per read.
                if let Some(v) = block::view(&self.map, base) {
                    std::hint::black_box(v[64.min(size - 1)] ^ v[(size - 1) & 0xFF]);
                }
                in_block(&self.map, base, line)
            }
            None => false,
        }
    }

    /// The same index, answering without the optional CPU instructions
    /// (BMI2) even where the CPU has them: the benchmark and the tests
    /// compare both lookups.
    pub fn without_cpu_features(mut self) -> Index {
        self.bmi2 = None;
        self
    }

    /// Whether lookups use the optional CPU instructions (BMI2).
    pub fn uses_cpu_features(&self) -> bool {
        self.bmi2.is_some()
    }

    /// Looks up a batch: `out` is cleared and gets one answer per number,
    /// in order. Ascending input reads each sub-block once, in address
    /// order (which the hardware prefetcher follows), and finds each
    /// sub-block in the directory once; any order gives the same (exact)
    /// answers, only slower.
    pub fn contains_sorted(&self, sorted: &[u64], out: &mut Vec<bool>) {
        self.batch(Batch::Sorted, sorted, out);
    }

    /// A batch call, built for BMI2 where the CPU has it.
    fn batch(&self, kind: Batch, numbers: &[u64], out: &mut Vec<bool>) {
        by_cpu!(
            self,
            self.batch_bmi2(kind, numbers, out),
            self.batch_with(kind, numbers, out, block::contains)
        )
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "sse2,bmi1,bmi2,popcnt")]
    fn batch_bmi2(&self, kind: Batch, numbers: &[u64], out: &mut Vec<bool>) {
        self.batch_with(kind, numbers, out, |data, base, line| {
            block::bmi2_contains!(data, base, line)
        })
    }

    #[inline(always)]
    fn batch_with(
        &self,
        kind: Batch,
        numbers: &[u64],
        out: &mut Vec<bool>,
        in_block: impl Fn(&[u8], usize, u32) -> bool,
    ) {
        match kind {
            Batch::Sorted => self.contains_sorted_with(numbers, out, in_block),
            Batch::Any => self.contains_many_with(numbers, out, in_block),
        }
    }

    #[inline(always)]
    fn contains_sorted_with(
        &self,
        sorted: &[u64],
        out: &mut Vec<bool>,
        in_block: impl Fn(&[u8], usize, u32) -> bool,
    ) {
        out.clear();
        out.reserve(sorted.len());
        let span = u64::from(SPAN);
        let mut range = u64::MAX;
        let mut base = None;
        for &number in sorted {
            // Sub-blocks start at multiples of 1,250 (which divides 10,000).
            let r = number / span;
            let line = (number - r * span) as u32;
            if r != range {
                range = r;
                base = self.sub_block(number).map(|(base, _, _)| base);
            }
            out.push(match base {
                Some(base) => in_block(&self.map, base, line),
                None => false,
            });
        }
    }

    /// Looks up a batch in any order (a lead list as it comes): `out` is
    /// cleared and gets one answer per number, in order; the same answers
    /// as [`Index::contains`] on each. Faster than one `contains` after
    /// another because it starts the memory reads of a group of lookups
    /// before it needs any of them: each random lookup waits ~170 ns for
    /// its sub-block, and one lookup's instructions fill enough of the
    /// CPU's reorder window that consecutive `contains` calls hardly
    /// overlap their waits. Reading a byte of each cache line of a
    /// sub-block (loads, not a prefetch instruction: those need `unsafe`
    /// in Rust) gets all its cache lines on their way.
    pub fn contains_many(&self, numbers: &[u64], out: &mut Vec<bool>) {
        self.batch(Batch::Any, numbers, out);
    }

    #[inline(always)]
    fn contains_many_with(
        &self,
        numbers: &[u64],
        out: &mut Vec<bool>,
        in_block: impl Fn(&[u8], usize, u32) -> bool,
    ) {
        out.clear();
        out.reserve(numbers.len());
        for group in numbers.chunks(GROUP) {
            let mut found = [None; GROUP];
            let mut touched = 0u8;
            for (slot, &number) in found.iter_mut().zip(group) {
                if let Some((base, size, line)) = self.sub_block(number) {
                    let last = self.map.get(base + size - 1).copied().unwrap_or(0);
                    let middle = self.map.get(base + 64.min(size - 1)).copied();
                    touched ^=
                        self.map.get(base).copied().unwrap_or(0) ^ middle.unwrap_or(0) ^ last;
                    *slot = Some((base, line));
                }
            }
            // Keeps the reads: their only purpose is their side effect on
            // the cache, which the optimizer cannot see.
            std::hint::black_box(touched);
            out.extend(found[..group.len()].iter().map(|slot| match *slot {
                Some((base, line)) => in_block(&self.map, base, line),
                None => false,
            }));
        }
    }

    /// Every number of the list, ascending.
    pub fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        let mut buf = Vec::new();
        (0..CODES).flat_map(move |code| {
            let npa = (FIRST_CODE as usize + code) as u64;
            let mut numbers = Vec::new();
            if self.codes[code].is_some() {
                for x in 0..CODES {
                    let exchange = npa * 1000 + (FIRST_CODE as usize + x) as u64;
                    for sub in 0..SUBS as u64 {
                        let first = exchange * 10_000 + sub * u64::from(SPAN);
                        if let Some((base, _, _)) = self.sub_block(first) {
                            block::decode(&self.map, base, &mut buf);
                            numbers.extend(buf.iter().map(|&l| first + u64::from(l)));
                        }
                    }
                }
            }
            numbers
        })
    }

    /// Bytes of the file, which is also the index's whole memory footprint.
    pub fn file_len(&self) -> u64 {
        self.map.len() as u64
    }
}
