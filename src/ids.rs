//! Identifier formats with check digits: Chinese resident ID numbers (GB 11643-1999),
//! unified social credit codes (GB 32100-2015) and motor-vehicle plates (GA 36-2018).
//!
//! Each validator returns `Err` with a plain-language reason a person can act on; a reason
//! about an ID number never quotes the digits that [`mask_id`] hides.
//!
//! [`mask_id`] is the one rule for showing a person's ID number outside the service.

use std::borrow::Cow;

use chrono::NaiveDate;

const ID_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const ID_CHECK: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];

/// Checks an 18-character resident ID number: digits, a real birth date and the
/// ISO 7064 MOD 11-2 check character of GB 11643-1999.
pub fn check_id_number(id: &str) -> Result<(), String> {
    let chars: Vec<char> = id.chars().collect();
    if chars.len() != 18 {
        return Err(format!("must have 18 characters, has {}", chars.len()));
    }
    let mut sum = 0;
    for (c, w) in chars[..17].iter().zip(ID_WEIGHTS) {
        let d = c.to_digit(10).ok_or_else(|| format!("the first 17 characters must be digits, found `{c}`"))?;
        sum += d * w;
    }
    let birth: String = chars[6..14].iter().collect();
    if NaiveDate::parse_from_str(&birth, "%Y%m%d").is_err() {
        return Err("characters 7-14 are not a birth date (YYYYMMDD)".into());
    }
    // The expected character is not named: with the 17 digits it would complete a valid
    // number, and a typo may be in any digit, not in the check character.
    let given = chars[17].to_ascii_uppercase();
    if given != ID_CHECK[(sum % 11) as usize] {
        return Err(format!("check character `{given}` does not match the first 17 digits (GB 11643)"));
    }
    Ok(())
}

/// Masks a person's ID number for anything that leaves the service (reviews, the queue,
/// problem documents, logs): the first 4 and the last 2 characters stay, the rest become
/// `*`; 6 characters or fewer are masked whole.
pub fn mask_id(id: &str) -> String {
    let chars: Vec<char> = id.chars().collect();
    let n = chars.len();
    if n <= 6 {
        return "*".repeat(n);
    }
    chars.iter().enumerate().map(|(i, c)| if i < 4 || i >= n - 2 { *c } else { '*' }).collect()
}

/// Masks, with [`mask_id`], every resident ID number in free text: any run of ASCII letters
/// and digits that holds 17 digits in a row (a credit code of digits only looks the same
/// and is masked too). For text that may quote input or a registry answer verbatim (a
/// parser's message), where the ID number is not known beforehand.
pub fn mask_id_numbers(text: &str) -> Cow<'_, str> {
    let holds_id = |run: &str| run.split(|c: char| !c.is_ascii_digit()).any(|digits| digits.len() >= 17);
    let mut out = String::new();
    let (mut copied, mut run_start) = (0, None);
    // A space after the end closes the last run.
    for (i, c) in text.char_indices().chain([(text.len(), ' ')]) {
        match (c.is_ascii_alphanumeric(), run_start) {
            (true, None) => run_start = Some(i),
            (false, Some(start)) => {
                if holds_id(&text[start..i]) {
                    out.push_str(&text[copied..start]);
                    out.push_str(&mask_id(&text[start..i]));
                    copied = i;
                }
                run_start = None;
            }
            _ => {}
        }
    }
    if copied == 0 {
        return Cow::Borrowed(text);
    }
    out.push_str(&text[copied..]);
    Cow::Owned(out)
}

const USCC_CHARSET: &str = "0123456789ABCDEFGHJKLMNPQRTUWXY";
const USCC_WEIGHTS: [usize; 17] = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

/// Appends the GB 11643 check character to 17 digits (used to make demo data).
pub fn with_id_check(body: &str) -> String {
    let sum: u32 = body.chars().zip(ID_WEIGHTS).map(|(c, w)| c.to_digit(10).unwrap_or(0) * w).sum();
    format!("{body}{}", ID_CHECK[(sum % 11) as usize])
}

/// Appends the GB 32100 check character to 17 characters (used to make demo data).
pub fn with_uscc_check(body: &str) -> String {
    let sum: usize = body.chars().zip(USCC_WEIGHTS).map(|(c, w)| USCC_CHARSET.find(c).unwrap_or(0) * w).sum();
    let check = USCC_CHARSET.chars().nth((31 - sum % 31) % 31).unwrap_or('0');
    format!("{body}{check}")
}

/// Checks an 18-character unified social credit code against GB 32100-2015: the 31-character
/// alphabet (no I, O, S, V, Z) and the MOD 31 check character.
pub fn check_uscc(code: &str) -> Result<(), String> {
    let chars: Vec<char> = code.chars().collect();
    if chars.len() != 18 {
        return Err(format!("must have 18 characters, has {}", chars.len()));
    }
    let mut values = [0usize; 18];
    for (i, c) in chars.iter().enumerate() {
        values[i] = USCC_CHARSET
            .find(*c)
            .ok_or_else(|| format!("character `{c}` is not allowed (GB 32100 uses 0-9 and A-Y without I, O, S, V)"))?;
    }
    let sum: usize = values[..17].iter().zip(USCC_WEIGHTS).map(|(v, w)| v * w).sum();
    let check = (31 - sum % 31) % 31;
    if values[17] != check {
        let expected = USCC_CHARSET.chars().nth(check).unwrap_or('?');
        return Err(format!("check character is `{}`, expected `{expected}` (GB 32100)", chars[17]));
    }
    Ok(())
}

