//! Date and time helpers in the formats of the file interface (yyyyMMdd, yyyyMMddHHmmss), in JST.

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};

/// Japan Standard Time; the interface's times are local times without a zone.
pub use oqs_clock::JST;

/// The first month for which medical information exists (薬剤情報 is provided from 2021-09).
pub fn history_start() -> Date {
    date(2021, 9, 1)
}

/// Build a date known to be valid; falls back to the first of the month for impossible days.
pub fn date(y: i32, m: u8, d: u8) -> Date {
    let month = Month::try_from(m).unwrap_or(Month::January);
    Date::from_calendar_date(y, month, d)
        .or_else(|_| Date::from_calendar_date(y, month, 1))
        .unwrap_or(Date::MIN)
}

pub fn ymd(d: Date) -> String {
    format!("{:04}{:02}{:02}", d.year(), u8::from(d.month()), d.day())
}

pub fn ymdhms(t: OffsetDateTime) -> String {
    let t = t.to_offset(JST);
    format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Parse `yyyyMMdd`; `None` for anything else.
pub fn parse_ymd(s: &str) -> Option<Date> {
    if s.len() != 8 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let y: i32 = s.get(0..4)?.parse().ok()?;
    let m: u8 = s.get(4..6)?.parse().ok()?;
    let d: u8 = s.get(6..8)?.parse().ok()?;
    Date::from_calendar_date(y, Month::try_from(m).ok()?, d).ok()
}

/// Parse `yyyyMM` as the first day of that month.
pub fn parse_ym(s: &str) -> Option<Date> {
    if s.len() != 6 {
        return None;
    }
    parse_ymd(&format!("{s}01"))
}

/// Parse `yyyyMMddHHmmss` (JST).
pub fn parse_ymdhms(s: &str) -> Option<OffsetDateTime> {
    if s.len() != 14 {
        return None;
    }
    let d = parse_ymd(s.get(0..8)?)?;
    let h: u8 = s.get(8..10)?.parse().ok()?;
    let mi: u8 = s.get(10..12)?.parse().ok()?;
    let se: u8 = s.get(12..14)?.parse().ok()?;
    let t = Time::from_hms(h, mi, se).ok()?;
    Some(PrimitiveDateTime::new(d, t).assume_offset(JST))
}

/// Parse RFC 3339 (`2026-01-02T03:04:05+09:00`) or the interface's `yyyyMMddHHmmss` (JST).
pub fn parse_time_arg(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .ok()
        .or_else(|| parse_ymdhms(s))
        .or_else(|| {
            parse_ymd(s).map(|d| PrimitiveDateTime::new(d, Time::MIDNIGHT).assume_offset(JST))
        })
}

/// Whole years between `birth` and `on`.
pub fn age_on(birth: Date, on: Date) -> i32 {
    let mut age = on.year() - birth.year();
    if (u8::from(on.month()), on.day()) < (u8::from(birth.month()), birth.day()) {
        age -= 1;
    }
    age
}

/// The same day `months` later (clamped to the month's end).
pub fn add_months(d: Date, months: i32) -> Date {
    let total = d.year() * 12 + i32::from(u8::from(d.month())) - 1 + months;
    let y = total.div_euclid(12);
    let m = (total.rem_euclid(12) + 1) as u8;
    let mut day = d.day();
    loop {
        if let Ok(month) = Month::try_from(m)
            && let Ok(r) = Date::from_calendar_date(y, month, day)
        {
            return r;
        }
        if day <= 28 {
            return d;
        }
        day -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn formats_round_trip() {
        let d = date(2024, 2, 29);
        assert_eq!(ymd(d), "20240229");
        assert_eq!(parse_ymd("20240229"), Some(d));
        assert_eq!(parse_ymd("20230229"), None);
        assert_eq!(parse_ym("202109"), Some(date(2021, 9, 1)));
        assert_eq!(add_months(date(2024, 1, 31), 1), date(2024, 2, 29));
        assert_eq!(add_months(date(2024, 3, 15), -3), date(2023, 12, 15));
        assert_eq!(age_on(date(2000, 2, 29), date(2026, 2, 28)), 25);
    }

    proptest! {
        #[test]
        fn parsers_never_panic(s in "\\PC{0,20}") {
            let _ = parse_ymd(&s);
            let _ = parse_ym(&s);
            let _ = parse_ymdhms(&s);
            let _ = parse_time_arg(&s);
        }
    }
}
