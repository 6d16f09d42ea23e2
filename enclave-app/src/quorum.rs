//! Agreement among JSON-RPC upstreams: the facts the operator signs on.
//!
//! One upstream can lie: the host when the URL is `http://`, or a provider even over
//! TLS. It can move block times forward so a draw (which reveals the seed) is signed
//! while betting is still open, or forge the round. So before the operator signs
//! anything it reads the facts it acts on (the block's number, hash and timestamp; the
//! round's id, state, times, commitment and pot; the operator address) pinned to one
//! block from every upstream, and acts only when `K` of them (`--rpc-quorum`) report
//! them identically. Anything less is a [`Disagreement`]: the operator waits and says
//! which upstream differs on which fact.
//!
//! The mirror follows the first upstream only; this is the one place the others are
//! read, and only when an action is due, so their load is a few requests a round.

use std::{fmt, time::Duration};

use alloy::primitives::Address;
use futures_util::future::join_all;

use crate::chain::{ChainClient, ChainError, Facts};

/// Tries for an upstream that does not have the block yet (it lags the one the
/// mirror follows by a moment), [`LAG_RETRY`] apart: about a second in all.
const LAG_TRIES: u32 = 10;

/// Pause between tries for a lagging upstream.
const LAG_RETRY: Duration = Duration::from_millis(100);

/// One JSON-RPC upstream.
#[derive(Debug, Clone)]
pub struct Upstream {
    /// `host:port`, as logs, the status and the attestation name it.
    pub name: String,
    /// Its client.
    pub client: ChainClient,
}

/// Why the upstreams did not confirm the facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disagreement {
    /// The upstream that differs or failed.
    pub upstream: String,
    /// The fact it reports differently (`head.timestamp`, `round.endTime`, …), or
    /// `answer` when it gave none.
    pub fact: &'static str,
    /// The block the facts were read at.
    pub block: u64,
    /// The two values, or the error.
    pub detail: String,
}

impl fmt::Display for Disagreement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.fact == "answer" {
            write!(
                f,
                "upstream {} gave no facts at block {}: {}",
                self.upstream, self.block, self.detail
            )
        } else {
            write!(
                f,
                "upstream {} reports a different {} at block {}: {}",
                self.upstream, self.fact, self.block, self.detail
            )
        }
    }
}

/// The upstreams and how many must agree.
#[derive(Debug, Clone)]
pub struct Quorum {
    upstreams: Vec<Upstream>,
    needed: usize,
}

impl Quorum {
    /// `needed` of `upstreams` must agree (clamped to `1..=upstreams.len()`).
    ///
    /// # Panics
    /// When `upstreams` is empty.
    pub fn new(upstreams: Vec<Upstream>, needed: usize) -> Self {
        assert!(!upstreams.is_empty(), "at least one upstream");
        let needed = needed.clamp(1, upstreams.len());
        Self { upstreams, needed }
    }

    /// The upstreams, the followed one first.
    pub fn upstreams(&self) -> &[Upstream] {
        &self.upstreams
    }

    /// How many must agree.
    pub const fn needed(&self) -> usize {
        self.needed
    }

    /// Reads the facts at block `number` from every upstream and returns them when
    /// exactly one version is reported by at least [`Self::needed`] upstreams.
    /// Otherwise the [`Disagreement`] with the largest group, naming the first
    /// upstream outside it.
    pub async fn confirm(&self, number: u64) -> Result<Facts, Disagreement> {
        let answers = join_all(
            self.upstreams
                .iter()
                .map(|upstream| read_when_there(&upstream.client, number)),
        )
        .await;
        let mut groups: Vec<(Facts, Vec<usize>)> = Vec::new();
        for (i, answer) in answers.iter().enumerate() {
            let Ok(facts) = answer else { continue };
            match groups
                .iter_mut()
                .find(|(g, _)| difference(g, facts).is_none())
            {
                Some((_, members)) => members.push(i),
                None => groups.push((facts.clone(), vec![i])),
            }
        }
        let qualified = groups
            .iter()
            .filter(|(_, members)| members.len() >= self.needed)
            .count();
        // The largest group (the followed upstream's on ties) is the reference.
        groups.sort_by_key(|(_, members)| (std::cmp::Reverse(members.len()), members[0]));
        if qualified == 1 {
            return Ok(groups.swap_remove(0).0);
        }
        let reference = groups.first();
        let outsider = (0..self.upstreams.len())
            .find(|i| reference.is_none_or(|(_, members)| !members.contains(i)))
            .unwrap_or(0);
        let upstream = self.upstreams[outsider].name.clone();
        let reference_name = reference.map_or_else(String::new, |(_, members)| {
            self.upstreams[members[0]].name.clone()
        });
        Err(match (&answers[outsider], reference) {
            (Err(error), _) => Disagreement {
                upstream,
                fact: "answer",
                block: number,
                detail: error.clone(),
            },
            (Ok(theirs), Some((ours, _))) => {
                let (fact, ours, theirs) =
                    difference(ours, theirs).unwrap_or(("facts", String::new(), String::new()));
                Disagreement {
                    fact,
                    block: number,
                    detail: format!("{ours} from {reference_name}, {theirs} from {upstream}"),
                    upstream,
                }
            }
            (Ok(_), None) => Disagreement {
                upstream,
                fact: "facts",
                block: number,
                detail: "no group of upstreams agrees".to_owned(),
            },
        })
    }
}

