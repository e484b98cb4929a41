//! The on-disk index format and [`Index`], one loaded, immutable list
//! version. Layout (all integers little-endian; docs/adr/0301-dnc-index.md):
//!
//! ```text
//! offset  size      field
//! 0       8         magic "TGDNCIDX"
//! 8       4         format version (1)
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
//! ..      P*800*8   directory entries per exchange 200..=999:
//!                   kind (2 bits) | count << 2 (14 bits) | data offset << 16
//! ..                data region: one block per non-empty exchange (block.rs)
//! ```

use std::fs::File;
use std::path::Path;

use jiff::civil::Date;

use crate::block::{self, Cursor, Kind};
use crate::number::{CODES, FIRST_CODE, LINES, valid_code};

pub(crate) const MAGIC: [u8; 8] = *b"TGDNCIDX";
/// The only format version this build reads and writes.
pub const FORMAT_VERSION: u32 = 1;
pub(crate) const HEADER_LEN: usize = 128;
pub(crate) const CRC_AT: usize = 56;
/// Longest list name.
pub const MAX_LIST_NAME: usize = 64;
/// Padding after the last block (see block.rs).
pub(crate) const TAIL: usize = 8;

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
        let data = directory + npas * CODES * 8;
        Layout {
            area_codes: HEADER_LEN,
            slots,
            directory,
            data,
        }
    }
}

/// Packs a directory entry.
pub(crate) fn entry(kind: Kind, n: u32, offset: u64) -> u64 {
    kind as u64 | u64::from(n) << 2 | offset << 16
}

fn unpack(entry: u64) -> (Option<Kind>, u32, usize) {
    (
        Kind::from_bits(entry & 3),
        (entry >> 2 & 0x3FFF) as u32,
        (entry >> 16) as usize,
    )
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
    #[error("index format version {0} is not supported (this build reads version 1)")]
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

/// One list version, memory-mapped and validated; immutable. Share it
/// behind an `Arc` and swap the `Arc` to move to a new version: lookups in
/// flight keep the old mapping alive until they finish.
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
    /// Maps `path` and validates it: header, checksum of the whole file,
    /// every table and every directory entry's bounds. A damaged or
    /// truncated file is an error, never a panic or a wrong answer later.
    pub fn open(path: &Path) -> Result<Index, IndexError> {
        let file = File::open(path).map_err(|e| IndexError::io(path, e))?;
        let map = crate::map::map(&file).map_err(|e| IndexError::io(path, e))?;
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
        let mut total = 0u64;
        for (code, version) in version_by_code.iter().enumerate() {
            let slot = u32_at(b, layout.slots + code * 4);
            slots.push(slot);
            if slot == u32::MAX {
                continue;
            }
            let npa = FIRST_CODE + code as u16;
            let s = slot as usize;
            if s >= npas || used[s] || !valid_code(npa) {
                return Err(corrupt("directory slot table"));
            }
            used[s] = true;
            if version.is_none() {
                return Err(IndexError::MissingVersion(npa));
            }
            for x in 0..CODES {
                let e = u64_at(b, layout.directory + (s * CODES + x) * 8);
                let (kind, n, offset) = unpack(e);
                let ok = match kind {
                    None => false,
                    Some(Kind::Empty) => e == 0,
                    Some(kind) => {
                        (1..=LINES).contains(&n)
                            && valid_code(FIRST_CODE + x as u16)
                            && offset
                                .checked_add(block::size(kind, n))
                                .is_some_and(|end| end <= data_end)
                    }
                };
                if !ok {
                    return Err(corrupt("directory entry"));
                }
                total += u64::from(n);
            }
        }
        if used.iter().any(|u| !u) {
            return Err(corrupt("unreferenced directory"));
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

    /// Directory entry of the exchange of `number`, or `None` when the
    /// number is not a NANP number or its area code has no numbers.
    #[inline]
    fn lookup_entry(&self, number: u64) -> Option<(Kind, u32, usize)> {
        if number >= 10_000_000_000 {
            return None;
        }
        let npa = (number / 10_000_000) as usize;
        let nxx = (number / 10_000 % 1000) as usize;
        let code = npa.checked_sub(FIRST_CODE as usize)?;
        let x = nxx.checked_sub(FIRST_CODE as usize)?;
        let slot = *self.slots.get(code)?;
        if slot == u32::MAX {
            return None;
        }
        let at = self.directory + (slot as usize * CODES + x) * 8;
        let (kind, n, offset) = unpack(u64_at(&self.map, at));
        Some((kind?, n, self.data + offset))
    }

    /// Whether the list holds `number` (ten digits, e.g. `2125550123`).
    /// Exact: never a false "not listed" for a number the import added.
    #[inline]
    pub fn contains(&self, number: u64) -> bool {
        match self.lookup_entry(number) {
            Some((kind, n, base)) => block::contains(
                &self.map,
                base,
                kind,
                n,
                (number % 10_000) as u32,
                &mut Cursor::default(),
            ),
            None => false,
        }
    }

    /// Looks up a batch: `out` is cleared and gets one answer per number,
    /// in order. Ascending input reads each exchange's block once; any
    /// order gives the same (exact) answers, only slower.
    pub fn contains_sorted(&self, sorted: &[u64], out: &mut Vec<bool>) {
        out.clear();
        out.reserve(sorted.len());
        let mut exchange = u64::MAX;
        let mut entry = None;
        let mut cursor = Cursor::default();
        let mut last_line = 0u32;
        for &number in sorted {
            let line = (number % 10_000) as u32;
            if number / 10_000 != exchange || line < last_line {
                exchange = number / 10_000;
                entry = self.lookup_entry(number);
                cursor = Cursor::default();
            }
            last_line = line;
            out.push(match entry {
                Some((kind, n, base)) => {
                    block::contains(&self.map, base, kind, n, line, &mut cursor)
                }
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
                    if let Some((kind, n, base)) = self.lookup_entry(exchange * 10_000) {
                        block::decode(&self.map, base, kind, n, &mut buf);
                        numbers.extend(buf.iter().map(|&l| exchange * 10_000 + u64::from(l)));
                    }
                }
            }
            numbers
        })
    }

    /// Bytes of the mapped file (the index's whole memory footprint).
    pub fn file_len(&self) -> u64 {
        self.map.len() as u64
    }
}
