//! [`Builder`]: collects a list version in bounded memory and writes the
//! index file atomically.
//!
//! Numbers are held as one 10,000-bit set per exchange, allocated per area
//! code on first use (800 exchanges x 1,256 bytes = 1 MiB per area code),
//! so memory is bounded by the area codes present (about 330 MiB for the
//! whole national registry, at most 800 MiB), never by the size or order
//! of the input: duplicates cost nothing, no sort is needed, and change
//! files set and clear bits in file order.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use jiff::civil::Date;

use crate::block;
use crate::index::{
    CRC_AT, ENTRIES, FORMAT_VERSION, HEADER_LEN, Index, IndexError, Layout, MAGIC, TAIL, checksum,
    entry, validate_list_name,
};
use crate::number::{CODES, FIRST_CODE, LINES, LineError, validate};

/// 64-bit words per exchange (10,000 bits).
const WORDS: usize = (LINES as usize).div_ceil(64);

/// A list version being built. Not thread-safe by design: the importer
/// feeds it from one reader.
pub struct Builder {
    list: String,
    /// Per area code 200..=999: its exchanges' bit sets, `WORDS` words each.
    codes: Vec<Option<Box<[u64]>>>,
    versions: BTreeMap<u16, Date>,
    numbers: u64,
}

impl std::fmt::Debug for Builder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Builder")
            .field("list", &self.list)
            .field("numbers", &self.numbers)
            .finish()
    }
}

impl Builder {
    /// An empty list named `list` (see [`validate_list_name`]).
    pub fn new(list: &str) -> Result<Builder, IndexError> {
        validate_list_name(list)?;
        Ok(Builder {
            list: list.to_owned(),
            codes: (0..CODES).map(|_| None).collect(),
            versions: BTreeMap::new(),
            numbers: 0,
        })
    }

    /// A builder holding everything `index` holds (numbers and area-code
    /// versions), to apply a change file to.
    pub fn from_index(index: &Index) -> Builder {
        let mut b = Builder {
            list: index.list().to_owned(),
            codes: (0..CODES).map(|_| None).collect(),
            versions: index.area_codes().collect(),
            numbers: 0,
        };
        for number in index.iter() {
            // Numbers in a validated index are valid NANP numbers.
            let _ = b.insert(number);
        }
        b
    }

    /// The list's name.
    pub fn list(&self) -> &str {
        &self.list
    }

    /// Numbers held.
    pub fn len(&self) -> u64 {
        self.numbers
    }

    /// Whether no number is held.
    pub fn is_empty(&self) -> bool {
        self.numbers == 0
    }

    fn bit(&mut self, number: u64) -> Result<(&mut u64, u64), LineError> {
        validate(number)?;
        let code = (number / 10_000_000) as usize - FIRST_CODE as usize;
        let x = (number / 10_000 % 1000) as usize - FIRST_CODE as usize;
        let line = (number % 10_000) as usize;
        let words =
            self.codes[code].get_or_insert_with(|| vec![0u64; CODES * WORDS].into_boxed_slice());
        Ok((&mut words[x * WORDS + line / 64], 1u64 << (line % 64)))
    }

    /// Adds a number; `Ok(true)` when it was not there yet.
    pub fn insert(&mut self, number: u64) -> Result<bool, LineError> {
        let (word, mask) = self.bit(number)?;
        let new = *word & mask == 0;
        *word |= mask;
        self.numbers += u64::from(new);
        Ok(new)
    }

    /// Removes a number; `Ok(true)` when it was there.
    pub fn remove(&mut self, number: u64) -> Result<bool, LineError> {
        let (word, mask) = self.bit(number)?;
        let was = *word & mask != 0;
        *word &= !mask;
        self.numbers -= u64::from(was);
        Ok(was)
    }

    /// Whether a number is held.
    pub fn contains(&self, number: u64) -> bool {
        if validate(number).is_err() {
            return false;
        }
        let code = (number / 10_000_000) as usize - FIRST_CODE as usize;
        let x = (number / 10_000 % 1000) as usize - FIRST_CODE as usize;
        let line = (number % 10_000) as usize;
        self.codes[code]
            .as_ref()
            .is_some_and(|w| w[x * WORDS + line / 64] >> (line % 64) & 1 == 1)
    }

    /// Records the version date of an area code's data.
    pub fn set_area_code_version(&mut self, npa: u16, version: Date) -> Result<(), LineError> {
        if !crate::number::valid_code(npa) {
            return Err(LineError::AreaCode(npa));
        }
        self.versions.insert(npa, version);
        Ok(())
    }

