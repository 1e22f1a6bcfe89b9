//! Dates as the official forms and the receipt computer print them, in one place so every screen and PDF
//! agrees:
//!
//! - [`Date::long_wareki`]: `昭和25年1月2日` (患者情報詳細 生年月日, seed 001 §3);
//! - [`Date::short_wareki`]: `R 5. 3.31` (the receipt computer's lists, ORCA P031 in seed 003);
//! - [`Date::long_western`]: `2023年3月27日` (作成日 and 生年月日 on 診療／薬剤情報一覧 and 特定健康診査受診結果);
//! - [`Date::month_short`]: `22年7月` (the month column of 受診歴 and 診療／薬剤実績, seed 001 §3).
//!
//! Eras start on the day the era name took effect: 明治 1868-01-25 (as the 戸籍 and insurers' systems
//! count it), 大正 1912-07-30, 昭和 1926-12-25, 平成 1989-01-08, 令和 2019-05-01. The first year of an era
//! is printed `1年` (the forms print numbers, not 元年).

/// Why a date string is not a date.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a date (YYYY-MM-DD or YYYYMMDD): {0:?}")]
pub struct NotADate(pub String);

/// A calendar date of the Gregorian calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date {
    pub year: u16,
    pub month: u8,
    pub day: u8,
}

/// A Japanese era.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Era {
    pub name: &'static str,
    /// The letter the receipt computers print (M, T, S, H, R).
    pub letter: char,
    /// The first day of the era.
    pub starts: Date,
}

const fn d(year: u16, month: u8, day: u8) -> Date {
    Date { year, month, day }
}

/// The eras, newest first.
pub const ERAS: &[Era] = &[
    Era {
        name: "令和",
        letter: 'R',
        starts: d(2019, 5, 1),
    },
    Era {
        name: "平成",
        letter: 'H',
        starts: d(1989, 1, 8),
    },
    Era {
        name: "昭和",
        letter: 'S',
        starts: d(1926, 12, 25),
    },
    Era {
        name: "大正",
        letter: 'T',
        starts: d(1912, 7, 30),
    },
    Era {
        name: "明治",
        letter: 'M',
        starts: d(1868, 1, 25),
    },
];

fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 0,
    }
}

impl Date {
    /// A checked date.
    pub fn new(year: u16, month: u8, day: u8) -> Option<Self> {
        (day >= 1 && day <= days_in_month(year, month)).then_some(Self { year, month, day })
    }

    /// `YYYY-MM-DD`, `YYYYMMDD` or `YYYY/MM/DD` (a longer string's first 8 digits when it is
    /// `yyyyMMddHHmmss`).
    pub fn parse(text: &str) -> Result<Self, NotADate> {
        let bad = || NotADate(text.to_owned());
        let t = text.trim();
        if !t
            .chars()
            .all(|c| c.is_ascii_digit() || c == '-' || c == '/')
        {
            return Err(bad());
        }
        let digits: String = t.chars().filter(char::is_ascii_digit).collect();
        let separated = digits.len() != t.len();
        let ok_len = if separated {
            digits.len() == 8
        } else {
            digits.len() == 8 || digits.len() == 14
        };
        if !ok_len {
            return Err(bad());
        }
        let n = |r: std::ops::Range<usize>| digits[r].parse::<u16>().map_err(|_| bad());
        let month = u8::try_from(n(4..6)?).map_err(|_| bad())?;
        let day = u8::try_from(n(6..8)?).map_err(|_| bad())?;
        Self::new(n(0..4)?, month, day).ok_or_else(bad)
    }

    /// The era of the date and its year in the era; `None` before 明治.
    pub fn era(self) -> Option<(Era, u16)> {
        let era = ERAS.iter().find(|e| self >= e.starts)?;
        Some((*era, self.year - era.starts.year + 1))
    }

    /// `昭和25年1月2日`; the Western form before 明治.
    pub fn long_wareki(self) -> String {
        match self.era() {
            Some((era, y)) => format!("{}{}年{}月{}日", era.name, y, self.month, self.day),
            None => self.long_western(),
        }
    }

