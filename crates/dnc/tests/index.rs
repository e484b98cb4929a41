//! The index against a `BTreeSet`, the file format's defences, and imports.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use jiff::civil::{Date, date};
use proptest::prelude::*;
use tollgate_dnc::{
    Builder, ImportError, ImportOptions, ImportProgress, Index, IndexError, import,
};

fn build(dir: &Path, list: &str, numbers: &BTreeSet<u64>, version: Date) -> Index {
    let mut b = Builder::new(list).unwrap();
    for &n in numbers {
        b.insert(n).unwrap();
        b.set_area_code_version((n / 10_000_000) as u16, version)
            .unwrap();
    }
    let path = dir.join("list.idx");
    b.write(&path).unwrap();
    Index::open(&path).unwrap()
}

/// Valid NANP numbers clustered in a few area codes and exchanges, so that
/// blocks of every density occur.
fn numbers() -> impl Strategy<Value = BTreeSet<u64>> {
    let number = (
        prop::sample::select(vec![201u64, 212, 305, 999]),
        prop::sample::select(vec![200u64, 555, 998, 999]),
        0u64..10_000,
    )
        .prop_map(|(a, x, l)| a * 10_000_000 + x * 10_000 + l);
    prop::collection::btree_set(number, 0..4000)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Exactness: every listed number is found, every other one is not,
    /// singly and in sorted batches, and iteration gives the set back.
    #[test]
    fn exact_against_btreeset(set in numbers(), probes in prop::collection::vec(0u64..10_000_000_000, 0..500)) {
        let dir = tempfile::tempdir().unwrap();
        let index = build(dir.path(), "national", &set, date(2026, 11, 30));
        prop_assert_eq!(index.len(), set.len() as u64);
        for &n in &set {
            prop_assert!(index.contains(n), "listed {} not found", n);
        }
        let mut queries: Vec<u64> = probes.clone();
        queries.extend(set.iter().copied());
        for &n in &probes {
            prop_assert_eq!(index.contains(n), set.contains(&n));
        }
        // Neighbours of listed numbers: the places an off-by-one would hide.
        for &n in &set {
            for m in [n.saturating_sub(1), n + 1] {
                prop_assert_eq!(index.contains(m), set.contains(&m));
                queries.push(m);
            }
        }
        queries.sort_unstable();
        let mut out = Vec::new();
        index.contains_sorted(&queries, &mut out);
        for (q, got) in queries.iter().zip(&out) {
            prop_assert_eq!(*got, set.contains(q), "batch {}", q);
        }
        // Unsorted batches are still exact, both ways.
        queries.reverse();
        index.contains_sorted(&queries, &mut out);
        for (q, got) in queries.iter().zip(&out) {
            prop_assert_eq!(*got, set.contains(q));
        }
        let mut shuffled = queries.clone();
        for i in 1..shuffled.len() {
            shuffled.swap(i, (i * 7919) % (i + 1));
        }
        shuffled.extend([0, 1_999_999_999, 10_000_000_000, u64::MAX]);
        index.contains_many(&shuffled, &mut out);
        prop_assert_eq!(out.len(), shuffled.len());
        for (q, got) in shuffled.iter().zip(&out) {
            prop_assert_eq!(*got, set.contains(q), "many {}", q);
        }
        prop_assert_eq!(index.iter().collect::<Vec<_>>(), set.iter().copied().collect::<Vec<_>>());
        // The lookup compiled without the optional CPU instructions
        // (where the CPU has them, the checks above used `pdep`).
        let portable = index.without_cpu_features();
        prop_assert!(!portable.uses_cpu_features());
        for &q in &shuffled {
            prop_assert_eq!(portable.contains(q), set.contains(&q), "portable {}", q);
        }
    }
}

