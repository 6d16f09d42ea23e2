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

/// Wei as ETH with trailing zeros trimmed (`0.010000` -> `0.01`).
pub(crate) fn eth(wei: alloy::primitives::U256) -> String {
    let s = alloy::primitives::utils::format_ether(wei);
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    };
    format!("{s} ETH")
}

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
    use alloy::primitives::U256;

    #[test]
    fn eth_trims() {
        assert_eq!(eth(U256::from(10_000_000_000_000_000u64)), "0.01 ETH");
        assert_eq!(eth(U256::from(2_000_000_000_000_000_000u64)), "2 ETH");
        assert_eq!(eth(U256::ZERO), "0 ETH");
    }

    #[test]
    fn relative_times() {
        assert_eq!(relative(10, 4), "in 6 s");
        assert_eq!(relative(4, 10), "6 s ago");
        assert_eq!(relative(5, 5), "now");
    }
}
