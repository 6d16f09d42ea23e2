// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

interface ILotteryForTests {
    function placeBet() external payable;
    function withdraw() external;
    function drawWinner(bytes32 seed) external;
    function refundExpiredRound() external;
}

/// Test-only player contract that misbehaves when it receives ETH, to prove that no
/// single player can block a draw or a refund. Never deployed outside tests.
contract HostilePlayer {
    enum Mode {
        /// Accepts ETH normally.
        ACCEPT,
        /// Reverts on every incoming transfer.
        REJECT,
        /// Burns all the gas it is given.
        BURN_GAS,
        /// Tries to re-enter the lottery while receiving.
        REENTER
    }

    ILotteryForTests public immutable lottery;
    Mode public mode;
    /// Set when a re-entry attempt was made and reverted inside `receive`.
    bool public reentryBlocked;

    constructor(address lottery_, Mode mode_) {
        lottery = ILotteryForTests(lottery_);
        mode = mode_;
    }

    function setMode(Mode mode_) external {
        mode = mode_;
    }

    function bet() external payable {
        lottery.placeBet{value: msg.value}();
    }

    function withdrawFromLottery() external {
        lottery.withdraw();
    }

    receive() external payable {
        if (mode == Mode.REJECT) revert("HostilePlayer: no ETH");
        if (mode == Mode.BURN_GAS) {
            while (true) {}
        }
        if (mode == Mode.REENTER) {
            try lottery.withdraw() {} catch { reentryBlocked = true; }
        }
    }
}
