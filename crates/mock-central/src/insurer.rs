//! Insurers (保険者) of the synthetic population and the 保険者番号 check digit.

use crate::names::{PREFECTURES, Prefecture, SOCIETIES};

/// Check digit of a 保険者番号 for the digits left of it (the rule is implemented once, in
/// [`oqs_protocol::insurer_check_digit`]). `None` if `digits` holds a non-digit.
pub fn check_digit(digits: &str) -> Option<u8> {
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let d: Vec<u8> = digits.bytes().map(|b| b - b'0').collect();
    Some(oqs_protocol::insurer_check_digit(&d))
}

/// Whether an insurer number (6 digits for 国保, 8 otherwise; surrounding spaces ignored) has a valid
/// check digit.
pub fn is_valid_insurer_number(s: &str) -> bool {
    let s = s.trim();
    if !(s.len() == 6 || s.len() == 8) || !s.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let (body, check) = s.split_at(s.len() - 1);
    check_digit(body).map(|c| c.to_string()) == Some(check.to_string())
}

/// Append the check digit to `body` (all digits, as produced by this module).
fn with_check(body: String) -> String {
    let c = check_digit(&body).unwrap_or(0);
    format!("{body}{c}")
}

/// The kind of insurer; decides the shape of 記号・番号 and the default contribution ratio.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InsurerKind {
    /// 全国健康保険協会 (協会けんぽ), 法別番号 01.
    Kyokai,
    /// 健康保険組合, 法別番号 06.
    Society,
    /// 市町村国民健康保険 (6-digit number).
    Kokuho,
    /// 後期高齢者医療広域連合, 法別番号 39.
    LateElderly,
    /// 地方職員共済組合, 法別番号 32.
    Mutual,
}

impl InsurerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            InsurerKind::Kyokai => "kyokai",
            InsurerKind::Society => "society",
            InsurerKind::Kokuho => "kokuho",
            InsurerKind::LateElderly => "late_elderly",
            InsurerKind::Mutual => "mutual",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Insurer {
    pub number: String,
    pub name: String,
    pub kind: InsurerKind,
    pub pref: u8,
}

fn pref_short(p: &Prefecture) -> &'static str {
    let n = p.name;
    if n == "北海道" {
        return n;
    }
    n.strip_suffix('県')
        .or_else(|| n.strip_suffix('都'))
        .or_else(|| n.strip_suffix('府'))
        .unwrap_or(n)
}

/// The welfare office (福祉事務所) of city `city` of `p`: its 公費負担者番号 for 生活保護 (法別 12, prefecture,
/// a 3-digit office number, check digit) and its name.
pub fn welfare_office(p: &Prefecture, city: usize) -> (String, String) {
    let c = &p.cities[city % p.cities.len()];
    (
        with_check(format!("12{:02}{:03}", p.code, 100 + city % 900)),
        format!("{}福祉事務所", c.name),
    )
}

pub fn kyokai(p: &Prefecture) -> Insurer {
    Insurer {
        number: with_check(format!("01{:02}016", p.code)),
        name: format!("全国健康保険協会{}支部", pref_short(p)),
        kind: InsurerKind::Kyokai,
        pref: p.code,
    }
}

pub fn late_elderly(p: &Prefecture) -> Insurer {
    Insurer {
        number: with_check(format!("39{:02}101", p.code)),
        name: format!("{}後期高齢者医療広域連合", p.name),
        kind: InsurerKind::LateElderly,
        pref: p.code,
    }
}

pub fn mutual(p: &Prefecture) -> Insurer {
    Insurer {
        number: with_check(format!("32{:02}113", p.code)),
        name: format!("地方職員共済組合{}支部", pref_short(p)),
        kind: InsurerKind::Mutual,
        pref: p.code,
    }
}

pub fn kokuho(p: &Prefecture, city: usize) -> Insurer {
    let c = &p.cities[city];
    Insurer {
        number: with_check(format!("{:05}", c.kokuho5)),
        name: c.name.to_string(),
        kind: InsurerKind::Kokuho,
        pref: p.code,
    }
}

pub fn society(i: usize) -> Insurer {
    let (name, pref) = SOCIETIES[i % SOCIETIES.len()];
    Insurer {
        number: with_check(format!("06{:02}{:03}", pref, 100 + i)),
        name: name.to_string(),
        kind: InsurerKind::Society,
        pref,
    }
}

/// Every insurer of the synthetic world (the same for every seed and population size).
pub fn all_insurers() -> Vec<Insurer> {
    let mut out = Vec::new();
    for p in PREFECTURES {
        out.push(kyokai(p));
        out.push(late_elderly(p));
        out.push(mutual(p));
        for c in 0..p.cities.len() {
            out.push(kokuho(p, c));
        }
    }
    for i in 0..SOCIETIES.len() {
        out.push(society(i));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_check_digits() {
        // 0113 016 → weights from the right 2,1,2,1,2,1,2 over 0,1,1,3,0,1,6.
        // products 0,1,2,3,0,1,12 → digit sums 0+1+2+3+0+1+3 = 10 → check 0.
        assert_eq!(check_digit("0113016"), Some(0));
        assert_eq!(check_digit("12a"), None);
        for ins in all_insurers() {
            assert!(is_valid_insurer_number(&ins.number), "{}", ins.number);
        }
        assert!(!is_valid_insurer_number("01130161"));
    }

    #[test]
    fn numbers_are_unique() {
        let all = all_insurers();
        let mut nums: Vec<_> = all.iter().map(|i| i.number.clone()).collect();
        nums.sort();
        nums.dedup();
        assert_eq!(nums.len(), all.len());
    }

    proptest! {
        #[test]
        fn validator_never_panics(s in "\\PC{0,12}") {
            let _ = is_valid_insurer_number(&s);
        }

        #[test]
        fn appended_digit_validates(body in "[0-9]{7}") {
            let n = with_check(body);
            prop_assert!(is_valid_insurer_number(&n));
        }
    }
}
