//! Numbers an agent types (on the panel's dial pad, or dialed from a SIP phone) turned into E.164
//! for outbound calls and transfers, read against the agent's country (ITU-T E.164, E.123).
//!
//! Accepted: national numbers ("(415) 555-0134", "020 7946 0018"), international numbers with a
//! leading `+` or with the country's international prefix ("0044 …" from GB, "011 44 …" from the
//! US, "0011 …" from AU), separated by spaces, dots, dashes, slashes or parentheses, full-width
//! digits included. Refused: letters (vanity numbers, "x12" extensions), `*` and `#` (service
//! codes), and short codes such as 911 or 112, which have no E.164 form: a caller that offers
//! those handles them before calling [`to_e164`].
//!
//! Validity: a number must be valid by libphonenumber's metadata (`phonenumber::is_valid`): the
//! digits must fit a number range the country has assigned, not only a plausible length. A
//! contact center pays for and reports on every call it places, so a typo is better caught in the
//! panel than by the carrier. The one exception is the NANP fictional range 555-0100..555-0199
//! (`is_nanp_fictional`), which the demo config and tests use.
//!
//! Numbers with a `+` or an international prefix are parsed without a default country: the
//! phonenumber crate (0.3.10) strips the *default* country's national prefix from them, turning
//! "+44 121 234 5678" typed in the US into +44212345678.

use phonenumber::metadata::{DATABASE, Metadata};
use phonenumber::{Mode, ParseError, PhoneNumber, country};
use std::str::FromStr;

/// Why a typed number cannot be dialed. The messages are shown to the agent in the panel and
/// returned by the API as the reason, so they use plain words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NumberError {
    /// Nothing but spaces and separators (or a lone `+`) was typed.
    #[error("no number was entered")]
    Empty,
    /// Characters that are neither digits, a leading `+` nor separators, each listed once, in the
    /// order typed.
    #[error(
        "{} not part of a phone number: {}",
        if .0.len() == 1 { "this character is" } else { "these characters are" },
        char_list(.0)
    )]
    InvalidCharacters(Vec<char>),
    /// A `+` after the first digit.
    #[error("a + can only come at the start of the number")]
    MisplacedPlus,
    /// The country the number was read against is not an ISO 3166-1 alpha-2 code with
    /// numbering metadata: a configuration problem, not the agent's.
    #[error("unknown country code `{0}`")]
    UnknownCountry(String),
    /// The digits after `+` (or the international prefix) start with no country calling code.
    #[error("the number does not start with a known country calling code")]
    UnknownCallingCode,
    /// Fewer digits than any number of the country has (7-digit US numbers without an area code
    /// land here).
    #[error("the number is too short")]
    TooShort,
    /// More digits than any number of the country has.
    #[error("the number is too long")]
    TooLong,
    /// A plausible length, but not in a range the country has assigned. `country` is the ISO
    /// 3166-1 alpha-2 code (for a calling code several countries share, the main one: US for +1),
    /// or the calling code ("+800") for non-geographic numbers.
    #[error("not a valid number for {country}")]
    NotValid { country: String },
}