    /// The version date recorded for an area code.
    pub fn area_code_version(&self, npa: u16) -> Option<Date> {
        self.versions.get(&npa).copied()
    }

    /// Writes the index to `out` atomically: a temporary file in the same
    /// directory, fsynced, renamed over `out`, and the directory fsynced.
    /// A reader sees the old file or the new one, never a part. Refused
    /// (nothing written) when an area code has numbers but no version.
    pub fn write(&self, out: &Path) -> Result<(), IndexError> {
        let (head, data) = self.encode()?;
        let dir = match out.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let mut tmp = tempfile::Builder::new()
            .prefix(".dnc-index-")
            .tempfile_in(dir)
            .map_err(|e| IndexError::io(dir, e))?;
        tmp.write_all(&head)
            .and_then(|()| tmp.write_all(&data))
            .and_then(|()| tmp.as_file().sync_all())
            .map_err(|e| IndexError::io(tmp.path(), e))?;
        tmp.persist(out).map_err(|e| IndexError::io(out, e.error))?;
        // The rename is durable only once the directory is.
        #[cfg(unix)]
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| IndexError::io(dir, e))?;
        Ok(())
    }

    /// The file as header and tables, then the data region (~175 MB for
    /// the national registry, less than the bit sets it is made from).
    fn encode(&self) -> Result<(Vec<u8>, Vec<u8>), IndexError> {
        let present: Vec<usize> = (0..CODES)
            .filter(|&c| {
                self.codes[c]
                    .as_ref()
                    .is_some_and(|w| w.iter().any(|&x| x != 0))
            })
            .collect();
        for &c in &present {
            let npa = FIRST_CODE + c as u16;
            if !self.versions.contains_key(&npa) {
                return Err(IndexError::MissingVersion(npa));
            }
        }
        let layout = Layout::new(self.versions.len(), present.len());
        let mut directory = Vec::with_capacity(present.len() * ENTRIES);
        let mut data = Vec::new();
        for &c in &present {
            let words = self.codes[c].as_deref().unwrap_or_default();
            let slot_start = data.len();
            for x in 0..CODES {
                let offset = (data.len() - slot_start) / block::ALIGN;
                let mut sizes = [0usize; block::SUBS];
                for (sub, size) in sizes.iter_mut().enumerate() {
                    let before = data.len();
                    block::encode(&words[x * WORDS..(x + 1) * WORDS], sub, &mut data);
                    *size = (data.len() - before) / block::ALIGN;
                }
                directory.push(entry(offset, &sizes).ok_or(IndexError::TooLarge)?);
            }
        }
        data.extend_from_slice(&[0; TAIL]);

        let mut file = Vec::with_capacity(layout.data);
        file.extend_from_slice(&MAGIC);
        file.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        file.extend_from_slice(&(HEADER_LEN as u32).to_le_bytes());
        file.extend_from_slice(&((layout.data + data.len()) as u64).to_le_bytes());
        file.extend_from_slice(&self.numbers.to_le_bytes());
        file.extend_from_slice(&(self.versions.len() as u32).to_le_bytes());
        file.extend_from_slice(&(present.len() as u32).to_le_bytes());
        file.extend_from_slice(&(layout.data as u64).to_le_bytes());
        file.extend_from_slice(&(data.len() as u64).to_le_bytes());
        debug_assert_eq!(file.len(), CRC_AT);
        file.extend_from_slice(&[0; 4]);
        file.extend_from_slice(&(self.list.len() as u16).to_le_bytes());
        file.extend_from_slice(&[0; 2]);
        file.extend_from_slice(self.list.as_bytes());
        file.resize(HEADER_LEN, 0);
        for (&npa, date) in &self.versions {
            file.extend_from_slice(&npa.to_le_bytes());
            file.extend_from_slice(&date.year().to_le_bytes());
            file.push(date.month() as u8);
            file.push(date.day() as u8);
            file.extend_from_slice(&[0; 2]);
        }
        let mut slots = vec![u32::MAX; CODES];
        for (slot, &c) in present.iter().enumerate() {
            slots[c] = slot as u32;
        }
        for s in slots {
            file.extend_from_slice(&s.to_le_bytes());
        }
        debug_assert_eq!(file.len(), layout.directory);
        for e in directory {
            file.extend_from_slice(&e.to_le_bytes());
        }
        debug_assert_eq!(file.len(), layout.data);
        let crc = checksum(&file, &data);
        file[CRC_AT..CRC_AT + 4].copy_from_slice(&crc.to_le_bytes());
        Ok((file, data))
    }
}
