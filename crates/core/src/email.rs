//! Email addresses as identities: a conservative syntax check and one
//! normalized spelling, so `Ann@Example.COM` and `ann@example.com` are the
//! same person. Deliverability is proven later by a magic link, not here.

pub const MAX_LEN: usize = 254;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("an email address must look like name@example.com")]
    Invalid,
    #[error("an email address may be at most 254 characters")]
    TooLong,
}

/// Trims, lower-cases and checks an address: one `@`, a non-empty local
/// part of printable ASCII without spaces or quotes, and a domain of at least
/// two dot-separated labels of letters, digits and hyphens.
pub fn normalize(input: &str) -> Result<String, EmailError> {
    let s = input.trim();
    if s.len() > MAX_LEN {
        return Err(EmailError::TooLong);
    }
    let s = s.to_ascii_lowercase();
    let (local, domain) = s.split_once('@').ok_or(EmailError::Invalid)?;
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && local
            .bytes()
            .all(|c| c.is_ascii_graphic() && !b"@\"(),:;<>[\\]".contains(&c))
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..");
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-')
        });
    if local_ok && domain_ok {
        Ok(s)
    } else {
        Err(EmailError::Invalid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_case_and_space() {
        assert_eq!(
            normalize("  Ann.Lee+x@Example.COM "),
            Ok("ann.lee+x@example.com".into())
        );
    }

    #[test]
    fn rejects_bad_addresses() {
        for bad in [
            "",
            "ann",
            "ann@",
            "@x.com",
            "ann@x",
            "a b@x.com",
            "ann@x..com",
            "ann@-x.com",
            "a@b@c.com",
            "ann@exämple.com",
            ".a@x.com",
        ] {
            assert_eq!(normalize(bad), Err(EmailError::Invalid), "{bad}");
        }
        assert_eq!(
            normalize(&format!("{}@x.com", "a".repeat(260))),
            Err(EmailError::TooLong)
        );
    }
}
