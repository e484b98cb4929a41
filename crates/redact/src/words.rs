//! Word classes: the small vocabulary the detectors care about.
//!
//! Every alphabetic token is classified once, in the lexer, by lowercasing it
//! into a stack buffer and matching it against a fixed table. Words longer
//! than [`MAX_WORD`] bytes cannot be in the table and are classified as
//! [`Word::Plain`] without being copied, which keeps the cost per word
//! constant however long the input's words are.

/// Longest word in any table below, in bytes.
pub(crate) const MAX_WORD: usize = 14;

/// What a word means to the detectors. The payload (digit value, month,
/// context mask index...) lives in `Tok::val`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Word {
    /// Not alphabetic.
    None,
    /// Any other word.
    Plain,
    /// Function words that never name a street or an e-mail user.
    Stop,
    /// zero..nine, oh, o: `val` is the digit.
    Digit,
    /// ten..nineteen: `val` is the value.
    Teen,
    /// twenty..ninety: `val` is the value.
    Tens,
    Hundred,
    Thousand,
    /// double (`val` 2), triple (`val` 3).
    Repeat,
    /// uh, um, er: transparent inside spoken numbers.
    Filler,
    And,
    /// `val` is 1..=12.
    Month,
    /// first..thirtieth: `val` is the day value of the word.
    Ordinal,
    /// A context keyword: `val` indexes [`CTX_TABLE`].
    Ctx,
    At,
    Dot,
    Underscore,
    Dash,
    StreetSuffix,
    /// apartment, apt, suite, unit.
    Unit,
    /// north, south, east, west and their abbreviations.
    Directional,
}

/// Context bits: what the nearby words say the value is about.
pub(crate) mod ctx {
    pub const CARD: u32 = 1 << 0;
    pub const PAY: u32 = 1 << 1;
    pub const CVV: u32 = 1 << 2;
    pub const EXP: u32 = 1 << 3;
    pub const SSN: u32 = 1 << 4;
    pub const BANK: u32 = 1 << 5;
    pub const ROUTING: u32 = 1 << 6;
    pub const ACCOUNT: u32 = 1 << 7;
    pub const DOB: u32 = 1 << 8;
    pub const PHONE: u32 = 1 << 9;
    pub const EMAIL: u32 = 1 << 10;
    pub const ADDR: u32 = 1 << 11;
    pub const MEDICARE: u32 = 1 << 12;
    pub const NPI: u32 = 1 << 13;
    pub const MRN: u32 = 1 << 14;
    pub const MEMBER: u32 = 1 << 15;
    pub const CLAIM: u32 = 1 << 16;
    /// Order, tracking, confirmation, ticket... numbers: lowers confidence.
    pub const NEG: u32 = 1 << 17;
    /// Prices and amounts.
    pub const MONEY: u32 = 1 << 18;
    /// Clock times and durations.
    pub const TIME: u32 = 1 << 19;
    /// "security": CVV unless preceded by "social" (resolved by the caller).
    pub const SECURITY: u32 = 1 << 20;
    /// Words that make a following value an identifier (id, number, no).
    pub const ID: u32 = 1 << 21;
    /// "code", "digits": CVV only next to a card, payment or security word.
    pub const CODE: u32 = 1 << 22;
    /// "back" (of the card): CVV together with "code".
    pub const BACK: u32 = 1 << 23;

    /// Anything that puts the conversation in a payment flow (strict PCI).
    pub const PAYMENT_ZONE: u32 = CARD | PAY | CVV | EXP;
    /// Health and insurance identifiers in context.
    pub const HEALTH_IDS: u32 = MEDICARE | MRN | MEMBER | CLAIM | NPI;
}

use ctx::*;

/// Context masks, indexed by `Tok::val` of a [`Word::Ctx`] token.
pub(crate) const CTX_TABLE: [u32; 24] = [
    CARD,           // 0
    PAY,            // 1
    CVV,            // 2
    EXP,            // 3
    SSN,            // 4
    BANK,           // 5
    ROUTING | BANK, // 6
    ACCOUNT,        // 7
    DOB,            // 8
    PHONE,          // 9
    EMAIL,          // 10
    ADDR,           // 11
    MEDICARE,       // 12
    NPI,            // 13
    MRN,            // 14
    MEMBER,         // 15
    CLAIM,          // 16
    NEG,            // 17
    MONEY,          // 18
    TIME,           // 19
    SECURITY,       // 20
    ID,             // 21
    CODE,           // 22
    BACK,           // 23
];

