//! Parsers for the small value types written as YAML strings: durations ("250ms", "30s",
//! "1h30m"), E.164 phone numbers, country codes, port ranges and opening-hours ranges.
//!
//! Each returns `Err(message)` with text meant for an admin; the caller adds `file:line:col`.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// Parses a duration written as one or more `<number><unit>` parts, units `ms`, `s`, `m`, `h`,
/// `d`: "250ms", "30s", "5m", "1h30m". "0s" (or plain "0") is zero. A bare number other than 0 is
/// rejected because its unit would be a guess.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let s = text.trim();
    let bad = || {
        format!(
            "invalid duration `{text}`: expected a number and a unit (ms, s, m, h, d), e.g. 30s, 5m, 250ms"
        )
    };
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    if s.is_empty() {
        return Err(bad());
    }
    let mut total = Duration::ZERO;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(bad());
        }
        let (number, after) = rest.split_at(digits);
        let unit_len = after.bytes().take_while(u8::is_ascii_alphabetic).count();
        if unit_len == 0 {
            return Err(bad());
        }
        let (unit, after) = after.split_at(unit_len);
        let n: u64 = number.parse().map_err(|_| bad())?;
        let millis_per_unit: u64 = match unit {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            _ => return Err(bad()),
        };
        let part = n
            .checked_mul(millis_per_unit)
            .ok_or_else(|| format!("duration `{text}` is too large"))?;
        total = total
            .checked_add(Duration::from_millis(part))
            .ok_or_else(|| format!("duration `{text}` is too large"))?;
        rest = after;
    }
    Ok(total)
}

/// Formats a duration the way the config writes it: "0s", "250ms", "30s", "5m", "1h30m".
pub fn format_duration(d: Duration) -> String {
    let mut ms = d.as_millis();
    if ms == 0 {
        return "0s".to_owned();
    }
    let mut out = String::new();
    for (unit, size) in [("h", 3_600_000u128), ("m", 60_000), ("s", 1_000), ("ms", 1)] {
        if ms >= size {
            out.push_str(&format!("{}{unit}", ms / size));
            ms %= size;
        }
    }
    out
}

/// Normalizes a phone number written in international form ("+1 555 0100", "+15550100") to
/// E.164 ("+15550100"). Numbers must start with `+`: a national number would depend on a
/// country the reader cannot see. libphonenumber "validity" is not required, so fictional 555
/// numbers are accepted.
pub fn normalize_e164(text: &str) -> Result<String, String> {
    let trimmed = text.trim();
    if !trimmed.starts_with('+') {
        return Err(format!(
            "invalid phone number `{text}`: write it in international E.164 form, e.g. +15550100"
        ));
    }
    let number = phonenumber::parse(None, trimmed)
        .map_err(|e| format!("invalid phone number `{text}`: {e}"))?;
    Ok(number.format().mode(phonenumber::Mode::E164).to_string())
}

/// Checks an ISO 3166-1 alpha-2 country code ("US", "de") and returns it upper-cased.
pub fn parse_country(text: &str) -> Result<String, String> {
    let upper = text.trim().to_ascii_uppercase();
    let known = upper.len() == 2 && phonenumber::country::Id::from_str(&upper).is_ok();
    if known {
        Ok(upper)
    } else {
        Err(format!(
            "unknown country `{text}`: expected an ISO 3166-1 alpha-2 code such as US, GB or DE"
        ))
    }
}

/// An inclusive UDP port range for RTP. RTP takes the even port and RTCP the odd one above it,
/// so the range starts on an even port and holds whole pairs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortRange {
    pub start: u16,
    pub end: u16,
}

impl PortRange {
    /// How many RTP/RTCP port pairs the range holds: the most concurrent media legs.
    pub fn pairs(&self) -> usize {
        (usize::from(self.end) - usize::from(self.start)).div_ceil(2)
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.start, self.end)
    }
}

