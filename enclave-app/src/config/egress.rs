//! [`Egress`]: where the chain client's connections go — straight to the RPC host
//! (sim only) or through host-proxy's egress forwarder, one port per RPC URL.

use std::fmt;

use net::{DEFAULT_EGRESS_PORT, Endpoint, EndpointError, PARENT_CID};
use serde::Deserialize;

use super::Mode;

/// Where the chain client's connections go.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum Egress {
    /// Straight to the RPC URL's host (simulated mode without host-proxy).
    Direct,
    /// Every connection to this endpoint: host-proxy's egress forwarder, which sends
    /// it on to its configured upstream.
    Via(Endpoint),
}

impl Egress {
    /// Parses `direct` or an endpoint.
    ///
    /// # Errors
    /// When the text is neither.
    pub fn parse(text: &str) -> Result<Self, EndpointError> {
        if text == "direct" {
            Ok(Self::Direct)
        } else {
            Endpoint::parse(text).map(Self::Via)
        }
    }

    /// The route of RPC URL number `index` (from 0): the forwarder endpoint's port
    /// plus `index`, since host-proxy routes by listen endpoint (one upstream each);
    /// `None` when that port would overflow.
    pub fn for_upstream(&self, index: usize) -> Option<Self> {
        let offset = u32::try_from(index).ok()?;
        Some(match self {
            Self::Direct => Self::Direct,
            Self::Via(Endpoint::Tcp { host, port }) => Self::Via(Endpoint::Tcp {
                host: host.clone(),
                port: u16::try_from(u32::from(*port) + offset).ok()?,
            }),
            Self::Via(Endpoint::Vsock { cid, port }) => Self::Via(Endpoint::Vsock {
                cid: *cid,
                port: port.checked_add(offset)?,
            }),
        })
    }

    /// The default: host-proxy's forwarder on loopback (sim) or on the parent (nitro).
    pub fn default_for(mode: Mode) -> Self {
        match mode {
            Mode::Sim => Self::Via(Endpoint::loopback(DEFAULT_EGRESS_PORT)),
            Mode::Nitro => Self::Via(Endpoint::Vsock {
                cid: PARENT_CID,
                port: u32::from(DEFAULT_EGRESS_PORT),
            }),
        }
    }
}

impl TryFrom<String> for Egress {
    type Error = EndpointError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        Self::parse(&text)
    }
}

impl fmt::Display for Egress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Direct => f.write_str("direct"),
            Self::Via(endpoint) => endpoint.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_n_goes_to_the_egress_port_plus_n() {
        let egress = Egress::parse("tcp://127.0.0.1:7101").unwrap();
        assert_eq!(
            egress.for_upstream(1).unwrap().to_string(),
            "tcp://127.0.0.1:7102"
        );
        let full = Egress::parse("tcp://127.0.0.1:65535").unwrap();
        assert!(full.for_upstream(1).is_none());
        assert_eq!(
            Egress::parse("direct").unwrap().for_upstream(7),
            Some(Egress::Direct)
        );
    }
}
