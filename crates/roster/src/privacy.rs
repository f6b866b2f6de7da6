//! Masking of personal identifiers in anything the tools print or write.

/// Masks a resident ID number, keeping the area code (6 characters) and the
/// last 4: `420921199001011234` becomes `420921********1234`. Keys that do not
/// look like an ID number (15 or 18 characters, digits with an optional final
/// `X`) are returned unchanged: they carry no personal information by
/// themselves.
pub fn mask_id(key: &str) -> String {
    if looks_like_id(key) {
        let n = key.len();
        format!("{}{}{}", &key[..6], "*".repeat(n - 10), &key[n - 4..])
    } else {
        key.to_string()
    }
}

/// Masks everything in `text` that looks like a resident ID number,
/// however it is written: 18 characters (17 digits and a digit or `X`/`x`)
/// or 15 digits, in ASCII or full-width digits, with spaces, non-breaking
/// or zero-width spaces or dashes inside; each becomes its masked form
/// (`420921********1234`). A run of more digits than an ID number is left
/// as it is (it is no ID number).
pub fn scrub(text: &str) -> std::borrow::Cow<'_, str> {
    // quick exit: fewer than 15 digits of any kind, nothing to mask
    let digits = text.chars().filter(|&c| digit(c).is_some()).count();
    if digits < 15 {
        return text.into();
    }
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0; // bytes of `text` already in `out`
    let mut i = 0;
    while i < chars.len() {
        // a run starts at a digit not preceded by a digit
        if digit(chars[i].1).is_none() || (i > 0 && digit(chars[i - 1].1).is_some()) {
            i += 1;
            continue;
        }
        let (mut found, mut j, mut last_digit_at) = (String::new(), i, i);
        // the run: digits, separators between them, a final X
        while j < chars.len() {
            let c = chars[j].1;
            if let Some(d) = digit(c) {
                found.push(d);
                last_digit_at = j;
            } else if found.len() == 17 && matches!(c, 'x' | 'X' | 'ｘ' | 'Ｘ') {
                found.push('X');
                last_digit_at = j;
                break;
            } else if !separator(c) || found.len() > 18 {
                break;
            }
            j += 1;
        }
        let end = last_digit_at + 1;
        let next_is_digit = chars.get(end).is_some_and(|&(_, c)| digit(c).is_some());
        if (found.len() == 18 || found.len() == 15) && !next_is_digit {
            let start = chars[i].0;
            let stop = chars.get(end).map_or(text.len(), |&(at, _)| at);
            out.push_str(&text[copied..start]);
            out.push_str(&mask_id(&found));
            copied = stop;
        }
        i = end.max(i + 1);
    }
    if copied == 0 {
        return text.into();
    }
    out.push_str(&text[copied..]);
    out.into()
}

pub use hhrisk_tables::escape_controls;

/// The ASCII digit a character writes (ASCII or full-width), if any.
fn digit(c: char) -> Option<char> {
    match c {
        '0'..='9' => Some(c),
        '\u{FF10}'..='\u{FF19}' => char::from_u32(c as u32 - 0xFF10 + u32::from(b'0')),
        _ => None,
    }
}

/// Characters people put inside an ID number: spaces (ordinary,
/// non-breaking, ideographic, zero-width) and dashes.
fn separator(c: char) -> bool {
    matches!(
        c,
        ' ' | '-' | '\u{A0}' | '\u{3000}' | '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{2060}' | '\u{FEFF}'
    )
}

/// Masks a person's name, keeping the first character (usually the
/// surname): `张三丰` becomes `张**`. Empty stays empty.
pub fn mask_name(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => format!("{first}{}", "*".repeat(chars.count())),
        None => String::new(),
    }
}

/// A person id as it is compared for repeats: a resident ID number's check
/// character `x` written as `X` (GB 11643 writes it in capitals; both are
/// the same person), any other id as written.
pub fn person_key(id: &str) -> std::borrow::Cow<'_, str> {
    let b = id.as_bytes();
    if b.len() == 18 && b[17] == b'x' && b[..17].iter().all(u8::is_ascii_digit) {
        format!("{}X", &id[..17]).into()
    } else {
        id.into()
    }
}

