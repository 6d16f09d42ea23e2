//! How values are written on every wire we own (DESIGN.md, "Wire shapes"): serde
//! adapters for wei as decimal strings, checksummed addresses and hex hashes, and
//! wei as ETH for people.
//!
//! Its own module because both the contract bindings (revert reasons name amounts)
//! and the JSON views use it; neither imports the other for it.

use alloy::primitives::U256;

/// Serde for wei amounts as decimal strings.
pub mod wei {
    use alloy::primitives::U256;
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    /// Serializes `value` as a decimal string.
    pub fn serialize<S: Serializer>(value: &U256, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(value)
    }

    /// Parses a decimal string (no sign, no exponent, no hex).
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<U256, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(D::Error::custom("expected a decimal string of wei"));
        }
        U256::from_str_radix(&text, 10).map_err(D::Error::custom)
    }
}

/// Serde for addresses in their EIP-55 checksummed form.
pub mod checksummed {
    use alloy::primitives::Address;
    use serde::{Deserialize, Deserializer, Serializer};

    /// Serializes `addr` checksummed.
    pub fn serialize<S: Serializer>(addr: &Address, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&addr.to_checksum(None))
    }

    /// Parses a hex address (any case) from a string, in every format (alloy's own
    /// deserializer expects raw bytes in binary formats such as CBOR).
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Address, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }

    /// The same for `Option<Address>` (`null` when absent).
    pub mod option {
        use alloy::primitives::Address;
        use serde::{Deserialize, Deserializer, Serializer};

        /// Serializes `addr` checksummed, or `null`.
        pub fn serialize<S: Serializer>(addr: &Option<Address>, s: S) -> Result<S::Ok, S::Error> {
            match addr {
                Some(a) => s.collect_str(&a.to_checksum(None)),
                None => s.serialize_none(),
            }
        }

        /// Parses a hex address (any case) or `null`.
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Address>, D::Error> {
            Option::<std::borrow::Cow<'de, str>>::deserialize(d)?
                .map(|text| text.parse().map_err(serde::de::Error::custom))
                .transpose()
        }
    }
}

/// Serde for hashes (block and transaction hashes, seeds) as `0x`-prefixed hex
/// strings in every format. alloy's own serde switches to raw bytes in binary formats,
/// and serde's flattening loses track of which one applies, so a snapshot would not
/// survive a CBOR round trip; one text form everywhere avoids that.
pub mod hash {
    use alloy::primitives::B256;
    use serde::{Deserialize, Deserializer, Serializer};

    /// Serializes `value` as `0x` and 64 hex digits.
    pub fn serialize<S: Serializer>(value: &B256, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&alloy::hex::encode_prefixed(value))
    }

    /// Parses `0x` and 64 hex digits.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<B256, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }

    /// The same for `Option<B256>` (`null` when absent).
    pub mod option {
        use alloy::primitives::B256;
        use serde::{Deserialize, Deserializer, Serializer};

        /// Serializes `value` as hex, or `null`.
        pub fn serialize<S: Serializer>(value: &Option<B256>, s: S) -> Result<S::Ok, S::Error> {
            match value {
                Some(v) => super::serialize(v, s),
                None => s.serialize_none(),
            }
        }

        /// Parses hex or `null`.
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<B256>, D::Error> {
            Option::<std::borrow::Cow<'de, str>>::deserialize(d)?
                .map(|text| text.parse().map_err(serde::de::Error::custom))
                .transpose()
        }
    }
}

/// Wei as ETH for people, trailing zeros trimmed (`10000000000000000` -> `0.01 ETH`).
pub fn format_eth(wei: U256) -> String {
    let s = alloy::primitives::utils::format_ether(wei);
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        &s
    };
    format!("{s} ETH")
}
