//! DNC index benchmark (issue 8); the driver is bench/dnc.sh, results in
//! docs/benchmarks.md ("DNC index").
//!
//! `dnc-bench generate DIR TOTAL`: a synthetic national registry, one flat
//! file per area code (`NPANXXXXXX` per line, ascending, as the FTC ships
//! full lists). Area codes: every one in rules/area_codes.csv. Exchanges per
//! area code: uniform in 480..=792 of the 792 valid ones (N11 excluded),
//! about 636 on average, so the universe is ~2.3 billion numbers; each
//! exchange's density is uniform in 0.5..1.5 times the mean that gives
//! TOTAL numbers (258 million: ~11%, the registry's size in 2025).
//!
//! `dnc-bench measure INDEX`: opens the index and measures, on one thread:
//! start-up (open), memory per number against the information-theoretic
//! minimum, random single lookups (independent and dependent, the latter
//! being latency), the same random numbers as one unsorted batch, and
//! sorted batch lookups; then the same for a sorted
//! `u64` array and per-area-code Roaring bitmaps.
//!
//! `dnc-bench overlap`: how far the CPU overlaps independent random
//! loads depending on the work that waits for each (ADR 0301, decision
//! 13): one random 8-byte load over 176 MB of huge pages, then k rounds
//! of rotate/xor/add on the loaded value, with and without a branch on
//! the value that skips the rounds for 75% of the loads.
//!
//! `dnc-bench pg-numbers INDEX K OUT`: the numbers of the first K area
//! codes, for the PostgreSQL comparison that bench/dnc.sh runs with psql
//! and pgbench (a documented fraction of the registry).

use std::hint::black_box;
use std::io::Write;
use std::path::Path;
use std::time::Instant;

use tollgate_dnc::Index;

/// splitmix64: fast, good enough for synthetic data, reproducible.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(n)) >> 64) as u64
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn valid_code(c: u64) -> bool {
    (200..=999).contains(&c) && c % 100 != 11
}

/// The synthetic universe: (area code, its exchanges), reproducible.
fn universe() -> Vec<(u64, Vec<u64>)> {
    let csv =
        std::fs::read_to_string("rules/area_codes.csv").expect("run from the repository root");
    let mut rng = Rng(7);
    csv.lines()
        .skip(1)
        .filter_map(|l| l.split(',').next()?.parse::<u64>().ok())
        .filter(|&npa| valid_code(npa))
        .map(|npa| {
            let mut exchanges: Vec<u64> = (200..1000).filter(|&x| valid_code(x)).collect();
            let keep = 480 + rng.below(792 - 480 + 1) as usize;
            // Partial Fisher-Yates: a random subset of `keep` exchanges.
            for i in 0..keep {
                let j = i + rng.below((exchanges.len() - i) as u64) as usize;
                exchanges.swap(i, j);
            }
            exchanges.truncate(keep);
            exchanges.sort_unstable();
            (npa, exchanges)
        })
        .collect()
}

