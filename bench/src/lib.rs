//! What the benchmark binaries share.

/// User plus system CPU time of the whole process (every thread), from
/// `/proc/self/stat`: on a machine shared with other work, CPU time is
/// steadier than wall-clock time.
pub fn cpu_secs() -> f64 {
    proc_cpu_secs("/proc/self/stat")
}

/// The same for the calling thread alone.
pub fn thread_cpu_secs() -> f64 {
    proc_cpu_secs("/proc/thread-self/stat")
}

fn proc_cpu_secs(path: &str) -> f64 {
    let stat = std::fs::read_to_string(path).unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the
    // 14th and 15th fields of the line, in clock ticks (100 a second).
    let rest = stat.rsplit_once(") ").map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}