#[test]
fn header_fields_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = Builder::new("state:FL").unwrap();
    b.insert(3_055_550_123).unwrap();
    b.set_area_code_version(305, date(2026, 11, 2)).unwrap();
    // An area code covered with no numbers keeps its version.
    b.set_area_code_version(786, date(2026, 11, 3)).unwrap();
    let path = dir.path().join("fl.idx");
    b.write(&path).unwrap();
    let index = Index::open(&path).unwrap();
    assert_eq!(index.list(), "state:FL");
    assert_eq!(index.len(), 1);
    assert_eq!(index.area_code_version(305), Some(date(2026, 11, 2)));
    assert_eq!(index.area_code_version(786), Some(date(2026, 11, 3)));
    assert_eq!(index.area_code_version(212), None);
    assert_eq!(index.area_code_version(0), None);
    assert_eq!(
        index.area_codes().collect::<Vec<_>>(),
        vec![(305, date(2026, 11, 2)), (786, date(2026, 11, 3))]
    );
    assert!(index.contains(3_055_550_123));
    assert!(!index.contains(3_055_550_124));
    assert!(!index.contains(u64::MAX));
    assert!(!index.contains(0));
}

#[test]
fn numbers_without_a_version_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = Builder::new("national").unwrap();
    b.insert(2_125_550_123).unwrap();
    let path = dir.path().join("x.idx");
    assert!(matches!(
        b.write(&path),
        Err(IndexError::MissingVersion(212))
    ));
    assert!(!path.exists());
}

#[test]
fn list_names() {
    for ok in ["national", "state:FL", "internal", "acme-dnc_2.v1"] {
        assert!(Builder::new(ok).is_ok(), "{ok}");
    }
    for bad in ["", "state:fl", "state:FLA", "a b", "x:y", &"a".repeat(65)] {
        assert!(Builder::new(bad).is_err(), "{bad}");
    }
}

fn sample_file(dir: &Path) -> (PathBuf, Vec<u8>) {
    let set: BTreeSet<u64> = (0..5000u64)
        .map(|i| 2_120_000_000 + (i * 7919) % 8_000_000 + 2_000_000)
        .filter(|&n| tollgate_dnc::number::validate(n).is_ok())
        .collect();
    let index = build(dir, "national", &set, date(2026, 11, 30));
    drop(index);
    let path = dir.join("list.idx");
    let bytes = std::fs::read(&path).unwrap();
    (path, bytes)
}

/// A damaged file is refused at open, whatever byte is damaged.
#[test]
fn every_corruption_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (path, bytes) = sample_file(dir.path());
    let bad = dir.path().join("bad.idx");
    // Truncations, including inside the header.
    for len in [0, 7, 8, 64, 127, 128, bytes.len() / 2, bytes.len() - 1] {
        std::fs::write(&bad, &bytes[..len]).unwrap();
        assert!(Index::open(&bad).is_err(), "truncated to {len}");
    }
    // A flipped bit anywhere: the checksum (or the header checks before it).
    let step = (bytes.len() / 997).max(1);
    for at in (0..bytes.len())
        .step_by(step)
        .chain([8, 16, 56, 60, bytes.len() - 1])
    {
        let mut b = bytes.clone();
        b[at] ^= 0x10;
        std::fs::write(&bad, &b).unwrap();
        assert!(Index::open(&bad).is_err(), "flip at {at}");
    }
    // Not an index at all.
    std::fs::write(&bad, b"2125550123\n".repeat(20)).unwrap();
    assert!(matches!(Index::open(&bad), Err(IndexError::NotAnIndex)));
    // A future format version.
    let mut b = bytes.clone();
    b[8] = 5;
    std::fs::write(&bad, &b).unwrap();
    assert!(matches!(
        Index::open(&bad),
        Err(IndexError::UnsupportedVersion(5))
    ));
    assert!(Index::open(&path).is_ok());
}

