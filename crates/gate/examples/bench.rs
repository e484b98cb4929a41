//! Benchmark of the pure dial decision (not a timed test).
//!
//!     cargo run --release -p tollgate-gate --example bench [N]
//!
//! The same lead mix as `tollgate-rules`' bench_decision (real area codes,
//! a ZIP for a quarter, a declared state for a quarter; instants uniform
//! over 2026-2027), with written consent, DNC clear, a campaign window of
//! 09:00-20:00 on weekdays, a campaign cap, three earlier attempts and a
//! 5-minute margin. Reports ns per `decide` (every reason, the next allowed
//! instant when denied for time only), and per opt-out classification and
//! number parse. Figures go to docs/benchmarks.md.

use std::hint::black_box;
use std::time::Instant;

use jiff::{SignedDuration, Timestamp};
use tollgate_gate::{
    CampaignFacts, ConsentEvidence, ConsentType, DialChannel, DncFacts, Facts, ListStatus, Purpose,
    VoiceType, decide, detect_opt_out, parse_nanp,
};
use tollgate_rules::{AreaCode, LeadLocation, RollingCap, State, WeeklyWindow, Zip3, rules};

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
    let start = Timestamp::from_second(1_767_225_600).unwrap();
    let cands: Vec<_> = (0..n)
        .map(|_| {
            r.candidates(&LeadLocation {
                area_code: Some(area_codes[rng.below(area_codes.len())]),
                zip: (rng.below(4) == 0).then(|| zips[rng.below(zips.len())]),
                state: (rng.below(4) == 0).then(|| states[rng.below(states.len())]),
            })
        })
        .collect();
    let instants: Vec<Timestamp> = (0..n)
        .map(|_| {
            start
                .checked_add(SignedDuration::from_secs(rng.below(2 * 365 * 86_400) as i64))
                .unwrap()
        })
        .collect();
    let mut window = WeeklyWindow::CLOSED;
    for d in 0..5 {
        window = window
            .with_day(
                jiff::civil::Weekday::from_monday_zero_offset(d).unwrap(),
                540,
                1200,
            )
            .unwrap();
    }
    let caps = [RollingCap {
        max_attempts: 5,
        window: SignedDuration::from_hours(72),
    }];
    let consent = ConsentEvidence {
        kind: Some(ConsentType::PriorExpressWritten),
        given_at: Some(start),
        source: Some("form".into()),
        captured_by: Some("web".into()),
        text_version: Some("v1".into()),
        ..Default::default()
    };
    let mut allowed = 0usize;
    let mut with_next = 0usize;
    let t0 = Instant::now();
    for i in 0..n {
        let at = instants[i];
        let earlier = [
            at - SignedDuration::from_hours(30),
            at - SignedDuration::from_hours(20),
            at - SignedDuration::from_hours(2),
        ];
        let f = Facts {
            channel: DialChannel::Voice,
            org_paused: false,
            campaign: CampaignFacts {
                paused: false,
                purpose: Purpose::Telemarketing,
                channel: DialChannel::Voice,
                voice: VoiceType::Ai,
                window: Some(&window),
                max_attempts_per_lead: Some(10),
                caps: &caps,
            },
            consent: Some(&consent),
            lead_ineligible: false,
            candidates: cands[i],
            suppressed: false,
            suppression_version: Some("7"),
            dnc: DncFacts {
                national: ListStatus::Clear,
                national_version: Some("2026-11-20"),
                state: ListStatus::Clear,
                state_version: Some("2026-11-20"),
                internal_listed: false,
                litigator: ListStatus::NotConfigured,
                litigator_version: None,
                provider_absence_acknowledged: false,
            },
            number_attempts: &earlier,
            lead_attempts: 3,
            safety_margin_minutes: 5,
        };
        let d = black_box(decide(r, black_box(&f), at));
        allowed += usize::from(d.allowed);
        with_next += usize::from(d.next_allowed.is_some());
    }
    let decide_ns = t0.elapsed().as_nanos() as f64 / n as f64;

    let texts = [
        "sounds good, call me tomorrow at five",
        "STOP",
        "please don't call me again",
        "I want to cancel my old plan and switch",
        "unsubscibe",
    ];
    let t0 = Instant::now();
    let mut hits = 0usize;
    for i in 0..n {
        hits += usize::from(detect_opt_out(black_box(texts[i % texts.len()])).is_some());
    }
    let opt_ns = t0.elapsed().as_nanos() as f64 / n as f64;
    let numbers = [
        "(850) 555-0100",
        "+1 212 555 0199",
        "305.555.0123",
        "1-415-555-0142",
    ];
    let t0 = Instant::now();
    let mut ok = 0usize;
    for i in 0..n {
        ok += usize::from(parse_nanp(black_box(numbers[i % numbers.len()])).is_ok());
    }
    let parse_ns = t0.elapsed().as_nanos() as f64 / n as f64;
    println!(
        "decisions: {n}, allowed {:.1}%, denied with a next instant {:.1}%",
        allowed as f64 * 100.0 / n as f64,
        with_next as f64 * 100.0 / n as f64
    );
    println!("| step | ns |");
    println!("|---|---|");
    println!(
        "| decide (every reason, next allowed when time-only) | {decide_ns:.0} per decision |"
    );
    println!("| opt-out classification ({hits} of {n} opt-outs) | {opt_ns:.0} per text |");
    println!("| NANP parse to E.164 ({ok} valid) | {parse_ns:.0} per number |");
}
