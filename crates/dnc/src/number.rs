//! Registry lines and NANP numbers, pure.
//!
//! A number is held as the integer of its ten digits (`2125550123`): area
//! code (NPA), exchange (NXX) and line. The FTC's flat files give one number
//! per line, as `NPANXXXXXX` or `NPA,NXXXXXX`; change files add an add/delete
//! indicator (format in `docs/adr/0301-dnc-index.md`). Every refusal says why,
//! so the importer can report it with the file and line number.

use std::fmt;

/// Lowest and highest valid area code / exchange (first digit 2-9).
pub(crate) const FIRST_CODE: u16 = 200;
/// Number of possible area codes and of exchanges per area code (200..=999).
pub(crate) const CODES: usize = 800;
/// Lines per exchange (0000..=9999): the universe of one index block.
pub(crate) const LINES: u32 = 10_000;

/// Why a line or a number is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineError {
    /// Not `NPANXXXXXX` nor `NPA,NXXXXXX` (or, in a change file, followed
    /// by an indicator).
    Shape,
    /// The area code starts with 0 or 1, or is an N11 service code.
    AreaCode(u16),
    /// The exchange starts with 0 or 1, or is an N11 service code.
    Exchange(u16),
    /// A change line whose indicator is not A/ADD/D/DEL/DELETE.
    Indicator(String),
    /// A change line whose date field is not a calendar date.
    Date(String),
    /// A line longer than any valid registry line.
    TooLong,
    /// A line that is not ASCII.
    NotAscii,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LineError::Shape => f.write_str("expected NPANXXXXXX or NPA,NXXXXXX"),
            LineError::AreaCode(a) => write!(
                f,
                "area code {a:03} is not a NANP area code (first digit 2-9, not N11)"
            ),
            LineError::Exchange(x) => write!(
                f,
                "exchange {x:03} is not a NANP exchange (first digit 2-9, not N11)"
            ),
            LineError::Indicator(s) => {
                write!(f, "change indicator {s:?} is not A, ADD, D, DEL or DELETE")
            }
            LineError::Date(s) => write!(
                f,
                "date field {s:?} is not YYYY-MM-DD, YYYYMMDD or MM/DD/YYYY"
            ),
            LineError::TooLong => f.write_str("line too long for a registry line"),
            LineError::NotAscii => f.write_str("line is not ASCII"),
        }
    }
}

impl std::error::Error for LineError {}

/// What a change-file line does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Add,
    Delete,
}

/// Checks a ten-digit number against the NANP numbering plan: area code and
/// exchange each `[2-9]XX` and not an `N11` service code. Middle digit 9
/// area codes (reserved for expansion) are accepted: they are a valid shape,
/// and refusing them would break imports the day one is assigned.
pub fn validate(number: u64) -> Result<(), LineError> {
    if number >= 10_000_000_000 {
        return Err(LineError::Shape);
    }
    let npa = (number / 10_000_000) as u16;
    let nxx = (number / 10_000 % 1000) as u16;
    if !valid_code(npa) {
        return Err(LineError::AreaCode(npa));
    }
    if !valid_code(nxx) {
        return Err(LineError::Exchange(nxx));
    }
    Ok(())
}

/// `[2-9]XX`, not `N11`.
pub(crate) fn valid_code(code: u16) -> bool {
    (200..=999).contains(&code) && code % 100 != 11
}

/// The area code of a ten-digit number.
pub fn area_code(number: u64) -> u16 {
    (number / 10_000_000 % 1000) as u16
}

/// Parses a full-list line: `NPANXXXXXX` or `NPA,NXXXXXX`, surrounding
/// spaces and a trailing CR allowed.
pub fn parse_full_line(line: &[u8]) -> Result<u64, LineError> {
    let line = trim(line)?;
    let fields: Vec<&[u8]> = line.split(|&b| b == b',').collect();
    match parse_number_fields(&fields)? {
        (n, 0) => Ok(n),
        _ => Err(LineError::Shape),
    }
}

/// Parses a change-file line: a number (either shape), a comma, an
/// indicator (`A`, `ADD`, `D`, `DEL`, `DELETE`, any case) and optionally a
/// comma and a date (`YYYY-MM-DD`, `YYYYMMDD` or `MM/DD/YYYY`), which is
/// validated but not used: the version of the import is the one given to it.
pub fn parse_change_line(line: &[u8]) -> Result<(u64, Change), LineError> {
    let line = trim(line)?;
    let fields: Vec<&[u8]> = line.split(|&b| b == b',').collect();
    let (number, used) = parse_number_fields(&fields)?;
    let rest = &fields[fields.len() - used..];
    let change = match rest {
        [ind] | [ind, _] => parse_indicator(trim_field(ind))?,
        _ => return Err(LineError::Shape),
    };
    if let [_, date] = rest {
        parse_date_field(trim_field(date))?;
    }
    Ok((number, change))
}

/// Reads the number from the first one or two fields; returns it and how
/// many fields remain after it.
fn parse_number_fields(fields: &[&[u8]]) -> Result<(u64, usize), LineError> {
    let first = fields.first().map(|f| trim_field(f)).unwrap_or_default();
    let (digits, used): (u64, usize) = if first.len() == 10 {
        (digits(first)?, 1)
    } else if first.len() == 3 {
        let second = fields.get(1).map(|f| trim_field(f)).unwrap_or_default();
        if second.len() != 7 {
            return Err(LineError::Shape);
        }
        (digits(first)? * 10_000_000 + digits(second)?, 2)
    } else {
        return Err(LineError::Shape);
    };
    validate(digits)?;
    Ok((digits, fields.len() - used))
}

