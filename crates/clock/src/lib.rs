//! # oqs-clock
//!
//! One source of "now" for the reader daemon, the mock central service and their tests.
//!
//! Every date rule of the product (consent lasts 24 hours, the 3-month certificate grace, "today's"
//! check-ins, the months of a medical-information period, lockouts, TOTP steps) reads the time from a
//! [`Clock`] handed to it, never from the operating system directly. In production the clock is the
//! system clock. A test pins it: [`Clock::pinned`] starts at a chosen instant and then advances with the
//! machine's monotonic clock, so waits and timeouts behave as usual while the calendar is fixed;
//! [`Clock::manual`] moves only when told, for unit tests of expiry.
//!
//! The file interface's dates and times are Japan Standard Time whatever the PC's time zone is, so
//! [`Clock::now_jst`] and [`Clock::today_jst`] are the only way the product turns "now" into a date.
//!
//! Tests take their pinned instant from [`test_now`]: the `OQS_TEST_NOW` environment variable when set
//! (the Makefile's date matrix runs the date-sensitive tests at a month end, a year end, a leap day and a
//! date years ahead), otherwise [`DEFAULT_TEST_NOW`].

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use time::{Date, OffsetDateTime, PrimitiveDateTime, UtcOffset};

/// Japan Standard Time (UTC+9, no daylight saving).
pub const JST: UtcOffset = time::macros::offset!(+9);

/// The instant tests run at unless `OQS_TEST_NOW` says otherwise: an ordinary weekday morning.
pub const DEFAULT_TEST_NOW: &str = "2026-11-18T10:30:00+09:00";

/// The environment variable that pins the tests' clock (RFC 3339, `yyyyMMddHHmmss` or `yyyyMMdd`, JST).
pub const TEST_NOW_VAR: &str = "OQS_TEST_NOW";

/// Why a pinned time was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ClockError {
    #[error(
        "{0:?} is not a time: expected RFC 3339 (2026-11-18T10:30:00+09:00), yyyyMMddHHmmss or yyyyMMdd (JST)"
    )]
    Unparsable(String),
    #[error("{0:?} is before 1970")]
    BeforeEpoch(String),
}

/// Where "now" comes from. Cheap to clone; clones share the same source.
#[derive(Clone)]
pub struct Clock(Arc<Source>);

