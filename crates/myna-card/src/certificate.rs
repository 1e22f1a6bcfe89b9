//! The one fact the kiosk needs from the 利用者証明用電子証明書 before asking the central service: when it
//! expires (X.509 `tbsCertificate.validity.notAfter`, RFC 5280 §4.1.2.5). The central service verifies the
//! certificate; the kiosk only decides which screens to show (a certificate in its three-month grace confirms
//! the qualification only, so no medical-information consent is asked).
//!
//! Input comes from the card: nothing here panics.

use std::time::{Duration, SystemTime};

use crate::{CardError, ber};

const BAD: CardError = CardError::MalformedResponse("the certificate on the card is not X.509 DER");

/// The instant the certificate's validity ends (`notAfter`).
pub fn not_after(der: &[u8]) -> Result<SystemTime, CardError> {
    let first = |buf| -> Result<(u32, &[u8]), CardError> { ber::children(buf).next().ok_or(BAD)? };
    let (t, cert) = first(der)?;
    if t != 0x30 {
        return Err(BAD);
    }
    let (t, tbs) = first(cert)?;
    if t != 0x30 {
        return Err(BAD);
    }
    let mut fields = ber::children(tbs);
    let mut next = || fields.next().ok_or(BAD)?;
    let mut f = next()?;
    if f.0 == 0xA0 {
        // [0] version
        f = next()?;
    }
    // serial, signature algorithm, issuer, then validity
    for want in [0x02, 0x30, 0x30] {
        if f.0 != want {
            return Err(BAD);
        }
        f = next()?;
    }
    if f.0 != 0x30 {
        return Err(BAD);
    }
    let mut times = ber::children(f.1);
    let _not_before = times.next().ok_or(BAD)??;
    let (tag, value) = times.next().ok_or(BAD)??;
    parse_time(tag, value)
}

/// UTCTime (`YYMMDDHHMMSSZ`, years 1950-2049) or GeneralizedTime (`YYYYMMDDHHMMSSZ`).
fn parse_time(tag: u32, v: &[u8]) -> Result<SystemTime, CardError> {
    let digits = |s: &[u8]| -> Result<i64, CardError> {
        if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
            return Err(BAD);
        }
        Ok(s.iter().fold(0, |n, d| n * 10 + i64::from(d - b'0')))
    };
    let (year, rest) = match (tag, v.len()) {
        (0x17, 13) => {
            let yy = digits(&v[..2])?;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, &v[2..])
        }
        (0x18, 15) => (digits(&v[..4])?, &v[4..]),
        _ => return Err(BAD),
    };
    if rest.last() != Some(&b'Z') {
        return Err(BAD);
    }
    let (mo, d, h, mi, s) = (
        digits(&rest[0..2])?,
        digits(&rest[2..4])?,
        digits(&rest[4..6])?,
        digits(&rest[6..8])?,
        digits(&rest[8..10])?,
    );
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return Err(BAD);
    }
    let secs = days_from_civil(year, mo, d) * 86_400 + h * 3600 + mi * 60 + s;
    let secs = u64::try_from(secs).map_err(|_| BAD)?;
    Ok(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ber::encode;

    fn cert(not_after: (u32, &[u8])) -> Vec<u8> {
        let validity = [
            encode(0x17, b"200101000000Z"),
            encode(not_after.0, not_after.1),
        ]
        .concat();
        let tbs = [
            encode(0xA0, &encode(0x02, &[2])),
            encode(0x02, &[1, 2, 3]),
            encode(0x30, &encode(0x06, &[1])),
            encode(0x30, &[]),
            encode(0x30, &validity),
            encode(0x30, &[]),
        ]
        .concat();
        encode(0x30, &[encode(0x30, &tbs), encode(0x30, &[])].concat())
    }

    #[test]
    fn reads_not_after_in_both_time_forms() {
        let utc = not_after(&cert((0x17, b"261203150000Z"))).unwrap();
        // 2026-12-03T15:00:00Z
        assert_eq!(
            utc.duration_since(SystemTime::UNIX_EPOCH)
                .unwrap()
                .as_secs(),
            1_796_310_000
        );
        let generalized = not_after(&cert((0x18, b"20261203150000Z"))).unwrap();
        assert_eq!(utc, generalized);
    }

    proptest::proptest! {
        /// Bytes from the card: any, or a real certificate with bytes flipped, cut or appended, give a time
        /// or an error, never a panic.
        #[test]
        fn any_bytes_give_a_time_or_an_error(
            noise in proptest::collection::vec(proptest::num::u8::ANY, 0..300),
            flips in proptest::collection::vec((0usize..200, proptest::num::u8::ANY), 0..6),
            cut in 0usize..200,
        ) {
            let _ = not_after(&noise);
            let mut der = cert((0x17, b"261203150000Z"));
            for (at, b) in flips {
                if let Some(x) = der.get_mut(at % 160) {
                    *x ^= b;
                }
            }
            let _ = not_after(&der[..cut.min(der.len())]);
            der.extend_from_slice(&noise);
            let _ = not_after(&der);
        }
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for bad in [
            &b""[..],
            &[0x30, 0x00],
            &[0x30, 0x03, 0x30, 0x01, 0x02],
            &cert((0x17, b"26120315000Z")),
            &cert((0x17, b"261303150000Z")),
            &cert((0x05, b"")),
        ] {
            assert!(not_after(bad).is_err(), "{bad:02X?}");
        }
    }
}