/// The vocabulary. Order matters only for duplicates (none today).
const ENTRIES: &[(&str, Word, u8)] = {
    use Word::*;
    &[
        ("zero", Digit, 0),
        ("oh", Digit, 0),
        ("o", Digit, 0),
        ("one", Digit, 1),
        ("two", Digit, 2),
        ("three", Digit, 3),
        ("four", Digit, 4),
        ("five", Digit, 5),
        ("six", Digit, 6),
        ("seven", Digit, 7),
        ("eight", Digit, 8),
        ("nine", Digit, 9),
        ("niner", Digit, 9),
        ("ten", Teen, 10),
        ("eleven", Teen, 11),
        ("twelve", Teen, 12),
        ("thirteen", Teen, 13),
        ("fourteen", Teen, 14),
        ("fifteen", Teen, 15),
        ("sixteen", Teen, 16),
        ("seventeen", Teen, 17),
        ("eighteen", Teen, 18),
        ("nineteen", Teen, 19),
        ("twenty", Tens, 20),
        ("thirty", Tens, 30),
        ("forty", Tens, 40),
        ("fourty", Tens, 40),
        ("fifty", Tens, 50),
        ("sixty", Tens, 60),
        ("seventy", Tens, 70),
        ("eighty", Tens, 80),
        ("ninety", Tens, 90),
        ("hundred", Hundred, 0),
        ("thousand", Thousand, 0),
        ("double", Repeat, 2),
        ("triple", Repeat, 3),
        ("uh", Filler, 0),
        ("um", Filler, 0),
        ("uhm", Filler, 0),
        ("umm", Filler, 0),
        ("er", Filler, 0),
        ("erm", Filler, 0),
        ("ah", Filler, 0),
        ("hmm", Filler, 0),
        ("and", And, 0),
        ("january", Month, 1),
        ("jan", Month, 1),
        ("february", Month, 2),
        ("feb", Month, 2),
        ("march", Month, 3),
        ("mar", Month, 3),
        ("april", Month, 4),
        ("apr", Month, 4),
        ("may", Month, 5),
        ("june", Month, 6),
        ("jun", Month, 6),
        ("july", Month, 7),
        ("jul", Month, 7),
        ("august", Month, 8),
        ("aug", Month, 8),
        ("september", Month, 9),
        ("sept", Month, 9),
        ("sep", Month, 9),
        ("october", Month, 10),
        ("oct", Month, 10),
        ("november", Month, 11),
        ("nov", Month, 11),
        ("december", Month, 12),
        ("dec", Month, 12),
        ("first", Ordinal, 1),
        ("second", Ordinal, 2),
        ("third", Ordinal, 3),
        ("fourth", Ordinal, 4),
        ("fifth", Ordinal, 5),
        ("sixth", Ordinal, 6),
        ("seventh", Ordinal, 7),
        ("eighth", Ordinal, 8),
        ("ninth", Ordinal, 9),
        ("tenth", Ordinal, 10),
        ("eleventh", Ordinal, 11),
        ("twelfth", Ordinal, 12),
        ("thirteenth", Ordinal, 13),
        ("fourteenth", Ordinal, 14),
        ("fifteenth", Ordinal, 15),
        ("sixteenth", Ordinal, 16),
        ("seventeenth", Ordinal, 17),
        ("eighteenth", Ordinal, 18),
        ("nineteenth", Ordinal, 19),
        ("twentieth", Ordinal, 20),
        ("thirtieth", Ordinal, 30),
        ("card", Ctx, 0),
        ("cards", Ctx, 0),
        ("visa", Ctx, 0),
        ("mastercard", Ctx, 0),
        ("amex", Ctx, 0),
        ("discover", Ctx, 0),
        ("credit", Ctx, 0),
        ("debit", Ctx, 0),
        ("cc", Ctx, 0),
        ("pan", Ctx, 0),
        ("jcb", Ctx, 0),
        ("diners", Ctx, 0),
        ("maestro", Ctx, 0),
        ("unionpay", Ctx, 0),
        ("payment", Ctx, 1),
        ("pay", Ctx, 1),
        ("paying", Ctx, 1),
        ("charge", Ctx, 1),
        ("billing", Ctx, 1),
        ("checkout", Ctx, 1),
        ("cvv", Ctx, 2),
        ("cvc", Ctx, 2),
        ("csc", Ctx, 2),
        ("cid", Ctx, 2),
        ("verification", Ctx, 2),
        ("expiration", Ctx, 3),
        ("expiry", Ctx, 3),
        ("expires", Ctx, 3),
        ("expire", Ctx, 3),
        ("expiring", Ctx, 3),
        ("exp", Ctx, 3),
        ("valid", Ctx, 3),
        ("thru", Ctx, 3),
        ("ssn", Ctx, 4),
        ("social", Ctx, 4),
        ("ss", Ctx, 4),
        ("ssns", Ctx, 4),
        ("itin", Ctx, 4),
        ("taxpayer", Ctx, 4),
        ("bank", Ctx, 5),
        ("checking", Ctx, 5),
        ("savings", Ctx, 5),
        ("iban", Ctx, 5),
        ("deposit", Ctx, 5),
        ("wire", Ctx, 5),
        ("ach", Ctx, 5),
        ("routing", Ctx, 6),
        ("aba", Ctx, 6),
        ("transit", Ctx, 6),
        ("account", Ctx, 7),
        ("acct", Ctx, 7),
        ("accounts", Ctx, 7),
        ("birth", Ctx, 8),
        ("born", Ctx, 8),
        ("dob", Ctx, 8),
        ("birthday", Ctx, 8),
        ("birthdate", Ctx, 8),
        ("phone", Ctx, 9),
        ("call", Ctx, 9),
        ("callback", Ctx, 9),
        ("cell", Ctx, 9),
        ("mobile", Ctx, 9),
        ("telephone", Ctx, 9),
        ("fax", Ctx, 9),
        ("landline", Ctx, 9),
        ("reach", Ctx, 9),
        ("text", Ctx, 9),
        ("dial", Ctx, 9),
        ("tel", Ctx, 9),
        ("desk", Ctx, 9),
        ("office", Ctx, 9),
        ("contact", Ctx, 9),
        ("sms", Ctx, 9),
        ("whatsapp", Ctx, 9),
        ("phones", Ctx, 9),
        ("answering", Ctx, 9),
        ("email", Ctx, 10),
        ("mail", Ctx, 10),
        ("gmail", Ctx, 10),
        ("inbox", Ctx, 10),
        ("address", Ctx, 11),
        ("live", Ctx, 11),
        ("reside", Ctx, 11),
        ("mailing", Ctx, 11),
        ("ship", Ctx, 11),
        ("shipping", Ctx, 11),
        ("located", Ctx, 11),
        ("residence", Ctx, 11),
        ("medicare", Ctx, 12),
        ("mbi", Ctx, 12),
        ("beneficiary", Ctx, 12),
        ("medicaid", Ctx, 12),
        ("npi", Ctx, 13),
        ("provider", Ctx, 13),
        ("prescriber", Ctx, 13),
        ("mrn", Ctx, 14),
        ("medical", Ctx, 14),
        ("record", Ctx, 14),
        ("chart", Ctx, 14),
        ("patient", Ctx, 14),
        ("hospital", Ctx, 14),
        ("member", Ctx, 15),
        ("subscriber", Ctx, 15),
        ("insurance", Ctx, 15),
        ("policy", Ctx, 15),
        ("insured", Ctx, 15),
        ("plan", Ctx, 15),
        ("claim", Ctx, 16),
        ("claims", Ctx, 16),
        ("order", Ctx, 17),
        ("orders", Ctx, 17),
        ("tracking", Ctx, 17),
        ("confirmation", Ctx, 17),
        ("reference", Ctx, 17),
        ("invoice", Ctx, 17),
        ("ticket", Ctx, 17),
        ("case", Ctx, 17),
        ("extension", Ctx, 17),
        ("ext", Ctx, 17),
        ("zip", Ctx, 17),
        ("zipcode", Ctx, 17),
        ("postal", Ctx, 17),
        ("flight", Ctx, 17),
        ("room", Ctx, 17),
        ("item", Ctx, 17),
        ("sku", Ctx, 17),
        ("model", Ctx, 17),
        ("serial", Ctx, 17),
        ("version", Ctx, 17),
        ("page", Ctx, 17),
        ("step", Ctx, 17),
        ("quantity", Ctx, 17),
        ("promo", Ctx, 17),
        ("coupon", Ctx, 17),
        ("shipment", Ctx, 17),
        ("package", Ctx, 17),
        ("parcel", Ctx, 17),
        ("reservation", Ctx, 17),
        ("booking", Ctx, 17),
        ("gate", Ctx, 17),
        ("seat", Ctx, 17),
        ("dollars", Ctx, 18),
        ("dollar", Ctx, 18),
        ("cents", Ctx, 18),
        ("bucks", Ctx, 18),
        ("price", Ctx, 18),
        ("total", Ctx, 18),
        ("balance", Ctx, 18),
        ("amount", Ctx, 18),
        ("cost", Ctx, 18),
        ("costs", Ctx, 18),
        ("percent", Ctx, 18),
        ("fee", Ctx, 18),
        ("usd", Ctx, 18),
        ("minutes", Ctx, 19),
        ("minute", Ctx, 19),
        ("hours", Ctx, 19),
        ("hour", Ctx, 19),
        ("seconds", Ctx, 19),
        ("am", Ctx, 19),
        ("pm", Ctx, 19),
        ("oclock", Ctx, 19),
        ("clock", Ctx, 19),
        ("days", Ctx, 19),
        ("weeks", Ctx, 19),
        ("months", Ctx, 19),
        ("years", Ctx, 19),
        ("today", Ctx, 19),
        ("tomorrow", Ctx, 19),
        ("times", Ctx, 19),
        ("security", Ctx, 20),
        ("id", Ctx, 21),
        ("number", Ctx, 21),
        ("numbers", Ctx, 21),
        ("no", Ctx, 21),
        ("num", Ctx, 21),
        ("identifier", Ctx, 21),
        ("code", Ctx, 22),
        ("digits", Ctx, 22),
        ("back", Ctx, 23),
        ("at", At, 0),
        ("dot", Dot, 0),
        ("period", Dot, 0),
        ("point", Dot, 0),
        ("underscore", Underscore, 0),
        ("dash", Dash, 0),
        ("hyphen", Dash, 0),
        ("street", StreetSuffix, 0),
        ("st", StreetSuffix, 0),
        ("avenue", StreetSuffix, 0),
        ("ave", StreetSuffix, 0),
        ("road", StreetSuffix, 0),
        ("rd", StreetSuffix, 0),
        ("drive", StreetSuffix, 0),
        ("dr", StreetSuffix, 0),
        ("lane", StreetSuffix, 0),
        ("ln", StreetSuffix, 0),
        ("boulevard", StreetSuffix, 0),
        ("blvd", StreetSuffix, 0),
        ("court", StreetSuffix, 0),
        ("ct", StreetSuffix, 0),
        ("way", StreetSuffix, 0),
        ("place", StreetSuffix, 0),
        ("pl", StreetSuffix, 0),
        ("terrace", StreetSuffix, 0),
        ("circle", StreetSuffix, 0),
        ("cir", StreetSuffix, 0),
        ("parkway", StreetSuffix, 0),
        ("pkwy", StreetSuffix, 0),
        ("highway", StreetSuffix, 0),
        ("hwy", StreetSuffix, 0),
        ("trail", StreetSuffix, 0),
        ("square", StreetSuffix, 0),
        ("sq", StreetSuffix, 0),
        ("alley", StreetSuffix, 0),
        ("crescent", StreetSuffix, 0),
        ("plaza", StreetSuffix, 0),
        ("apartment", Unit, 0),
        ("apt", Unit, 0),
        ("suite", Unit, 0),
        ("ste", Unit, 0),
        ("unit", Unit, 0),
        ("floor", Unit, 0),
        ("north", Directional, 0),
        ("south", Directional, 0),
        ("east", Directional, 0),
        ("west", Directional, 0),
        ("n", Directional, 0),
        ("s", Directional, 0),
        ("e", Directional, 0),
        ("w", Directional, 0),
        ("ne", Directional, 0),
        ("nw", Directional, 0),
        ("se", Directional, 0),
        ("sw", Directional, 0),
        ("northeast", Directional, 0),
        ("northwest", Directional, 0),
        ("southeast", Directional, 0),
        ("southwest", Directional, 0),
        ("the", Stop, 0),
        ("a", Stop, 0),
        ("an", Stop, 0),
        ("of", Stop, 0),
        ("to", Stop, 0),
        ("in", Stop, 0),
        ("on", Stop, 0),
        ("or", Stop, 0),
        ("for", Stop, 0),
        ("is", Stop, 0),
        ("it", Stop, 0),
        ("its", Stop, 0),
        ("my", Stop, 0),
        ("your", Stop, 0),
        ("our", Stop, 0),
        ("their", Stop, 0),
        ("his", Stop, 0),
        ("her", Stop, 0),
        ("me", Stop, 0),
        ("be", Stop, 0),
        ("was", Stop, 0),
        ("are", Stop, 0),
        ("that", Stop, 0),
        ("this", Stop, 0),
        ("with", Stop, 0),
        ("by", Stop, 0),
        ("from", Stop, 0),
        ("more", Stop, 0),
        ("other", Stop, 0),
        ("same", Stop, 0),
        ("only", Stop, 0),
        ("any", Stop, 0),
        ("some", Stop, 0),
        ("what", Stop, 0),
        ("which", Stop, 0),
        ("if", Stop, 0),
        ("so", Stop, 0),
        ("but", Stop, 0),
        ("not", Stop, 0),
        ("you", Stop, 0),
        ("we", Stop, 0),
        ("they", Stop, 0),
        ("i", Stop, 0),
        ("he", Stop, 0),
        ("she", Stop, 0),
        ("all", Stop, 0),
        ("long", Stop, 0),
        ("right", Stop, 0),
        ("wrong", Stop, 0),
        ("whole", Stop, 0),
        ("every", Stop, 0),
        ("each", Stop, 0),
        ("again", Stop, 0),
        ("then", Stop, 0),
        ("there", Stop, 0),
        ("here", Stop, 0),
        ("yes", Stop, 0),
        ("yeah", Stop, 0),
        ("okay", Stop, 0),
        ("ok", Stop, 0),
        ("sure", Stop, 0),
        ("please", Stop, 0),
        ("thanks", Stop, 0),
        ("thank", Stop, 0),
        ("just", Stop, 0),
        ("about", Stop, 0),
        ("over", Stop, 0),
        ("under", Stop, 0),
        ("also", Stop, 0),
        ("have", Stop, 0),
        ("has", Stop, 0),
        ("had", Stop, 0),
        ("do", Stop, 0),
        ("did", Stop, 0),
        ("can", Stop, 0),
        ("will", Stop, 0),
        ("would", Stop, 0),
        ("could", Stop, 0),
        ("should", Stop, 0),
        ("go", Stop, 0),
        ("get", Stop, 0),
        ("got", Stop, 0),
        ("make", Stop, 0),
        ("now", Stop, 0),
        ("when", Stop, 0),
        ("where", Stop, 0),
        ("how", Stop, 0),
        ("why", Stop, 0),
        ("who", Stop, 0),
    ]
};

