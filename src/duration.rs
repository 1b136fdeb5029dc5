//! Durations as users write them: `250ms`, `10s`, `5m`, `1h`, `1m30s`,
//! `1h2m3s500ms`, `0`. Pure parse and format, nothing else; what a JSON
//! integer means (milliseconds) is decided by `validate`, not here.
//!
//! The grammar is strict on purpose: units in descending order, each at
//! most once, no spaces, no signs, no fractions. A typo such as `10x` or
//! `1s1m` is an error rather than a guess.

#![allow(dead_code)]

use std::time::Duration;

/// The largest duration tend accepts: 100 years. Anything longer is a typo,
/// and a bound keeps `now + duration` arithmetic in nanoseconds far from
/// overflow everywhere downstream.
pub const MAX: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// Units in the only order they may appear, with their length in ms.
const UNITS: &[(&str, u64)] = &[("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)];

/// Parse a duration string. The error says what was wrong, for tests and
/// for messages that want the detail.
pub fn parse(s: &str) -> Result<Duration, String> {
    if s.is_empty() {
        return Err("empty duration".to_string());
    }
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    let bytes = s.as_bytes();
    let mut i = 0;
    let mut total: u64 = 0;
    // Index into UNITS of the last unit seen; the next must come later.
    let mut last_unit: Option<usize> = None;
    while i < bytes.len() {
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        if start == i {
            return Err(format!("expected a number at {:?} in {s:?}", &s[i..]));
        }
        let digits = &s[start..i];
        let ustart = i;
        while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
            i += 1;
        }
        let unit = &s[ustart..i];
        if unit.is_empty() {
            return Err(if ustart == bytes.len() {
                format!("missing unit after {digits:?} in {s:?} (use ms, s, m or h)")
            } else {
                format!("unexpected {:?} in {s:?}", &s[ustart..])
            });
        }
        let Some(idx) = UNITS.iter().position(|(u, _)| *u == unit) else {
            return Err(format!(
                "unknown unit {unit:?} in {s:?} (use ms, s, m or h)"
            ));
        };
        if let Some(prev) = last_unit {
            if idx <= prev {
                return Err(format!(
                    "unit {unit:?} repeated or out of order in {s:?} (write h, m, s, ms in that order)"
                ));
            }
        }
        last_unit = Some(idx);
        let n: u64 = digits
            .parse()
            .map_err(|_| format!("number too large in {s:?}"))?;
        total = n
            .checked_mul(UNITS[idx].1)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| format!("duration too large: {s:?}"))?;
    }
    let d = Duration::from_millis(total);
    if d > MAX {
        return Err(format!(
            "duration too large: {s:?} (at most {})",
            format(MAX)
        ));
    }
    Ok(d)
}

/// The canonical, shortest spelling: `1m30s`, `250ms`, `1h2m3s500ms`,
/// `0s`. Precision below a millisecond is dropped (tend never produces
/// it). `parse(&format(d)) == d` for every millisecond-exact `d <= MAX`.
pub fn format(d: Duration) -> String {
    let mut ms = d.as_millis();
    if ms == 0 {
        return "0s".to_string();
    }
    let mut out = String::new();
    for &(unit, len) in UNITS {
        let len = u128::from(len);
        let n = ms / len;
        if n > 0 {
            out.push_str(&n.to_string());
            out.push_str(unit);
            ms -= n * len;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn parses_good_spellings() {
        let cases: &[(&str, u64)] = &[
            ("0", 0),
            ("0s", 0),
            ("0ms", 0),
            ("0h0m0s0ms", 0),
            ("250ms", 250),
            ("10s", 10_000),
            ("5m", 300_000),
            ("1h", 3_600_000),
            ("1m30s", 90_000),
            ("1h2m3s500ms", 3_723_500),
            ("90s", 90_000),
            ("1500ms", 1500),
            ("48h", 172_800_000),
            ("1h30m", 5_400_000),
            ("2m500ms", 120_500),
            ("007s", 7000),
        ];
        for &(s, want) in cases {
            assert_eq!(parse(s), Ok(ms(want)), "{s}");
        }
    }

    #[test]
    fn rejects_bad_spellings() {
        for s in [
            "", " ", "10", "1", "-1s", "+1s", "1.5s", "10x", "1 s", " 1s", "1s ", "s", "ms",
            "1s1m", "1s1s", "1m1h", "1ms1s", "1S", "1Ms", "1sec", "1d", "1m30", "00", "0x",
            "1h-1m", "1_000ms", "1,5s", "1e3ms",
        ] {
            assert!(parse(s).is_err(), "{s:?} must be rejected");
        }
    }

    #[test]
    fn rejects_overflow() {
        assert!(parse("18446744073709551616ms").is_err());
        assert!(parse("18446744073709551615h").is_err());
        assert!(parse("99999999999999999h").is_err());
        assert!(parse("876001h").is_err());
        assert_eq!(parse("876000h"), Ok(MAX));
    }

    #[test]
    fn error_text_says_why() {
        assert_eq!(
            parse("10x").unwrap_err(),
            "unknown unit \"x\" in \"10x\" (use ms, s, m or h)"
        );
        assert_eq!(
            parse("10").unwrap_err(),
            "missing unit after \"10\" in \"10\" (use ms, s, m or h)"
        );
        assert_eq!(parse("").unwrap_err(), "empty duration");
    }

    #[test]
    fn formats_canonically() {
        let cases: &[(u64, &str)] = &[
            (0, "0s"),
            (1, "1ms"),
            (250, "250ms"),
            (1000, "1s"),
            (1500, "1s500ms"),
            (60_000, "1m"),
            (90_000, "1m30s"),
            (3_600_000, "1h"),
            (3_723_500, "1h2m3s500ms"),
            (172_800_000, "48h"),
            (3_600_001, "1h1ms"),
        ];
        for &(n, want) in cases {
            assert_eq!(format(ms(n)), want, "{n}");
        }
        assert_eq!(format(Duration::from_nanos(999_999)), "0s");
    }

    #[test]
    fn round_trips() {
        let mut n: u64 = 0;
        while n < 400_000_000 {
            assert_eq!(parse(&format(ms(n))), Ok(ms(n)), "{n}");
            n = n * 3 + 7;
        }
        for n in 0..5000 {
            assert_eq!(parse(&format(ms(n))), Ok(ms(n)));
        }
        assert_eq!(parse(&format(MAX)), Ok(MAX));
    }
}
