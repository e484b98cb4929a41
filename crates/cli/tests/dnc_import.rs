//! `tollgate dnc import`: the real binary on small registry files, plain,
//! zipped and change lists; bad lines named by file and line number; a
//! refused import writes nothing.

use std::io::Write;
use std::path::Path;
use std::process::Command;

use serde_json::Value;
use tollgate_dnc::Index;

struct Run {
    code: Option<i32>,
    lines: Vec<Value>,
    stderr: String,
}

fn dnc_import(dir: &Path, args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(["dnc", "import"])
        .args(args)
        // No configuration or database is needed.
        .env_clear()
        .current_dir(dir)
        .output()
        .unwrap();
    Run {
        code: out.status.code(),
        lines: String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

fn summary(run: &Run) -> &Value {
    &run.lines.last().unwrap()["summary"]
}

#[test]
fn plain_zip_and_change_files() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("212.txt"), "2125550123\n212,5550124\n").unwrap();
    {
        let mut z = zip::ZipWriter::new(std::fs::File::create(d.join("305.zip")).unwrap());
        let o = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        z.start_file("305.txt", o).unwrap();
        z.write_all(b"3055550100\r\n305,5550101\r\n").unwrap();
        z.finish().unwrap();
    }
    let run = dnc_import(
        d,
        &[
            "--list",
            "national",
            "--version",
            "2026-11-30",
            "--out",
            "v1.idx",
            "212.txt",
            "305.zip",
        ],
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let s = summary(&run);
    assert_eq!(s["numbers"], 4);
    assert_eq!(s["written"], true);
    assert_eq!(s["area_codes"], serde_json::json!([212, 305]));
    let v1 = Index::open(&d.join("v1.idx")).unwrap();
    assert_eq!(v1.list(), "national");
    assert!(v1.contains(3_055_550_101));
    assert!(!v1.contains(3_055_550_102));

    std::fs::write(
        d.join("changes.txt"),
        "2125550123,D,2026-12-30\n3055550199,A,2026-12-30\n",
    )
    .unwrap();
    let run = dnc_import(
        d,
        &[
            "--list",
            "national",
            "--version",
            "2026-12-31",
            "--base",
            "v1.idx",
            "--out",
            "v2.idx",
            "changes.txt",
        ],
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let s = summary(&run);
    assert_eq!(
        (s["added"].clone(), s["removed"].clone()),
        (1.into(), 1.into())
    );
    let v2 = Index::open(&d.join("v2.idx")).unwrap();
    assert!(!v2.contains(2_125_550_123));
    assert!(v2.contains(3_055_550_199));
    assert_eq!(
        v2.area_code_version(305),
        Some(jiff::civil::date(2026, 12, 31))
    );
}

#[test]
fn bad_lines_are_named_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("list.txt"),
        "2125550123\n0125550123\n\n2125550x23\n2125550124\n",
    )
    .unwrap();
    let args = [
        "--list",
        "state:TX",
        "--version",
        "2026-11-30",
        "--out",
        "tx.idx",
        "list.txt",
    ];
    let run = dnc_import(d, &args);
    assert_eq!(run.code, Some(1));
    let bad: Vec<(u64, String)> = run
        .lines
        .iter()
        .filter(|l| l["status"] == "bad")
        .map(|l| {
            assert_eq!(l["file"], "list.txt");
            (
                l["line"].as_u64().unwrap(),
                l["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(bad.len(), 2);
    assert_eq!(bad[0].0, 2);
    assert!(bad[0].1.contains("area code 012"), "{}", bad[0].1);
    // The empty line 3 is skipped but still counted in the numbering.
    assert_eq!(bad[1].0, 4);
    assert_eq!(summary(&run)["written"], false);
    assert!(run.stderr.contains("nothing written"));
    assert!(!d.join("tx.idx").exists());
    assert_eq!(
        std::fs::read_dir(d).unwrap().count(),
        1,
        "temporary file left"
    );

    let mut accept = args.to_vec();
    accept.push("--accept-bad-lines");
    let run = dnc_import(d, &accept);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(run.lines.iter().filter(|l| l["status"] == "bad").count(), 2);
    assert_eq!(Index::open(&d.join("tx.idx")).unwrap().len(), 2);
}

#[test]
fn bad_arguments_and_files_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("a.txt"), "2125550123\n").unwrap();
    for args in [
        &[
            "--list",
            "national",
            "--version",
            "30/11/2026",
            "--out",
            "x.idx",
            "a.txt",
        ][..],
        &[
            "--list",
            "state:tx",
            "--version",
            "2026-11-30",
            "--out",
            "x.idx",
            "a.txt",
        ],
        &[
            "--list",
            "national",
            "--version",
            "2026-11-30",
            "--out",
            "x.idx",
            "missing.txt",
        ],
        &[
            "--list",
            "national",
            "--version",
            "2026-11-30",
            "--base",
            "a.txt",
            "--out",
            "x.idx",
            "a.txt",
        ],
    ] {
        let run = dnc_import(d, args);
        assert_eq!(run.code, Some(2), "{args:?}: {}", run.stderr);
        assert!(run.stderr.starts_with("error: "), "{}", run.stderr);
        assert!(!d.join("x.idx").exists());
    }
}
