//! A tiny reader for the embedded CSV files in `rules/`.
//!
//! The files are ours, small and read once at start-up, so a forty-line reader
//! (RFC 4180 quoting, no multi-line fields) earns its place over a dependency.
//! Every error names the file and line so a bad edit to the data fails loudly.

use std::fmt;

/// What went wrong while loading the embedded rules data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataError {
    /// File name inside `rules/`.
    pub file: &'static str,
    /// 1-based line number (0 when the error is about the whole file).
    pub line: usize,
    pub message: String,
}

impl fmt::Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rules/{}:{}: {}", self.file, self.line, self.message)
    }
}

impl std::error::Error for DataError {}

/// One parsed CSV file: a header and its records, each with its line number.
pub(crate) struct Table {
    file: &'static str,
    header: Vec<String>,
    pub(crate) records: Vec<Record>,
}

pub(crate) struct Record {
    pub(crate) line: usize,
    fields: Vec<String>,
}

impl Table {
    pub(crate) fn parse(file: &'static str, text: &str) -> Result<Table, DataError> {
        let mut lines = text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty());
        let (_, head) = lines.next().ok_or_else(|| DataError {
            file,
            line: 0,
            message: "empty file".into(),
        })?;
        let header = split(file, 1, head)?;
        let mut records = Vec::new();
        for (i, line) in lines {
            let fields = split(file, i + 1, line)?;
            if fields.len() != header.len() {
                return Err(DataError {
                    file,
                    line: i + 1,
                    message: format!("{} fields, header has {}", fields.len(), header.len()),
                });
            }
            records.push(Record {
                line: i + 1,
                fields,
            });
        }
        Ok(Table {
            file,
            header,
            records,
        })
    }

    /// The index of a named column; a missing column is a data error.
    pub(crate) fn column(&self, name: &str) -> Result<usize, DataError> {
        self.header
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| DataError {
                file: self.file,
                line: 1,
                message: format!("missing column `{name}`"),
            })
    }

    pub(crate) fn error(&self, record: &Record, message: impl Into<String>) -> DataError {
        DataError {
            file: self.file,
            line: record.line,
            message: message.into(),
        }
    }
}

impl Record {
    pub(crate) fn get(&self, column: usize) -> &str {
        self.fields[column].trim()
    }
}

fn split(file: &'static str, line: usize, text: &str) -> Result<Vec<String>, DataError> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    let mut at_start = true;
    while let Some(c) = chars.next() {
        match c {
            '"' if at_start => quoted = true,
            '"' if quoted => {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    field.push('"');
                } else {
                    quoted = false;
                }
            }
            ',' if !quoted => {
                fields.push(std::mem::take(&mut field));
                at_start = true;
                continue;
            }
            _ => field.push(c),
        }
        at_start = false;
    }
    if quoted {
        return Err(DataError {
            file,
            line,
            message: "unterminated quote".into(),
        });
    }
    fields.push(field);
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_fields_keep_commas_and_quotes() {
        let t = Table::parse("t.csv", "a,b,c\n1,\"x, \"\"y\"\"\",3\n").unwrap();
        assert_eq!(t.records[0].get(1), "x, \"y\"");
        assert_eq!(t.records[0].get(2), "3");
    }

    #[test]
    fn wrong_field_count_names_the_line() {
        let err = Table::parse("t.csv", "a,b\n1,2\n3\n").err().unwrap();
        assert_eq!(err.line, 3);
        assert!(err.to_string().starts_with("rules/t.csv:3:"));
    }
}
