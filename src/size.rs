//! Byte sizes as users write them: `100B`, `512KiB`, `10MiB`, `1GiB`
//! (binary, 1024) and `10KB`, `10MB`, `1GB` (decimal, 1000). Pure parse and
//! format; what a JSON integer means (bytes) is decided by `validate`.
//!
//! Units are case-sensitive as written (`10mb` is an error, not a guess
//! between megabytes and millibits); no spaces, no fractions.

#![allow(dead_code)]

/// Accepted units and their multipliers.
const UNITS: &[(&str, u64)] = &[
    ("B", 1),
    ("KB", 1000),
    ("MB", 1000 * 1000),
    ("GB", 1000 * 1000 * 1000),
    ("TB", 1000 * 1000 * 1000 * 1000),
    ("KiB", 1 << 10),
    ("MiB", 1 << 20),
    ("GiB", 1 << 30),
    ("TiB", 1 << 40),
];

/// Parse a size string into bytes. `0` alone is accepted; any other number
/// needs a unit.
pub fn parse(s: &str) -> Result<u64, String> {
    if s.is_empty() {
        return Err("empty size".to_string());
    }
    if s == "0" {
        return Ok(0);
    }
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    if digits.is_empty() {
        return Err(format!("expected a number at the start of {s:?}"));
    }
    if unit.is_empty() {
        return Err(format!(
            "missing unit after {digits:?} (use B, KiB, MiB, GiB, KB, MB or GB)"
        ));
    }
    let Some(&(_, mult)) = UNITS.iter().find(|(u, _)| *u == unit) else {
        return Err(format!(
            "unknown unit {unit:?} in {s:?} (use B, KiB, MiB, GiB, KB, MB or GB)"
        ));
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("size too large: {s:?}"))?;
    n.checked_mul(mult)
        .ok_or_else(|| format!("size too large: {s:?}"))
}

/// The shortest exact spelling, preferring binary units: `10MiB`,
/// `512KiB`, `1KB`, `100B`, `0B`. `parse(&format(n)) == n` for every `n`.
pub fn format(n: u64) -> String {
    if n == 0 {
        return "0B".to_string();
    }
    // Binary first (the usual way sizes are written in configs), largest
    // unit that divides exactly; then decimal; else bytes.
    for unit in ["TiB", "GiB", "MiB", "KiB", "TB", "GB", "MB", "KB"] {
        if let Some(&(_, mult)) = UNITS.iter().find(|(u, _)| *u == unit) {
            if n % mult == 0 {
                return format!("{}{unit}", n / mult);
            }
        }
    }
    format!("{n}B")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_good_spellings() {
        let cases: &[(&str, u64)] = &[
            ("0", 0),
            ("0B", 0),
            ("100B", 100),
            ("512KiB", 512 * 1024),
            ("10MiB", 10 * 1024 * 1024),
            ("1GiB", 1 << 30),
            ("2TiB", 2 << 40),
            ("10KB", 10_000),
            ("10MB", 10_000_000),
            ("1GB", 1_000_000_000),
            ("3TB", 3_000_000_000_000),
        ];
        for &(s, want) in cases {
            assert_eq!(parse(s), Ok(want), "{s}");
        }
    }

    #[test]
    fn rejects_bad_spellings() {
        for s in [
            "", "10", "1.5MiB", "-1B", "+1B", "10 MiB", " 10MiB", "10MiB ", "10mib", "10mb",
            "10kb", "10Kb", "10KIB", "10b", "MiB", "10M", "10K", "10G", "10iB", "1e3B", "10MiBB",
            "1_000B",
        ] {
            assert!(parse(s).is_err(), "{s:?} must be rejected");
        }
    }

    #[test]
    fn rejects_overflow() {
        assert!(parse("18446744073709551616B").is_err());
        assert!(parse("17179869184GiB").is_err());
        assert_eq!(parse("18446744073709551615B"), Ok(u64::MAX));
    }

    #[test]
    fn error_text_says_why() {
        assert_eq!(
            parse("10mb").unwrap_err(),
            "unknown unit \"mb\" in \"10mb\" (use B, KiB, MiB, GiB, KB, MB or GB)"
        );
    }

    #[test]
    fn formats_shortest_exact() {
        let cases: &[(u64, &str)] = &[
            (0, "0B"),
            (1, "1B"),
            (100, "100B"),
            (1000, "1KB"),
            (1024, "1KiB"),
            (1536, "1536B"),
            (512 * 1024, "512KiB"),
            (10 * 1024 * 1024, "10MiB"),
            (1 << 30, "1GiB"),
            (10_000_000, "10MB"),
            (1 << 40, "1TiB"),
        ];
        for &(n, want) in cases {
            assert_eq!(format(n), want, "{n}");
        }
    }

    #[test]
    fn round_trips() {
        let mut n: u64 = 0;
        while n < u64::MAX / 3 {
            assert_eq!(parse(&format(n)), Ok(n), "{n}");
            n = n * 3 + 1;
        }
        for n in (0..100_000u64).step_by(7) {
            assert_eq!(parse(&format(n)), Ok(n));
        }
        assert_eq!(parse(&format(u64::MAX)), Ok(u64::MAX));
    }
}