enum Source {
    System,
    /// Starts at `start` when made and advances with the monotonic clock; `shift` moves it further.
    Pinned {
        start: SystemTime,
        origin: Instant,
        shift: Mutex<Duration>,
    },
    /// Stands still until set or advanced.
    Manual(Mutex<SystemTime>),
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.0 {
            Source::System => f.write_str("Clock::System"),
            Source::Pinned { start, .. } => write!(f, "Clock::Pinned(from {})", format_jst(*start)),
            Source::Manual(_) => write!(f, "Clock::Manual({})", format_jst(self.now())),
        }
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::system()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Clock {
    /// The operating system's clock: what every installed terminal uses.
    pub fn system() -> Self {
        Clock(Arc::new(Source::System))
    }

    /// A clock that reads `start` now and advances in real time from here.
    pub fn pinned(start: SystemTime) -> Self {
        Clock(Arc::new(Source::Pinned {
            start,
            origin: Instant::now(),
            shift: Mutex::new(Duration::ZERO),
        }))
    }

    /// A clock that stands at `at` until [`Clock::set`] or [`Clock::advance`].
    pub fn manual(at: SystemTime) -> Self {
        Clock(Arc::new(Source::Manual(Mutex::new(at))))
    }

    /// The system clock, or a clock pinned at `setting` when one is given (a configuration value).
    pub fn from_setting(setting: Option<&str>) -> Result<Self, ClockError> {
        match setting.map(str::trim).filter(|s| !s.is_empty()) {
            None => Ok(Clock::system()),
            Some(s) => Ok(Clock::pinned(parse_instant(s)?)),
        }
    }

    /// True unless this is the system clock (the readiness check fails a terminal whose clock is pinned).
    pub fn is_pinned(&self) -> bool {
        !matches!(&*self.0, Source::System)
    }

    pub fn now(&self) -> SystemTime {
        match &*self.0 {
            Source::System => SystemTime::now(),
            Source::Pinned {
                start,
                origin,
                shift,
            } => *start + origin.elapsed() + *lock(shift),
            Source::Manual(at) => *lock(at),
        }
    }

    /// Milliseconds since the Unix epoch (the store's unit of time).
    pub fn now_millis(&self) -> i64 {
        millis(self.now())
    }

    /// Seconds since the Unix epoch.
    pub fn now_secs(&self) -> u64 {
        self.now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    }

    /// Now, in Japan Standard Time.
    pub fn now_jst(&self) -> OffsetDateTime {
        to_jst(self.now())
    }

    /// Today's date in Japan, whatever the machine's time zone.
    pub fn today_jst(&self) -> Date {
        self.now_jst().date()
    }

    /// Start and end (ms since the epoch) of today in Japan: 00:00 JST to 24:00 JST.
    pub fn today_bounds_jst(&self) -> (i64, i64) {
        let start = self.today_jst().midnight().assume_offset(JST);
        let start_ms = i64::try_from(start.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
        (start_ms, start_ms + 86_400_000)
    }

    /// Today in Japan as the file interface writes a date (`yyyyMMdd`).
    pub fn ymd_jst(&self) -> String {
        ymd(self.today_jst())
    }

    /// Now in Japan as the file interface writes a time (`yyyyMMddHHmmss`).
    pub fn ymdhms_jst(&self) -> String {
        ymdhms(self.now())
    }

    /// Moves a pinned or manual clock forward (a no-op on the system clock, which nobody may move).
    pub fn advance(&self, by: Duration) {
        match &*self.0 {
            Source::System => {}
            Source::Pinned { shift, .. } => *lock(shift) += by,
            Source::Manual(at) => *lock(at) += by,
        }
    }

    /// Sets a manual clock (a no-op on the others).
    pub fn set(&self, to: SystemTime) {
        if let Source::Manual(at) = &*self.0 {
            *lock(at) = to;
        }
    }
}

/// Milliseconds since the Unix epoch of `t` (0 before 1970, saturating far in the future).
pub fn millis(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The instant `ms` milliseconds after the epoch (the store's times); the epoch itself for a negative value.
pub fn from_millis(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

/// `t` in Japan Standard Time.
pub fn to_jst(t: SystemTime) -> OffsetDateTime {
    OffsetDateTime::from(t).to_offset(JST)
}

/// `yyyyMMdd`.
pub fn ymd(d: Date) -> String {
    format!("{:04}{:02}{:02}", d.year(), u8::from(d.month()), d.day())
}

/// `t` in JST as `yyyyMMddHHmmss`.
pub fn ymdhms(t: SystemTime) -> String {
    let j = to_jst(t);
    format!(
        "{}{:02}{:02}{:02}",
        ymd(j.date()),
        j.hour(),
        j.minute(),
        j.second()
    )
}

/// `yyyy-MM-ddTHH:mm:ss+09:00`, for logs and messages.
pub fn format_jst(t: SystemTime) -> String {
    let j = to_jst(t);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}+09:00",
        j.year(),
        u8::from(j.month()),
        j.day(),
        j.hour(),
        j.minute(),
        j.second()
    )
}

/// `t` as RFC 3339 in JST with its fractional seconds: how one process hands its pinned clock to another
/// (`--now`, `[clock] pinned`) without losing the sub-second part.
pub fn rfc3339(t: SystemTime) -> String {
    to_jst(t)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| format_jst(t))
}

/// Parses RFC 3339, or the interface's `yyyyMMddHHmmss` / `yyyyMMdd` read as JST.
pub fn parse_instant(s: &str) -> Result<SystemTime, ClockError> {
    let s = s.trim();
    let t = OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .ok()
        .or_else(|| parse_compact_jst(s))
        .ok_or_else(|| ClockError::Unparsable(s.to_string()))?;
    if t.unix_timestamp() < 0 {
        return Err(ClockError::BeforeEpoch(s.to_string()));
    }
    Ok(SystemTime::from(t))
}

fn parse_compact_jst(s: &str) -> Option<OffsetDateTime> {
    if !s.bytes().all(|b| b.is_ascii_digit()) || !(s.len() == 8 || s.len() == 14) {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r).and_then(|p| p.parse::<u16>().ok());
    let month = time::Month::try_from(u8::try_from(num(4..6)?).ok()?).ok()?;
    let date =
        Date::from_calendar_date(i32::from(num(0..4)?), month, u8::try_from(num(6..8)?).ok()?)
            .ok()?;
    let (h, m, sec) = if s.len() == 14 {
        (num(8..10)?, num(10..12)?, num(12..14)?)
    } else {
        (0, 0, 0)
    };
    let t = time::Time::from_hms(
        u8::try_from(h).ok()?,
        u8::try_from(m).ok()?,
        u8::try_from(sec).ok()?,
    )
    .ok()?;
    Some(PrimitiveDateTime::new(date, t).assume_offset(JST))
}

/// The instant tests are pinned at: `OQS_TEST_NOW` when set, else [`DEFAULT_TEST_NOW`]. The same text is
/// what tests pass to the mock central service (`--now`) and the daemon (`[clock] pinned`), so every
/// process of a test reads the same calendar.
pub fn test_now_setting() -> String {
    std::env::var(TEST_NOW_VAR)
        .ok()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_TEST_NOW.to_string())
}

/// [`test_now_setting`] as an instant. Panics on a malformed `OQS_TEST_NOW`: only tests call it.
pub fn test_now() -> SystemTime {
    let s = test_now_setting();
    match parse_instant(&s) {
        Ok(t) => t,
        Err(e) => panic!("{TEST_NOW_VAR}: {e}"),
    }
}

/// A clock pinned at [`test_now`], advancing from there.
pub fn test_clock() -> Clock {
    Clock::pinned(test_now())
}

/// The first instant (00:00 JST) of the month `months` before (negative: after) the month of `t` in JST.
fn month_start_jst(t: SystemTime, months_back: i32) -> SystemTime {
    let d = to_jst(t).date();
    let index = d.year() * 12 + i32::from(u8::from(d.month())) - 1 - months_back;
    let (year, month) = (index.div_euclid(12), index.rem_euclid(12) + 1);
    let month = u8::try_from(month)
        .ok()
        .and_then(|m| time::Month::try_from(m).ok())
        .unwrap_or(time::Month::January);
    Date::from_calendar_date(year, month, 1)
        .map(|first| SystemTime::from(first.midnight().assume_offset(JST)))
        .unwrap_or(t)
}

/// Whether a card's 利用者証明用 certificate that expired at `not_after` is, at `now`, in the three months
/// when the card still confirms qualification only: they are counted from the end of the expiry month (JST),
/// so a certificate that expired on 5/10 is in its grace until 8/31 (`../shared/reference/field-practice.md`,
/// F6). The central service and the daemon both decide with this.
pub fn certificate_in_grace(not_after: SystemTime, now: SystemTime) -> bool {
    now > not_after && not_after >= certificate_grace_threshold(now)
}

/// The last day (JST) a certificate that expired at `not_after` confirms qualification: the last day of the
/// third month after its expiry month (5/10 → 8/31), for the patient's renewal slip.
pub fn certificate_grace_last_day(not_after: SystemTime) -> Date {
    let first_after = to_jst(month_start_jst(not_after, -4)).date();
    first_after.previous_day().unwrap_or(first_after)
}

/// The earliest expiry still in its grace at `now`: 00:00 JST on the first of the month three months before
/// `now`'s month. A certificate valid at this instant and expired by `now` is in its grace.
pub fn certificate_grace_threshold(now: SystemTime) -> SystemTime {
    month_start_jst(now, 3)
}

/// Whether a certificate ending at `not_after` expires within three months of `now` (the reader's renewal
/// warning): from the same JST day and time three months earlier (the month's last day when that month is
/// shorter, so a certificate ending 5/31 is warned from 2/28 or 2/29) until it expires.
pub fn certificate_expiring(not_after: SystemTime, now: SystemTime) -> bool {
    now <= not_after && now >= three_months_before(not_after)
}

fn three_months_before(t: SystemTime) -> SystemTime {
    let jst = to_jst(t);
    let first = to_jst(month_start_jst(t, 3)).date();
    let last_day = first.month().length(first.year());
    let day = jst.day().min(last_day);
    Date::from_calendar_date(first.year(), first.month(), day)
        .map(|d| SystemTime::from(PrimitiveDateTime::new(d, jst.time()).assume_offset(JST)))
        .unwrap_or(t)
}

#[cfg(test)]
mod tests {

