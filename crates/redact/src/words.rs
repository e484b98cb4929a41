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

/// Classifies one alphabetic word. Returns the class and its payload.
#[inline]
pub(crate) fn classify(word: &[u8]) -> (Word, u8) {
    if word.len() > MAX_WORD {
        return (Word::Plain, 0);
    }
    let mut buf = [0u8; MAX_WORD];
    for (d, s) in buf.iter_mut().zip(word) {
        *d = s | 0x20;
    }
    let w = &buf[..word.len()];
    use Word::*;
    match w {
        b"zero" | b"oh" | b"o" => (Digit, 0),
        b"one" => (Digit, 1),
        b"two" => (Digit, 2),
        b"three" => (Digit, 3),
        b"four" => (Digit, 4),
        b"five" => (Digit, 5),
        b"six" => (Digit, 6),
        b"seven" => (Digit, 7),
        b"eight" => (Digit, 8),
        b"nine" | b"niner" => (Digit, 9),
        b"ten" => (Teen, 10),
        b"eleven" => (Teen, 11),
        b"twelve" => (Teen, 12),
        b"thirteen" => (Teen, 13),
        b"fourteen" => (Teen, 14),
        b"fifteen" => (Teen, 15),
        b"sixteen" => (Teen, 16),
        b"seventeen" => (Teen, 17),
        b"eighteen" => (Teen, 18),
        b"nineteen" => (Teen, 19),
        b"twenty" => (Tens, 20),
        b"thirty" => (Tens, 30),
        b"forty" | b"fourty" => (Tens, 40),
        b"fifty" => (Tens, 50),
        b"sixty" => (Tens, 60),
        b"seventy" => (Tens, 70),
        b"eighty" => (Tens, 80),
        b"ninety" => (Tens, 90),
        b"hundred" => (Hundred, 0),
        b"thousand" => (Thousand, 0),
        b"double" => (Repeat, 2),
        b"triple" => (Repeat, 3),
        b"uh" | b"um" | b"uhm" | b"umm" | b"er" | b"erm" | b"ah" | b"hmm" => (Filler, 0),
        b"and" => (And, 0),
        b"january" | b"jan" => (Month, 1),
        b"february" | b"feb" => (Month, 2),
        b"march" | b"mar" => (Month, 3),
        b"april" | b"apr" => (Month, 4),
        b"may" => (Month, 5),
        b"june" | b"jun" => (Month, 6),
        b"july" | b"jul" => (Month, 7),
        b"august" | b"aug" => (Month, 8),
        b"september" | b"sept" | b"sep" => (Month, 9),
        b"october" | b"oct" => (Month, 10),
        b"november" | b"nov" => (Month, 11),
        b"december" | b"dec" => (Month, 12),
        b"first" => (Ordinal, 1),
        b"second" => (Ordinal, 2),
        b"third" => (Ordinal, 3),
        b"fourth" => (Ordinal, 4),
        b"fifth" => (Ordinal, 5),
        b"sixth" => (Ordinal, 6),
        b"seventh" => (Ordinal, 7),
        b"eighth" => (Ordinal, 8),
        b"ninth" => (Ordinal, 9),
        b"tenth" => (Ordinal, 10),
        b"eleventh" => (Ordinal, 11),
        b"twelfth" => (Ordinal, 12),
        b"thirteenth" => (Ordinal, 13),
        b"fourteenth" => (Ordinal, 14),
        b"fifteenth" => (Ordinal, 15),
        b"sixteenth" => (Ordinal, 16),
        b"seventeenth" => (Ordinal, 17),
        b"eighteenth" => (Ordinal, 18),
        b"nineteenth" => (Ordinal, 19),
        b"twentieth" => (Ordinal, 20),
        b"thirtieth" => (Ordinal, 30),
        b"card" | b"cards" | b"visa" | b"mastercard" | b"amex" | b"discover" | b"credit"
        | b"debit" | b"cc" | b"pan" | b"jcb" | b"diners" | b"maestro" | b"unionpay" => (Ctx, 0),
        b"payment" | b"pay" | b"paying" | b"charge" | b"billing" | b"checkout" => (Ctx, 1),
        b"cvv" | b"cvc" | b"cvv2" | b"cvc2" | b"csc" | b"cid" | b"verification" => (Ctx, 2),
        b"expiration" | b"expiry" | b"expires" | b"expire" | b"expiring" | b"exp" | b"valid"
        | b"thru" => (Ctx, 3),
        b"ssn" | b"social" | b"ss" | b"ssns" | b"itin" | b"taxpayer" => (Ctx, 4),
        b"bank" | b"checking" | b"savings" | b"iban" | b"deposit" | b"wire" | b"ach" => (Ctx, 5),
        b"routing" | b"aba" | b"transit" => (Ctx, 6),
        b"account" | b"acct" | b"accounts" => (Ctx, 7),
        b"birth" | b"born" | b"dob" | b"birthday" | b"birthdate" => (Ctx, 8),
        b"phone" | b"call" | b"callback" | b"cell" | b"mobile" | b"telephone" | b"fax"
        | b"landline" | b"reach" | b"text" | b"dial" | b"tel" => (Ctx, 9),
        b"email" | b"e-mail" | b"mail" | b"gmail" | b"inbox" => (Ctx, 10),
        b"address" | b"live" | b"reside" | b"mailing" | b"ship" | b"shipping" | b"located"
        | b"residence" => (Ctx, 11),
        b"medicare" | b"mbi" | b"beneficiary" | b"medicaid" => (Ctx, 12),
        b"npi" | b"provider" | b"prescriber" => (Ctx, 13),
        b"mrn" | b"medical" | b"record" | b"chart" | b"patient" | b"hospital" => (Ctx, 14),
        b"member" | b"subscriber" | b"insurance" | b"policy" | b"insured" | b"plan" => (Ctx, 15),
        b"claim" | b"claims" => (Ctx, 16),
        b"order" | b"orders" | b"tracking" | b"confirmation" | b"reference" | b"invoice"
        | b"ticket" | b"case" | b"extension" | b"ext" | b"zip" | b"zipcode" | b"postal"
        | b"flight" | b"room" | b"item" | b"sku" | b"model" | b"serial" | b"version" | b"page"
        | b"step" | b"quantity" | b"promo" | b"coupon" | b"shipment" | b"package" | b"parcel"
        | b"reservation" | b"booking" | b"gate" | b"seat" => (Ctx, 17),
        b"dollars" | b"dollar" | b"cents" | b"bucks" | b"price" | b"total" | b"balance"
        | b"amount" | b"cost" | b"costs" | b"percent" | b"fee" | b"usd" => (Ctx, 18),
        b"minutes" | b"minute" | b"hours" | b"hour" | b"seconds" | b"am" | b"pm" | b"oclock"
        | b"clock" | b"days" | b"weeks" | b"months" | b"years" | b"today" | b"tomorrow"
        | b"o'clock" | b"times" => (Ctx, 19),
        b"security" => (Ctx, 20),
        b"id" | b"number" | b"numbers" | b"no" | b"num" | b"identifier" => (Ctx, 21),
        b"code" | b"digits" => (Ctx, 22),
        b"back" => (Ctx, 23),
        b"at" => (At, 0),
        b"dot" | b"period" | b"point" => (Dot, 0),
        b"underscore" => (Underscore, 0),
        b"dash" | b"hyphen" => (Dash, 0),
        b"street" | b"st" | b"avenue" | b"ave" | b"road" | b"rd" | b"drive" | b"dr" | b"lane"
        | b"ln" | b"boulevard" | b"blvd" | b"court" | b"ct" | b"way" | b"place" | b"pl"
        | b"terrace" | b"circle" | b"cir" | b"parkway" | b"pkwy" | b"highway" | b"hwy"
        | b"trail" | b"square" | b"sq" | b"alley" | b"crescent" | b"plaza" => (StreetSuffix, 0),
        b"apartment" | b"apt" | b"suite" | b"ste" | b"unit" | b"floor" => (Unit, 0),
        b"north" | b"south" | b"east" | b"west" | b"n" | b"s" | b"e" | b"w" | b"ne" | b"nw"
        | b"se" | b"sw" | b"northeast" | b"northwest" | b"southeast" | b"southwest" => {
            (Directional, 0)
        }
        b"the" | b"a" | b"an" | b"of" | b"to" | b"in" | b"on" | b"or" | b"for" | b"is" | b"it"
        | b"its" | b"my" | b"your" | b"our" | b"their" | b"his" | b"her" | b"me" | b"be"
        | b"was" | b"are" | b"that" | b"this" | b"with" | b"by" | b"from" | b"more" | b"other"
        | b"same" | b"only" | b"any" | b"some" | b"what" | b"which" | b"if" | b"so" | b"but"
        | b"not" | b"you" | b"we" | b"they" | b"i" | b"he" | b"she" | b"all" | b"one's"
        | b"long" | b"right" | b"wrong" | b"whole" | b"every" | b"each" | b"again" | b"then"
        | b"there" | b"here" | b"yes" | b"yeah" | b"okay" | b"ok" | b"sure" | b"please"
        | b"thanks" | b"thank" | b"just" | b"about" | b"over" | b"under" | b"also" | b"have"
        | b"has" | b"had" | b"do" | b"did" | b"can" | b"will" | b"would" | b"could" | b"should"
        | b"go" | b"get" | b"got" | b"make" | b"now" | b"when" | b"where" | b"how" | b"why"
        | b"who" => (Stop, 0),
        _ => (Plain, 0),
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
