//! Benchmark of the pure calling-hours decision (not a timed test).
//!
//!     cargo run --release -p tollgate-rules --example bench_decision
//!
//! Leads are drawn from the real tables (area code, sometimes a ZIP and a
//! declared state, so 1 to 11 candidate zones) and instants uniformly over
//! 2026-2027, with a deterministic generator so runs compare. Reports ns per
//! decision for: candidate resolution; the decision with the next-allowed
//! search off; the full decision (search on, which costs only on denials);
//! and the frequency-cap check. Figures go to docs/benchmarks.md.

use std::hint::black_box;
use std::time::Instant;

use jiff::{SignedDuration, Timestamp};
use tollgate_rules::{
    AreaCode, Channel, HoursRequest, LeadLocation, State, WeeklyWindow, Zip3, rules,
};

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn main() {
    let r = rules();
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200_000);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let area_codes: Vec<AreaCode> = (0..1000)
        .filter_map(|n| AreaCode::parse(&format!("{n:03}")))
        .filter(|a| r.area_code(*a).is_some())
        .collect();
    let zips: Vec<Zip3> = (0..1000)
        .filter_map(|n| Zip3::from_zip(&format!("{n:03}00")))
        .filter(|z| r.zip3(*z).is_some())
        .collect();
    let states: Vec<State> = State::all().collect();
    let start = Timestamp::from_second(1_767_225_600).unwrap(); // 2026-01-01
    let leads: Vec<LeadLocation> = (0..n)
        .map(|_| LeadLocation {
            area_code: Some(area_codes[rng.below(area_codes.len())]),
            zip: (rng.below(4) == 0).then(|| zips[rng.below(zips.len())]),
            state: (rng.below(4) == 0).then(|| states[rng.below(states.len())]),
        })
        .collect();
    let instants: Vec<Timestamp> = (0..n)
        .map(|_| {
            start
                .checked_add(SignedDuration::from_secs(rng.below(2 * 365 * 86_400) as i64))
                .unwrap()
        })
        .collect();
    let channels = [Channel::LiveVoice, Channel::ArtificialVoice, Channel::Text];
    let campaign = WeeklyWindow::every_day(9 * 60, 20 * 60).unwrap();

    let t0 = Instant::now();
    let candidates: Vec<_> = leads.iter().map(|l| r.candidates(black_box(l))).collect();
    let resolve_ns = t0.elapsed().as_nanos() as f64 / n as f64;
    let mean_zones = candidates.iter().map(|c| c.zones.len()).sum::<usize>() as f64 / n as f64;

    let run = |find_next: bool| {
        let mut allowed = 0usize;
        let t0 = Instant::now();
        for i in 0..n {
            let mut req = HoursRequest::new(candidates[i], channels[i % 3], instants[i]);
            req.campaign_window = Some(&campaign);
            req.safety_margin_minutes = 5;
            req.find_next_allowed = find_next;
            allowed += usize::from(black_box(r.check_hours(black_box(&req))).allowed);
        }
        (
            t0.elapsed().as_nanos() as f64 / n as f64,
            allowed as f64 / n as f64,
        )
    };
    // Warm up once (lazy rules load, caches), then measure.
    let _ = run(false);
    let (decide_ns, allowed_share) = run(false);
    let (full_ns, _) = run(true);

    let attempts: Vec<Timestamp> = (0..3)
        .map(|k| start.checked_add(SignedDuration::from_hours(k)).unwrap())
        .collect();
    let t0 = Instant::now();
    let mut capped = 0usize;
    for i in 0..n {
        let at = start
            .checked_add(SignedDuration::from_hours(4 + (i % 30) as i64))
            .unwrap();
        capped += usize::from(
            r.check_frequency_caps(candidates[i].states, channels[i % 3], at, &attempts)
                .is_exceeded(),
        );
    }
    let caps_ns = t0.elapsed().as_nanos() as f64 / n as f64;

    println!("rules version           {}", r.version());
    println!("decisions               {n}");
    println!("mean candidate zones    {mean_zones:.2}");
    println!("allowed share           {:.1}%", allowed_share * 100.0);
    println!("resolve candidates      {resolve_ns:8.0} ns/lead");
    println!("decision (no search)    {decide_ns:8.0} ns/decision");
    println!("decision (with search)  {full_ns:8.0} ns/decision (search runs on the denied share)");
    println!(
        "next-allowed search     {:8.0} ns per denied decision, on top",
        (full_ns - decide_ns) / (1.0 - allowed_share)
    );
    println!(
        "frequency caps          {caps_ns:8.0} ns/check ({:.1}% capped)",
        capped as f64 * 100.0 / n as f64
    );
}