/// Why a text is not a valid resident ID number (GB 11643). Displayed,
/// it completes a sentence that starts with the (masked) number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// Not 17 digits and a digit or X.
    #[error("is not an 18-character resident ID number (17 digits, then a digit or X)")]
    Form,
    /// The check character does not match the digits.
    #[error("has a wrong check character ({found} instead of {expected}): a digit was mistyped")]
    Check {
        /// The check character written.
        found: char,
        /// The one the digits give.
        expected: char,
    },
    /// Digits 7 to 14 are no date.
    #[error("holds no valid birth date (digits 7 to 14)")]
    BirthDate,
}

/// What a resident ID number says: birth date (day number) and sex, or
/// why it is not a valid number (form, date or check character, by GB
/// 11643).
pub fn parse_resident_id(id: &str) -> Result<(i32, bool), IdError> {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let b = id.as_bytes();
    if b.len() != 18
        || !b[..17].iter().all(u8::is_ascii_digit)
        || !(b[17].is_ascii_digit() || b[17] == b'X' || b[17] == b'x')
    {
        return Err(IdError::Form);
    }
    let sum: u32 = b[..17].iter().zip(WEIGHTS).map(|(d, w)| u32::from(d - b'0') * w).sum();
    let check = b"10X98765432"[(sum % 11) as usize];
    if b[17].to_ascii_uppercase() != check {
        return Err(IdError::Check { found: b[17] as char, expected: check as char });
    }
    let (y, m, d) = birth_digits(b);
    let born = hhrisk_tables::date::days_from_civil(y, m, d).ok_or(IdError::BirthDate)?;
    Ok((born, (b[16] - b'0') % 2 == 1))
}

/// Year, month and day as written in digits 7 to 14 of an ID number
/// (bytes already checked to be digits).
fn birth_digits(b: &[u8]) -> (i32, u32, u32) {
    let number = |r: std::ops::Range<usize>| b[r].iter().fold(0u32, |n, &c| n * 10 + u32::from(c - b'0'));
    (number(6..10) as i32, number(10..12), number(12..14))
}

/// Full years on a day given as year, month and day, of a person whose ID
/// number `parse_resident_id` accepted: [`age_on`] without converting day
/// numbers back to dates.
pub fn age_from_id(id: &str, on: (i32, u32, u32)) -> i64 {
    let (by, bm, bd) = birth_digits(id.as_bytes());
    i64::from(on.0 - by) - i64::from((on.1, on.2) < (bm, bd))
}

/// Full years from birth day `born` to day `on`.
pub fn age_on(born: i32, on: i32) -> i64 {
    let (by, bm, bd) = hhrisk_tables::date::civil_from_days(born);
    let (y, m, d) = hhrisk_tables::date::civil_from_days(on);
    i64::from(y - by) - i64::from((m, d) < (bm, bd))
}

/// Whether a key has the shape of a mainland resident ID number.
pub fn looks_like_id(key: &str) -> bool {
    let b = key.as_bytes();
    (b.len() == 18 || b.len() == 15)
        && b[..b.len() - 1].iter().all(u8::is_ascii_digit)
        && (b[b.len() - 1].is_ascii_digit() || b[b.len() - 1] == b'X' || b[b.len() - 1] == b'x')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_ids_and_leaves_other_keys() {
        assert_eq!(mask_id("42092119900101123X"), "420921********123X");
        assert_eq!(mask_id("420921900101123"), "420921*****1123");
        assert_eq!(mask_id("P0001"), "P0001");
        assert_eq!(mask_id("4209211990010112345"), "4209211990010112345");
        assert_eq!(mask_name("张三丰"), "张**");
        // GB 11643's worked example
        let (born, male) = parse_resident_id("11010519491231002X").unwrap();
        assert_eq!((hhrisk_tables::date::format_date(born), male), ("1949-12-31".to_string(), false));
        assert_eq!(age_on(born, hhrisk_tables::date::parse_date("2024-06-30").unwrap()), 74);
        assert_eq!(age_on(born, hhrisk_tables::date::parse_date("2024-12-31").unwrap()), 75);
        assert_eq!(
            parse_resident_id("110105194912310021"),
            Err(IdError::Check { found: '1', expected: 'X' })
        );
        assert!(parse_resident_id("110105194912310021")
            .unwrap_err()
            .to_string()
            .contains("check character (1 instead of X)"));
        assert!(parse_resident_id("11010519491331002X").is_err());
        assert!(parse_resident_id("P0001").unwrap_err().to_string().contains("18-character"));
        assert_eq!(mask_name(""), "");
    }
}