    fn jst(s: &str) -> SystemTime {
        parse_instant(s).unwrap()
    }

    #[test]
    fn the_certificate_grace_runs_to_the_end_of_the_third_month_after_the_expiry_month() {
        let expired = jst("2026-05-10T10:00:00+09:00");
        assert!(
            !certificate_in_grace(expired, jst("2026-05-10T09:00:00+09:00")),
            "not expired yet"
        );
        assert!(certificate_in_grace(
            expired,
            jst("2026-05-10T10:00:01+09:00")
        ));
        // 92 days after 5/10 is 8/10: the grace still runs to the end of August.
        assert!(certificate_in_grace(
            expired,
            jst("2026-08-20T12:00:00+09:00")
        ));
        assert!(certificate_in_grace(
            expired,
            jst("2026-08-31T23:59:59+09:00")
        ));
        assert!(!certificate_in_grace(
            expired,
            jst("2026-09-01T00:00:00+09:00")
        ));
        // Across a year, and the end of the expiry month in JST while UTC is still in the day before.
        let late = jst("2026-11-30T23:30:00+09:00");
        assert!(certificate_in_grace(late, jst("2027-02-28T23:59:59+09:00")));
        assert!(!certificate_in_grace(
            late,
            jst("2027-03-01T00:00:00+09:00")
        ));
        let first = jst("2026-12-01T00:10:00+09:00");
        assert!(certificate_in_grace(
            first,
            jst("2027-03-31T23:00:00+09:00")
        ));
        assert!(!certificate_in_grace(
            first,
            jst("2027-04-01T00:00:00+09:00")
        ));
        // The slip's last day agrees.
        for (end, last) in [
            (expired, "20260831"),
            (late, "20270228"),
            (first, "20270331"),
        ] {
            assert_eq!(ymd(certificate_grace_last_day(end)), last);
        }
    }