/// Hash-table slots for [`ENTRIES`] (a power of two, under half full).
const SLOTS: usize = 1024;

/// A word packed into two little-endian u64s, lower-cased (`| 0x20` is
/// exact for the ASCII letters the lexer passes). Letters are never zero, so
/// equal keys mean equal words, length included.
pub(crate) const fn key(w: &[u8]) -> (u64, u64) {
    let (mut a, mut b) = (0u64, 0u64);
    let mut i = 0;
    while i < w.len() && i < 16 {
        let c = (w[i] | 0x20) as u64;
        if i < 8 {
            a |= c << (8 * i);
        } else {
            b |= c << (8 * (i - 8));
        }
        i += 1;
    }
    (a, b)
}

/// One multiplication per word: the whole word is already in two
/// registers, so there is no per-byte hash chain.
#[inline]
const fn slot(a: u64, b: u64) -> usize {
    ((a ^ b.wrapping_mul(0xC2B2_AE3D_27D4_EB4F)).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 54) as usize
}

const KEYS: [(u64, u64); ENTRIES.len()] = {
    let mut k = [(0u64, 0u64); ENTRIES.len()];
    let mut i = 0;
    while i < ENTRIES.len() {
        k[i] = key(ENTRIES[i].0.as_bytes());
        i += 1;
    }
    k
};