impl FromStr for PortRange {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let bad = || format!("invalid port range `{text}`: expected START-END, e.g. 20000-29999");
        let (a, b) = text.trim().split_once('-').ok_or_else(bad)?;
        let start: u16 = a.trim().parse().map_err(|_| bad())?;
        let end: u16 = b.trim().parse().map_err(|_| bad())?;
        if start == 0 || start >= end {
            return Err(format!(
                "invalid port range `{text}`: the start must be above 0 and below the end"
            ));
        }
        if !start.is_multiple_of(2) {
            return Err(format!(
                "invalid port range `{text}`: the start must be even (RTP uses even ports, RTCP the next odd one)"
            ));
        }
        if end.is_multiple_of(2) {
            return Err(format!(
                "invalid port range `{text}`: the end must be odd so the range holds whole RTP/RTCP pairs"
            ));
        }
        Ok(PortRange { start, end })
    }
}

/// A daily opening range in minutes after local midnight, `start < end <= 1440` ("24:00").
/// Ranges crossing midnight are written as two ranges on two days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct OpenRange {
    pub start_minute: u16,
    pub end_minute: u16,
}

impl OpenRange {
    /// Whether `minute` (after local midnight) falls inside; the end is exclusive.
    pub fn contains(&self, minute: u16) -> bool {
        self.start_minute <= minute && minute < self.end_minute
    }
}

impl fmt::Display for OpenRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hm = |m: u16| format!("{:02}:{:02}", m / 60, m % 60);
        write!(f, "{}-{}", hm(self.start_minute), hm(self.end_minute))
    }
}

impl FromStr for OpenRange {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let bad =
            || format!("invalid opening range `{text}`: expected HH:MM-HH:MM, e.g. 08:00-18:00");
        let (a, b) = text.trim().split_once('-').ok_or_else(bad)?;
        let start = parse_hhmm(a.trim()).ok_or_else(bad)?;
        let end = parse_hhmm(b.trim()).ok_or_else(bad)?;
        if start >= end {
            return Err(format!(
                "invalid opening range `{text}`: it must end after it starts (split a range over midnight into two days)"
            ));
        }
        Ok(OpenRange {
            start_minute: start,
            end_minute: end,
        })
    }
}

/// "HH:MM" in 00:00..=24:00 as minutes after midnight.
fn parse_hhmm(s: &str) -> Option<u16> {
    let (h, m) = s.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let h: u16 = h.parse().ok()?;
    let m: u16 = m.parse().ok()?;
    if m >= 60 || h > 24 || (h == 24 && m != 0) {
        return None;
    }
    Some(h * 60 + m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        for bad in ["30", "", "s", "3x", "1.5s", "-1s", "30 s"] {
            assert!(parse_duration(bad).is_err(), "{bad} should be rejected");
        }
        assert_eq!(format_duration(Duration::from_secs(5400)), "1h30m");
        assert_eq!(format_duration(Duration::from_millis(250)), "250ms");
        assert_eq!(format_duration(Duration::ZERO), "0s");
    }

    #[test]
    fn phone_numbers() {
        assert_eq!(normalize_e164("+1 555 0100").as_deref(), Ok("+15550100"));
        assert_eq!(normalize_e164("+15550142").as_deref(), Ok("+15550142"));
        assert!(normalize_e164("5550100").is_err());
        assert!(normalize_e164("+abc").is_err());
    }

    #[test]
    fn countries() {
        assert_eq!(parse_country("us").as_deref(), Ok("US"));
        assert!(parse_country("XX").is_err());
        assert!(parse_country("USA").is_err());
    }

    #[test]
    fn port_ranges() {
        let r: PortRange = "20000-29999".parse().unwrap();
        assert_eq!(r.pairs(), 5000);
        assert!("20001-29999".parse::<PortRange>().is_err());
        assert!("20000-29998".parse::<PortRange>().is_err());
        assert!("30000-20001".parse::<PortRange>().is_err());
        assert!("20000".parse::<PortRange>().is_err());
    }

    #[test]
    fn open_ranges() {
        let r: OpenRange = "08:00-18:00".parse().unwrap();
        assert_eq!((r.start_minute, r.end_minute), (480, 1080));
        assert_eq!(r.to_string(), "08:00-18:00");
        assert!(r.contains(480) && !r.contains(1080));
        assert!("00:00-24:00".parse::<OpenRange>().is_ok());
        for bad in [
            "18:00-08:00",
            "8:00-18:00",
            "08:00-24:30",
            "08:60-09:00",
            "08:00",
        ] {
            assert!(
                bad.parse::<OpenRange>().is_err(),
                "{bad} should be rejected"
            );
        }
    }
}
