//! Times on the command line and in output: RFC 3339 in UTC (`humantime`) or Unix
//! seconds.

use std::time::{Duration, UNIX_EPOCH};

use attestation::UnixTime;

/// Why a `--at` value is not a time.
#[derive(Debug, thiserror::Error)]
#[error("expected RFC 3339 in UTC (for example 2022-10-13T08:58:02.136Z) or Unix seconds")]
pub(crate) struct TimeArgError;

/// `2022-10-13T08:58:02.136Z`.
pub(crate) fn format_rfc3339(time: UnixTime) -> String {
    humantime::format_rfc3339_millis(UNIX_EPOCH + Duration::from_millis(time.as_millis()))
        .to_string()
}

/// RFC 3339 in UTC, or whole Unix seconds.
pub(crate) fn parse_time(text: &str) -> Result<UnixTime, TimeArgError> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text
            .parse::<u64>()
            .ok()
            .and_then(|secs| secs.checked_mul(1000))
            .map(UnixTime::from_millis)
            .ok_or(TimeArgError);
    }
    let time = humantime::parse_rfc3339(text).map_err(|_| TimeArgError)?;
    UnixTime::from_system_time(time).ok_or(TimeArgError)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let t = parse_time("2022-10-13T08:58:02.136Z").unwrap();
        assert_eq!(t.as_millis(), 1_665_651_482_136);
        assert_eq!(format_rfc3339(t), "2022-10-13T08:58:02.136Z");
        assert_eq!(
            parse_time("1665651482").unwrap().as_millis(),
            1_665_651_482_000
        );
        assert_eq!(
            parse_time("2024-02-29T00:00:00Z").unwrap().as_millis(),
            1_709_164_800_000
        );
        assert_eq!(
            format_rfc3339(UnixTime::from_millis(0)),
            "1970-01-01T00:00:00.000Z"
        );
        for bad in [
            "",
            "yesterday",
            "2022-13-01T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "2022-10-13T08:58:02",
            "-5",
            "99999999999999999999",
        ] {
            assert!(parse_time(bad).is_err(), "{bad:?}");
        }
    }
}