    #[test]
    fn the_renewal_warning_starts_three_calendar_months_before_the_expiry() {
        let end = jst("2026-05-10T10:00:00+09:00");
        assert!(!certificate_expiring(end, jst("2026-02-10T09:59:59+09:00")));
        assert!(certificate_expiring(end, jst("2026-02-10T10:00:00+09:00")));
        assert!(certificate_expiring(end, end));
        assert!(
            !certificate_expiring(end, jst("2026-05-10T10:00:01+09:00")),
            "expired"
        );
        // A month's end: from the last day of the shorter month.
        let may31 = jst("2027-05-31T12:00:00+09:00");
        assert!(!certificate_expiring(
            may31,
            jst("2027-02-27T12:00:00+09:00")
        ));
        assert!(certificate_expiring(
            may31,
            jst("2027-02-28T12:00:00+09:00")
        ));
        let leap = jst("2028-05-31T12:00:00+09:00");
        assert!(certificate_expiring(leap, jst("2028-02-29T12:00:00+09:00")));
        let january = jst("2027-01-15T08:00:00+09:00");
        assert!(certificate_expiring(
            january,
            jst("2026-10-15T08:00:00+09:00")
        ));
        assert!(!certificate_expiring(
            january,
            jst("2026-10-15T07:59:59+09:00")
        ));
    }

    use super::*;

    #[test]
    fn parses_the_three_forms_as_the_same_instant() {
        let a = parse_instant("2028-02-29T00:30:00+09:00").unwrap();
        let b = parse_instant("20280229003000").unwrap();
        let c = parse_instant("2028-02-28T15:30:00Z").unwrap();
        assert_eq!(a, b);
        assert_eq!(a, c);
        assert_eq!(
            parse_instant("20280229").unwrap() + Duration::from_secs(1800),
            a
        );
        assert!(parse_instant("20270229").is_err());
        assert!(parse_instant("tomorrow").is_err());
        assert!(parse_instant("1969-12-31T00:00:00Z").is_err());
        let precise = a + Duration::from_millis(1234);
        assert_eq!(parse_instant(&rfc3339(precise)).unwrap(), precise);
    }

    #[test]
    fn jst_date_differs_from_utc_just_after_midnight() {
        let c = Clock::manual(parse_instant("2027-01-01T00:30:00+09:00").unwrap());
        assert_eq!(c.today_jst().to_string(), "2027-01-01");
        assert_eq!(
            OffsetDateTime::from(c.now()).date().to_string(),
            "2026-12-31"
        );
        assert_eq!(format_jst(c.now()), "2027-01-01T00:30:00+09:00");
        assert_eq!(c.ymd_jst(), "20270101");
        assert_eq!(c.ymdhms_jst(), "20270101003000");
        let (start, end) = c.today_bounds_jst();
        assert_eq!(c.now_millis() - start, 30 * 60 * 1000);
        assert_eq!(end - start, 86_400_000);
    }

    #[test]
    fn pinned_advances_manual_stands_still() {
        let start = parse_instant(DEFAULT_TEST_NOW).unwrap();
        let p = Clock::pinned(start);
        let m = Clock::manual(start);
        std::thread::sleep(Duration::from_millis(5));
        assert!(p.now() > start);
        assert_eq!(m.now(), start);
        m.advance(Duration::from_secs(86_400));
        assert_eq!(m.now_millis() - millis(start), 86_400_000);
        p.advance(Duration::from_secs(60));
        assert!(p.now() >= start + Duration::from_secs(60));
        assert!(p.is_pinned() && m.is_pinned() && !Clock::system().is_pinned());
        assert!(Clock::from_setting(None).is_ok_and(|c| !c.is_pinned()));
        assert!(Clock::from_setting(Some("")).is_ok_and(|c| !c.is_pinned()));
        assert!(Clock::from_setting(Some("x")).is_err());
    }
}