/// What a plate says about the unit it belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlateKind {
    /// Province, issuing-office letter and five characters.
    Ordinary,
    /// A trailer plate, ending in 挂.
    Trailer,
    /// A new-energy plate with six characters after the office letter.
    NewEnergy,
}

const PROVINCES: &str = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼";

fn plate_char(c: char) -> bool {
    // GA 36 leaves out I and O so they are not read as 1 and 0.
    c.is_ascii_digit() || (c.is_ascii_uppercase() && c != 'I' && c != 'O')
}

/// Checks a Chinese plate (GA 36-2018): ordinary `鲁H12345`, trailer `鲁H6789挂`,
/// new-energy `鲁AD12345` / `鲁A12345D`.
pub fn check_cn_plate(plate: &str) -> Result<PlateKind, String> {
    let chars: Vec<char> = plate.chars().collect();
    let (Some(province), Some(office)) = (chars.first(), chars.get(1)) else {
        return Err("is too short for a plate".into());
    };
    if !PROVINCES.contains(*province) {
        return Err(format!("must start with a province abbreviation such as 鲁, found `{province}`"));
    }
    if !office.is_ascii_uppercase() {
        return Err(format!("second character must be the issuing office letter, found `{office}`"));
    }
    let rest = &chars[2..];
    let all_plate_chars = |s: &[char]| s.iter().all(|c| plate_char(*c));
    let energy = |c: &char| *c == 'D' || *c == 'F';
    match rest {
        [body @ .., '挂'] if body.len() == 4 && all_plate_chars(body) => Ok(PlateKind::Trailer),
        body if body.len() == 5 && all_plate_chars(body) => Ok(PlateKind::Ordinary),
        [first, tail @ ..] if tail.len() == 5 && energy(first) && all_plate_chars(tail) => Ok(PlateKind::NewEnergy),
        [head @ .., last] if head.len() == 5 && energy(last) && head.iter().all(char::is_ascii_digit) => {
            Ok(PlateKind::NewEnergy)
        }
        _ => Err("does not match a GA 36 plate: province, office letter, then 5 characters, \
                  4 characters and 挂 for a trailer, or 6 for a new-energy vehicle"
            .into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_example_identifiers_are_valid() {
        assert_eq!(check_id_number("37080219900101123X"), Ok(()));
        assert_eq!(check_id_number("370811199003032313"), Ok(()));
        assert_eq!(check_uscc("91370800MA3C5Q8K44"), Ok(()));
        assert_eq!(check_cn_plate("鲁H12345"), Ok(PlateKind::Ordinary));
        assert_eq!(check_cn_plate("鲁H6789挂"), Ok(PlateKind::Trailer));
        assert_eq!(check_cn_plate("鲁AD12345"), Ok(PlateKind::NewEnergy));
        assert_eq!(check_cn_plate("鲁A12345D"), Ok(PlateKind::NewEnergy));
    }

    #[test]
    fn wrong_check_characters_are_named() {
        assert_eq!(
            check_id_number("370802199001011231"),
            Err("check character `1` does not match the first 17 digits (GB 11643)".into())
        );
        assert_eq!(check_uscc("91370800MA3C5Q8K45"), Err("check character is `5`, expected `4` (GB 32100)".into()));
        assert!(check_id_number("37080219901301123X").is_err(), "month 13");
        assert!(check_uscc("91370800MA3C5Q8KI4").is_err(), "I is not in the alphabet");
    }

    #[test]
    fn id_number_problems_do_not_quote_the_masked_digits() {
        assert_eq!(
            check_id_number("37080219901301123X"),
            Err("characters 7-14 are not a birth date (YYYYMMDD)".into())
        );
    }

    #[test]
    fn masks_keep_four_leading_and_two_trailing_characters() {
        assert_eq!(mask_id("37080219900101123X"), "3708************3X");
        assert_eq!(mask_id("TX-DL-40112233"), "TX-D********33");
        assert_eq!(mask_id("1234567"), "1234*67");
        assert_eq!(mask_id("123456"), "******");
        assert_eq!(mask_id(""), "");
    }

    #[test]
    fn id_numbers_in_text_are_masked_and_the_rest_is_kept() {
        assert_eq!(
            mask_id_numbers("wrong type: integer `370802199001011231`, expected text; 370811199003032313."),
            "wrong type: integer `3708************31`, expected text; 3708************13."
        );
        assert_eq!(mask_id_numbers("张三37080219900101123x"), "张三3708************3x");
        // Shorter numbers, credit codes and plates are not ID numbers.
        let other = "`53500` kg, `91370800MA3C5Q8K44`, `鲁H12345`, 2026-12-01T00:00:00Z";
        assert!(matches!(mask_id_numbers(other), Cow::Borrowed(t) if t == other));
    }

    #[test]
    fn generated_identifiers_carry_valid_check_characters() {
        assert_eq!(with_id_check("37080219900101123"), "37080219900101123X");
        assert_eq!(with_uscc_check("91370800MA3C5Q8K4"), "91370800MA3C5Q8K44");
    }

    #[test]
    fn malformed_plates_are_refused() {
        for bad in ["", "鲁", "XH12345", "鲁h12345", "鲁H1234", "鲁H1234O", "鲁H123456挂", "鲁AX12345"] {
            assert!(check_cn_plate(bad).is_err(), "{bad}");
        }
    }
}