/// The facts at `number` from one upstream, waiting briefly for one that lags.
async fn read_when_there(client: &ChainClient, number: u64) -> Result<Facts, String> {
    for _ in 0..LAG_TRIES {
        match client.facts(number).await {
            Ok(Some(facts)) => return Ok(facts),
            Ok(None) => tokio::time::sleep(LAG_RETRY).await,
            Err(e) => return Err(error_text(&e)),
        }
    }
    Err(format!("it does not have block {number}"))
}

fn error_text(e: &ChainError) -> String {
    runner::error_chain(e)
}

/// The first fact `theirs` reports differently from `ours`, with both values.
pub fn difference(ours: &Facts, theirs: &Facts) -> Option<(&'static str, String, String)> {
    fn differ<T: PartialEq + fmt::Debug>(
        fact: &'static str,
        a: &T,
        b: &T,
    ) -> Option<(&'static str, String, String)> {
        (a != b).then(|| (fact, format!("{a:?}"), format!("{b:?}")))
    }
    let (a, b) = (ours, theirs);
    let operator = |f: &Facts| -> Option<Address> { f.config.operator };
    differ("head.number", &a.head.number, &b.head.number)
        .or_else(|| differ("head.hash", &a.head.hash, &b.head.hash))
        .or_else(|| differ("head.timestamp", &a.head.timestamp, &b.head.timestamp))
        .or_else(|| differ("round.id", &a.round.round_id, &b.round.round_id))
        .or_else(|| differ("round.state", &a.round.state, &b.round.state))
        .or_else(|| differ("round.startTime", &a.round.start_time, &b.round.start_time))
        .or_else(|| differ("round.endTime", &a.round.end_time, &b.round.end_time))
        .or_else(|| {
            differ(
                "round.minDrawTime",
                &a.round.min_draw_time,
                &b.round.min_draw_time,
            )
        })
        .or_else(|| {
            differ(
                "round.maxDrawTime",
                &a.round.max_draw_time,
                &b.round.max_draw_time,
            )
        })
        .or_else(|| {
            differ(
                "round.seedCommitment",
                &a.round.seed_commitment,
                &b.round.seed_commitment,
            )
        })
        .or_else(|| differ("round.totalPot", &a.round.total_pot, &b.round.total_pot))
        .or_else(|| differ("config.operator", &operator(a), &operator(b)))
}

#[cfg(test)]
mod tests {
    use abi::{contract::RoundState, state::ChainHead};
    use alloy::primitives::B256;

    use super::*;

    fn facts(timestamp: u64, end_time: u64) -> Facts {
        Facts {
            head: ChainHead {
                number: 7,
                hash: B256::repeat_byte(7),
                timestamp,
            },
            config: crate::fixtures::config(Some(Address::repeat_byte(1))),
            round: crate::fixtures::round(1, RoundState::Betting, end_time, 5, 2),
        }
    }

    #[test]
    fn the_first_differing_fact_is_named_with_both_values() {
        let honest = facts(1100, 1180);
        assert_eq!(difference(&honest, &honest.clone()), None);
        let (fact, ours, theirs) = difference(&honest, &facts(1170, 1180)).unwrap();
        assert_eq!(
            (fact, ours.as_str(), theirs.as_str()),
            ("head.timestamp", "1100", "1170")
        );
        let (fact, ..) = difference(&honest, &facts(1100, 1090)).unwrap();
        assert_eq!(fact, "round.endTime");
        let mut other_operator = honest.clone();
        other_operator.config.operator = Some(Address::repeat_byte(2));
        assert_eq!(
            difference(&honest, &other_operator).map(|d| d.0),
            Some("config.operator")
        );
        // Participant counts and prizes are not facts the operator acts on.
        let mut more = honest.clone();
        more.round.participant_count = 3;
        assert_eq!(difference(&honest, &more), None);
    }

    #[test]
    fn a_disagreement_reads_as_a_sentence() {
        let d = Disagreement {
            upstream: "rpc2.example:443".into(),
            fact: "head.timestamp",
            block: 7,
            detail: "1100 from rpc1.example:443, 1170 from rpc2.example:443".into(),
        };
        assert_eq!(
            d.to_string(),
            "upstream rpc2.example:443 reports a different head.timestamp at block 7: 1100 from rpc1.example:443, 1170 from rpc2.example:443"
        );
    }
}
