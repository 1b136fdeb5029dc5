//! RFC 3339 timestamps in the one shape tend writes:
//! `2026-11-26T02:53:46.123Z` (UTC, always milliseconds, always `Z`).
//! Pure: the caller passes Unix milliseconds; nothing here reads the clock
//! or the time zone database. Used for log line prefixes, events and the
//! status document; `parse_unix_ms` reads the same shape back (tests and
//! clients).
//!
//! The calendar maths is Howard Hinnant's `civil_from_days` /
//! `days_from_civil` (proleptic Gregorian), checked in the tests against a
//! day-by-day walk over every date from 1970 to 9999.

#![allow(dead_code)]

const MS_PER_DAY: u64 = 86_400_000;

/// Largest instant with a four-digit year: 9999-12-31T23:59:59.999Z.
pub const MAX_UNIX_MS: u64 = 253_402_300_799_999;

/// Format Unix milliseconds as `YYYY-MM-DDTHH:MM:SS.mmmZ`. Instants after
/// year 9999 get a longer year field (not RFC 3339; tend never meets them).
pub fn format_unix_ms(ms: u64) -> String {
    let days = ms / MS_PER_DAY;
    let rem = ms % MS_PER_DAY;
    let (y, m, d) = civil_from_days(days);
    let (hh, rem) = (rem / 3_600_000, rem % 3_600_000);
    let (mm, rem) = (rem / 60_000, rem % 60_000);
    let (ss, milli) = (rem / 1000, rem % 1000);
    format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}.{milli:03}Z")
}

/// Parse exactly the shape `format_unix_ms` writes (years 1970..=9999).
/// Anything else (other offsets, no fraction, leap seconds, impossible
/// dates) is `None`.
pub fn parse_unix_ms(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.len() != 24 {
        return None;
    }
    let seps = [
        (4, b'-'),
        (7, b'-'),
        (10, b'T'),
        (13, b':'),
        (16, b':'),
        (19, b'.'),
        (23, b'Z'),
    ];
    if seps.iter().any(|&(i, c)| b[i] != c) {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<u64> {
        let part = &b[from..to];
        if !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        Some(
            part.iter()
                .fold(0, |acc, &c| acc * 10 + u64::from(c - b'0')),
        )
    };
    let y = num(0, 4)?;
    let m = num(5, 7)?;
    let d = num(8, 10)?;
    let hh = num(11, 13)?;
    let mm = num(14, 16)?;
    let ss = num(17, 19)?;
    let milli = num(20, 23)?;
    if y < 1970 || !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m) {
        return None;
    }
    if hh > 23 || mm > 59 || ss > 59 {
        return None;
    }
    let days = days_from_civil(y, m, d);
    Some(days * MS_PER_DAY + hh * 3_600_000 + mm * 60_000 + ss * 1000 + milli)
}

fn is_leap(y: u64) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

fn days_in_month(y: u64, m: u64) -> u64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(y) => 29,
        _ => 28,
    }
}

/// Days since 1970-01-01 → (year, month 1-12, day 1-31).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    // Shift the epoch to 0000-03-01 so leap days fall at the end of the
    // (March-based) year; eras are 400-year cycles of 146097 days. Days are
    // never before 1970, so everything stays unsigned.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

