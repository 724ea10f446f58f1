//! Parsing of OpenStreetMap restriction values (`maxheight`, `maxweight`, ...).
//!
//! A value is either a limit in metres / kilograms, one of the words OSM uses
//! (`default`, `below_default`, `none`), or unparsed. Unparsed values are kept
//! verbatim by the caller and reported; nothing is ever guessed (no comma decimals,
//! no unit inferred from the size of a number, no ranges or lists).

use serde::{Deserialize, Serialize};

/// One parsed restriction value. Limits are in metres (lengths) or kilograms (masses).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParsedValue {
    /// A numeric limit: metres for lengths, kilograms for masses.
    Limit(f64),
    /// `default`: no posted sign, the legal limit applies.
    Default,
    /// `below_default`: lower than the legal limit, value unknown.
    BelowDefault,
    /// `none`: explicitly no limit.
    NoLimit,
    /// The value could not be parsed; the raw text is kept by the caller.
    Unparsed,
}

impl ParsedValue {
    /// The numeric limit, if there is one.
    pub fn limit(self) -> Option<f64> {
        match self {
            ParsedValue::Limit(v) => Some(v),
            _ => None,
        }
    }
}

use crate::units::{KG_PER_LONG_TON, KG_PER_POUND, KG_PER_SHORT_TON, KG_PER_TONNE, METRES_PER_FOOT, METRES_PER_INCH};

/// Largest length limit accepted as plausible, in metres; bigger numbers are more
/// likely centimetres or typos, and guessing which is not allowed.
const MAX_PLAUSIBLE_M: f64 = 100.0;
/// Largest mass limit accepted as plausible, in kilograms.
const MAX_PLAUSIBLE_KG: f64 = 1_000_000.0;

fn word(raw: &str) -> Option<ParsedValue> {
    match raw {
        "default" => Some(ParsedValue::Default),
        "below_default" => Some(ParsedValue::BelowDefault),
        "none" => Some(ParsedValue::NoLimit),
        _ => None,
    }
}

/// A plain decimal number with a dot (no sign, no exponent, no comma).
fn number(s: &str) -> Option<f64> {
    let s = s.trim();
    if s.is_empty()
        || s.starts_with('.')
        || s.ends_with('.')
        || !s.chars().all(|c| c.is_ascii_digit() || c == '.')
        || s.matches('.').count() > 1
    {
        return None;
    }
    s.parse::<f64>().ok().filter(|v| v.is_finite())
}

fn plausible(v: f64, max: f64) -> ParsedValue {
    if v > 0.0 && v <= max { ParsedValue::Limit(v) } else { ParsedValue::Unparsed }
}

/// Parses a length (`maxheight`, `maxwidth`, `maxlength`) into metres.
///
/// Accepted: `3.8`, `3.8 m`, `3.8m`, `380 cm`, `12'6"`, `12' 6"`, `12'`, `13 ft`,
/// `13 ft 6 in`, `default`, `below_default`, `none`.
pub fn parse_length_m(raw: &str) -> ParsedValue {
    let s = raw.trim();
    if let Some(w) = word(s) {
        return w;
    }
    let metres = feet_inches(s).or_else(|| {
        if let Some(n) = s.strip_suffix("cm") {
            number(n).map(|v| v / 100.0)
        } else if let Some(n) = s.strip_suffix('m') {
            number(n)
        } else if let Some(n) = s.strip_suffix("ft") {
            number(n).map(|v| v * METRES_PER_FOOT)
        } else {
            number(s)
        }
    });
    metres.map_or(ParsedValue::Unparsed, |v| plausible(v, MAX_PLAUSIBLE_M))
}

/// `12'6"`, `12' 6"`, `12'`, `13 ft 6 in`, `13ft6in`: imperial feet and inches.
fn feet_inches(s: &str) -> Option<f64> {
    let (feet, rest) = if let Some(i) = s.find('\'') {
        (&s[..i], &s[i + 1..])
    } else if let Some(i) = s.find("ft") {
        let rest = &s[i + 2..];
        // "13 ft" alone is handled by the caller; here we need inches after it.
        if rest.trim().is_empty() {
            return None;
        }
        (&s[..i], rest)
    } else {
        return None;
    };
    let feet = number(feet)?;
    let rest = rest.trim();
    let inches = if rest.is_empty() {
        0.0
    } else if let Some(n) = rest.strip_suffix('"') {
        number(n)?
    } else if let Some(n) = rest.strip_suffix("in") {
        number(n)?
    } else {
        return None;
    };
    if inches >= 12.0 {
        return None;
    }
    Some(feet * METRES_PER_FOOT + inches * METRES_PER_INCH)
}

