//! Behaviour of the public API on hand-written transcript lines.

use tollgate_redact::{
    CardStyle, Kind, KindSet, MAX_INPUT_BYTES, Policy, RedactError, Role, Turn, redact,
    redact_turns,
};

fn std_out(text: &str) -> String {
    redact(text, &Policy::standard()).unwrap().text
}

fn kinds(text: &str) -> Vec<Kind> {
    redact(text, &Policy::standard())
        .unwrap()
        .findings
        .iter()
        .map(|f| f.kind)
        .collect()
}

#[test]
fn cards_in_every_form() {
    for line in [
        "my card is 4111111111111111 ok",
        "my card is 4111 1111 1111 1111 ok",
        "my card is 4111-1111-1111-1111 ok",
        "my card is four one one one one one one one one one one one one one one one ok",
        "my card is forty one eleven eleven eleven eleven eleven eleven eleven ok",
        "my card is 41 11 11 11 11 11 11 11 ok",
        "my card is four one one one, 1111, one one one one, 1111 ok",
        "my card is five five five five, five five five five, double five double five, four four four four ok",
        "my card is 3782 822463 10005 ok",
        "my card is 2223 0031 2200 3222 ok",
        "my card is 4000 0000 0000 0000 006 ok",
    ] {
        assert_eq!(std_out(line), "my card is [CARD] ok", "{line}");
    }
}

#[test]
fn a_luhn_valid_card_is_removed_without_context_and_an_invalid_one_is_kept() {
    assert_eq!(std_out("ref 4111111111111111"), "ref [CARD]");
    assert_eq!(
        std_out("order number 4111 1111 1111 1112 shipped"),
        "order number 4111 1111 1111 1112 shipped"
    );
}

#[test]
fn card_with_expiry_and_cvv_in_one_breath() {
    let out = redact(
        "card 4111 1111 1111 1111 expiry 12/27 and the security code is 123",
        &Policy::standard(),
    )
    .unwrap();
    assert_eq!(
        out.text,
        "card [CARD] expiry [EXPIRY] and the security code is [CVV]"
    );
    let k: Vec<_> = out.findings.iter().map(|f| f.kind).collect();
    assert_eq!(k, [Kind::Card, Kind::Expiry, Kind::Cvv]);
}

#[test]
fn keep_last_four() {
    let p = Policy {
        card: CardStyle::KeepLastFour,
        ..Policy::standard()
    };
    let out = redact("it's 5555 5555 5555 4444.", &p).unwrap();
    assert_eq!(out.text, "it's [CARD ****4444].");
}

#[test]
fn ssn_forms_and_invalid_ranges() {
    assert_eq!(std_out("SSN 123-45-6789."), "SSN [SSN].");
    assert_eq!(std_out("it's 123-45-6789"), "it's [SSN]");
    assert_eq!(
        std_out("my social is one two three four five six seven eight nine"),
        "my social is [SSN]"
    );
    assert_eq!(
        std_out("my social security number is 123 45 6789"),
        "my social security number is [SSN]"
    );
    assert_eq!(std_out("123456789 is my social"), "[SSN] is my social");
    // Invalid areas, groups and serials are not SSNs.
    for bad in [
        "666-45-6789",
        "000-45-6789",
        "912-45-6789",
        "123-00-6789",
        "123-45-0000",
    ] {
        assert!(!kinds(&format!("it's {bad}")).contains(&Kind::Ssn), "{bad}");
    }
}

#[test]
fn bank_numbers_need_their_context_and_checksum() {
    assert_eq!(
        std_out("routing number 021000021 and account number 123456789012"),
        "routing number [ROUTING] and account number [ACCOUNT]"
    );
    assert_eq!(
        kinds("routing number oh two one oh oh oh oh two one"),
        [Kind::RoutingNumber]
    );
    assert!(kinds("it was 021000021").is_empty());
}

#[test]
fn phones() {
    assert_eq!(std_out("call me at (212) 555-0100"), "call me at [PHONE]");
    assert_eq!(
        std_out("my number is two one two five five five oh one oh oh"),
        "my number is [PHONE]"
    );
    assert_eq!(
        std_out("reach me on +1 212 555 0100."),
        "reach me on +[PHONE]."
    );
    // Not NANP-valid (area code starting with 1), and an order number.
    assert!(kinds("it is 112 555 0100").is_empty());
    assert!(kinds("your order number is 2125550100").is_empty());
}

#[test]
fn emails_written_and_spoken() {
    assert_eq!(
        std_out("email john.smith@example.com please"),
        "email [EMAIL] please"
    );
    assert_eq!(
        std_out("it's john dot smith at example dot com ok"),
        "it's [EMAIL] ok"
    );
    assert_eq!(std_out("jsmith eighty five at gmail dot com"), "[EMAIL]");
    assert_eq!(
        std_out("meet me at the office dot"),
        "meet me at the office dot"
    );
}

#[test]
fn dates_of_birth_only_in_context() {
    assert_eq!(std_out("date of birth 01/02/1980"), "date of birth [DOB]");
    assert_eq!(
        std_out("I was born on January 2nd, 1980."),
        "I was born on [DOB]."
    );
    assert_eq!(
        std_out("born the second of january nineteen eighty"),
        "born [DOB]"
    );
    assert_eq!(
        std_out("my birthday is oh one oh two nineteen eighty"),
        "my birthday is [DOB]"
    );
    assert_eq!(
        std_out("the meeting is on January 2nd, 2026"),
        "the meeting is on January 2nd, 2026"
    );
}

#[test]
fn expiry_spoken() {
    assert_eq!(
        std_out("expiration april twenty twenty seven"),
        "expiration [EXPIRY]"
    );
    assert_eq!(
        std_out("it expires oh four twenty seven"),
        "it expires [EXPIRY]"
    );
}