/// Open-addressing index into [`ENTRIES`] (entry + 1; 0 is empty), built
/// at compile time so that classifying a word costs one multiplication and
/// usually one comparison.
const INDEX: [u16; SLOTS] = {
    let mut t = [0u16; SLOTS];
    let mut i = 0;
    while i < ENTRIES.len() {
        let mut s = slot(KEYS[i].0, KEYS[i].1) & (SLOTS - 1);
        while t[s] != 0 {
            s = (s + 1) & (SLOTS - 1);
        }
        t[s] = (i + 1) as u16;
        i += 1;
    }
    t
};

/// Classifies one alphabetic word. Returns the class and its payload.
#[cfg(test)]
pub(crate) fn classify(word: &[u8]) -> (Word, u8) {
    let (a, b) = key(word);
    classify_key(a, b, word.len())
}

/// Classifies a word of `len` letters given its [`key`].
#[inline]
pub(crate) fn classify_key(a: u64, b: u64, len: usize) -> (Word, u8) {
    if len > MAX_WORD {
        return (Word::Plain, 0);
    }
    let mut s = slot(a, b) & (SLOTS - 1);
    loop {
        let e = INDEX[s] as usize;
        if e == 0 {
            return (Word::Plain, 0);
        }
        if KEYS[e - 1] == (a, b) {
            let (_, class, val) = ENTRIES[e - 1];
            return (class, val);
        }
        s = (s + 1) & (SLOTS - 1);
    }
}