fn generate(dir: &Path, total: u64) {
    let universe = universe();
    let exchanges: u64 = universe.iter().map(|(_, x)| x.len() as u64).sum();
    let mean = total as f64 / (exchanges * 10_000) as f64;
    eprintln!(
        "{} area codes, {exchanges} exchanges, universe {} numbers, mean density {:.2}%",
        universe.len(),
        exchanges * 10_000,
        mean * 100.0
    );
    std::fs::create_dir_all(dir).unwrap();
    let mut rng = Rng(11);
    let mut written = 0u64;
    let started = Instant::now();
    for (npa, xs) in &universe {
        let f = std::fs::File::create(dir.join(format!("{npa}.txt"))).unwrap();
        let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
        let mut line = *b"0000000000\n";
        for &nxx in xs {
            let p = mean * (0.5 + rng.unit());
            let threshold = (p * u64::MAX as f64) as u64;
            for l in 0..10_000u64 {
                if rng.next() < threshold {
                    let n = npa * 10_000_000 + nxx * 10_000 + l;
                    let mut v = n;
                    for i in (0..10).rev() {
                        line[i] = b'0' + (v % 10) as u8;
                        v /= 10;
                    }
                    w.write_all(&line).unwrap();
                    written += 1;
                }
            }
        }
        w.flush().unwrap();
    }
    eprintln!(
        "wrote {written} numbers in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// The import `tollgate dnc import` runs (same function, no CLI around
/// it, so the benchmark needs no release build of the server).
fn import(dir: &Path, out: &Path) {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let opts = tollgate_dnc::ImportOptions {
        list: "national".into(),
        version: "2026-11-30".parse().unwrap(),
        base: None,
        out: out.to_owned(),
        accept_bad_lines: false,
        area_codes: vec![],
    };
    let report = tollgate_dnc::import(&opts, &files, &|_| {}).unwrap();
    println!(
        "import: {} files, {} lines, {} numbers, {} area codes in {:.1} s",
        files.len(),
        report.lines,
        report.numbers,
        report.area_codes.len(),
        report.elapsed.as_secs_f64()
    );
}

/// ln(n!) by Stirling's series (exact enough for n >= 1; n = 0 gives 0).
fn ln_factorial(n: f64) -> f64 {
    if n < 1.0 {
        return 0.0;
    }
    if n < 20.0 {
        return (1..=n as u64).map(|k| (k as f64).ln()).sum();
    }
    n * n.ln() - n + 0.5 * (2.0 * std::f64::consts::PI * n).ln() + 1.0 / (12.0 * n)
        - 1.0 / (360.0 * n * n * n)
}

fn log2_binomial(u: f64, n: f64) -> f64 {
    (ln_factorial(u) - ln_factorial(n) - ln_factorial(u - n)) / std::f64::consts::LN_2
}

/// Nanoseconds this thread has run on a CPU (Linux schedstat). The machine
/// is shared with builds, so wall time mostly measures waiting for a core;
/// CPU time is what a lookup costs one core.
fn cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Runs `f` `reps` times; returns the best CPU seconds and the best wall
/// seconds (the least disturbed runs).
fn best(reps: usize, mut f: impl FnMut()) -> (f64, f64) {
    let mut cpu = f64::INFINITY;
    let mut wall = f64::INFINITY;
    for _ in 0..reps {
        let (c, t) = (cpu_ns(), Instant::now());
        f();
        wall = wall.min(t.elapsed().as_secs_f64());
        cpu = cpu.min((cpu_ns() - c) as f64 / 1e9);
    }
    (cpu, wall)
}

/// (CPU, wall) seconds divided by a count.
fn per(t: (f64, f64), count: usize) -> (f64, f64) {
    (t.0 / count as f64, t.1 / count as f64)
}

struct Row {
    name: String,
    bits_per_number: f64,
    /// (CPU, wall) nanoseconds per lookup.
    single_ns: (f64, f64),
    dependent_ns: (f64, f64),
    /// (CPU, wall) nanoseconds per lookup of random numbers looked up as
    /// one unsorted batch, where the structure has a batch call.
    unsorted_batch_ns: Option<(f64, f64)>,
    /// (CPU, wall) lookups per second.
    batch_per_s: (f64, f64),
    note: String,
}

fn ns(t: (f64, f64)) -> (f64, f64) {
    (t.0 * 1e9, t.1 * 1e9)
}

fn rate(count: usize, t: (f64, f64)) -> (f64, f64) {
    (count as f64 / t.0, count as f64 / t.1)
}

/// The lookup rows for one index: random single lookups (independent,
/// then dependent), the same numbers as one unsorted batch, and sorted.
fn index_row(
    index: &Index,
    name: String,
    queries: &[u64],
    hits: &[u64],
    sorted_queries: &[u64],
    expected: usize,
) -> Row {
    let q = queries.len();
    let mut out = Vec::new();
    let single = per(
        best(3, || {
            let c = queries.iter().filter(|&&x| index.contains(x)).count();
            assert_eq!(c, expected);
        }),
        q,
    );
    let hit = per(
        best(3, || {
            assert!(hits.iter().all(|&x| index.contains(x)));
        }),
        hits.len(),
    );
    let dependent = per(
        best(3, || {
            // Each query's choice depends on the previous answer: latency.
            let mut k = 0usize;
            for _ in 0..q / 4 {
                let r = index.contains(queries[k]);
                k = (k + 1 + usize::from(r)) % q;
            }
            black_box(k);
        }),
        q / 4,
    );
    // The same random queries in one call (`contains_many`, what a scrub
    // of an unsorted lead list can use): the index starts the memory
    // reads of several lookups before answering them.
    let unsorted_batch = per(
        best(3, || {
            index.contains_many(queries, &mut out);
            assert_eq!(out.iter().filter(|&&b| b).count(), expected);
        }),
        q,
    );
    let batch = best(3, || {
        index.contains_sorted(sorted_queries, &mut out);
        assert_eq!(out.iter().filter(|&&b| b).count(), expected);
    });
    Row {
        name,
        bits_per_number: index.file_len() as f64 * 8.0 / index.len() as f64,
        single_ns: ns(single),
        dependent_ns: ns(dependent),
        unsorted_batch_ns: Some(ns(unsorted_batch)),
        batch_per_s: rate(q, batch),
        note: format!(
            "listed-only lookups {:.0} ns CPU; file {:.1} MB",
            hit.0 * 1e9,
            index.file_len() as f64 / 1e6
        ),
    }
}

fn measure(path: &Path) {
    // Start-up: the first open after the file was written (page cache warm,
    // as after an import or on a running node), then the best of 5.
    let t = Instant::now();
    let index = Index::open(path).unwrap();
    let first_open = t.elapsed().as_secs_f64();
    let (open_cpu, open) = best(5, || {
        black_box(Index::open(path).unwrap());
    });
    let n = index.len();
    let universe = universe();
    let exchanges: u64 = universe.iter().map(|(_, x)| x.len() as u64).sum();
    let u = (exchanges * 10_000) as f64;
    let min_bits = log2_binomial(u, n as f64) / n as f64;

    // Per-exchange bound: the minimum for sets with the same count in
    // every exchange (tighter: the generator varies density).
    let numbers: Vec<u64> = index.iter().collect();
    assert_eq!(numbers.len() as u64, n);
    let mut per_exchange_bits = 0.0;
    let mut i = 0;
    while i < numbers.len() {
        let x = numbers[i] / 10_000;
        let j = i + numbers[i..].partition_point(|&v| v / 10_000 == x);
        per_exchange_bits += log2_binomial(10_000.0, (j - i) as f64);
        i = j;
    }
    // Exchanges with no listed number also cost log2 C(10000, 0) = 0.
    let per_exchange_min = per_exchange_bits / n as f64;

    // Queries: random numbers of the assigned exchanges (about 11% listed,
    // like a lead list) and, for the hit path, random listed numbers.
    let mut rng = Rng(23);
    let q = 10_000_000usize;
    let all_exchanges: Vec<u64> = universe
        .iter()
        .flat_map(|(npa, xs)| xs.iter().map(move |x| npa * 1000 + x))
        .collect();
    let queries: Vec<u64> = (0..q)
        .map(|_| {
            all_exchanges[rng.below(all_exchanges.len() as u64) as usize] * 10_000
                + rng.below(10_000)
        })
        .collect();
    let mut sorted_queries = queries.clone();
    sorted_queries.sort_unstable();
    let hits: Vec<u64> = (0..q)
        .map(|_| numbers[rng.below(numbers.len() as u64) as usize])
        .collect();
    let expected: usize = queries
        .iter()
        .filter(|&&x| numbers.binary_search(&x).is_ok())
        .count();

    let mut rows = Vec::new();

    // --- this index, with the CPU's optional instructions (BMI2) where
    // it has them, then (on such a CPU) the portable lookup alone.
    let name = format!(
        "this index (Elias-Fano/bitmap per 1,250 lines, huge pages{})",
        if index.uses_cpu_features() {
            ", BMI2"
        } else {
            ", portable"
        }
    );
    rows.push(index_row(
        &index,
        name,
        &queries,
        &hits,
        &sorted_queries,
        expected,
    ));
    if index.uses_cpu_features() {
        let portable = Index::open(path).unwrap().without_cpu_features();
        let name = "the same index, portable lookup (no BMI2)".to_owned();
        rows.push(index_row(
            &portable,
            name,
            &queries,
            &hits,
            &sorted_queries,
            expected,
        ));
    }

    // --- sorted u64 array: by far the slowest row (minutes under load) and
    // the same code whatever the index does, so DNC_BENCH_SKIP_ARRAY=1
    // leaves it out of runs that compare index versions.
    if std::env::var_os("DNC_BENCH_SKIP_ARRAY").is_none() {
        let single = per(
            best(3, || {
                let c = queries
                    .iter()
                    .filter(|&&x| numbers.binary_search(&x).is_ok())
                    .count();
                assert_eq!(c, expected);
            }),
            q,
        );
        let dependent = per(
            best(3, || {
                let mut k = 0usize;
                for _ in 0..q / 4 {
                    let r = numbers.binary_search(&queries[k]).is_ok();
                    k = (k + 1 + usize::from(r)) % q;
                }
                black_box(k);
            }),
            q / 4,
        );
        let batch = best(3, || {
            // Sorted queries: each search starts where the last one ended.
            let mut from = 0usize;
            let mut c = 0usize;
            for &x in &sorted_queries {
                from += numbers[from..].partition_point(|&v| v < x);
                c += usize::from(numbers.get(from) == Some(&x));
            }
            assert_eq!(c, expected);
        });
        rows.push(Row {
            name: "sorted u64 array".into(),
            bits_per_number: 64.0,
            single_ns: ns(single),
            dependent_ns: ns(dependent),
            unsorted_batch_ns: None,
            batch_per_s: rate(q, batch),
            note: String::new(),
        });
    }

    // --- Roaring bitmap per area code (7-digit suffix as u32)
    let t = Instant::now();
    let mut roaring: Vec<Option<roaring::RoaringBitmap>> = (0..1000).map(|_| None).collect();
    let mut i = 0;
    while i < numbers.len() {
        let npa = numbers[i] / 10_000_000;
        let j = i + numbers[i..].partition_point(|&v| v / 10_000_000 == npa);
        roaring[npa as usize] = Some(
            roaring::RoaringBitmap::from_sorted_iter(
                numbers[i..j].iter().map(|&v| (v % 10_000_000) as u32),
            )
            .unwrap(),
        );
        i = j;
    }
    let roaring_build = t.elapsed().as_secs_f64();
    let roaring_bytes: usize = roaring.iter().flatten().map(|b| b.serialized_size()).sum();
    let rcontains = |x: u64| -> bool {
        match roaring.get((x / 10_000_000) as usize) {
            Some(Some(b)) => b.contains((x % 10_000_000) as u32),
            _ => false,
        }
    };
    let single = per(
        best(3, || {
            let c = queries.iter().filter(|&&x| rcontains(x)).count();
            assert_eq!(c, expected);
        }),
        q,
    );
    let dependent = per(
        best(3, || {
            let mut k = 0usize;
            for _ in 0..q / 4 {
                let r = rcontains(queries[k]);
                k = (k + 1 + usize::from(r)) % q;
            }
            black_box(k);
        }),
        q / 4,
    );
    let batch = best(3, || {
        let c = sorted_queries.iter().filter(|&&x| rcontains(x)).count();
        assert_eq!(c, expected);
    });
    rows.push(Row {
        name: "Roaring bitmap per area code".into(),
        bits_per_number: roaring_bytes as f64 * 8.0 / n as f64,
        single_ns: ns(single),
        dependent_ns: ns(dependent),
        unsorted_batch_ns: None,
        batch_per_s: rate(q, batch),
        note: format!("serialized size; built from sorted input in {roaring_build:.1} s"),
    });
    drop(roaring);

    println!("numbers: {n}");
    println!(
        "universe: {} area codes, {exchanges} exchanges, {u:.0} numbers (density {:.2}%)",
        universe.len(),
        n as f64 / u * 100.0
    );
    println!(
        "minimum (log2 C(U,n)/n): {min_bits:.3} bits/number; per-exchange minimum: {per_exchange_min:.3} bits/number"
    );
    println!(
        "this index: {:.3} bits/number = {:.3}x the minimum ({:.3}x the per-exchange minimum)",
        rows[0].bits_per_number,
        rows[0].bits_per_number / min_bits,
        rows[0].bits_per_number / per_exchange_min
    );
    println!(
        "open: first {:.1} ms wall, best of 5 {:.1} ms wall, {:.1} ms CPU",
        first_open * 1e3,
        open * 1e3,
        open_cpu * 1e3
    );
    println!(
        "memory in huge pages after the opens: {}",
        huge_pages().unwrap_or_else(|| "unknown".into())
    );
    println!("queries: {q} random numbers of assigned exchanges, {expected} listed");
    println!();
    println!(
        "| structure | bits/number | x minimum | random lookup, ns CPU (wall) | dependent lookup, ns CPU (wall) | random numbers as one unsorted batch, ns CPU (wall) | sorted batch, M/s per core (wall) | note |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---|");
    for r in &rows {
        let unsorted = r
            .unsorted_batch_ns
            .map_or_else(|| "-".to_owned(), |(c, w)| format!("{c:.0} ({w:.0})"));
        println!(
            "| {} | {:.2} | {:.2} | {:.0} ({:.0}) | {:.0} ({:.0}) | {} | {:.1} ({:.1}) | {} |",
            r.name,
            r.bits_per_number,
            r.bits_per_number / min_bits,
            r.single_ns.0,
            r.single_ns.1,
            r.dependent_ns.0,
            r.dependent_ns.1,
            unsorted,
            r.batch_per_s.0 / 1e6,
            r.batch_per_s.1 / 1e6,
            r.note
        );
    }
}

/// This process's anonymous memory in transparent huge pages (Linux), to
/// show whether the index got them (ADR 0301, "Memory").
fn huge_pages() -> Option<String> {
    let s = std::fs::read_to_string("/proc/self/smaps_rollup").ok()?;
    let line = s.lines().find(|l| l.starts_with("AnonHugePages:"))?;
    Some(
        line.split_whitespace()
            .skip(1)
            .collect::<Vec<_>>()
            .join(" "),
    )
}

/// `dnc-bench overlap`: ns per independent random load over 176 MB of
/// huge pages followed by k dependent rounds of work, for several k;
/// then the same with a branch on the loaded value that skips the work
/// for 75% of the loads (mispredicted often: the question is whether the
/// CPU still overlaps the loads).
fn overlap() {
    let len = 176usize << 20;
    let mut memory = memmap2::MmapMut::map_anon(len + 8).unwrap();
    let _ = memory.advise(memmap2::Advice::HugePage); // before the first touch
    let mut rng = Rng(5);
    for chunk in memory.chunks_mut(8) {
        let v = rng.next().to_le_bytes();
        chunk.copy_from_slice(&v[..chunk.len()]);
    }
    let q = 10_000_000usize;
    let offsets: Vec<usize> = (0..q)
        .map(|_| rng.below((len / 8) as u64) as usize * 8)
        .collect();
    let load = |at: usize| u64::from_le_bytes(memory[at..at + 8].try_into().unwrap());
    let work = |mut x: u64, k: u64| {
        for i in 0..k {
            x = x.rotate_left(7) ^ i;
            x = x.wrapping_add(1);
        }
        x
    };
    println!("ns CPU per random load (best of 3), k rounds of 3 dependent operations after it:");
    println!("| k | every load does the work | 75% skip it (branch on the loaded value) |");
    println!("|---:|---:|---:|");
    for k in [0u64, 5, 10, 15, 20, 30, 60] {
        // k comes from the command line's side of black_box, so the
        // compiler cannot specialise the loop for it.
        let k = black_box(k);
        let all = per(
            best(3, || {
                let mut s = 0u64;
                for &at in &offsets {
                    s = s.wrapping_add(work(load(at), k) & 1);
                }
                black_box(s);
            }),
            q,
        );
        let skip = per(
            best(3, || {
                let mut s = 0u64;
                for &at in &offsets {
                    let v = load(at);
                    if v & 3 != 0 {
                        s = s.wrapping_add(v & 1);
                    } else {
                        s = s.wrapping_add(work(v, k) & 1);
                    }
                }
                black_box(s);
            }),
            q,
        );
        println!("| {k} | {:.0} | {:.0} |", all.0 * 1e9, skip.0 * 1e9);
    }
}

/// Writes the numbers of the first `area_codes` area codes of the index,
/// one per line, for PostgreSQL's COPY; prints the count and the range
/// of numbers they span (pgbench draws its queries from that range).
fn pg_numbers(path: &Path, area_codes: usize, out: &Path) {
    let index = Index::open(path).unwrap();
    let npas: Vec<u16> = index
        .area_codes()
        .map(|(a, _)| a)
        .take(area_codes)
        .collect();
    let last = *npas.last().unwrap();
    let mut w = std::io::BufWriter::new(std::fs::File::create(out).unwrap());
    let mut rows = 0u64;
    for x in index.iter() {
        let npa = (x / 10_000_000) as u16;
        if npa > last {
            break;
        }
        writeln!(w, "{x}").unwrap();
        rows += 1;
    }
    w.flush().unwrap();
    println!(
        "{rows} {} {} {:.2}",
        u64::from(npas[0]) * 10_000_000,
        (u64::from(last) + 1) * 10_000_000 - 1,
        rows as f64 * 100.0 / index.len() as f64
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("generate") => generate(
            Path::new(&args[2]),
            args.get(3).map_or(258_000_000, |s| s.parse().unwrap()),
        ),
        Some("import") => import(Path::new(&args[2]), Path::new(&args[3])),
        Some("measure") => measure(Path::new(&args[2])),
        Some("overlap") => overlap(),
        Some("pg-numbers") => pg_numbers(
            Path::new(&args[2]),
            args[3].parse().unwrap(),
            Path::new(&args[4]),
        ),
        _ => {
            eprintln!(
                "usage: dnc-bench generate DIR [TOTAL] | dnc-bench measure INDEX | dnc-bench overlap | dnc-bench pg-numbers INDEX AREA_CODES OUT"
            );
            std::process::exit(2);
        }
    }
}
