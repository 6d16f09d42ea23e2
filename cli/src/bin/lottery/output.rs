//! Printing results: JSON with `--json`, otherwise short text for people.

use serde::Serialize;

/// Prints `value` as pretty JSON, or `text()` for humans.
pub(crate) fn emit<T: Serialize>(
    json: bool,
    value: &T,
    text: impl FnOnce() -> String,
) -> eyre::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(value)?);
    } else {
        println!("{}", text());
    }
    Ok(())
}

pub(crate) use abi::wire::format_eth as eth;

/// A chain timestamp relative to the latest block (`in 42 s`, `12 s ago`).
pub(crate) fn relative(at: u64, now: u64) -> String {
    match at.cmp(&now) {
        std::cmp::Ordering::Greater => format!("in {} s", at - now),
        std::cmp::Ordering::Less => format!("{} s ago", now - at),
        std::cmp::Ordering::Equal => "now".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_times() {
        assert_eq!(relative(10, 4), "in 6 s");
        assert_eq!(relative(4, 10), "6 s ago");
        assert_eq!(relative(5, 5), "now");
    }
}
