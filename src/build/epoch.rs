//! The build epoch: the one timestamp that goes into an image (file mtimes, `created`,
//! history). It comes from SOURCE_DATE_EPOCH, the blueprint, or the base image, in that
//! order, and is never read from the clock.

use anyhow::Result;

/// Where the epoch came from, reported in `--json` so a surprising digest can be explained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EpochSource {
    SourceDateEpoch,
    Blueprint,
    Base,
    Zero,
}

/// Picks the epoch: SOURCE_DATE_EPOCH (the reproducible-builds convention) wins when
/// set, then the blueprint's `epoch`, then the base image's `created`, then 0.
/// `source_date_epoch` is the variable's value, read by the caller (`std::env::var`).
pub fn resolve(
    source_date_epoch: Option<&str>,
    blueprint: Option<u64>,
    base_created: Option<&str>,
) -> Result<(u64, EpochSource)> {
    if let Some(s) = source_date_epoch {
        let n = s.trim().parse::<u64>().map_err(|_| {
            crate::error::input(format!(
                "SOURCE_DATE_EPOCH={s:?} is not a whole number of seconds since 1970"
            ))
        })?;
        return Ok((n, EpochSource::SourceDateEpoch));
    }
    if let Some(e) = blueprint {
        return Ok((e, EpochSource::Blueprint));
    }
    if let Some(t) = base_created.and_then(parse_rfc3339) {
        return Ok((t, EpochSource::Base));
    }
    Ok((0, EpochSource::Zero))
}

/// Formats seconds since 1970 as RFC 3339 in UTC (`2023-11-14T22:13:20Z`).
pub fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

/// The calendar date (YYYY-MM-DD) of an epoch, in UTC.
pub fn date(secs: u64) -> String {
    rfc3339(secs)[..10].to_string()
}

/// Parses the RFC 3339 forms images carry (`…Z` or `±hh:mm`, optional fraction) to seconds.
pub fn parse_rfc3339(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !(b[10] == b'T' || b[10] == b't') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut rest = &s[19..];
    if let Some(r) = rest.strip_prefix('.') {
        rest = r.trim_start_matches(|c: char| c.is_ascii_digit());
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6 => {
            let sign = match &rest[..1] {
                "+" => 1,
                "-" => -1,
                _ => return None,
            };
            sign * (rest[1..3].parse::<i64>().ok()? * 3600 + rest[4..6].parse::<i64>().ok()? * 60)
        }
        _ => return None,
    };
    let t = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se - offset;
    u64::try_from(t).ok()
}

// Howard Hinnant's civil-calendar algorithms (public domain), proleptic Gregorian.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence_is_env_then_blueprint_then_base() {
        let base = Some("2023-11-14T22:13:20Z");
        assert_eq!(
            resolve(Some("5"), Some(7), base).unwrap(),
            (5, EpochSource::SourceDateEpoch)
        );
        assert_eq!(
            resolve(None, Some(7), base).unwrap(),
            (7, EpochSource::Blueprint)
        );
        assert_eq!(
            resolve(None, None, base).unwrap(),
            (1_700_000_000, EpochSource::Base)
        );
        assert_eq!(resolve(None, None, None).unwrap(), (0, EpochSource::Zero));
        assert!(resolve(Some("soon"), None, None).is_err());
    }

    #[test]
    fn formats_known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(date(1_700_000_000), "2023-11-14");
    }

    #[test]
    fn parses_what_it_formats_and_offsets() {
        for t in [0, 1_700_000_000, 951_782_400, 4_102_444_800] {
            assert_eq!(parse_rfc3339(&rfc3339(t)), Some(t));
        }
        assert_eq!(
            parse_rfc3339("2023-11-14T23:13:20.123+01:00"),
            Some(1_700_000_000)
        );
        assert_eq!(parse_rfc3339("yesterday"), None);
    }
}