/// A structurally wrong file with a correct checksum (what a buggy or
/// hostile writer makes) is refused by the bounds checks, not trusted.
#[test]
fn bounds_are_checked_behind_the_checksum() {
    let dir = tempfile::tempdir().unwrap();
    let (_, bytes) = sample_file(dir.path());
    let bad = dir.path().join("bad.idx");
    let reseal = |mut b: Vec<u8>| {
        b[56..60].copy_from_slice(&[0; 4]);
        let crc = crc32fast::hash(&b);
        b[56..60].copy_from_slice(&crc.to_le_bytes());
        b
    };
    let area_codes = u32::from_le_bytes(bytes[32..36].try_into().unwrap()) as usize;
    let npas = u32::from_le_bytes(bytes[36..40].try_into().unwrap()) as usize;
    assert_eq!(npas, 1, "the sample is area code 212 only");
    let directory = 128 + area_codes * 8 + 800 * 4;
    let data = u64::from_le_bytes(bytes[40..48].try_into().unwrap()) as usize;
    assert_eq!(data, directory + npas * 800 * 8);
    // Directory entry of exchange 200 + x: offset (24 bits), then eight
    // 5-bit sizes, in 8-byte units.
    let entry = |b: &[u8], x: usize| {
        u64::from_le_bytes(
            b[directory + x * 8..directory + x * 8 + 8]
                .try_into()
                .unwrap(),
        )
    };
    let set_entry = |b: &mut Vec<u8>, x: usize, v: u64| {
        b[directory + x * 8..directory + x * 8 + 8].copy_from_slice(&v.to_le_bytes());
    };
    let refused = |b: Vec<u8>, what: &str| {
        std::fs::write(&bad, reseal(b)).unwrap();
        let e = Index::open(&bad).unwrap_err();
        assert!(matches!(e, IndexError::Corrupt(_)), "{what}: {e}");
    };
    // The first exchange with numbers, and its first non-empty sub-block.
    let x = (0..800).find(|&x| entry(&bytes, x) >> 24 != 0).unwrap();
    let e = entry(&bytes, x);
    let k = (0..8).find(|&k| e >> (24 + 5 * k) & 31 != 0).unwrap();
    let mut b = bytes.clone();
    set_entry(&mut b, x, e + 1);
    refused(b, "offset not the running sum");
    let mut b = bytes.clone();
    set_entry(&mut b, x, e + (1 << (24 + 5 * k)));
    refused(b, "size one unit longer than its count says");
    let mut b = bytes.clone();
    set_entry(&mut b, x, e - (1 << (24 + 5 * k)));
    refused(b, "size one unit shorter");
    // All sub-blocks emptied: the data region is then longer than the
    // directory says.
    let mut b = bytes.clone();
    set_entry(&mut b, x, e & ((1 << 24) - 1));
    refused(b, "data past the last sub-block");
    // Eight more bytes in the data region (header lengths adjusted).
    let mut b = bytes.clone();
    b.extend_from_slice(&[0; 8]);
    let len = b.len() as u64;
    b[16..24].copy_from_slice(&len.to_le_bytes());
    let data_len = u64::from_le_bytes(b[48..56].try_into().unwrap()) + 8;
    b[48..56].copy_from_slice(&data_len.to_le_bytes());
    refused(b, "data region longer than the directory");
    // A wrong number count.
    let mut b = bytes.clone();
    b[24] ^= 1;
    refused(b, "number count");
    // A count of more than 1,250 lines in a sub-block, and a count of 0.
    let start = (0..k)
        .map(|j| (e >> (24 + 5 * j) & 31) as usize * 8)
        .sum::<usize>()
        + (e & ((1 << 24) - 1)) as usize * 8;
    for count in [1251u16, 0] {
        let mut b = bytes.clone();
        let at = data + start;
        b[at..at + 2].copy_from_slice(&count.to_le_bytes());
        refused(b, "count");
    }
    // A wrong upper-string bit: lookups trust the upper string (and the
    // hints, which this sparse sample's sub-blocks do not have), so open
    // checks it. Its length is `n + (1,249 >> l) + 2` bits (a leading
    // zero, then n ones and a zero per bucket), with
    // `l = floor(log2(1,250 / n))` (at least 3).
    let n = u32::from(u16::from_le_bytes([
        bytes[data + start],
        bytes[data + start + 1],
    ]));
    let l = (31 - (1250 / n).leading_zeros()).max(3);
    let upper = n + (1249 >> l) + 2;
    assert!(
        upper <= 8,
        "a sparse sub-block: its upper string is in one byte"
    );
    for bit in 0..upper {
        let mut b = bytes.clone();
        b[data + start + 2] ^= 1 << bit;
        refused(b, "upper string");
    }
    // A sub-block under an exchange that cannot exist (N11): exchange 211
    // given a size, its offset left right.
    let x211 = 211 - 200;
    assert_eq!(entry(&bytes, x211) >> 24, 0, "211 is empty");
    let mut b = bytes.clone();
    set_entry(&mut b, x211, entry(&bytes, x211) | 1 << 24);
    refused(b, "N11 exchange");
}

