//! The kinds of sensitive values the engine finds, and sets of them.

use std::fmt;

/// A kind of sensitive value. The `code` of each kind is stable and is what
/// APIs and stored redaction maps should use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Kind {
    /// Payment card number (PAN), Luhn-checked, issuer prefix checked.
    Card,
    /// Card security code (CVV, CVC, CID) in a card context.
    Cvv,
    /// Card expiry date in a card or expiry context.
    Expiry,
    /// US Social Security number, invalid ranges rejected.
    Ssn,
    /// ABA routing number, checksum-verified, in a bank context.
    RoutingNumber,
    /// Bank account number in an account or bank context.
    BankAccount,
    /// Date of birth in a birth context.
    DateOfBirth,
    /// North American phone number.
    Phone,
    /// E-mail address, written or spoken ("john at example dot com").
    Email,
    /// US street address (house number, street name and suffix, unit).
    Address,
    /// Medicare Beneficiary Identifier.
    MedicareId,
    /// National Provider Identifier (checksum with the 80840 prefix).
    Npi,
    /// Medical record number in context.
    MedicalRecord,
    /// Insurance member or subscriber id in context.
    MemberId,
    /// Insurance claim number in context.
    ClaimNumber,
    /// Any run of 3 or more digits in a payment context (strict PCI mode).
    PaymentDigits,
}

impl Kind {
    /// Every kind, in declaration order.
    pub const ALL: [Kind; 16] = [
        Kind::Card,
        Kind::Cvv,
        Kind::Expiry,
        Kind::Ssn,
        Kind::RoutingNumber,
        Kind::BankAccount,
        Kind::DateOfBirth,
        Kind::Phone,
        Kind::Email,
        Kind::Address,
        Kind::MedicareId,
        Kind::Npi,
        Kind::MedicalRecord,
        Kind::MemberId,
        Kind::ClaimNumber,
        Kind::PaymentDigits,
    ];

    /// Stable snake_case code, for APIs and stored redaction maps.
    pub const fn code(self) -> &'static str {
        match self {
            Kind::Card => "card",
            Kind::Cvv => "cvv",
            Kind::Expiry => "expiry",
            Kind::Ssn => "ssn",
            Kind::RoutingNumber => "routing_number",
            Kind::BankAccount => "bank_account",
            Kind::DateOfBirth => "date_of_birth",
            Kind::Phone => "phone",
            Kind::Email => "email",
            Kind::Address => "address",
            Kind::MedicareId => "medicare_id",
            Kind::Npi => "npi",
            Kind::MedicalRecord => "medical_record",
            Kind::MemberId => "member_id",
            Kind::ClaimNumber => "claim_number",
            Kind::PaymentDigits => "payment_digits",
        }
    }

    /// The replacement tag written into redacted text.
    pub const fn tag(self) -> &'static str {
        match self {
            Kind::Card => "[CARD]",
            Kind::Cvv => "[CVV]",
            Kind::Expiry => "[EXPIRY]",
            Kind::Ssn => "[SSN]",
            Kind::RoutingNumber => "[ROUTING]",
            Kind::BankAccount => "[ACCOUNT]",
            Kind::DateOfBirth => "[DOB]",
            Kind::Phone => "[PHONE]",
            Kind::Email => "[EMAIL]",
            Kind::Address => "[ADDRESS]",
            Kind::MedicareId => "[MBI]",
            Kind::Npi => "[NPI]",
            Kind::MedicalRecord => "[MRN]",
            Kind::MemberId => "[MEMBER_ID]",
            Kind::ClaimNumber => "[CLAIM]",
            Kind::PaymentDigits => "[DIGITS]",
        }
    }

    /// Parses a [`Kind::code`].
    pub fn from_code(code: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.code() == code)
    }

    const fn bit(self) -> u32 {
        1 << self as u8
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A set of kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct KindSet(u32);

impl KindSet {
    pub const EMPTY: KindSet = KindSet(0);
    /// Every kind except [`Kind::PaymentDigits`], which only strict PCI
    /// mode produces.
    pub const ALL: KindSet = KindSet((1 << 15) - 1);
    /// Payment card data only: PAN, CVV, expiry.
    pub const PCI: KindSet = KindSet(Kind::Card.bit() | Kind::Cvv.bit() | Kind::Expiry.bit());

    pub const fn with(self, k: Kind) -> KindSet {
        KindSet(self.0 | k.bit())
    }
    pub const fn without(self, k: Kind) -> KindSet {
        KindSet(self.0 & !k.bit())
    }
    pub const fn contains(self, k: Kind) -> bool {
        self.0 & k.bit() != 0
    }
    pub fn iter(self) -> impl Iterator<Item = Kind> {
        Kind::ALL.into_iter().filter(move |k| self.contains(*k))
    }
}

impl FromIterator<Kind> for KindSet {
    fn from_iter<I: IntoIterator<Item = Kind>>(iter: I) -> Self {
        iter.into_iter().fold(KindSet::EMPTY, KindSet::with)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_all_excludes_payment_digits() {
        for k in Kind::ALL {
            assert_eq!(Kind::from_code(k.code()), Some(k));
        }
        assert_eq!(KindSet::ALL.iter().count(), 15);
        assert!(!KindSet::ALL.contains(Kind::PaymentDigits));
    }
}
