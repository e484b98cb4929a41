//! The one place that memory-maps an index file, and so the one module of
//! the workspace allowed `unsafe` (docs/adr/0301-dnc-index.md).

#![allow(unsafe_code)]

use std::fs::File;

/// Maps `file` read-only.
pub(crate) fn map(file: &File) -> std::io::Result<memmap2::Mmap> {
    // SAFETY: a mapping is undefined behaviour only if the file changes
    // while mapped. Index files are never modified in place: the importer
    // writes a temporary file, fsyncs it and renames it into place, and a
    // new version is a new file (the previous one stays untouched until no
    // `Index` maps it; unlinking it keeps the mapped inode alive). Tollgate
    // never opens an index file for writing, and ADR 0301 tells operators
    // to replace files, never edit them in place. Everything read
    // through the map is bounds-checked and checksummed first (`index.rs`),
    // so a file damaged outside that contract is refused at open, not
    // trusted.
    // Populate: the open-time checksum reads every page anyway.
    let map = unsafe { memmap2::MmapOptions::new().populate().map(file) }?;
    // Lookups are random over the whole file: huge pages, where the kernel
    // can give them to a file mapping, save most TLB misses. Advice only.
    #[cfg(target_os = "linux")]
    let _ = map.advise(memmap2::Advice::HugePage);
    Ok(map)
}