#[cfg(test)]
mod age_tests {
    use super::*;

    /// An ID number with the right check character for a birth date.
    fn id_born(y: i32, m: u32, d: u32) -> String {
        const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
        let body = format!("420921{y:04}{m:02}{d:02}001");
        let sum: u32 = body.bytes().zip(WEIGHTS).map(|(c, w)| u32::from(c - b'0') * w).sum();
        format!("{body}{}", b"10X98765432"[(sum % 11) as usize] as char)
    }

    proptest::proptest! {
        /// Reading the age off the ID's digits agrees with counting it from
        /// day numbers, birthdays and leap days included.
        #[test]
        fn age_from_the_digits_is_age_on(born in -25_000i32..20_000, gap in 0i32..40_000) {
            let (y, m, d) = hhrisk_tables::date::civil_from_days(born);
            let id = id_born(y, m, d);
            let (parsed, _) = parse_resident_id(&id).unwrap();
            proptest::prop_assert_eq!(parsed, born);
            let on = born + gap;
            proptest::prop_assert_eq!(age_from_id(&id, hhrisk_tables::date::civil_from_days(on)), age_on(born, on));
        }
    }

    #[test]
    fn an_id_number_is_masked_however_it_is_written() {
        let id = "42092119940315171X";
        let masked = "420921********171X";
        for (written, shown) in [
            (id.to_string(), masked.to_string()),
            ("42092119940315171x".to_string(), masked.to_string()),
            (format!("'{id}"), format!("'{masked}")),
            ("4209 2119 9403 1517 1X".to_string(), masked.to_string()),
            ("420921-19940315-171X".to_string(), masked.to_string()),
            ("420921\u{200B}19940315171X".to_string(), masked.to_string()),
            ("420921\u{A0}19940315171X".to_string(), masked.to_string()),
            ("４２０９２１１９９４０３１５１７１Ｘ".to_string(), masked.to_string()),
            ("420921940315171".to_string(), "420921*****5171".to_string()),
            (
                format!("person {id}: \"{id}\" is not an allowed value"),
                format!("person {masked}: \"{masked}\" is not an allowed value"),
            ),
        ] {
            assert_eq!(scrub(&written), shown, "{written:?}");
            assert!(!scrub(&written).contains("19940315"), "{written:?}");
        }
        // no ID number: as it is
        for text in ["8500.50", "12345678901234567890123", "H001", "line 42, column 3", ""] {
            assert_eq!(scrub(text), text);
        }
    }

    proptest::proptest! {
        /// Any valid-looking ID number, written with separators in any
        /// places, full-width digits, a lowercase x, a leading `'`, inside
        /// any text: its birth date never survives.
        #[test]
        fn no_variant_of_an_id_number_survives(
            body in "[1-6][0-9]{5}(19[5-9][0-9]|20[01][0-9])(0[1-9]|1[0-2])(0[1-9]|1[0-9]|2[0-8])[0-9]{3}",
            last in "[0-9Xx]",
            cuts in proptest::collection::vec((0usize..17, 0usize..9), 0..4),
            wide in proptest::bool::ANY,
            before in "[a-z ,:\"'(]{0,6}",
            after in "[a-z ,:\")]{0,6}",
        ) {
            let separators = [" ", "-", "\u{A0}", "\u{3000}", "\u{200B}", "\u{200C}", "\u{200D}", "\u{2060}", "\u{FEFF}"];
            let mut chars: Vec<String> = format!("{body}{last}").chars().map(|c| {
                match (wide, c.to_digit(10)) {
                    (true, Some(d)) => char::from_u32(0xFF10 + d).unwrap().to_string(),
                    _ => c.to_string(),
                }
            }).collect();
            for &(at, s) in cuts.iter().rev() {
                chars[at].push_str(separators[s]);
            }
            let text = format!("{before}{}{after}", chars.concat());
            let shown = scrub(&text);
            let birth = &body[6..14];
            let plain: String = shown.chars().filter_map(digit).collect();
            proptest::prop_assert!(!plain.contains(birth), "{text:?} → {shown:?}");
        }
    }
}
