// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title Lottery: rounds of stake-weighted draws whose only privileged key is an
/// attested enclave's operator key.
///
/// @notice Players bet ETH into the current round. The first bet (or the operator's
/// `startRound`) opens betting for `bettingDuration` seconds; the operator must then
/// draw inside `[minDrawTime, maxDrawTime]`, after which anyone can refund.
///
/// Fair randomness: before a round takes bets, the operator commits to a secret seed
/// (`commitSeed`). `drawWinner(seed)` reveals it; the winner is derived from the seed
/// alone, so neither block proposers, the host, nor the players can steer the outcome.
/// The operator's only power is to not reveal, which ends in a refund.
///
/// Settlement cost does not grow with the number of players: the winner is found by
/// a binary search over cumulative bet totals, and refunds are credited lazily (each
/// player pulls their stake back with `withdraw`), so one player whose address
/// rejects ETH can never block a draw or a refund.
contract Lottery {
    // ---------------------------------------------------------------------------------
    // Types
    // ---------------------------------------------------------------------------------

    /// Life cycle of a round. DRAWING is the transient state while a draw settles; it
    /// is never observed between transactions.
    enum RoundState {
        WAITING,
        BETTING,
        DRAWING,
        COMPLETED,
        REFUNDED
    }

    /// Why a round was refunded.
    enum RefundReason {
        /// The operator called `refundRound`.
        OPERATOR,
        /// `drawWinner` found fewer participants than `minParticipants`.
        NOT_ENOUGH_PARTICIPANTS,
        /// `refundExpiredRound` after `maxDrawTime`.
        DRAW_WINDOW_EXPIRED
    }

    /// A round as returned by the views.
    struct RoundInfo {
        uint256 roundId;
        RoundState state;
        uint64 startTime;
        uint64 endTime;
        uint64 minDrawTime;
        uint64 maxDrawTime;
        uint256 totalPot;
        uint256 participantCount;
        address winner;
        uint256 prize;
        uint256 commission;
        bytes32 seedCommitment;
        bytes32 revealedSeed;
    }

    /// One participant of the current round and their accumulated stake.
    struct Participant {
        address player;
        uint256 amount;
    }

    /// The contract's configuration as returned by `getConfig`.
    struct Config {
        address publisher;
        address operator;
        uint256 commissionBps;
        uint256 minBetAmount;
        uint256 bettingDuration;
        uint256 minDrawDelayAfterEnd;
        uint256 maxDrawDelayAfterEnd;
        uint256 minEndTimeExtension;
        uint256 minParticipants;
    }

    /// Storage layout of a round, packed to keep `placeBet` cheap for players.
    struct RoundData {
        // slot 0
        RoundState state;
        uint32 participantCount;
        uint64 startTime;
        uint64 endTime;
        uint64 minDrawTime;
        // slot 1
        uint64 maxDrawTime;
        uint96 totalPot;
        // slot 2
        address winner;
        // slot 3
        bytes32 seedCommitment;
        // slot 4
        bytes32 revealedSeed;
    }

    /// One bet: who placed it and the round's running total after it. The winning
    /// ticket `t` in `[0, totalPot)` belongs to the first bet whose `cumulative > t`.
    struct Bet {
        address player;
        uint96 cumulative;
    }

    /// The last round a player bet in and their stake there. A stake in a refunded
    /// round is credited to the player lazily (on their next bet or withdrawal).
    struct PlayerStake {
        uint64 roundId;
        uint96 amount;
    }

    // ---------------------------------------------------------------------------------
    // Constants and configuration
    // ---------------------------------------------------------------------------------

    /// Highest commission the publisher may set at deployment: 10%.
    uint256 public constant MAX_COMMISSION_BPS = 1000;
    uint256 private constant BPS_DENOMINATOR = 10_000;

    /// Delay between the end of betting and the opening of the draw window.
    uint256 public constant MIN_DRAW_DELAY_AFTER_END = 5;
    /// Delay between the end of betting and the close of the draw window.
    uint256 public constant MAX_DRAW_DELAY_AFTER_END = 180;
    /// Shortest extension of betting, counted from the extension's block.
    uint256 public constant MIN_END_TIME_EXTENSION = 60;

    /// Bounds of `bettingDuration` (and of how far ahead an extension may reach).
    uint256 public constant MIN_BETTING_DURATION = 60;
    uint256 public constant MAX_BETTING_DURATION = 7 days;
    /// Bounds of `minParticipants`.
    uint256 public constant MIN_PARTICIPANTS_LOWER = 2;
    uint256 public constant MIN_PARTICIPANTS_UPPER = 10_000;

    /// Gas forwarded when pushing a prize to the winner. Enough for smart-contract
    /// wallets (a Safe's receive path needs well under this), small enough that a
    /// hostile winner cannot make the draw expensive. A failed push is credited to
    /// `pendingWithdrawal` instead.
    uint256 private constant PRIZE_PUSH_GAS = 50_000;

    /// The deployer; receives the commission.
    address public immutable publisher;
    /// Commission on each completed round's pot, in basis points.
    uint256 public immutable commissionBps;

    /// The enclave's operator key: commits, draws and refunds rounds.
    address public operator;
    uint256 public minBetAmount = 0.001 ether;
    uint256 public bettingDuration = 180;
    uint256 public minParticipants = 2;

    /// The round that takes bets now (WAITING or BETTING).
    uint256 public currentRoundId;

    mapping(uint256 => RoundData) private _rounds;
    mapping(uint256 => address[]) private _participants;
    mapping(uint256 => Bet[]) private _bets;
    mapping(address => PlayerStake) private _stakes;
    mapping(address => uint256) private _pending;

    bool private transient _locked;

    // ---------------------------------------------------------------------------------
    // Events
    // ---------------------------------------------------------------------------------

    event RoundCreated(uint256 indexed roundId);
    event BetPlaced(
        uint256 indexed roundId, address indexed player, uint256 amount, uint256 newTotal, uint256 timestamp
    );
    event EndTimeExtended(
        uint256 indexed roundId, uint256 oldEndTime, uint256 newEndTime, uint256 minDrawTime, uint256 maxDrawTime
    );
    event RoundStateChanged(uint256 indexed roundId, RoundState oldState, RoundState newState);
    event SeedCommitted(uint256 indexed roundId, bytes32 commitment);
    event RoundCompleted(
        uint256 indexed roundId,
        address indexed winner,
        uint256 totalPot,
        uint256 participantCount,
        uint256 prize,
        uint256 commission,
        bytes32 seed
    );
    event RoundRefunded(uint256 indexed roundId, uint256 totalRefunded, uint256 participantCount, RefundReason reason);
    /// The prize could not be pushed to the winner and waits for `withdraw`.
    event PrizeDeferred(uint256 indexed roundId, address indexed winner, uint256 amount);
    event MinBetAmountUpdated(uint256 oldAmount, uint256 newAmount);
    event BettingDurationUpdated(uint256 oldDuration, uint256 newDuration);
    event MinParticipantsUpdated(uint256 oldMinParticipants, uint256 newMinParticipants);
    event OperatorUpdated(address indexed oldOperator, address indexed newOperator);
    event Withdrawn(address indexed account, uint256 amount);

    // ---------------------------------------------------------------------------------
    // Errors
    // ---------------------------------------------------------------------------------

    error CommissionTooHigh(uint256 commissionBps, uint256 maxCommissionBps);
    error NotPublisher(address caller);
    error NotOperator(address caller);
    error InvalidOperator(address operator);
    error WrongRoundState(uint256 roundId, RoundState expected, RoundState actual);
    error NotCurrentRound(uint256 roundId, uint256 currentRoundId);
    error ZeroCommitment();
    error CommitmentLocked(uint256 roundId);
    error NoSeedCommitment(uint256 roundId);
    error SeedMismatch(uint256 roundId);
    error BetTooSmall(uint256 amount, uint256 minBetAmount);
    error BettingClosed(uint256 roundId, uint256 timestamp, uint256 endTime);
    error PotTooLarge(uint256 totalPot);
    error ExtensionNotAllowed(uint256 roundId, uint256 timestamp, uint256 endTime);
    error InvalidEndTime(uint256 newEndTime, uint256 earliest, uint256 latest);
    error DrawTooEarly(uint256 roundId, uint256 timestamp, uint256 minDrawTime);
    error DrawWindowClosed(uint256 roundId, uint256 timestamp, uint256 maxDrawTime);
    error EmptyPot(uint256 roundId);
    error RoundNotExpired(uint256 roundId, uint256 timestamp, uint256 maxDrawTime);
    error InvalidMinBetAmount(uint256 amount);
    error InvalidBettingDuration(uint256 duration, uint256 min, uint256 max);
    error InvalidMinParticipants(uint256 minParticipants, uint256 min, uint256 max);
    error NothingToWithdraw(address account);
    error WithdrawFailed(address account, uint256 amount);
    error Reentrancy();

    // ---------------------------------------------------------------------------------
    // Modifiers
    // ---------------------------------------------------------------------------------

    modifier onlyPublisher() {
        if (msg.sender != publisher) revert NotPublisher(msg.sender);
        _;
    }

    modifier onlyOperator() {
        if (msg.sender != operator) revert NotOperator(msg.sender);
        _;
    }

    modifier nonReentrant() {
        if (_locked) revert Reentrancy();
        _locked = true;
        _;
        _locked = false;
    }

    // ---------------------------------------------------------------------------------
    // Construction and roles
    // ---------------------------------------------------------------------------------

    /// @param commissionBps_ the publisher's commission in basis points (at most 1000).
    constructor(uint256 commissionBps_) {
        if (commissionBps_ > MAX_COMMISSION_BPS) revert CommissionTooHigh(commissionBps_, MAX_COMMISSION_BPS);
        publisher = msg.sender;
        commissionBps = commissionBps_;
        _openRound(1);
    }

    /// Hands the operator role to `newOperator` (the enclave's attested key). Only while
    /// the current round is WAITING; clears a seed commitment made by the old operator,
    /// since only the one who committed can reveal.
    function setOperator(address newOperator) external onlyPublisher {
        if (newOperator == address(0) || newOperator == publisher) revert InvalidOperator(newOperator);
        uint256 id = currentRoundId;
        RoundData storage r = _rounds[id];
        _requireState(id, r, RoundState.WAITING);
        address old = operator;
        if (old != newOperator) {
            operator = newOperator;
            r.seedCommitment = bytes32(0);
        }
        emit OperatorUpdated(old, newOperator);
    }

    // ---------------------------------------------------------------------------------
    // Operator actions
    // ---------------------------------------------------------------------------------

    /// The commitment the operator must publish for `seed` in `roundId`. It binds the
    /// chain, this contract and the round, so a seed can never be replayed elsewhere.
    function computeCommitment(uint256 roundId, bytes32 seed) public view returns (bytes32) {
        return keccak256(abi.encode(block.chainid, address(this), roundId, seed));
    }

    /// Commits the secret seed of the current round. Allowed while the round has no
    /// bets, so an operator that restarted and lost its seed can commit a new one.
    function commitSeed(uint256 roundId, bytes32 commitment) external onlyOperator {
        uint256 id = currentRoundId;
        if (roundId != id) revert NotCurrentRound(roundId, id);
        if (commitment == bytes32(0)) revert ZeroCommitment();
        RoundData storage r = _rounds[id];
        if (r.state != RoundState.WAITING) {
            if (r.state != RoundState.BETTING || r.totalPot != 0) revert CommitmentLocked(id);
        }
        r.seedCommitment = commitment;
        emit SeedCommitted(id, commitment);
    }

    /// Opens betting on a committed WAITING round without waiting for a first bet.
    function startRound() external onlyOperator {
        uint256 id = currentRoundId;
        RoundData storage r = _rounds[id];
        _requireState(id, r, RoundState.WAITING);
        _startBetting(id, r);
    }

    /// Extends betting to `newEndTime`, moving both draw bounds with it. Only before
    /// the current end; the new end must be at least `MIN_END_TIME_EXTENSION` from now.
    function extendBettingTime(uint256 newEndTime) external onlyOperator {
        uint256 id = currentRoundId;
        RoundData storage r = _rounds[id];
        _requireState(id, r, RoundState.BETTING);
        uint256 oldEnd = r.endTime;
        if (block.timestamp >= oldEnd) revert ExtensionNotAllowed(id, block.timestamp, oldEnd);
        uint256 earliest = block.timestamp + MIN_END_TIME_EXTENSION;
        if (earliest <= oldEnd) earliest = oldEnd + 1;
        uint256 latest = block.timestamp + MAX_BETTING_DURATION;
        if (newEndTime < earliest || newEndTime > latest) revert InvalidEndTime(newEndTime, earliest, latest);
        _setTimes(r, newEndTime);
        emit EndTimeExtended(id, oldEnd, newEndTime, r.minDrawTime, r.maxDrawTime);
    }

    /// Reveals the seed and settles the round inside its draw window. With fewer than
    /// `minParticipants` players the round is refunded; otherwise the winner, chosen
    /// with probability proportional to stake, receives the pot minus commission.
    function drawWinner(bytes32 seed) external onlyOperator nonReentrant {
        uint256 id = currentRoundId;
        RoundData storage r = _rounds[id];
        _requireState(id, r, RoundState.BETTING);
        if (block.timestamp < r.minDrawTime) revert DrawTooEarly(id, block.timestamp, r.minDrawTime);
        if (block.timestamp > r.maxDrawTime) revert DrawWindowClosed(id, block.timestamp, r.maxDrawTime);
        uint256 pot = r.totalPot;
        if (pot == 0) revert EmptyPot(id);
        if (computeCommitment(id, seed) != r.seedCommitment) revert SeedMismatch(id);
        r.revealedSeed = seed;

        if (r.participantCount < minParticipants) {
            _refund(id, r, RefundReason.NOT_ENOUGH_PARTICIPANTS);
            return;
        }

        _changeState(id, r, RoundState.DRAWING);
        address winner = _findWinner(_bets[id], uint256(keccak256(abi.encode(seed))) % pot);
        uint256 commission = pot * commissionBps / BPS_DENOMINATOR;
        uint256 prize = pot - commission;
        r.winner = winner;
        if (commission != 0) _pending[publisher] += commission;
        _changeState(id, r, RoundState.COMPLETED);
        emit RoundCompleted(id, winner, pot, r.participantCount, prize, commission, seed);
        _openRound(id + 1);

        // Interaction last: every state change above is final whatever the winner does.
        if (!_tryPush(winner, prize)) {
            _pending[winner] += prize;
            emit PrizeDeferred(id, winner, prize);
        }
    }

    /// Refunds the current round (for example when the operator lost its seed).
    function refundRound() external onlyOperator {
        uint256 id = currentRoundId;
        RoundData storage r = _rounds[id];
        _requireState(id, r, RoundState.BETTING);
        if (r.totalPot == 0) revert EmptyPot(id);
        _refund(id, r, RefundReason.OPERATOR);
    }

    function setMinBetAmount(uint256 newAmount) external onlyOperator {
        _requireCurrentWaiting();
        if (newAmount == 0 || newAmount > type(uint96).max) revert InvalidMinBetAmount(newAmount);
        emit MinBetAmountUpdated(minBetAmount, newAmount);
        minBetAmount = newAmount;
    }

    function setBettingDuration(uint256 newDuration) external onlyOperator {
        _requireCurrentWaiting();
        if (newDuration < MIN_BETTING_DURATION || newDuration > MAX_BETTING_DURATION) {
            revert InvalidBettingDuration(newDuration, MIN_BETTING_DURATION, MAX_BETTING_DURATION);
        }
        emit BettingDurationUpdated(bettingDuration, newDuration);
        bettingDuration = newDuration;
    }

    function setMinParticipants(uint256 newMinParticipants) external onlyOperator {
        _requireCurrentWaiting();
        if (newMinParticipants < MIN_PARTICIPANTS_LOWER || newMinParticipants > MIN_PARTICIPANTS_UPPER) {
            revert InvalidMinParticipants(newMinParticipants, MIN_PARTICIPANTS_LOWER, MIN_PARTICIPANTS_UPPER);
        }
        emit MinParticipantsUpdated(minParticipants, newMinParticipants);
        minParticipants = newMinParticipants;
    }

    // ---------------------------------------------------------------------------------
    // Anyone
    // ---------------------------------------------------------------------------------

    /// Bets `msg.value` on the current round. The first bet of a committed WAITING
    /// round opens betting. Repeated bets by one player accumulate.
    function placeBet() external payable nonReentrant {
        uint256 id = currentRoundId;
        RoundData storage r = _rounds[id];
        uint256 minBet = minBetAmount;
        if (msg.value < minBet) revert BetTooSmall(msg.value, minBet);
        if (r.state == RoundState.WAITING) _startBetting(id, r);
        if (block.timestamp > r.endTime) revert BettingClosed(id, block.timestamp, r.endTime);

        uint256 newPot = uint256(r.totalPot) + msg.value;
        if (newPot > type(uint96).max) revert PotTooLarge(newPot);
        r.totalPot = uint96(newPot);

        PlayerStake storage s = _stakes[msg.sender];
        uint256 newTotal;
        if (s.roundId == id) {
            newTotal = uint256(s.amount) + msg.value;
        } else {
            _creditRefundedStake(msg.sender, s);
            newTotal = msg.value;
            s.roundId = uint64(id);
            _participants[id].push(msg.sender);
            r.participantCount += 1;
        }
        // newTotal <= newPot <= type(uint96).max
        s.amount = uint96(newTotal);
        _bets[id].push(Bet({player: msg.sender, cumulative: uint96(newPot)}));
        emit BetPlaced(id, msg.sender, msg.value, newTotal, block.timestamp);
    }

    /// Refunds the current round once its draw window has passed without a draw.
    function refundExpiredRound() external {
        uint256 id = currentRoundId;
        RoundData storage r = _rounds[id];
        _requireState(id, r, RoundState.BETTING);
        if (block.timestamp <= r.maxDrawTime) revert RoundNotExpired(id, block.timestamp, r.maxDrawTime);
        _refund(id, r, RefundReason.DRAW_WINDOW_EXPIRED);
    }

    /// Pays out everything owed to the caller: refunded stakes, deferred prizes and,
    /// for the publisher, commission.
    function withdraw() external nonReentrant {
        PlayerStake storage s = _stakes[msg.sender];
        _creditRefundedStake(msg.sender, s);
        uint256 amount = _pending[msg.sender];
        if (amount == 0) revert NothingToWithdraw(msg.sender);
        _pending[msg.sender] = 0;
        (bool ok,) = msg.sender.call{value: amount}("");
        if (!ok) revert WithdrawFailed(msg.sender, amount);
        emit Withdrawn(msg.sender, amount);
    }

    // ---------------------------------------------------------------------------------
    // Views
    // ---------------------------------------------------------------------------------

    /// The current round.
    function getRound() external view returns (RoundInfo memory) {
        return getRoundById(currentRoundId);
    }

    /// Any round, current or settled. Unknown future rounds read as empty WAITING rounds.
    function getRoundById(uint256 roundId) public view returns (RoundInfo memory info) {
        RoundData storage r = _rounds[roundId];
        info.roundId = roundId;
        info.state = r.state;
        info.startTime = r.startTime;
        info.endTime = r.endTime;
        info.minDrawTime = r.minDrawTime;
        info.maxDrawTime = r.maxDrawTime;
        info.totalPot = r.totalPot;
        info.participantCount = r.participantCount;
        info.winner = r.winner;
        info.seedCommitment = r.seedCommitment;
        info.revealedSeed = r.revealedSeed;
        if (r.state == RoundState.COMPLETED) {
            info.commission = info.totalPot * commissionBps / BPS_DENOMINATOR;
            info.prize = info.totalPot - info.commission;
        }
    }

    /// Participants of the current round with their accumulated stakes, in the order
    /// of their first bet.
    function getParticipants() external view returns (Participant[] memory list) {
        address[] storage players = _participants[currentRoundId];
        list = new Participant[](players.length);
        for (uint256 i = 0; i < players.length; ++i) {
            list[i] = Participant({player: players[i], amount: _stakes[players[i]].amount});
        }
    }

    /// `player`'s accumulated stake in the current round.
    function getBetAmount(address player) external view returns (uint256) {
        PlayerStake storage s = _stakes[player];
        return s.roundId == currentRoundId ? s.amount : 0;
    }

    /// What `withdraw` would pay `account` now.
    function pendingWithdrawal(address account) external view returns (uint256) {
        PlayerStake storage s = _stakes[account];
        uint256 amount = _pending[account];
        if (s.amount != 0 && _rounds[s.roundId].state == RoundState.REFUNDED) amount += s.amount;
        return amount;
    }

    function getConfig() external view returns (Config memory) {
        return Config({
            publisher: publisher,
            operator: operator,
            commissionBps: commissionBps,
            minBetAmount: minBetAmount,
            bettingDuration: bettingDuration,
            minDrawDelayAfterEnd: MIN_DRAW_DELAY_AFTER_END,
            maxDrawDelayAfterEnd: MAX_DRAW_DELAY_AFTER_END,
            minEndTimeExtension: MIN_END_TIME_EXTENSION,
            minParticipants: minParticipants
        });
    }

    // ---------------------------------------------------------------------------------
    // Internals
    // ---------------------------------------------------------------------------------

    function _requireState(uint256 id, RoundData storage r, RoundState expected) private view {
        if (r.state != expected) revert WrongRoundState(id, expected, r.state);
    }

    function _requireCurrentWaiting() private view {
        uint256 id = currentRoundId;
        _requireState(id, _rounds[id], RoundState.WAITING);
    }

    function _changeState(uint256 id, RoundData storage r, RoundState next) private {
        emit RoundStateChanged(id, r.state, next);
        r.state = next;
    }

    function _openRound(uint256 id) private {
        currentRoundId = id;
        emit RoundCreated(id);
    }

    function _startBetting(uint256 id, RoundData storage r) private {
        if (r.seedCommitment == bytes32(0)) revert NoSeedCommitment(id);
        r.startTime = uint64(block.timestamp);
        _setTimes(r, block.timestamp + bettingDuration);
        _changeState(id, r, RoundState.BETTING);
    }

    /// Sets the end of betting and the draw window that follows it. Every input is
    /// bounded by `block.timestamp + MAX_BETTING_DURATION`, far inside uint64.
    function _setTimes(RoundData storage r, uint256 endTime) private {
        r.endTime = uint64(endTime);
        r.minDrawTime = uint64(endTime + MIN_DRAW_DELAY_AFTER_END);
        r.maxDrawTime = uint64(endTime + MAX_DRAW_DELAY_AFTER_END);
    }

    /// Marks the round refunded in O(1): each player's stake becomes withdrawable
    /// through `_creditRefundedStake`, never pushed, so no player can block it.
    function _refund(uint256 id, RoundData storage r, RefundReason reason) private {
        _changeState(id, r, RoundState.REFUNDED);
        emit RoundRefunded(id, r.totalPot, r.participantCount, reason);
        _openRound(id + 1);
    }

    /// Moves `account`'s stake from a refunded earlier round into its pending balance.
    function _creditRefundedStake(address account, PlayerStake storage s) private {
        uint256 amount = s.amount;
        if (amount != 0 && _rounds[s.roundId].state == RoundState.REFUNDED) {
            _pending[account] += amount;
            s.amount = 0;
        }
    }

    /// The owner of ticket `ticket`: the first bet whose cumulative total exceeds it.
    /// Binary search, so a draw costs O(log bets) storage reads.
    function _findWinner(Bet[] storage bets, uint256 ticket) private view returns (address) {
        uint256 lo = 0;
        uint256 hi = bets.length - 1;
        while (lo < hi) {
            uint256 mid = (lo + hi) / 2;
            if (bets[mid].cumulative > ticket) {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        return bets[lo].player;
    }

    /// Sends `amount` to `to` with a bounded gas stipend, copying no return data (so
    /// a hostile receiver cannot make the caller pay for a huge revert reason).
    function _tryPush(address to, uint256 amount) private returns (bool ok) {
        assembly ("memory-safe") {
            ok := call(PRIZE_PUSH_GAS, to, amount, 0, 0, 0, 0)
        }
    }
}
