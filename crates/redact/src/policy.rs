//! Redaction policies: which kinds to remove and how to write what is left.

use crate::kind::KindSet;
use crate::numeric::THRESHOLD;

/// How card numbers are replaced.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum CardStyle {
    /// `[CARD]`.
    #[default]
    Tag,
    /// `[CARD ****1111]`: the last four digits, which PCI DSS allows to be
    /// displayed and which callers use to tell cards apart.
    KeepLastFour,
}

/// What to remove and how. Policies are plain values: the server stores one
/// per organization and campaign and passes it in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Kinds to remove. Findings of other kinds are left in the text.
    pub kinds: KindSet,
    /// Replacement of card numbers.
    pub card: CardStyle,
    /// Strict PCI mode: also remove every run of three or more digits,
    /// written or spoken, in a payment context (near a card, CVV, expiry or
    /// payment word, or in the answer to an agent's payment question).
    pub strict_pci: bool,
    /// Minimum confidence, 0-100, for a finding to be removed. Lower removes
    /// more; the default suits the published evaluation.
    pub min_score: u8,
}

impl Policy {
    /// Every kind, `[KIND]` tags, not strict.
    pub const fn standard() -> Policy {
        Policy {
            kinds: KindSet::ALL,
            card: CardStyle::Tag,
            strict_pci: false,
            min_score: THRESHOLD,
        }
    }

    /// [`Policy::standard`] plus strict PCI mode.
    pub const fn strict_pci() -> Policy {
        Policy {
            strict_pci: true,
            ..Policy::standard()
        }
    }
}

impl Default for Policy {
    fn default() -> Self {
        Policy::standard()
    }
}