fn digits(field: &[u8]) -> Result<u64, LineError> {
    let mut n = 0u64;
    for &b in field {
        if !b.is_ascii_digit() {
            return Err(LineError::Shape);
        }
        n = n * 10 + u64::from(b - b'0');
    }
    Ok(n)
}

fn parse_indicator(field: &[u8]) -> Result<Change, LineError> {
    match field.to_ascii_uppercase().as_slice() {
        b"A" | b"ADD" => Ok(Change::Add),
        b"D" | b"DEL" | b"DELETE" => Ok(Change::Delete),
        _ => Err(LineError::Indicator(
            String::from_utf8_lossy(field).into_owned(),
        )),
    }
}

fn parse_date_field(field: &[u8]) -> Result<jiff::civil::Date, LineError> {
    let bad = || LineError::Date(String::from_utf8_lossy(field).into_owned());
    let s = std::str::from_utf8(field).map_err(|_| bad())?;
    let (y, m, d) = match s.len() {
        10 if s.as_bytes()[4] == b'-' && s.as_bytes()[7] == b'-' => (&s[0..4], &s[5..7], &s[8..10]),
        10 if s.as_bytes()[2] == b'/' && s.as_bytes()[5] == b'/' => (&s[6..10], &s[0..2], &s[3..5]),
        8 => (&s[0..4], &s[4..6], &s[6..8]),
        _ => return Err(bad()),
    };
    let num = |p: &str| -> Result<i64, LineError> {
        if p.bytes().all(|b| b.is_ascii_digit()) {
            p.parse().map_err(|_| bad())
        } else {
            Err(bad())
        }
    };
    let (y, m, d) = (num(y)?, num(m)?, num(d)?);
    jiff::civil::Date::new(
        i16::try_from(y).map_err(|_| bad())?,
        i8::try_from(m).map_err(|_| bad())?,
        i8::try_from(d).map_err(|_| bad())?,
    )
    .map_err(|_| bad())
}

/// Longest line worth looking at: a change line with a spaced-out number,
/// indicator and date is well under this.
pub(crate) const MAX_LINE: usize = 64;

fn trim(line: &[u8]) -> Result<&[u8], LineError> {
    if line.len() > MAX_LINE {
        return Err(LineError::TooLong);
    }
    if !line.is_ascii() {
        return Err(LineError::NotAscii);
    }
    Ok(line.trim_ascii())
}

fn trim_field(field: &[u8]) -> &[u8] {
    field.trim_ascii()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_lines() {
        assert_eq!(parse_full_line(b"2125550123"), Ok(2_125_550_123));
        assert_eq!(parse_full_line(b"212,5550123\r"), Ok(2_125_550_123));
        assert_eq!(parse_full_line(b" 212 , 5550123 "), Ok(2_125_550_123));
        assert_eq!(
            parse_full_line(b"1125550123"),
            Err(LineError::AreaCode(112))
        );
        assert_eq!(
            parse_full_line(b"9115550123"),
            Err(LineError::AreaCode(911))
        );
        assert_eq!(
            parse_full_line(b"2121550123"),
            Err(LineError::Exchange(155))
        );
        assert_eq!(
            parse_full_line(b"2124110123"),
            Err(LineError::Exchange(411))
        );
        assert_eq!(parse_full_line(b"212555012"), Err(LineError::Shape));
        assert_eq!(parse_full_line(b"21255501234"), Err(LineError::Shape));
        assert_eq!(parse_full_line(b"212555012x"), Err(LineError::Shape));
        assert_eq!(parse_full_line(b"2125550123,A"), Err(LineError::Shape));
        assert_eq!(parse_full_line(b""), Err(LineError::Shape));
        assert_eq!(
            parse_full_line("2125550123é".as_bytes()),
            Err(LineError::NotAscii)
        );
        assert_eq!(parse_full_line(&[b'2'; 100]), Err(LineError::TooLong));
        // Middle-digit-9 area codes are reserved, not malformed.
        assert_eq!(parse_full_line(b"2905550123"), Ok(2_905_550_123));
    }

    #[test]
    fn change_lines() {
        assert_eq!(
            parse_change_line(b"2125550123,A"),
            Ok((2_125_550_123, Change::Add))
        );
        assert_eq!(
            parse_change_line(b"212,5550123,delete,2026-11-30"),
            Ok((2_125_550_123, Change::Delete))
        );
        assert_eq!(
            parse_change_line(b"2125550123,d,11/30/2026"),
            Ok((2_125_550_123, Change::Delete))
        );
        assert_eq!(
            parse_change_line(b"2125550123,add,20261130"),
            Ok((2_125_550_123, Change::Add))
        );
        assert_eq!(
            parse_change_line(b"2125550123,X"),
            Err(LineError::Indicator("X".into()))
        );
        assert_eq!(
            parse_change_line(b"2125550123,A,2026-02-30"),
            Err(LineError::Date("2026-02-30".into()))
        );
        assert_eq!(parse_change_line(b"2125550123"), Err(LineError::Shape));
        assert_eq!(
            parse_change_line(b"2125550123,A,20261130,x"),
            Err(LineError::Shape)
        );
    }

    #[test]
    fn validate_bounds() {
        assert!(validate(9_999_999_999).is_ok());
        assert!(validate(10_000_000_000).is_err());
        assert!(validate(2_002_000_000).is_ok());
        assert_eq!(area_code(2_125_550_123), 212);
    }
}