/// Parses a mass (`maxweight`, `maxaxleload`) into kilograms.
///
/// Accepted: `7.5` (tonnes, the OSM default unit), `7.5 t`, `7500 kg`, `5 st`
/// (short tons), `5 lt` (long tons), `10000 lbs`, `default`, `below_default`, `none`.
pub fn parse_mass_kg(raw: &str) -> ParsedValue {
    let s = raw.trim();
    if let Some(w) = word(s) {
        return w;
    }
    // Longest suffixes first so that `st` is not read as `t`.
    const UNITS: [(&str, f64); 7] = [
        ("kg", 1.0),
        ("lbs", KG_PER_POUND),
        ("lb", KG_PER_POUND),
        ("st", KG_PER_SHORT_TON),
        ("lt", KG_PER_LONG_TON),
        ("t", KG_PER_TONNE),
        ("", KG_PER_TONNE),
    ];
    for (unit, factor) in UNITS {
        if let Some(n) = s.strip_suffix(unit) {
            if unit.is_empty() || n.ends_with(|c: char| c.is_ascii_digit() || c == ' ') {
                return number(n).map_or(ParsedValue::Unparsed, |v| plausible(v * factor, MAX_PLAUSIBLE_KG));
            }
            return ParsedValue::Unparsed;
        }
    }
    ParsedValue::Unparsed
}

/// Parses an OSM `layer` value (an integer, usually -5..=5).
pub fn parse_layer(raw: &str) -> Option<i8> {
    raw.trim().parse::<i8>().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(v: ParsedValue, want: f64) -> bool {
        v.limit().is_some_and(|x| (x - want).abs() < 1e-6)
    }

    #[test]
    fn lengths() {
        assert!(close(parse_length_m("3.8"), 3.8));
        assert!(close(parse_length_m("3.8 m"), 3.8));
        assert!(close(parse_length_m("3.8m"), 3.8));
        assert!(close(parse_length_m(" 4 "), 4.0));
        assert!(close(parse_length_m("380 cm"), 3.8));
        assert!(close(parse_length_m("12'6\""), 12.0 * 0.3048 + 6.0 * 0.0254));
        assert!(close(parse_length_m("12' 6\""), 12.0 * 0.3048 + 6.0 * 0.0254));
        assert!(close(parse_length_m("12'"), 12.0 * 0.3048));
        assert!(close(parse_length_m("13 ft"), 13.0 * 0.3048));
        assert!(close(parse_length_m("13ft"), 13.0 * 0.3048));
        assert!(close(parse_length_m("13 ft 6 in"), 13.5 * 0.3048));
        assert_eq!(parse_length_m("default"), ParsedValue::Default);
        assert_eq!(parse_length_m("below_default"), ParsedValue::BelowDefault);
        assert_eq!(parse_length_m("none"), ParsedValue::NoLimit);
    }

    #[test]
    fn lengths_never_guessed() {
        for raw in [
            "3,8", "", "m", "-3", "0", "3.8.1", "3.8;4.0", "approx 4", "380", "12'13\"", "4 yd", ".5", "5.", "1e2",
            "unsigned",
        ] {
            assert_eq!(parse_length_m(raw), ParsedValue::Unparsed, "{raw:?}");
        }
    }

    #[test]
    fn masses() {
        assert!(close(parse_mass_kg("7.5"), 7500.0));
        assert!(close(parse_mass_kg("7.5 t"), 7500.0));
        assert!(close(parse_mass_kg("7.5t"), 7500.0));
        assert!(close(parse_mass_kg("7500 kg"), 7500.0));
        assert!(close(parse_mass_kg("5 st"), 5.0 * 907.184_74));
        assert!(close(parse_mass_kg("5 lt"), 5.0 * 1_016.046_908_8));
        assert!(close(parse_mass_kg("10000 lbs"), 4535.9237));
        assert_eq!(parse_mass_kg("default"), ParsedValue::Default);
        assert_eq!(parse_mass_kg("none"), ParsedValue::NoLimit);
    }

    #[test]
    fn masses_never_guessed() {
        for raw in ["7,5", "t", "kg", "-1", "0 t", "3.5;7.5", "7.5 tons", "heavy", "5 kt", ""] {
            assert_eq!(parse_mass_kg(raw), ParsedValue::Unparsed, "{raw:?}");
        }
    }

    #[test]
    fn layer() {
        assert_eq!(parse_layer("-1"), Some(-1));
        assert_eq!(parse_layer("1;2"), None);
    }

    proptest::proptest! {
        #[test]
        fn parsers_never_panic(s in "\\PC{0,12}") {
            let _ = parse_length_m(&s);
            let _ = parse_mass_kg(&s);
        }

        #[test]
        fn metres_round_trip(cm in 1u32..10_000) {
            let v = f64::from(cm) / 100.0;
            let raw = format!("{v} m");
            proptest::prop_assert!(close(parse_length_m(&raw), v));
        }
    }
}
