//! The facility's usage figures from its own check-in records: マイナ保険証利用率 by month (JST), check-ins by
//! hour of day and the outcomes other than 有効. Only the clear columns (time, method, status) are read, so no
//! identifier is decrypted to count.

use std::collections::BTreeMap;

use rusqlite::params;

use crate::Store;
use crate::error::StoreError;
use crate::records::CheckInStatus;

const DAY_MS: i64 = 86_400_000;
const HOUR_MS: i64 = 3_600_000;
/// JST is UTC+9 all year.
const JST_MS: i64 = 9 * HOUR_MS;

/// A month in Japan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct YearMonth {
    pub year: i32,
    pub month: u32,
}

impl YearMonth {
    /// The month (JST) holding the instant `ms` (milliseconds since the epoch).
    pub fn of_millis(ms: i64) -> Self {
        let (year, month, _) = civil_from_days((ms + JST_MS).div_euclid(DAY_MS));
        Self { year, month }
    }

    /// The month `n` months before this one.
    pub fn minus(self, n: u32) -> Self {
        let index = i64::from(self.year) * 12 + i64::from(self.month) - 1 - i64::from(n);
        Self {
            year: i32::try_from(index.div_euclid(12)).unwrap_or(i32::MIN),
            month: u32::try_from(index.rem_euclid(12) + 1).unwrap_or(1),
        }
    }

    /// The month after this one.
    pub fn next(self) -> Self {
        if self.month == 12 {
            Self {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Self {
                year: self.year,
                month: self.month + 1,
            }
        }
    }

    /// 00:00 JST of the month's first day, in milliseconds since the epoch.
    pub fn start_millis(self) -> i64 {
        days_from_civil(self.year, self.month, 1) * DAY_MS - JST_MS
    }
}

impl std::fmt::Display for YearMonth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(year: i32, month: u32, day: u32) -> i64 {
    let y = i64::from(year) - i64::from(month <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01 (H. Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i32, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        i32::try_from(year).unwrap_or(i32::MAX),
        u32::try_from(month).unwrap_or(1),
        u32::try_from(day).unwrap_or(1),
    )
}

/// One check-in as counted: when, how (`pin`, `face`, `staff_visual`, `insurance_numbers`) and its status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tally {
    pub at: i64,
    pub method: String,
    pub status: CheckInStatus,
}

/// One month's eligibility checks.
#[derive(Debug, Clone, PartialEq)]
pub struct MonthUsage {
    pub month: YearMonth,
    /// With the My Number Card (PIN, face or 目視確認).
    pub card: u32,
    /// By the numbers on an insurance card or 資格確認書.
    pub numbers: u32,
}

impl MonthUsage {
    /// マイナ保険証利用率 (%): card check-ins ÷ all eligibility checks; `None` for a month without checks.
    pub fn rate_percent(&self) -> Option<f64> {
        let all = self.card + self.numbers;
        (all > 0).then(|| f64::from(self.card) * 100.0 / f64::from(all))
    }
}

/// The usage figures over a span of months.
#[derive(Debug, Clone, PartialEq)]
pub struct Usage {
    /// Oldest first, every month of the span present (zero when nothing happened).
    pub months: Vec<MonthUsage>,
    /// Check-ins by hour of day (JST).
    pub by_hour: [u32; 24],
    /// Check-ins that did not end 有効, by status.
    pub failures: BTreeMap<&'static str, u32>,
}

/// Counts `tallies` into the `months` months ending with `last` (older and later rows are ignored).
pub fn usage_of(tallies: &[Tally], last: YearMonth, months: u32) -> Usage {
    let months = months.max(1);
    let first = last.minus(months - 1);
    let mut by_month: Vec<MonthUsage> = Vec::new();
    let mut m = first;
    for _ in 0..months {
        by_month.push(MonthUsage {
            month: m,
            card: 0,
            numbers: 0,
        });
        m = m.next();
    }
    let mut by_hour = [0u32; 24];
    let mut failures = BTreeMap::new();
    for t in tallies {
        let month = YearMonth::of_millis(t.at);
        let Some(slot) = by_month.iter_mut().find(|u| u.month == month) else {
            continue;
        };
        if t.method == "insurance_numbers" {
            slot.numbers += 1;
        } else {
            slot.card += 1;
        }
        let hour = usize::try_from((t.at + JST_MS).rem_euclid(DAY_MS) / HOUR_MS).unwrap_or(0);
        by_hour[hour] += 1;
        if t.status != CheckInStatus::Valid {
            *failures.entry(t.status.as_str()).or_insert(0) += 1;
        }
    }
    Usage {
        months: by_month,
        by_hour,
        failures,
    }
}

impl Store {
    /// Time, method and status of every check-in with `from <= at < to`, oldest first (nothing decrypted).
    pub fn check_in_tallies(&self, from: i64, to: i64) -> Result<Vec<Tally>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT at, method, status FROM check_ins WHERE at >= ?1 AND at < ?2 ORDER BY at",
        )?;
        let rows = stmt.query_map(params![from, to], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?;
        rows.map(|row| {
            let (at, method, status) = row?;
            Ok(Tally {
                at,
                method,
                status: CheckInStatus::parse(&status)?,
            })
        })
        .collect()
    }

