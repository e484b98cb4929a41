//! Phone numbers: anything a person or a CRM writes, normalized to E.164.
//!
//! Only the North American Numbering Plan (+1) is accepted for now: the
//! calling-hours data covers US area codes only, and a number we cannot place
//! must be refused at intake with a reason rather than dialed blind. The
//! checks are the NANP's own structure (NPA and NXX start with 2-9, no N11
//! codes, no 9 in the NPA's middle digit, which is reserved for expansion),
//! not a live-assignment test.

/// A valid NANP number in E.164 form, `+1NPANXXXXXX`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct E164(String);

impl E164 {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The three-digit area code (NPA).
    pub fn area_code(&self) -> &str {
        &self.0[2..5]
    }

    /// `+1850***0100`: enough to recognise a number in a log or audit
    /// record, not enough to call it.
    pub fn masked(&self) -> String {
        format!("{}***{}", &self.0[..5], &self.0[8..])
    }
}

impl std::fmt::Display for E164 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a number was refused. `code()` is a stable API string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhoneError {
    Empty,
    /// Letters or symbols other than the usual separators.
    InvalidCharacters,
    /// A `+` country code other than 1.
    NotNanp,
    /// Not 10 digits (11 with a leading 1).
    WrongLength,
    /// Area code starts with 0/1, is N11, or has 9 as its middle digit.
    InvalidAreaCode,
    /// Exchange starts with 0/1 or is N11.
    InvalidExchange,
}

impl PhoneError {
    pub fn code(self) -> &'static str {
        match self {
            PhoneError::Empty => "phone_missing",
            PhoneError::InvalidCharacters => "phone_invalid_characters",
            PhoneError::NotNanp => "phone_not_nanp",
            PhoneError::WrongLength => "phone_wrong_length",
            PhoneError::InvalidAreaCode => "phone_invalid_area_code",
            PhoneError::InvalidExchange => "phone_invalid_exchange",
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            PhoneError::Empty => "no phone number",
            PhoneError::InvalidCharacters => {
                "the number contains characters other than digits, spaces, dots, dashes, parentheses and a leading +"
            }
            PhoneError::NotNanp => {
                "only North American (+1) numbers are supported; other countries are refused"
            }
            PhoneError::WrongLength => "a NANP number has 10 digits (11 with the leading 1)",
            PhoneError::InvalidAreaCode => "the area code is not a valid NANP area code",
            PhoneError::InvalidExchange => "the exchange (digits 4-6) is not valid in the NANP",
        }
    }
}

impl std::fmt::Display for PhoneError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message())
    }
}

/// Longest input considered; anything longer is not a phone number.
const MAX_INPUT: usize = 40;

/// Parses `(850) 555-0100`, `850.555.0100`, `+1 850 555 0100`,
/// `1-850-555-0100`, ... into E.164. Extensions are refused, not dropped:
/// a number with an extension reaches a switchboard, not the consenting person.
pub fn parse_nanp(input: &str) -> Result<E164, PhoneError> {
    let s = input.trim();
    if s.is_empty() {
        return Err(PhoneError::Empty);
    }
    if s.len() > MAX_INPUT {
        return Err(PhoneError::WrongLength);
    }
    let (plus, body) = match s.strip_prefix('+') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let mut digits = [0u8; 16];
    let mut n = 0;
    for b in body.bytes() {
        match b {
            b'0'..=b'9' => {
                if n == digits.len() {
                    return Err(PhoneError::WrongLength);
                }
                digits[n] = b;
                n += 1;
            }
            b' ' | b'-' | b'.' | b'(' | b')' => {}
            _ => return Err(PhoneError::InvalidCharacters),
        }
    }
    if n == 0 {
        return Err(PhoneError::Empty);
    }
    let national: &[u8] = if plus {
        if digits[0] != b'1' {
            return Err(PhoneError::NotNanp);
        }
        &digits[1..n]
    } else if n == 11 && digits[0] == b'1' {
        &digits[1..n]
    } else {
        &digits[..n]
    };
    if national.len() != 10 {
        return Err(PhoneError::WrongLength);
    }
    let (npa, nxx) = (&national[..3], &national[3..6]);
    let n11 = |c: &[u8]| c[1] == b'1' && c[2] == b'1';
    if npa[0] < b'2' || n11(npa) || npa[1] == b'9' {
        return Err(PhoneError::InvalidAreaCode);
    }
    if nxx[0] < b'2' || n11(nxx) {
        return Err(PhoneError::InvalidExchange);
    }
    let mut out = String::with_capacity(12);
    out.push_str("+1");
    out.extend(national.iter().map(|&b| b as char));
    Ok(E164(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_spellings_normalize() {
        for s in [
            "(850) 555-0100",
            "850.555.0100",
            "+1 850 555 0100",
            "1-850-555-0100",
            "8505550100",
            "+18505550100",
            "  850 555 0100 ",
        ] {
            assert_eq!(parse_nanp(s).unwrap().as_str(), "+18505550100", "{s}");
        }
    }

    #[test]
    fn refusals_have_reasons() {
        let cases = [
            ("", PhoneError::Empty),
            ("+44 20 7946 0958", PhoneError::NotNanp),
            ("850-555-010", PhoneError::WrongLength),
            ("850 555 0100 x12", PhoneError::InvalidCharacters),
            ("150 555 0100", PhoneError::InvalidAreaCode),
            ("911 555 0100", PhoneError::InvalidAreaCode),
            ("890 555 0100", PhoneError::InvalidAreaCode),
            ("850 155 0100", PhoneError::InvalidExchange),
            ("850 411 0100", PhoneError::InvalidExchange),
            ("2 850 555 0100", PhoneError::WrongLength),
            ("+", PhoneError::Empty),
        ];
        for (s, e) in cases {
            assert_eq!(parse_nanp(s), Err(e), "{s}");
        }
    }

    #[test]
    fn masking_hides_the_subscriber_part() {
        let n = parse_nanp("850 555 0100").unwrap();
        assert_eq!(n.masked(), "+1850***0100");
        assert_eq!(n.area_code(), "850");
    }
}
