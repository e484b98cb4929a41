//! Do-Not-Call registry data for Tollgate: no network, no database.
//!
//! * [`number`]: registry lines (`NPANXXXXXX`, `NPA,NXXXXXX`, change lines)
//!   and NANP validation, with a reason for every refusal.
//! * [`Index`]: one immutable list version (the national registry, a
//!   state's list or an organization's), loaded into huge-page memory
//!   from a versioned, checksummed file and validated at open; exact
//!   lookups, single or in sorted batches, and the version date of each
//!   area code.
//! * [`Builder`]: collects a list in bounded memory and writes the file
//!   atomically.
//! * [`import`]: registry files, plain or zipped, full or change lists, into
//!   an index file, reporting every bad line.
//!
//! Why this structure (Elias-Fano or bitmap sub-blocks, an eighth of an
//! exchange each), how it is held in memory, and the file format:
//! docs/adr/0301-dnc-index.md.

mod block;
mod builder;
mod import;
mod index;
mod map;
pub mod number;

pub use builder::Builder;
pub use import::{
    BadLine, ImportError, ImportOptions, ImportProgress, ImportReport, MAX_REPORTED_BAD_LINES,
    import,
};
pub use index::{FORMAT_VERSION, Index, IndexError, MAX_LIST_NAME, validate_list_name};
pub use number::{Change, LineError};
