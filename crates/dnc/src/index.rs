//! The on-disk index format and [`Index`], one loaded, immutable list
//! version. Layout (all integers little-endian; docs/adr/0301-dnc-index.md):
//!
//! ```text
//! offset  size      field
//! 0       8         magic "TGDNCIDX"
//! 8       4         format version (2)
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
//! ..      (P*6400+1)*4  directory: per directory slot, per exchange
//!                   200..=999, per eighth of the exchange (1,250 lines),
//!                   the u32 offset of its sub-block in the data region;
//!                   sub-block `i` ends where `i + 1` starts (empty when
//!                   equal); the last entry is the end of the last one
//! ..                data region: the sub-blocks in directory order
//!                   (block.rs), then 8 zero bytes
//! ```
//!
//! Format 1 (one block per exchange, 8-byte directory entries) is refused
//! with [`IndexError::UnsupportedVersion`]: re-import the list.

use std::fs::File;
use std::path::Path;

use jiff::civil::Date;

use crate::block::{self, Cursor, SPAN, SUBS};
use crate::number::{CODES, FIRST_CODE, valid_code};

pub(crate) const MAGIC: [u8; 8] = *b"TGDNCIDX";
/// The only format version this build reads and writes.
pub const FORMAT_VERSION: u32 = 2;
pub(crate) const HEADER_LEN: usize = 128;
pub(crate) const CRC_AT: usize = 56;
/// Longest list name.
pub const MAX_LIST_NAME: usize = 64;
/// Padding after the last block (see block.rs).
pub(crate) const TAIL: usize = 8;
/// Directory entries per area code.
pub(crate) const ENTRIES: usize = CODES * SUBS;

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
        let data = directory + (npas * ENTRIES + 1) * 4;
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
        "index format version {0} is not supported (this build reads version 2; re-import the list to rebuild it)"
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
    #[error("the list is too large for the index format (data region over 4 GiB)")]
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

/// One list version, loaded and validated; immutable. Share it behind an
/// `Arc` and swap the `Arc` to move to a new version: lookups in flight
/// keep the old version's memory alive until they finish.
pub struct Index {
    map: memmap2::Mmap,
    list: String,
    numbers: u64,
    /// Directory slot per area code 200..=999 (`u32::MAX`: none).
    slots: Vec<u32>,
    directory: usize,
    data: usize,
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

        let mut slots = Vec::with_capacity(CODES);
        let mut used = vec![false; npas];
        let data_end = data_len as usize - TAIL;
        if data_end > u32::MAX as usize {
            return Err(corrupt("data region bounds"));
        }
        for (code, version) in version_by_code.iter().enumerate() {
            let slot = u32_at(b, layout.slots + code * 4);
            slots.push(slot);
            if slot == u32::MAX {
                continue;
            }
            let s = slot as usize;
            if s >= npas || used[s] || !valid_code(FIRST_CODE + code as u16) {
                return Err(corrupt("directory slot table"));
            }
            used[s] = true;
            if version.is_none() {
                return Err(IndexError::MissingVersion(FIRST_CODE + code as u16));
            }
        }
        if used.iter().any(|u| !u) {
            return Err(corrupt("unreferenced directory"));
        }
        // The directory partitions the data region: offsets start at 0,
        // never decrease, end at its end, and each sub-block is exactly as
        // long as its count says. Only exchanges that can exist hold any.
        let entries = npas * ENTRIES;
        let offset = |i: usize| u32_at(b, layout.directory + i * 4) as usize;
        if offset(0) != 0 || offset(entries) != data_end {
            return Err(corrupt("directory bounds"));
        }
        let data = &b[layout.data..];
        let mut total = 0u64;
        for i in 0..entries {
            let (start, end) = (offset(i), offset(i + 1));
            if end < start {
                return Err(corrupt("directory entry"));
            }
            if end == start {
                continue;
            }
            let n = block::count(data, start);
            let x = i % ENTRIES / SUBS;
            if !(1..=SPAN).contains(&n)
                || end - start != block::size(n)
                || !valid_code(FIRST_CODE + x as u16)
            {
                return Err(corrupt("directory entry"));
            }
            total += u64::from(n);
        }
        if total != numbers {
            return Err(corrupt("number count"));
        }
        Ok(Index {
            list,
            numbers,
            slots,
            directory: layout.directory,
            data: layout.data,
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

    /// Start of the sub-block that holds `number`'s line, or `None` when
    /// the number is not a NANP number or that sub-block is empty. One
    /// read: a sub-block's end is the next entry, in the same 8 bytes.
    #[inline]
    fn sub_block(&self, number: u64) -> Option<usize> {
        if number >= 10_000_000_000 {
            return None;
        }
        let npa = (number / 10_000_000) as usize;
        let nxx = (number / 10_000 % 1000) as usize;
        let sub = (number % 10_000) as usize / SPAN as usize;
        let code = npa.checked_sub(FIRST_CODE as usize)?;
        let x = nxx.checked_sub(FIRST_CODE as usize)?;
        let slot = *self.slots.get(code)?;
        if slot == u32::MAX {
            return None;
        }
        let at = self.directory + ((slot as usize * CODES + x) * SUBS + sub) * 4;
        let pair = u64_at(&self.map, at);
        let (start, end) = (pair as u32, (pair >> 32) as u32);
        (start != end).then_some(self.data + start as usize)
    }

    /// Whether the list holds `number` (ten digits, e.g. `2125550123`).
    /// Exact: never a false "not listed" for a number the import added.
    #[inline]
    pub fn contains(&self, number: u64) -> bool {
        match self.sub_block(number) {
            Some(base) => block::contains(
                &self.map,
                base,
                (number % 10_000) as u32 % SPAN,
                &mut Cursor::default(),
            ),
            None => false,
        }
    }

    /// Looks up a batch: `out` is cleared and gets one answer per number,
    /// in order. Ascending input reads each sub-block once, in address
    /// order; any order gives the same (exact) answers, only slower.
    pub fn contains_sorted(&self, sorted: &[u64], out: &mut Vec<bool>) {
        out.clear();
        out.reserve(sorted.len());
        let mut range = u64::MAX;
        let mut base = None;
        let mut cursor = Cursor::default();
        let mut last_line = 0u32;
        for &number in sorted {
            let line = (number % u64::from(SPAN)) as u32;
            // Sub-blocks start at multiples of 1,250 (which divides 10,000).
            if number / u64::from(SPAN) != range || line < last_line {
                range = number / u64::from(SPAN);
                base = self.sub_block(number);
                cursor = Cursor::default();
            }
            last_line = line;
            out.push(match base {
                Some(base) => block::contains(&self.map, base, line, &mut cursor),
                None => false,
            });
        }
    }

    /// Every number of the list, ascending.
    pub fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        let mut buf = Vec::new();
        (0..CODES).flat_map(move |code| {
            let npa = (FIRST_CODE as usize + code) as u64;
            let mut numbers = Vec::new();
            if self.slots[code] != u32::MAX {
                for x in 0..CODES {
                    let exchange = npa * 1000 + (FIRST_CODE as usize + x) as u64;
                    for sub in 0..SUBS as u64 {
                        let first = exchange * 10_000 + sub * u64::from(SPAN);
                        if let Some(base) = self.sub_block(first) {
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
