//! `tollgate redact`: standard input to standard output, no configuration,
//! no server, no database; a clear refusal of what it cannot process.

use std::io::Write;
use std::process::{Command, Stdio};

fn redact(args: &[&str], input: &[u8]) -> (Option<i32>, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .arg("redact")
        .args(args)
        // No configuration, in a directory with nothing in it: nothing is
        // needed and nothing is created.
        .env_clear()
        .current_dir(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    // A writer thread: the child may exit before reading everything.
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "redact created files"
    );
    (
        out.status.code(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn redacts_stdin_and_prints_the_map_on_request() {
    let (code, out, err) = redact(
        &["--findings"],
        b"card is four one one one 1111 1111 1111, ssn 123-45-6789\n",
    );
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out, "card is [CARD], ssn [SSN]\n");
    let map: serde_json::Value = serde_json::from_str(err.trim()).unwrap();
    assert_eq!(map[0]["kind"], "card");
    assert_eq!(map[1]["kind"], "ssn");
    assert!(!err.contains("1111") && !err.contains("6789"), "{err}");

    let (code, out, _) = redact(&[], b"card is 4111 1111 1111 1111");
    assert_eq!((code, out.as_str()), (Some(0), "card is [CARD]"));
    let (code, out, _) = redact(&["--keep-last-four"], b"card is 4111 1111 1111 1111");
    assert_eq!((code, out.as_str()), (Some(0), "card is [CARD ****1111]"));
    let (_, standard, _) = redact(&[], b"paying by card, my zip is 90210");
    let (_, strict, _) = redact(
        &["--policy", "strict-pci"],
        b"paying by card, my zip is 90210",
    );
    assert_eq!(standard, "paying by card, my zip is 90210");
    assert_eq!(strict, "paying by card, my zip is [DIGITS]");
}

#[test]
fn refuses_invalid_utf8_and_oversize_input_with_nothing_on_stdout() {
    let mut bad = b"card 4111 1111 1111 1111 ".to_vec();
    bad.extend([0xc3, 0x28]);
    let (code, out, err) = redact(&[], &bad);
    assert_eq!(code, Some(2));
    assert_eq!(out, "");
    assert!(err.contains("not valid UTF-8"), "{err}");
    assert!(!err.contains("4111"), "{err}");

    // One enormous line just over the limit.
    let huge = vec![b'7'; 16 * 1024 * 1024 + 1];
    let (code, out, err) = redact(&[], &huge);
    assert_eq!(code, Some(2));
    assert_eq!(out, "");
    assert!(err.contains("larger than"), "{err}");

    let (code, _, err) = redact(&["--policy", "lenient"], b"x");
    assert_eq!(code, Some(2));
    assert!(err.contains("--policy"), "{err}");
}

#[test]
fn an_enormous_adversarial_line_is_redacted_in_bounded_time() {
    // 15 MiB of one line of digits and separators: every window a candidate.
    let unit = b"4111 1111 1111 1111 ";
    let mut input = Vec::with_capacity(15 << 20);
    while input.len() + unit.len() <= 15 << 20 {
        input.extend_from_slice(unit);
    }
    let started = std::time::Instant::now();
    let (code, out, err) = redact(&[], &input);
    let took = started.elapsed();
    assert_eq!(code, Some(0), "{err}");
    assert!(!out.contains("4111"));
    // A debug build on a shared machine; linear work finishes in seconds.
    assert!(took.as_secs() < 120, "took {took:?}");
}
