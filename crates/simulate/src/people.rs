//! Synthetic names and resident ID numbers.

use rand::Rng;

/// Area code of Xiaochang county, Hubei: the first 6 digits of its
/// residents' ID numbers.
pub const XIAOCHANG_AREA: &str = "420921";

const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭", "何",
    "高", "林", "罗", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹", "彭", "曾", "肖", "田",
    "董", "袁", "潘", "于", "蒋", "蔡", "余", "杜", "叶", "程", "魏", "苏", "吕", "丁", "任", "沈", "姚",
    "卢", "熊", "金", "汪", "钟", "易",
];

const GIVEN_MALE: &[&str] = &[
    "伟", "强", "军", "勇", "杰", "涛", "明", "超", "刚", "平", "辉", "鹏", "华", "飞", "斌", "波", "建国",
    "国华", "志强", "俊", "浩", "宇", "子轩", "德福", "长生", "家豪", "文", "海", "林", "春生",
];

const GIVEN_FEMALE: &[&str] = &[
    "芳", "娜", "敏", "静", "丽", "艳", "娟", "霞", "秀英", "桂英", "玉兰", "婷", "雪", "琳", "欣怡", "梓涵",
    "红", "燕", "凤", "兰", "翠花", "淑珍", "丹", "萍", "雨涵", "佳", "慧", "玲", "梅", "春梅",
];

/// A synthetic name: a common surname and a given name.
pub fn name(rng: &mut impl Rng, surname: &str, male: bool) -> String {
    let given = if male { GIVEN_MALE } else { GIVEN_FEMALE };
    format!("{surname}{}", given[rng.random_range(0..given.len())])
}

/// A random common surname.
pub fn surname(rng: &mut impl Rng) -> &'static str {
    SURNAMES[rng.random_range(0..SURNAMES.len())]
}

const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];

/// The check character of the first 17 digits of a resident ID number
/// (GB 11643-1999, ISO 7064 MOD 11-2).
pub fn check_char(body: &[u8; 17]) -> u8 {
    let sum: u32 = body.iter().zip(WEIGHTS).map(|(d, w)| u32::from(d - b'0') * w).sum();
    b"10X98765432"[(sum % 11) as usize]
}

/// An 18-character resident ID number: area code, birth date, a 3-digit
/// sequence whose parity gives the sex (odd for men), and the check
/// character.
pub fn resident_id(area: &str, year: i32, month: u32, day: u32, sequence: u32, male: bool) -> String {
    let seq = (sequence % 500) * 2 + u32::from(male);
    let text = format!("{area}{year:04}{month:02}{day:02}{seq:03}");
    let mut body = [0u8; 17];
    body.copy_from_slice(&text.as_bytes()[..17]);
    let mut id = text;
    id.push(char::from(check_char(&body)));
    id
}

/// Whether an ID number's check character is right.
pub fn id_is_valid(id: &str) -> bool {
    let b = id.as_bytes();
    if b.len() != 18 || !b[..17].iter().all(u8::is_ascii_digit) {
        return false;
    }
    let mut body = [0u8; 17];
    body.copy_from_slice(&b[..17]);
    check_char(&body) == b[17]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_characters_follow_the_standard() {
        // The standard's worked example: 11010519491231002X.
        assert!(id_is_valid("11010519491231002X"));
        assert!(!id_is_valid("110105194912310021"));
        let id = resident_id(XIAOCHANG_AREA, 1957, 3, 15, 5, true);
        assert_eq!(&id[..14], "42092119570315");
        assert_eq!(id.as_bytes()[16] % 2, 1, "odd sequence for a man");
        assert!(id_is_valid(&id));
        assert!(id_is_valid(&resident_id(XIAOCHANG_AREA, 2012, 12, 31, 499, false)));
    }
}