    /// The usage figures of the `months` months (JST) up to and including the current one.
    pub fn usage(&self, months: u32) -> Result<Usage, StoreError> {
        let now = self.now_millis();
        let last = YearMonth::of_millis(now);
        let first = last.minus(months.max(1) - 1);
        let tallies = self.check_in_tallies(first.start_millis(), last.next().start_millis())?;
        Ok(usage_of(&tallies, last, months))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-11-18T10:30:00+09:00.
    const NOV_18_1030: i64 = 1_794_965_400_000;

    fn tally(at: i64, method: &str, status: CheckInStatus) -> Tally {
        Tally {
            at,
            method: method.into(),
            status,
        }
    }

    #[test]
    fn months_and_hours_are_japan_time() {
        assert_eq!(
            YearMonth::of_millis(NOV_18_1030),
            YearMonth {
                year: 2026,
                month: 11
            }
        );
        // 2026-11-30T15:00:00Z is already 2026-12-01 00:00 in Japan.
        let dec_first_jst = YearMonth {
            year: 2026,
            month: 12,
        }
        .start_millis();
        assert_eq!(dec_first_jst, 1_796_050_800_000);
        assert_eq!(YearMonth::of_millis(dec_first_jst).month, 12);
        assert_eq!(YearMonth::of_millis(dec_first_jst - 1).month, 11);
        let jan = YearMonth {
            year: 2026,
            month: 1,
        };
        assert_eq!(
            jan.minus(1),
            YearMonth {
                year: 2025,
                month: 12
            }
        );
        assert_eq!(jan.minus(13).to_string(), "2024-12");
        // A leap day.
        let mar_2028 = YearMonth {
            year: 2028,
            month: 3,
        };
        assert_eq!(YearMonth::of_millis(mar_2028.start_millis() - 1).month, 2);
        assert_eq!(civil_from_days(days_from_civil(2028, 2, 29)), (2028, 2, 29));
    }

    #[test]
    fn the_rate_is_card_check_ins_over_all_checks_by_month() {
        let oct = NOV_18_1030 - 30 * DAY_MS;
        let rows = vec![
            tally(NOV_18_1030, "pin", CheckInStatus::Valid),
            tally(NOV_18_1030 + 1, "face", CheckInStatus::Valid),
            tally(NOV_18_1030 + 2, "staff_visual", CheckInStatus::Invalid),
            tally(
                NOV_18_1030 + HOUR_MS,
                "insurance_numbers",
                CheckInStatus::NoQualification,
            ),
            tally(oct, "insurance_numbers", CheckInStatus::Valid),
            // Outside the span: ignored.
            tally(NOV_18_1030 - 400 * DAY_MS, "pin", CheckInStatus::Valid),
        ];
        let u = usage_of(&rows, YearMonth::of_millis(NOV_18_1030), 3);
        let months: Vec<String> = u.months.iter().map(|m| m.month.to_string()).collect();
        assert_eq!(months, ["2026-09", "2026-10", "2026-11"]);
        assert_eq!(u.months[0].rate_percent(), None);
        assert_eq!(u.months[1].rate_percent(), Some(0.0));
        assert_eq!((u.months[2].card, u.months[2].numbers), (3, 1));
        assert_eq!(u.months[2].rate_percent(), Some(75.0));
        assert_eq!(u.by_hour[10], 4, "{:?}", u.by_hour);
        assert_eq!(u.by_hour[11], 1);
        assert_eq!(u.by_hour.iter().sum::<u32>(), 5);
        assert_eq!(u.failures.get("invalid"), Some(&1));
        assert_eq!(u.failures.get("no_qualification"), Some(&1));
        assert_eq!(u.failures.len(), 2);
    }

    #[test]
    fn the_store_counts_without_decrypting() {
        use crate::{CheckIn, StaticKeyProvider};
        let dir = tempfile::tempdir().unwrap();
        let keys = StaticKeyProvider::random().unwrap();
        let store = Store::open(dir.path().join("s.sqlite3"), &keys)
            .unwrap()
            .with_clock(oqs_clock::Clock::manual(
                std::time::UNIX_EPOCH + std::time::Duration::from_millis(NOV_18_1030 as u64),
            ));
        for (i, (method, status)) in [
            ("pin", CheckInStatus::Valid),
            ("insurance_numbers", CheckInStatus::Invalid),
        ]
        .into_iter()
        .enumerate()
        {
            store
                .insert_check_in(&CheckIn {
                    check_in_id: format!("c{i}"),
                    at: NOV_18_1030 - i as i64 * 1000,
                    reader: "r".into(),
                    method: method.into(),
                    status,
                    patient: None,
                    result_document: None,
                    updated_at: NOV_18_1030,
                })
                .unwrap();
        }
        let u = store.usage(2).unwrap();
        assert_eq!(u.months.len(), 2);
        assert_eq!((u.months[1].card, u.months[1].numbers), (1, 1));
        assert_eq!(u.failures.get("invalid"), Some(&1));
    }
}
