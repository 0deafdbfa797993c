//! Dates as the site shows them: day numbers (days since 1970-01-01, UTC) for the timeline
//! and "days left" until an end of support, computed as of the `--today` date.

use crate::build::epoch::parse_rfc3339;

/// The day number of `YYYY-MM-DD` or an RFC 3339 date-time; `None` when it is neither.
pub fn day(s: &str) -> Option<i64> {
    let secs = if s.len() == 10 {
        parse_rfc3339(&format!("{s}T00:00:00Z"))?
    } else {
        parse_rfc3339(s)?
    };
    i64::try_from(secs / 86_400).ok()
}

/// Checks a `--today` value: `YYYY-MM-DD`, a real date.
pub fn check_today(s: &str) -> anyhow::Result<()> {
    let ok =
        s.len() == 10 && day(s).is_some_and(|d| crate::build::epoch::date(d as u64 * 86_400) == s);
    if ok {
        Ok(())
    } else {
        Err(crate::error::input(format!(
            "--today {s:?} is not a date (write YYYY-MM-DD, e.g. 2026-01-31)"
        )))
    }
}

/// The date part of an RFC 3339 time (what tables show).
pub fn date_of(s: &str) -> &str {
    s.get(..10).unwrap_or(s)
}

/// "N days left" / "ends today" / "ended N days ago" for an end of support.
pub fn days_left(end_of_support: &str, today: &str) -> String {
    match (day(end_of_support), day(today)) {
        (Some(e), Some(t)) if e > t => {
            let n = e - t;
            format!("{n} day{} left", if n == 1 { "" } else { "s" })
        }
        (Some(e), Some(t)) if e == t => "ends today".to_string(),
        (Some(e), Some(t)) => {
            let n = t - e;
            format!("ended {n} day{} ago", if n == 1 { "" } else { "s" })
        }
        _ => "unknown date".to_string(),
    }
}

/// Support end with days left, or "not set".
pub fn support(end_of_support: Option<&str>, today: &str) -> String {
    match end_of_support {
        Some(e) => format!("{e} ({})", days_left(e, today)),
        None => "not set".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_left_counts_from_today() {
        assert_eq!(days_left("2026-01-31", "2026-01-01"), "30 days left");
        assert_eq!(days_left("2026-01-02", "2026-01-01"), "1 day left");
        assert_eq!(days_left("2026-01-01", "2026-01-01"), "ends today");
        assert_eq!(days_left("2025-12-30", "2026-01-01"), "ended 2 days ago");
        assert_eq!(days_left("garbage", "2026-01-01"), "unknown date");
        assert_eq!(day("2025-01-01T12:00:00Z"), day("2025-01-01"));
    }

    #[test]
    fn today_must_be_a_real_date() {
        assert!(check_today("2026-02-28").is_ok());
        for bad in ["2026-02-30", "2026-1-01", "today", "2026-01-01T00:00:00Z"] {
            assert!(check_today(bad).is_err(), "{bad}");
        }
    }
}
