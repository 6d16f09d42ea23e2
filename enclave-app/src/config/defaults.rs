//! Defaults and bounds of every setting, and the names of the variables read outside
//! clap. Each bound says why that number; `--help` shows the ranges in brackets, so a
//! change here must change the matching doc comment in [`super::cli`] too.

use std::ops::RangeInclusive;

use net::{CID_ANY, DEFAULT_CONTROL_PORT, Endpoint};

use super::Mode;

/// Prefix of every environment variable enclave-app reads (besides `RUST_LOG`).
pub const ENV_PREFIX: &str = "ENCLAVE_";

/// The plaintext operator key (64 hex digits), simulated mode only. Environment only:
/// never a flag, so it cannot leak through the process list.
pub const OPERATOR_KEY_ENV: &str = "ENCLAVE_OPERATOR_KEY";

/// Fallback for the log filter when `ENCLAVE_LOG_FILTER` is unset, as every Rust
/// service reads it.
pub const RUST_LOG_ENV: &str = "RUST_LOG";

/// Largest config file read. The documented example is about 3 KiB; anything this
/// large is the wrong file, and the cap keeps a wrong path (a log, a device) from being
/// read into memory.
pub const MAX_CONFIG_FILE_BYTES: u64 = 64 * 1024;

/// Default `poll_interval_ms`: one new-head poll a second matches the fastest common
/// block times (1-2 s L2s) while costing 60 requests a minute idle.
pub const DEFAULT_POLL_INTERVAL_MS: u64 = 1000;
/// `poll_interval_ms` bounds: below 50 ms the loop would hammer even a local node;
/// above a minute it could sleep through a short draw window.
pub const POLL_INTERVAL_MS_RANGE: RangeInclusive<u64> = 50..=60_000;

/// Default `lookback_blocks`: about 33 hours of mainnet, enough to cover a round's
/// whole life with the usual betting durations.
pub const DEFAULT_LOOKBACK_BLOCKS: u64 = 10_000;
/// `lookback_blocks` bounds: 0 starts from the head; a million blocks (about 4.6 months
/// of mainnet) is already 500 log requests at the default chunk size at start.
pub const LOOKBACK_BLOCKS_RANGE: RangeInclusive<u64> = 0..=1_000_000;

/// Default `log_chunk_blocks`: inside the 2,000-10,000 block `eth_getLogs` range
/// limit most hosted RPC providers enforce.
pub const DEFAULT_LOG_CHUNK_BLOCKS: u64 = 2000;
/// `log_chunk_blocks` bounds: at least one block; above 100,000 every provider refuses
/// the range or the response outgrows `rpc_transport::MAX_RESPONSE_BYTES`.
pub const LOG_CHUNK_BLOCKS_RANGE: RangeInclusive<u64> = 1..=100_000;

/// Default `reconcile_interval_secs`: a full view read every 30 s bounds how long a
/// missed log can leave the mirror wrong, at 2 batched requests a minute.
pub const DEFAULT_RECONCILE_INTERVAL_SECS: u64 = 30;
/// `reconcile_interval_secs` bounds: from every second to hourly.
pub const RECONCILE_INTERVAL_SECS_RANGE: RangeInclusive<u64> = 1..=3600;

/// Default `history_limit`: finished rounds kept for the web page's history.
pub const DEFAULT_HISTORY_LIMIT: u64 = 50;
/// `history_limit` bounds: each round is a few hundred bytes; 1,000 caps memory
/// inside the enclave.
pub const HISTORY_LIMIT_RANGE: RangeInclusive<u64> = 1..=1000;

/// Default `activity_limit`: activity-feed entries kept in memory.
pub const DEFAULT_ACTIVITY_LIMIT: u64 = 500;
/// `activity_limit` bounds: 10,000 small entries cap memory inside the enclave.
pub const ACTIVITY_LIMIT_RANGE: RangeInclusive<u64> = 1..=10_000;

/// Default `receipt_timeout_secs`: five mainnet slots, or many L2 blocks.
pub const DEFAULT_RECEIPT_TIMEOUT_SECS: u64 = 60;
/// `receipt_timeout_secs` bounds: at least a second; beyond an hour the operator
/// would wait past any draw window.
pub const RECEIPT_TIMEOUT_SECS_RANGE: RangeInclusive<u64> = 1..=3600;

/// Default `replace_after_blocks`: three blocks without inclusion means the fee was
/// too low for the current market, not a transient gap.
pub const DEFAULT_REPLACE_AFTER_BLOCKS: u64 = 3;
/// `replace_after_blocks` bounds: at least one block; past 100 blocks a stuck draw
/// would outlive the draw window.
pub const REPLACE_AFTER_BLOCKS_RANGE: RangeInclusive<u64> = 1..=100;

/// Most RPC endpoints enclave-app takes: each one is a TLS connection pool inside
/// the enclave and an egress route on the host.
pub const MAX_RPC_URLS: usize = 8;

/// Default `clock_margin_secs` in nitro mode: the enclave's clock comes from the
/// hypervisor (kvm-clock), which the host cannot set; 2 s covers its drift against
/// the chain's block producers.
pub const DEFAULT_NITRO_CLOCK_MARGIN_SECS: u64 = 2;
/// `clock_margin_secs` bounds: up to an hour (longer would outlast draw windows).
pub const CLOCK_MARGIN_SECS_RANGE: RangeInclusive<u64> = 0..=3600;

/// Default `log_filter`.
pub const DEFAULT_LOG_FILTER: &str = "info";

/// The default control-channel listener for `mode`.
pub fn default_control_listen(mode: Mode) -> Endpoint {
    match mode {
        Mode::Sim => Endpoint::loopback(DEFAULT_CONTROL_PORT),
        Mode::Nitro => Endpoint::Vsock {
            cid: CID_ANY,
            port: u32::from(DEFAULT_CONTROL_PORT),
        },
    }
}