    /// `R 5. 3.31`: era letter, then year, month and day each right-aligned in two columns.
    pub fn short_wareki(self) -> String {
        match self.era() {
            Some((era, y)) => format!("{}{:>2}.{:>2}.{:>2}", era.letter, y, self.month, self.day),
            None => format!("{:04}.{:>2}.{:>2}", self.year, self.month, self.day),
        }
    }

    /// `2023年3月27日`.
    pub fn long_western(self) -> String {
        format!("{}年{}月{}日", self.year, self.month, self.day)
    }

    /// `22年7月`.
    pub fn month_short(self) -> String {
        format!("{:02}年{}月", self.year % 100, self.month)
    }

    /// `2023/03/27`.
    pub fn slashed(self) -> String {
        format!("{:04}/{:02}/{:02}", self.year, self.month, self.day)
    }

    /// Full years on `on` of someone born on `self`.
    pub fn age_on(self, on: Date) -> u16 {
        let before_birthday = (on.month, on.day) < (self.month, self.day);
        on.year
            .saturating_sub(self.year)
            .saturating_sub(u16::from(before_birthday))
    }
}

/// [`Date::long_wareki`] of a date string; the text unchanged when it is not a date.
pub fn long_wareki(text: &str) -> String {
    Date::parse(text).map_or_else(|_| text.to_owned(), Date::long_wareki)
}

/// [`Date::short_wareki`] of a date string; the text unchanged when it is not a date.
pub fn short_wareki(text: &str) -> String {
    Date::parse(text).map_or_else(|_| text.to_owned(), Date::short_wareki)
}

/// [`Date::long_western`] of a date string; the text unchanged when it is not a date.
pub fn long_western(text: &str) -> String {
    Date::parse(text).map_or_else(|_| text.to_owned(), Date::long_western)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Date {
        Date::parse(text).unwrap()
    }

    #[test]
    fn the_seeds_examples() {
        assert_eq!(at("1950-01-02").long_wareki(), "昭和25年1月2日");
        assert_eq!(at("20230331").short_wareki(), "R 5. 3.31");
        assert_eq!(at("2023-03-27").long_western(), "2023年3月27日");
        assert_eq!(at("2022-07-19").month_short(), "22年7月");
    }

    #[test]
    fn showa_ends_on_1989_01_07_and_heisei_starts_on_01_08() {
        assert_eq!(at("1989-01-07").long_wareki(), "昭和64年1月7日");
        assert_eq!(at("1989-01-07").short_wareki(), "S64. 1. 7");
        assert_eq!(at("1989-01-08").long_wareki(), "平成1年1月8日");
        assert_eq!(at("1989-01-08").short_wareki(), "H 1. 1. 8");
    }

    #[test]
    fn heisei_ends_on_2019_04_30_and_reiwa_starts_on_05_01() {
        assert_eq!(at("2019-04-30").long_wareki(), "平成31年4月30日");
        assert_eq!(at("2019-04-30").short_wareki(), "H31. 4.30");
        assert_eq!(at("2019-05-01").long_wareki(), "令和1年5月1日");
        assert_eq!(at("2019-05-01").short_wareki(), "R 1. 5. 1");
    }

    #[test]
    fn older_eras() {
        assert_eq!(at("1926-12-24").long_wareki(), "大正15年12月24日");
        assert_eq!(at("1926-12-25").long_wareki(), "昭和1年12月25日");
        assert_eq!(at("1912-07-29").long_wareki(), "明治45年7月29日");
        assert_eq!(at("1912-07-30").short_wareki(), "T 1. 7.30");
    }

    #[test]
    fn parsing_accepts_the_forms_and_refuses_the_rest() {
        assert_eq!(at("2023/03/31"), at("20230331"));
        assert_eq!(at("20230331093000"), at("2023-03-31"));
        for bad in [
            "",
            "2023-02-30",
            "2023-13-01",
            "31/03/2023",
            "2023-3-31",
            "abc",
            "２０２３０３３１",
        ] {
            assert!(Date::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(long_wareki("不明"), "不明");
    }

    #[test]
    fn age_counts_the_birthday_itself() {
        let born = at("1962-05-21");
        assert_eq!(born.age_on(at("2023-05-20")), 60);
        assert_eq!(born.age_on(at("2023-05-21")), 61);
    }
}