/// Files of the previous formats are refused with a clear error.
#[test]
fn formats_1_to_3_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_, bytes) = sample_file(dir.path());
    for old in [1u32, 2, 3] {
        let mut bytes = bytes.clone();
        bytes[8..12].copy_from_slice(&old.to_le_bytes());
        let bad = dir.path().join("old.idx");
        std::fs::write(&bad, &bytes).unwrap();
        let e = Index::open(&bad).unwrap_err();
        assert!(matches!(e, IndexError::UnsupportedVersion(v) if v == old));
        assert!(e.to_string().contains("re-import"), "{e}");
    }
}

/// The inspector sees exactly the file's bytes, in order.
#[test]
fn open_inspecting_shows_every_byte() {
    let dir = tempfile::tempdir().unwrap();
    let (path, bytes) = sample_file(dir.path());
    let mut seen = Vec::new();
    let index = Index::open_inspecting(&path, |chunk| seen.extend_from_slice(chunk)).unwrap();
    assert_eq!(seen, bytes);
    assert_eq!(index.file_len(), bytes.len() as u64);
}

fn opts(dir: &Path, base: Option<PathBuf>, out: &str) -> ImportOptions {
    ImportOptions {
        list: "national".into(),
        version: date(2026, 11, 30),
        base,
        out: dir.join(out),
        accept_bad_lines: false,
        area_codes: vec![],
    }
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn import_full_zip_and_change_files() {
    let dir = tempfile::tempdir().unwrap();
    let plain = write(
        dir.path(),
        "212.txt",
        "2125550123\n212,5550124\r\n\n2125550123\n",
    );
    let zip_path = dir.path().join("305.zip");
    {
        let mut z = zip::ZipWriter::new(std::fs::File::create(&zip_path).unwrap());
        let o = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        z.start_file("305.txt", o).unwrap();
        z.write_all(b"3055550100\n3055550101").unwrap();
        z.start_file("786.txt", o).unwrap();
        z.write_all(b"786,2220000\n").unwrap();
        z.finish().unwrap();
    }
    let progress = std::cell::RefCell::new(Vec::new());
    let report = import(
        &opts(dir.path(), None, "v1.idx"),
        &[plain, zip_path],
        &|p| progress.borrow_mut().push(p),
    )
    .unwrap();
    assert_eq!(report.numbers, 5);
    assert_eq!(report.lines, 6);
    assert_eq!(report.area_codes, vec![212, 305, 786]);
    assert!(report.written);
    assert!(
        progress
            .borrow()
            .iter()
            .any(|p| matches!(p, ImportProgress::Read { files: 2, .. }))
    );
    let v1 = Index::open(&dir.path().join("v1.idx")).unwrap();
    for n in [
        2_125_550_123,
        2_125_550_124,
        3_055_550_100,
        3_055_550_101,
        7_862_220_000,
    ] {
        assert!(v1.contains(n), "{n}");
    }
    assert_eq!(v1.area_code_version(212), Some(date(2026, 11, 30)));

    // A change list for 212 and a new area code, a month later.
    let changes = write(
        dir.path(),
        "212-changes.txt",
        "2125550123,D,2026-12-29\n212,5550199,A\n4155550100,add\n",
    );
    let mut o = opts(dir.path(), Some(dir.path().join("v1.idx")), "v2.idx");
    o.version = date(2026, 12, 30);
    let report = import(&o, std::slice::from_ref(&changes), &|_| {}).unwrap();
    assert_eq!((report.added, report.removed), (2, 1));
    assert_eq!(report.area_codes, vec![212, 415]);
    let v2 = Index::open(&dir.path().join("v2.idx")).unwrap();
    assert!(!v2.contains(2_125_550_123));
    assert!(v2.contains(2_125_550_199));
    assert!(v2.contains(4_155_550_100));
    assert!(v2.contains(3_055_550_100));
    assert_eq!(v2.len(), 6);
    // Only the area codes the change files touched are newer; 305 is as
    // old as its data.
    assert_eq!(v2.area_code_version(212), Some(date(2026, 12, 30)));
    assert_eq!(v2.area_code_version(305), Some(date(2026, 11, 30)));
    // The base is untouched.
    assert!(v1.contains(2_125_550_123));

    // Going back in time is refused.
    let mut o = opts(dir.path(), Some(dir.path().join("v2.idx")), "v3.idx");
    o.version = date(2026, 12, 1);
    assert!(matches!(
        import(&o, &[changes], &|_| {}),
        Err(ImportError::Older { npa: 212, .. })
    ));
    assert!(!dir.path().join("v3.idx").exists());
}

#[test]
fn bad_lines_refuse_the_import_and_name_each_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "bad.txt",
        "2125550123\n1125550123\n21255501\n2124110000\n2125550124\n",
    );
    let out = dir.path().join("out.idx");
    std::fs::write(&out, b"previous version").unwrap();
    let seen = std::cell::RefCell::new(Vec::new());
    let err = import(
        &opts(dir.path(), None, "out.idx"),
        std::slice::from_ref(&file),
        &|p| {
            if let ImportProgress::BadLine(b) = p {
                seen.borrow_mut().push(b.line)
            }
        },
    )
    .unwrap_err();
    let ImportError::BadLines(3, report) = err else {
        panic!("{err:?}")
    };
    assert_eq!(
        report.bad_lines.iter().map(|b| b.line).collect::<Vec<_>>(),
        vec![2, 3, 4]
    );
    assert_eq!(*seen.borrow(), vec![2, 3, 4]);
    assert!(report.bad_lines[0].reason.contains("area code 112"));
    assert!(report.bad_lines[0].file.ends_with("bad.txt"));
    assert!(!report.written);
    // Nothing written: the previous file is intact, no temporary file left.
    assert_eq!(std::fs::read(&out).unwrap(), b"previous version");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);

    // Accepting bad lines writes the good ones and still reports each.
    let mut o = opts(dir.path(), None, "out.idx");
    o.accept_bad_lines = true;
    let report = import(&o, &[file], &|_| {}).unwrap();
    assert_eq!(report.bad_line_count, 3);
    assert_eq!(report.numbers, 2);
    assert_eq!(Index::open(&out).unwrap().len(), 2);
}

