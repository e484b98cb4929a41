//! Checksums and number-plan rules. Every function takes ASCII digits
//! (`b'0'..=b'9'`) or, for MBI, upper-case ASCII alphanumerics.

#[inline]
fn d(b: u8) -> u32 {
    u32::from(b - b'0')
}

/// Luhn (mod 10) check, as used by payment cards and NPIs.
pub(crate) fn luhn(digits: &[u8]) -> bool {
    luhn_sum(digits, 0).is_multiple_of(10)
}

/// Luhn sum of `digits`, with the doubling parity continued from `offset`
/// more digits to their right (used to prefix NPI's "80840").
fn luhn_sum(digits: &[u8], offset: usize) -> u32 {
    let mut sum = 0;
    for (i, &c) in digits.iter().rev().enumerate() {
        let mut v = d(c);
        if (i + offset) % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    sum
}

fn prefix(digits: &[u8], n: usize) -> u32 {
    digits[..n].iter().fold(0, |acc, &c| acc * 10 + d(c))
}

/// Whether a digit string of this length has the issuer prefix of a card
/// network that issues cards of this length. Sources: the networks' published
/// IIN ranges (Visa 4; Mastercard 51-55 and 2221-2720; Amex 34/37; Discover
/// 6011, 622126-622925, 644-649, 65; Diners 300-305, 36, 38, 39; JCB
/// 3528-3589; UnionPay 62 and 81; Mir 2200-2204; Maestro 50, 56-58, 6x;
/// RuPay 60, 65, 81, 82, 508; Troy 9792; UATP 1).
pub(crate) fn card_prefix_ok(digits: &[u8]) -> bool {
    let len = digits.len();
    if !(13..=19).contains(&len) {
        return false;
    }
    let p1 = d(digits[0]);
    let p2 = prefix(digits, 2);
    let p4 = prefix(digits, 4);
    match p1 {
        1 => len == 15,
        2 => {
            ((2200..=2204).contains(&p4) && len >= 16) || ((2221..=2720).contains(&p4) && len == 16)
        }
        3 => match p2 {
            34 | 37 => len == 15,
            30 => (3000..=3059).contains(&p4) && len >= 14,
            36 => len >= 14,
            38 | 39 => len >= 16,
            35 => (3528..=3589).contains(&p4) && len >= 16,
            _ => false,
        },
        4 => matches!(len, 13 | 16 | 19),
        5 => match p2 {
            51..=55 => len == 16,
            50 | 56..=58 => len >= 13,
            _ => false,
        },
        6 => len >= 13,
        8 => matches!(p2, 81 | 82) && len >= 16,
        9 => p4 == 9792 && len == 16,
        _ => false,
    }
}

/// A syntactically valid US SSN: area not 000, 666 or 9xx; group not 00;
/// serial not 0000.
pub(crate) fn ssn_ok(digits: &[u8]) -> bool {
    if digits.len() != 9 {
        return false;
    }
    let area = prefix(digits, 3);
    let group = prefix(&digits[3..], 2);
    let serial = prefix(&digits[5..], 4);
    area != 0 && area != 666 && area < 900 && group != 0 && serial != 0
}

/// ABA routing number: a valid Federal Reserve prefix and the 3-7-1 checksum.
pub(crate) fn aba_ok(digits: &[u8]) -> bool {
    if digits.len() != 9 {
        return false;
    }
    let p = prefix(digits, 2);
    if !matches!(p, 0..=12 | 21..=32 | 61..=72 | 80) {
        return false;
    }
    let w = [3, 7, 1];
    let sum: u32 = digits
        .iter()
        .enumerate()
        .map(|(i, &c)| d(c) * w[i % 3])
        .sum();
    sum.is_multiple_of(10)
}

/// NPI: ten digits starting with 1 or 2, Luhn-valid once prefixed with the
/// ISO issuer "80840" (CMS NPI check-digit rule).
pub(crate) fn npi_ok(digits: &[u8]) -> bool {
    if digits.len() != 10 || !matches!(digits[0], b'1' | b'2') {
        return false;
    }
    let sum = luhn_sum(digits, 0) + luhn_sum(b"80840", 10);
    sum.is_multiple_of(10)
}

/// A North American (NANP) number: 10 digits, area code and exchange not
/// starting with 0 or 1; or 11 digits starting with country code 1.
pub(crate) fn nanp_ok(digits: &[u8]) -> bool {
    let n = match digits.len() {
        10 => digits,
        11 if digits[0] == b'1' => &digits[1..],
        _ => return false,
    };
    n[0] >= b'2' && n[3] >= b'2' && !(n[1] == b'1' && n[2] == b'1')
}

/// Medicare Beneficiary Identifier (CMS format): 11 characters,
/// C A AN N A AN N A A N N, where C is 1-9, N is 0-9, A is a letter other
/// than S, L, O, I, B, Z, and AN is either.
pub(crate) fn mbi_ok(chars: &[u8]) -> bool {
    if chars.len() != 11 {
        return false;
    }
    let alpha =
        |c: u8| c.is_ascii_uppercase() && !matches!(c, b'S' | b'L' | b'O' | b'I' | b'B' | b'Z');
    let num = |c: u8| c.is_ascii_digit();
    let an = |c: u8| alpha(c) || num(c);
    let c = chars;
    (b'1'..=b'9').contains(&c[0])
        && alpha(c[1])
        && an(c[2])
        && num(c[3])
        && alpha(c[4])
        && an(c[5])
        && num(c[6])
        && alpha(c[7])
        && alpha(c[8])
        && num(c[9])
        && num(c[10])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_accepts_test_cards_and_rejects_a_changed_digit() {
        for c in [
            "4111111111111111",
            "5555555555554444",
            "378282246310005",
            "2223003122003222",
            "6011111111111117",
            "3530111333300000",
            "4222222222222",
            "6062826786276634",
        ] {
            assert!(luhn(c.as_bytes()), "{c}");
            assert!(card_prefix_ok(c.as_bytes()), "{c}");
        }
        assert!(!luhn(b"4111111111111112"));
        // Mastercard's 2-series stops at 2720.
        assert!(!card_prefix_ok(b"2721000000000000"));
        assert!(card_prefix_ok(b"2720990000000000"));
        // 19-digit Visa.
        assert!(card_prefix_ok(b"4000000000000000006"));
        assert!(!card_prefix_ok(b"7000000000000000"));
    }

    #[test]
    fn ssn_invalid_ranges_are_rejected() {
        assert!(ssn_ok(b"123456789"));
        for bad in [
            "000456789",
            "666456789",
            "900456789",
            "999456789",
            "123006789",
            "123450000",
        ] {
            assert!(!ssn_ok(bad.as_bytes()), "{bad}");
        }
    }

    #[test]
    fn aba_checksum() {
        assert!(aba_ok(b"021000021")); // JPMorgan Chase
        assert!(aba_ok(b"011000015")); // Federal Reserve Boston
        assert!(!aba_ok(b"021000022"));
        assert!(!aba_ok(b"991000021"));
    }

    #[test]
    fn npi_checksum_uses_the_80840_prefix() {
        assert!(npi_ok(b"1234567893")); // the CMS worked example
        assert!(!npi_ok(b"1234567890"));
        assert!(!npi_ok(b"3234567893"));
    }

    #[test]
    fn nanp_rules() {
        assert!(nanp_ok(b"2125550123"));
        assert!(nanp_ok(b"12125550123"));
        assert!(!nanp_ok(b"1125550123"));
        assert!(!nanp_ok(b"2121550123"));
        assert!(!nanp_ok(b"4115550123"));
    }

    #[test]
    fn mbi_format() {
        assert!(mbi_ok(b"1EG4TE5MK73")); // the CMS example
        assert!(!mbi_ok(b"1EG4TE5MK7"));
        assert!(!mbi_ok(b"0EG4TE5MK73"));
        assert!(!mbi_ok(b"1SG4TE5MK73"));
    }
}
