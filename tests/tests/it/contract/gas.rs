//! Settlement stays affordable as rounds grow: each settlement path is measured at
//! 10, 100 and 1,000 participants and must stay under 5,000,000 gas (far under a
//! block), and must not grow with the number of players beyond O(log n).

use tests::{Chain, gas};

/// The ceiling for any settlement at 1,000 participants.
const SETTLEMENT_GAS_CEILING: u64 = 5_000_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settlement_gas_stays_flat_and_under_the_ceiling() {
    let chain = Chain::start().await;
    let mut rows = Vec::new();
    for n in [10, 100, 1000] {
        let row = gas::measure(&chain, n).await;
        for (what, used) in [
            ("drawWinner", row.draw_winner),
            ("refundRound", row.refund_round),
            ("refundExpiredRound", row.refund_expired_round),
        ] {
            assert!(
                used < SETTLEMENT_GAS_CEILING,
                "{what} with {n} participants used {used} gas"
            );
        }
        rows.push(row);
    }
    // Refunds are O(1) and a draw is a binary search: 100x the players may add only
    // a few cold storage reads (2,100 gas each) to a draw, nothing to a refund.
    let (small, large) = (rows[0], rows[2]);
    assert!(
        large.draw_winner < small.draw_winner + 10 * 2_100,
        "draw grew too fast: {small:?} -> {large:?}"
    );
    assert!(
        large.refund_round <= small.refund_round + 100,
        "refundRound grew: {small:?} -> {large:?}"
    );
    assert!(
        large.refund_expired_round <= small.refund_expired_round + 100,
        "refundExpiredRound grew: {small:?} -> {large:?}"
    );
}
