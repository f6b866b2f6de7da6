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

/// Masks a person's name, keeping the first character (usually the
/// surname): `张三丰` becomes `张**`. Empty stays empty.
pub fn mask_name(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => format!("{first}{}", "*".repeat(chars.count())),
        None => String::new(),
    }
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
        assert_eq!(mask_name(""), "");
    }
}
