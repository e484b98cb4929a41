//! Where an index lives in memory: a private anonymous mapping backed by
//! transparent huge pages, filled by reading the file (ADR 0301, "Memory").
//!
//! Format 1 mapped the file itself. A random lookup then touched two or
//! three 4 KiB pages of a 165 MB file, and nearly every one was a TLB miss;
//! under virtualization a miss walks two page tables and cost more than
//! the lookup's cache misses. Page-cache pages of a regular file are not
//! given huge pages on common kernels (read-only file THP needs a kernel
//! option and khugepaged's later, asynchronous collapse), so `madvise`
//! on the file mapping did nothing. Anonymous memory advised
//! `MADV_HUGEPAGE` before it is touched is faulted in 2 MiB pages: 83 TLB
//! entries for the national list, which the second-level TLB holds.
//! Reading also means no `unsafe`: a copy cannot change under us the way a
//! mapped file edited in place could.

use std::fs::File;
use std::io::Read;

/// Bytes read (and inspected) at a time: large enough to amortise the
/// system calls, small enough that the inspector hashes bytes still in
/// the CPU's cache.
const CHUNK: usize = 1 << 20;

/// Reads all of `file` into fresh read-only memory, showing each chunk to
/// `inspect` in order. Refuses a file whose length changes while read.
pub(crate) fn load(
    file: &mut File,
    mut inspect: impl FnMut(&[u8]),
) -> std::io::Result<memmap2::Mmap> {
    let len = usize::try_from(file.metadata()?.len())
        .map_err(|_| std::io::Error::other("index file too large for this platform"))?;
    // A zero-length anonymous mapping is an error; an empty file is
    // refused by the header checks instead.
    let mut memory = memmap2::MmapMut::map_anon(len.max(1))?;
    // Before the first touch, so the faults allocate huge pages. Advice
    // only: without transparent huge pages this is the same memory in
    // 4 KiB pages, slower but correct.
    #[cfg(target_os = "linux")]
    let _ = memory.advise(memmap2::Advice::HugePage);
    let mut at = 0;
    while at < len {
        let end = (at + CHUNK).min(len);
        file.read_exact(&mut memory[at..end])?;
        inspect(&memory[at..end]);
        at = end;
    }
    if file.read(&mut [0u8; 1])? != 0 {
        return Err(std::io::Error::other(
            "the index file grew while it was read (index files must be replaced, never edited in place)",
        ));
    }
    memory.make_read_only()
}