fn char_list(chars: &[char]) -> String {
    chars
        .iter()
        .map(|c| c.escape_debug().to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Formats `input`, as the agent typed it, to E.164 ("+442079460018").
///
/// `country` (ISO 3166-1 alpha-2, any case) is the user's country, else the instance default:
/// it decides how national numbers and the international prefix are read.
pub fn to_e164(input: &str, country: &str) -> Result<String, NumberError> {
    let typed = Typed::read(input)?;
    let (id, region) = region(country)?;
    let international = if typed.plus {
        Some(typed.digits.as_str())
    } else {
        strip_international_prefix(region, &typed.digits)
    };
    let parsed = match international {
        Some(rest) => phonenumber::parse(None, format!("+{rest}")),
        None => phonenumber::parse(Some(id), &typed.digits),
    };
    let number = parsed.map_err(|e| match e {
        ParseError::InvalidCountryCode => NumberError::UnknownCallingCode,
        ParseError::TooLong => NumberError::TooLong,
        ParseError::NoNumber
        | ParseError::TooShortAfterIdd
        | ParseError::TooShortNsn
        | ParseError::MalformedInteger(_) => NumberError::TooShort,
    })?;
    let national_region = if international.is_none() {
        Some(region)
    } else {
        None
    };
    checked(&number, national_region)
}

/// Whether `code` is an ISO 3166-1 alpha-2 country code (any case) [`to_e164`] can read numbers
/// against.
pub fn country_known(code: &str) -> bool {
    region(code).is_ok()
}

/// ITU-T E.164 §6.1: country code plus national significant number is at most 15 digits.
const E164_MAX_DIGITS: usize = 15;

/// The typed input reduced to an optional leading `+` and ASCII digits.
struct Typed {
    plus: bool,
    digits: String,
}

impl Typed {
    fn read(input: &str) -> Result<Typed, NumberError> {
        let mut typed = Typed {
            plus: false,
            digits: String::new(),
        };
        let mut invalid = Vec::new();
        let mut misplaced_plus = false;
        for c in input.chars() {
            if let Some(digit) = ascii_digit(c) {
                typed.digits.push(digit);
            } else if matches!(c, '+' | '\u{FF0B}') {
                if typed.plus || !typed.digits.is_empty() {
                    misplaced_plus = true;
                }
                typed.plus = true;
            } else if !is_separator(c) && !invalid.contains(&c) {
                invalid.push(c);
            }
        }
        if !invalid.is_empty() {
            return Err(NumberError::InvalidCharacters(invalid));
        }
        if misplaced_plus {
            return Err(NumberError::MisplacedPlus);
        }
        if typed.digits.is_empty() {
            return Err(NumberError::Empty);
        }
        Ok(typed)
    }
}

/// ASCII and full-width digits (a Japanese input method types the latter).
fn ascii_digit(c: char) -> Option<char> {
    match c {
        '0'..='9' => Some(c),
        '\u{FF10}'..='\u{FF19}' => char::from_u32(u32::from(c) - 0xFF10 + u32::from('0')),
        _ => None,
    }
}

/// What people put between digit groups, including what a copy from a web page or a
/// spreadsheet brings along (no-break and zero-width spaces, typographic dashes).
fn is_separator(c: char) -> bool {
    const SEPARATORS: &[char] = &[
        '-', '.', '(', ')', '/', // ASCII
        '\u{00AD}', '\u{200B}', '\u{2060}', '\u{FEFF}', // soft hyphen, zero-width spaces
        '\u{2212}', '\u{30FC}', // minus sign, katakana long vowel mark used as a dash
        '\u{FF08}', '\u{FF09}', '\u{FF0D}', '\u{FF0E}', '\u{FF0F}', // full-width ( ) - . /
    ];
    c.is_whitespace() || ('\u{2010}'..='\u{2015}').contains(&c) || SEPARATORS.contains(&c)
}

fn region(code: &str) -> Result<(country::Id, &'static Metadata), NumberError> {
    let upper = code.trim().to_ascii_uppercase();
    let unknown = || NumberError::UnknownCountry(code.trim().to_owned());
    if upper.len() != 2 {
        return Err(unknown());
    }
    let id = country::Id::from_str(&upper).map_err(|_| unknown())?;
    let region = DATABASE.by_id(upper.as_str()).ok_or_else(unknown)?;
    Ok((id, region))
}

/// The digits after the country's international prefix ("00", "011", "0011", a Brazilian
/// carrier's "0021"), if they start with it. As in libphonenumber, a 0 right after the prefix
/// means it was not one.
fn strip_international_prefix<'a>(region: &Metadata, digits: &'a str) -> Option<&'a str> {
    let found = region.international_prefix()?.find(digits)?;
    let rest = &digits[found.end()..];
    (found.start() == 0 && !rest.starts_with('0')).then_some(rest)
}