/// Common top-level domains of spoken e-mail addresses ("at example dot com").
pub(crate) fn is_tld(word: &[u8]) -> bool {
    if word.len() > 6 {
        return false;
    }
    let mut buf = [0u8; 6];
    for (d, s) in buf.iter_mut().zip(word) {
        *d = s | 0x20;
    }
    matches!(
        &buf[..word.len()],
        b"com"
            | b"net"
            | b"org"
            | b"edu"
            | b"gov"
            | b"io"
            | b"co"
            | b"us"
            | b"uk"
            | b"ca"
            | b"info"
            | b"biz"
            | b"me"
            | b"mil"
            | b"ai"
            | b"app"
            | b"dev"
            | b"de"
            | b"fr"
            | b"au"
            | b"in"
            | b"mx"
            | b"es"
            | b"it"
            | b"nl"
            | b"tv"
            | b"xyz"
            | b"online"
            | b"email"
            | b"health"
            | b"bank"
    )
}

/// Words that are acknowledgements only: an agent turn made of nothing else
/// does not interrupt a caller who is reading out a number across turns.
pub(crate) fn is_backchannel(word: &[u8]) -> bool {
    if word.len() > 8 {
        return false;
    }
    let mut buf = [0u8; 8];
    for (d, s) in buf.iter_mut().zip(word) {
        *d = s | 0x20;
    }
    matches!(
        &buf[..word.len()],
        b"ok"
            | b"okay"
            | b"uh"
            | b"huh"
            | b"mhm"
            | b"mm"
            | b"hmm"
            | b"um"
            | b"yes"
            | b"yeah"
            | b"yep"
            | b"right"
            | b"got"
            | b"it"
            | b"go"
            | b"on"
            | b"sure"
            | b"great"
            | b"thanks"
            | b"thank"
            | b"you"
            | b"alright"
            | b"all"
            | b"and"
            | b"continue"
            | b"perfect"
            | b"uhhuh"
            | b"so"
            | b"far"
            | b"next"
    )
}