#[test]
fn change_lines_in_a_full_import_are_bad_and_vice_versa() {
    let dir = tempfile::tempdir().unwrap();
    let change = write(dir.path(), "c.txt", "2125550123,A\n");
    let err = import(&opts(dir.path(), None, "a.idx"), &[change], &|_| {}).unwrap_err();
    assert!(matches!(err, ImportError::BadLines(1, _)));
    let full = write(dir.path(), "f.txt", "2125550123\n");
    import(
        &opts(dir.path(), None, "a.idx"),
        std::slice::from_ref(&full),
        &|_| {},
    )
    .unwrap();
    let err = import(
        &opts(dir.path(), Some(dir.path().join("a.idx")), "b.idx"),
        &[full],
        &|_| {},
    )
    .unwrap_err();
    let ImportError::BadLines(1, report) = err else {
        panic!()
    };
    assert!(report.bad_lines[0].reason.contains("change file"));
}

#[test]
fn declared_area_codes_get_the_version() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "f.txt", "2125550123\n");
    let mut o = opts(dir.path(), None, "a.idx");
    o.area_codes = vec![646];
    let report = import(&o, std::slice::from_ref(&f), &|_| {}).unwrap();
    assert_eq!(report.area_codes, vec![212, 646]);
    o.area_codes = vec![111];
    assert!(matches!(
        import(&o, &[f], &|_| {}),
        Err(ImportError::AreaCode(111))
    ));
}