/// `number` in E.164 if it is valid (or NANP fictional), else why not. `national_region` is the
/// country a national number was read against; `None` for international input.
fn checked(
    number: &PhoneNumber,
    national_region: Option<&Metadata>,
) -> Result<String, NumberError> {
    let e164 = number.format().mode(Mode::E164).to_string();
    let code = number.code().value();
    let significant = number.national().to_string();
    // German fixed-line numbers, for one, may be "valid" with up to 15 digits after +49.
    if e164.len() > E164_MAX_DIGITS + 1 {
        return Err(NumberError::TooLong);
    }
    if number.is_valid() || is_nanp_fictional(code, &significant) {
        return Ok(e164);
    }
    // The country whose lengths and name apply: the one a national number was read against,
    // else the one the digits point to, else the main country for the calling code (US for +1).
    let meta = national_region
        .or_else(|| number.metadata(&DATABASE))
        .or_else(|| {
            let sharing = DATABASE.by_code(&code).unwrap_or_default();
            let main = sharing.iter().find(|m| m.is_main_country_for_code());
            main.or(sharing.first()).copied()
        });
    let Some(meta) = meta else {
        return Err(NumberError::UnknownCallingCode);
    };
    let (shortest, longest) =
        possible_lengths(meta).fold((u16::MAX, 0), |(lo, hi), l| (lo.min(l), hi.max(l)));
    let length = u16::try_from(significant.len()).unwrap_or(u16::MAX);
    if length < shortest {
        return Err(NumberError::TooShort);
    }
    if length > longest {
        return Err(NumberError::TooLong);
    }
    // Non-geographic numbers (+800, +882) have metadata under "001".
    let country = if meta.id().len() == 2 {
        meta.id().to_owned()
    } else {
        format!("+{code}")
    };
    Err(NumberError::NotValid { country })
}

/// Lengths of the country's national significant numbers, over every kind of number that has an
/// E.164 form (short codes and emergency numbers left out).
fn possible_lengths(meta: &Metadata) -> impl Iterator<Item = u16> + '_ {
    let d = meta.descriptors();
    [
        d.fixed_line(),
        d.mobile(),
        d.toll_free(),
        d.premium_rate(),
        d.shared_cost(),
        d.personal_number(),
        d.voip(),
        d.pager(),
        d.uan(),
        d.voicemail(),
    ]
    .into_iter()
    .flatten()
    .flat_map(|desc| desc.possible_length().iter().copied())
}