/// The two-letter postal codes of US states and territories, upper case.
pub(crate) fn is_state(code: &[u8]) -> bool {
    matches!(
        code,
        b"AL"
            | b"AK"
            | b"AZ"
            | b"AR"
            | b"CA"
            | b"CO"
            | b"CT"
            | b"DE"
            | b"DC"
            | b"FL"
            | b"GA"
            | b"HI"
            | b"ID"
            | b"IL"
            | b"IN"
            | b"IA"
            | b"KS"
            | b"KY"
            | b"LA"
            | b"ME"
            | b"MD"
            | b"MA"
            | b"MI"
            | b"MN"
            | b"MS"
            | b"MO"
            | b"MT"
            | b"NE"
            | b"NV"
            | b"NH"
            | b"NJ"
            | b"NM"
            | b"NY"
            | b"NC"
            | b"ND"
            | b"OH"
            | b"OK"
            | b"OR"
            | b"PA"
            | b"RI"
            | b"SC"
            | b"SD"
            | b"TN"
            | b"TX"
            | b"UT"
            | b"VT"
            | b"VA"
            | b"WA"
            | b"WV"
            | b"WI"
            | b"WY"
            | b"PR"
            | b"GU"
            | b"VI"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_vocabulary_entry_is_found_in_any_case() {
        for (w, class, val) in ENTRIES {
            assert!(w.len() <= MAX_WORD, "{w}");
            assert_eq!(classify(w.as_bytes()), (*class, *val), "{w}");
            assert_eq!(
                classify(w.to_ascii_uppercase().as_bytes()),
                (*class, *val),
                "{w}"
            );
        }
        assert_eq!(classify(b"xylophone"), (Word::Plain, 0));
        assert_eq!(classify(b"Ninety"), (Word::Tens, 90));
    }
}