#[test]
fn addresses() {
    assert_eq!(
        std_out("I live at 1600 Pennsylvania Avenue NW, Washington, DC 20500 now"),
        "I live at [ADDRESS] now"
    );
    assert_eq!(
        std_out("ship to 12 Oak Lane apartment 4B thanks"),
        "ship to [ADDRESS] thanks"
    );
    assert_eq!(
        std_out("my address is twelve thirty four main street"),
        "my address is [ADDRESS]"
    );
    assert_eq!(
        std_out("I have 3 dogs by the way"),
        "I have 3 dogs by the way"
    );
}

#[test]
fn health_identifiers() {
    assert_eq!(
        std_out("medicare number 1EG4-TE5-MK73"),
        "medicare number [MBI]"
    );
    assert_eq!(std_out("it's 1EG4TE5MK73"), "it's [MBI]");
    assert_eq!(std_out("NPI 1234567893"), "NPI [NPI]");
    assert_eq!(
        std_out("member ID is XGH 123 456 789 ok"),
        "member ID is [MEMBER_ID] ok"
    );
    assert_eq!(
        std_out("medical record number: 00123456"),
        "medical record number: [MRN]"
    );
    assert_eq!(
        std_out("claim number 2023-0045-7781"),
        "claim number [CLAIM]"
    );
}

#[test]
fn hard_negatives_stay() {
    for line in [
        "your order number is 48213 and it ships at 10:30 am",
        "the total is $1,249.99 for 3 items",
        "zip code 94103",
        "tracking number 1Z999AA10123456784",
        "that was in 2019, about 45 minutes ago",
        "room 1204 on the 12th floor",
    ] {
        assert_eq!(std_out(line), line);
    }
}

#[test]
fn strict_pci_removes_digit_runs_near_payment_words_only() {
    let p = Policy::strict_pci();
    let out = redact(
        "card ending 4 5 6 7 8 9 and the zip is 94103. Unrelated 123.",
        &p,
    )
    .unwrap();
    assert!(!out.text.contains("4 5 6"), "{}", out.text);
    assert!(!out.text.contains("94103"), "{}", out.text);
    let far = format!("card {} 12345", "word ".repeat(60));
    assert!(redact(&far, &p).unwrap().text.ends_with("12345"));
    // Not strict: the zip stays.
    assert!(std_out("card ending 4 5 6 7 8 9 and the zip is 94103").contains("94103"));
}

#[test]
fn the_map_has_ranges_not_values() {
    let text = "SSN 123-45-6789, card 4111111111111111";
    let out = redact(text, &Policy::standard()).unwrap();
    for f in &out.findings {
        assert_eq!(&out.text[f.output.clone()], f.kind.tag());
        assert!(text[f.input.clone()].bytes().any(|b| b.is_ascii_digit()));
    }
    let dbg = format!("{:?}", out.findings);
    assert!(!dbg.contains("6789") && !dbg.contains("1111"));
}

#[test]
fn policy_kinds_are_respected() {
    let p = Policy {
        kinds: KindSet::PCI,
        ..Policy::standard()
    };
    assert_eq!(
        redact("SSN 123-45-6789 card 4111111111111111", &p)
            .unwrap()
            .text,
        "SSN 123-45-6789 card [CARD]"
    );
}

#[test]
fn a_card_split_across_caller_turns() {
    let turns = [
        Turn {
            role: Role::Agent,
            text: "What's the card number?",
        },
        Turn {
            role: Role::Caller,
            text: "four one one one, one one one one",
        },
        Turn {
            role: Role::Agent,
            text: "mhm",
        },
        Turn {
            role: Role::Caller,
            text: "one one one one",
        },
        Turn {
            role: Role::Caller,
            text: "one one one one",
        },
        Turn {
            role: Role::Agent,
            text: "Thanks. And the security code?",
        },
        Turn {
            role: Role::Caller,
            text: "it's seven three seven",
        },
    ];
    let out = redact_turns(&turns, &Policy::standard()).unwrap();
    let texts: Vec<_> = out.iter().map(|r| r.text.as_str()).collect();
    assert_eq!(
        texts,
        [
            "What's the card number?",
            "[CARD]",
            "mhm",
            "[CARD]",
            "[CARD]",
            "Thanks. And the security code?",
            "it's [CVV]"
        ]
    );
}

#[test]
fn the_agents_question_is_context_for_a_long_answer() {
    let filler = "let me find it, hold on, it's in my wallet somewhere, okay here it is, ";
    let turns = [
        Turn {
            role: Role::Agent,
            text: "Can I have your social security number?",
        },
        Turn {
            role: Role::Caller,
            text: &format!("{filler}one two three four five six seven eight nine"),
        },
    ];
    let out = redact_turns(&turns, &Policy::standard()).unwrap();
    assert!(out[1].text.ends_with("[SSN]"), "{}", out[1].text);
    // Without the question, nine bare spoken digits are not an SSN.
    let alone = redact(
        &format!("{filler}one two three four five six seven eight nine"),
        &Policy::standard(),
    )
    .unwrap();
    assert!(alone.findings.is_empty());
}

#[test]
fn too_large_input_is_an_error() {
    let big = "a".repeat(MAX_INPUT_BYTES + 1);
    let err = redact(&big, &Policy::standard()).unwrap_err();
    assert_eq!(
        err,
        RedactError::InputTooLarge {
            len: MAX_INPUT_BYTES + 1,
            max: MAX_INPUT_BYTES
        }
    );
    assert_eq!(err.code(), "input_too_large");
}