/// The NANP range reserved for fiction, 555-0100 through 555-0199: `+1 NXX 555 01XX`, and
/// the area-code-less `+1 555 01XX` the demo config uses (+15550100, +15550199). libphonenumber
/// calls these invalid; they are accepted so the demo and the tests can dial their own numbers.
/// No real subscriber has one, so accepting them cannot reach a stranger.
fn is_nanp_fictional(code: u16, significant: &str) -> bool {
    let subscriber = match significant.len() {
        7 => significant,
        10 if matches!(significant.as_bytes()[0], b'2'..=b'9') => &significant[3..],
        _ => return false,
    };
    code == 1 && subscriber.starts_with("55501") && subscriber.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn ok(input: &str, country: &str) -> String {
        match to_e164(input, country) {
            Ok(e164) => e164,
            Err(e) => panic!("{input:?} in {country}: {e}"),
        }
    }

    fn err(input: &str, country: &str) -> NumberError {
        to_e164(input, country).unwrap_err()
    }

    fn not_valid(country: &str) -> NumberError {
        NumberError::NotValid {
            country: country.to_owned(),
        }
    }

    #[test]
    fn us_national() {
        assert_eq!(ok("(415) 555-0134", "US"), "+14155550134");
        assert_eq!(ok("201-555-0123", "US"), "+12015550123");
        assert_eq!(ok("201.555.0123", "US"), "+12015550123");
        assert_eq!(ok("2015550123", "US"), "+12015550123");
        // The national prefix 1, as dialed on US phones.
        assert_eq!(ok("1 (201) 555-0123", "US"), "+12015550123");
        // Another NANP country's number read as national.
        assert_eq!(ok("(201) 555-0123", "CA"), "+12015550123");
    }

    #[test]
    fn us_international() {
        assert_eq!(ok("+1 201 555 0123", "US"), "+12015550123");
        assert_eq!(ok("011 44 20 7946 0018", "US"), "+442079460018");
        assert_eq!(ok("011-49-30-123456", "US"), "+4930123456");
        assert_eq!(ok("+44 20 7946 0018", "US"), "+442079460018");
    }

    #[test]
    fn gb() {
        assert_eq!(ok("020 7946 0018", "GB"), "+442079460018");
        assert_eq!(ok("0121 234 5678", "GB"), "+441212345678");
        assert_eq!(ok("07400 123456", "GB"), "+447400123456");
        assert_eq!(ok("0044 20 7946 0018", "GB"), "+442079460018");
        assert_eq!(ok("00 1 415 555 0134", "GB"), "+14155550134");
        // The "(0)" British writers put in international numbers.
        assert_eq!(ok("+44 (0)20 7946 0018", "GB"), "+442079460018");
        assert_eq!(ok("+44 (0)20 7946 0018", "FR"), "+442079460018");
    }

    /// phonenumber 0.3.10 strips the default country's national prefix (US: 1) from a `+`
    /// number: "+44 121 …" with a US default parsed as +44212345678.
    #[test]
    fn international_number_ignores_the_default_national_prefix() {
        assert_eq!(ok("+44 121 234 5678", "US"), "+441212345678");
        assert_eq!(ok("011 44 121 234 5678", "US"), "+441212345678");
        assert_eq!(ok("+49 (0)30 123456", "US"), "+4930123456");
    }

    #[test]
    fn de() {
        assert_eq!(ok("030 123456", "DE"), "+4930123456");
        assert_eq!(ok("030/123456", "DE"), "+4930123456");
        assert_eq!(ok("0151 12345678", "DE"), "+4915112345678");
        assert_eq!(ok("+49 (0)30 123456", "DE"), "+4930123456");
        assert_eq!(ok("00 44 20 7946 0018", "DE"), "+442079460018");
    }

    #[test]
    fn fr() {
        assert_eq!(ok("01 23 45 67 89", "FR"), "+33123456789");
        assert_eq!(ok("06.12.34.56.78", "FR"), "+33612345678");
        assert_eq!(ok("+33 1 23 45 67 89", "FR"), "+33123456789");
        assert_eq!(ok("00 33 6 12 34 56 78", "DE"), "+33612345678");
    }

    #[test]
    fn india() {
        assert_eq!(ok("07410 410123", "IN"), "+917410410123");
        assert_eq!(ok("81234 56789", "IN"), "+918123456789");
        assert_eq!(ok("081234 56789", "IN"), "+918123456789");
        assert_eq!(ok("+91 81234 56789", "GB"), "+918123456789");
        assert_eq!(ok("00 1 201 555 0123", "IN"), "+12015550123");
    }

    #[test]
    fn au() {
        assert_eq!(ok("(02) 1234 5678", "AU"), "+61212345678");
        assert_eq!(ok("0412 345 678", "AU"), "+61412345678");
        assert_eq!(ok("0011 44 20 7946 0018", "AU"), "+442079460018");
        assert_eq!(ok("+61 412 345 678", "US"), "+61412345678");
    }

    #[test]
    fn br() {
        assert_eq!(ok("(11) 2345-6789", "BR"), "+551123456789");
        assert_eq!(ok("(11) 96123-4567", "BR"), "+5511961234567");
        // Brazil's international prefix carries a carrier code: 00 + 21 + number.
        assert_eq!(ok("0021 44 20 7946 0018", "BR"), "+442079460018");
        assert_eq!(ok("+55 11 96123 4567", "DE"), "+5511961234567");
    }

    #[test]
    fn jp() {
        assert_eq!(ok("03-1234-5678", "JP"), "+81312345678");
        assert_eq!(ok("090-1234-5678", "JP"), "+819012345678");
        assert_eq!(ok("010 44 20 7946 0018", "JP"), "+442079460018");
        assert_eq!(ok("+81 3 1234 5678", "US"), "+81312345678");
        // Full-width digits and dashes from a Japanese input method.
        assert_eq!(ok("０３－１２３４－５６７８", "JP"), "+81312345678");
        assert_eq!(ok("＋８１ ９０ １２３４ ５６７８", "JP"), "+819012345678");
    }

    #[test]
    fn separators_from_pasted_text() {
        // No-break space, en dash, zero-width space, tab.
        assert_eq!(ok("020\u{A0}7946\u{2013}0018", "GB"), "+442079460018");
        assert_eq!(ok("\t(415)\u{200B}555 0134 ", "US"), "+14155550134");
    }

    #[test]
    fn country_any_case() {
        assert_eq!(ok("020 7946 0018", "gb"), "+442079460018");
        assert_eq!(ok("020 7946 0018", " Gb "), "+442079460018");
        assert!(country_known("de"));
        assert!(!country_known("XX"));
        assert!(!country_known("USA"));
        assert!(!country_known(""));
    }

    #[test]
    fn nanp_fictional_numbers_are_accepted() {
        // The demo config's numbers, typed in every way an agent might.
        assert_eq!(ok("+15550100", "US"), "+15550100");
        assert_eq!(ok("+1 555 0199", "GB"), "+15550199");
        assert_eq!(ok("555-0100", "US"), "+15550100");
        assert_eq!(ok("1 555 0142", "US"), "+15550142");
        // The range inside an area code, one libphonenumber does not consider in service.
        let unassigned = phonenumber::parse(None, "+12005550100").unwrap();
        assert!(!unassigned.is_valid());
        assert_eq!(ok("(200) 555-0100", "US"), "+12005550100");
        assert_eq!(ok("+1 200 555 0199", "DE"), "+12005550199");
    }

    #[test]
    fn outside_the_fictional_range_validity_applies() {
        assert_eq!(err("+1 200 555 0200", "US"), not_valid("US"));
        assert_eq!(err("(200) 555-0099", "US"), not_valid("US"));
        assert_eq!(err("555-0200", "US"), NumberError::TooShort);
        // Outside NANP, 555 01XX is nothing special: GB has 7-digit numbers, but not this one.
        assert_eq!(err("+44 555 0100", "US"), not_valid("GB"));
    }

    #[test]
    fn empty() {
        assert_eq!(err("", "US"), NumberError::Empty);
        assert_eq!(err("   ", "US"), NumberError::Empty);
        assert_eq!(err("+", "US"), NumberError::Empty);
        assert_eq!(err("( ) -", "US"), NumberError::Empty);
    }

    #[test]
    fn characters_that_are_not_part_of_a_number() {
        assert_eq!(
            err("1-800-FLOWERS", "US"),
            NumberError::InvalidCharacters(vec!['F', 'L', 'O', 'W', 'E', 'R', 'S'])
        );
        assert_eq!(
            err("415 555 0134 x12", "US"),
            NumberError::InvalidCharacters(vec!['x'])
        );
        assert_eq!(
            err("*67 415 555 0134#", "US"),
            NumberError::InvalidCharacters(vec!['*', '#'])
        );
        assert_eq!(
            err("sip:+14155550134", "US"),
            NumberError::InvalidCharacters(vec!['s', 'i', 'p', ':'])
        );
        assert_eq!(err("44+20 7946 0018", "GB"), NumberError::MisplacedPlus);
        assert_eq!(err("++44 20 7946 0018", "GB"), NumberError::MisplacedPlus);
    }

    #[test]
    fn too_short() {
        assert_eq!(err("1", "US"), NumberError::TooShort);
        assert_eq!(err("12", "US"), NumberError::TooShort);
        assert_eq!(err("911", "US"), NumberError::TooShort);
        assert_eq!(err("112", "DE"), NumberError::TooShort);
        // A US number without its area code.
        assert_eq!(err("555-0234", "US"), NumberError::TooShort);
        assert_eq!(err("+44 20", "US"), NumberError::TooShort);
        assert_eq!(err("0044", "GB"), NumberError::TooShort);
    }

    #[test]
    fn too_long() {
        assert_eq!(err("020 7946 00189", "GB"), NumberError::TooLong);
        assert_eq!(err("+44 20 7946 00189", "US"), NumberError::TooLong);
        assert_eq!(err("(415) 555-01345", "US"), NumberError::TooLong);
        assert_eq!(
            err("+1 415 555 0134 5678 9012 34", "US"),
            NumberError::TooLong
        );
        // 00 is not the US international prefix (011 is): read as a national number.
        assert_eq!(err("00 44 20 7946 0018", "US"), NumberError::TooLong);
        // libphonenumber takes German fixed-line numbers of up to 15 digits after +49; E.164
        // stops at 15 in all.
        assert_eq!(ok("089 1234 5678 901", "DE"), "+498912345678901");
        assert_eq!(err("089 1234 5678 9012", "DE"), NumberError::TooLong);
    }

    #[test]
    fn invalid_for_the_country() {
        // GB has 9-digit numbers, but none starting 20.
        assert_eq!(err("020 7946 001", "GB"), not_valid("GB"));
        assert_eq!(err("+44 20 7946 001", "US"), not_valid("GB"));
        // No US area code starts with 0 or 1.
        assert_eq!(err("(015) 555-0134", "US"), not_valid("US"));
        assert_eq!(err("+1 115 555 0134", "DE"), not_valid("US"));
        assert_eq!(err("09 12 34 56 78 9", "FR"), NumberError::TooLong);
        assert_eq!(err("00 12 34 56 78", "FR"), NumberError::TooShort);
    }

    #[test]
    fn unknown_calling_code() {
        assert_eq!(err("+999 1234 5678", "US"), NumberError::UnknownCallingCode);
        assert_eq!(
            err("011 999 1234 5678", "US"),
            NumberError::UnknownCallingCode
        );
    }

    #[test]
    fn unknown_country() {
        assert_eq!(
            err("020 7946 0018", "XX"),
            NumberError::UnknownCountry("XX".to_owned())
        );
        assert_eq!(
            err("+44 20 7946 0018", "UK"),
            NumberError::UnknownCountry("UK".to_owned())
        );
        assert_eq!(
            err("020 7946 0018", ""),
            NumberError::UnknownCountry(String::new())
        );
        assert_eq!(
            err("020 7946 0018", "001"),
            NumberError::UnknownCountry("001".to_owned())
        );
    }

    #[test]
    fn messages() {
        let message = |input, country| err(input, country).to_string();
        assert_eq!(message("", "US"), "no number was entered");
        assert_eq!(
            message("1-800-FLOWERS", "US"),
            "these characters are not part of a phone number: F L O W E R S"
        );
        assert_eq!(
            message("415 555 0134 x12", "US"),
            "this character is not part of a phone number: x"
        );
        assert_eq!(
            message("44+20", "GB"),
            "a + can only come at the start of the number"
        );
        assert_eq!(message("020 7946 0018", "XX"), "unknown country code `XX`");
        assert_eq!(
            message("+999 1234 5678", "US"),
            "the number does not start with a known country calling code"
        );
        assert_eq!(message("12", "US"), "the number is too short");
        assert_eq!(message("020 7946 00189", "GB"), "the number is too long");
        assert_eq!(message("020 7946 001", "GB"), "not a valid number for GB");
    }
}