/// (year >= 1970, month, day) → days since 1970-01-01.
fn days_from_civil(y: u64, m: u64, d: u64) -> u64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: u64 = MS_PER_DAY;

    #[test]
    fn known_instants() {
        let cases: &[(u64, &str)] = &[
            (0, "1970-01-01T00:00:00.000Z"),
            (1, "1970-01-01T00:00:00.001Z"),
            (999, "1970-01-01T00:00:00.999Z"),
            (DAY - 1, "1970-01-01T23:59:59.999Z"),
            (DAY, "1970-01-02T00:00:00.000Z"),
            (68_169_600_000, "1972-02-29T00:00:00.000Z"),
            (951_782_400_000, "2000-02-29T00:00:00.000Z"),
            (951_868_800_000, "2000-03-01T00:00:00.000Z"),
            (978_307_199_999, "2000-12-31T23:59:59.999Z"),
            (1_234_567_890_123, "2009-02-13T23:31:30.123Z"),
            (1_709_164_800_000, "2024-02-29T00:00:00.000Z"),
            (1_795_661_626_123, "2026-11-26T02:53:46.123Z"),
            (4_107_456_000_000, "2100-02-28T00:00:00.000Z"),
            (4_107_542_400_000, "2100-03-01T00:00:00.000Z"),
            (253_402_214_400_000, "9999-12-31T00:00:00.000Z"),
            (MAX_UNIX_MS, "9999-12-31T23:59:59.999Z"),
        ];
        for &(ms, s) in cases {
            assert_eq!(format_unix_ms(ms), s, "{ms}");
            assert_eq!(parse_unix_ms(s), Some(ms), "{s}");
        }
        assert_eq!(format_unix_ms(MAX_UNIX_MS + 1), "10000-01-01T00:00:00.000Z");
    }

    /// Walk every day from 1970-01-01 to 9999-12-31 with a naive calendar
    /// and check both directions of the fast algorithm against it.
    #[test]
    fn every_day_1970_to_9999() {
        let mut days = 0u64;
        for y in 1970..=9999u64 {
            for m in 1..=12u64 {
                for d in 1..=days_in_month(y, m) {
                    assert_eq!(civil_from_days(days), (y, m, d), "day {days}");
                    assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
                    days += 1;
                }
            }
        }
        assert_eq!(days * DAY - 1, MAX_UNIX_MS);
    }

    #[test]
    fn leap_rules() {
        assert!(is_leap(2000));
        assert!(is_leap(2024));
        assert!(!is_leap(1900));
        assert!(!is_leap(2100));
        assert!(!is_leap(2023));
        assert!(parse_unix_ms("2000-02-29T00:00:00.000Z").is_some());
        assert!(parse_unix_ms("2024-02-29T12:00:00.000Z").is_some());
        assert_eq!(parse_unix_ms("2100-02-29T00:00:00.000Z"), None);
        assert_eq!(parse_unix_ms("2023-02-29T00:00:00.000Z"), None);
    }

    #[test]
    fn round_trips_many_values() {
        let mut ms = 0u64;
        while ms <= MAX_UNIX_MS {
            let s = format_unix_ms(ms);
            assert_eq!(s.len(), 24, "{s}");
            assert_eq!(parse_unix_ms(&s), Some(ms), "{s}");
            ms = ms * 2 + 12_345;
        }
        // Every millisecond across a day boundary and every second of a day.
        for ms in (DAY * 11_016 - 2000)..(DAY * 11_016 + 2000) {
            assert_eq!(parse_unix_ms(&format_unix_ms(ms)), Some(ms));
        }
        for sec in 0..86_400u64 {
            let ms = DAY * 20_000 + sec * 1000 + sec % 1000;
            assert_eq!(parse_unix_ms(&format_unix_ms(ms)), Some(ms));
        }
    }

    #[test]
    fn rejects_other_shapes() {
        for s in [
            "",
            "2026-11-26T02:53:46Z",
            "2026-11-26T02:53:46.123",
            "2026-11-26T02:53:46.123+00:00",
            "2026-11-26 02:53:46.123Z",
            "2026-11-26t02:53:46.123z",
            "2026-13-01T00:00:00.000Z",
            "2026-00-01T00:00:00.000Z",
            "2026-04-31T00:00:00.000Z",
            "2026-01-00T00:00:00.000Z",
            "2026-01-01T24:00:00.000Z",
            "2026-01-01T00:60:00.000Z",
            "2026-01-01T00:00:60.000Z",
            "1969-12-31T23:59:59.999Z",
            "2026-1-01T00:00:00.0000Z",
            "+026-11-26T02:53:46.123Z",
            "2026-11-26T02:53:46.12aZ",
            "2026-11-26T02:53:46.1234Z",
        ] {
            assert_eq!(parse_unix_ms(s), None, "{s:?}");
        }
    }
}
