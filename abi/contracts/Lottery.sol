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
/// The publisher cannot swap the operator under a player's bet: every operator, the
/// first included, is announced on chain together with the enclave measurement it is
/// attested to (PCR0, ...), and takes effect only once `operatorDelay` (fixed at
/// deployment) has passed since the announcement, and never while a round takes bets:
/// a due change waits for the round boundary. Until then the announced operator can
/// neither commit a seed nor open a round.
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
        /// Seconds between an operator's announcement and the earliest time it acts.
        uint256 operatorDelay;
        /// The operator's enclave measurement: PCR0, PCR1, ... (48 bytes each).
        bytes operatorPcrs;
        /// The announced next operator (zero when none), its measurement and the
        /// earliest time it takes effect (it then waits for a round boundary).
        address pendingOperator;
        bytes pendingPcrs;
        uint256 pendingEffectiveAt;
    }

    /// One announced operator and the measurement it was announced with. Records are
    /// never deleted: together with `OperatorUpdated` they are the operator history an
    /// auditor checks a draw against.
    struct OperatorRecord {
        address operator;
        uint64 announcedAt;
        /// The earliest time it may act: `announcedAt + operatorDelay`.
        uint64 effectiveAt;
        /// PCR0, PCR1, ... in index order, 48 bytes each (at least PCR0).
        bytes pcrs;
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

    /// Bounds of `operatorDelay`. The floor rules out zero, so an announced operator
    /// can never act in the block of its announcement (ahead of a player's bet in the
    /// same block); the real protection is the deployed value, which `getConfig` shows
    /// and the page displays. The ceiling keeps a typo from locking the role for ever.
    uint256 public constant MIN_OPERATOR_DELAY = 1;
    uint256 public constant MAX_OPERATOR_DELAY = 30 days;
    /// Size of one PCR (SHA-384) and the most PCRs a record holds (Nitro has 32).
    uint256 public constant PCR_LENGTH = 48;
    uint256 public constant MAX_PCRS = 32;

    /// Gas forwarded when pushing a prize to the winner. Enough for smart-contract
    /// wallets (a Safe's receive path needs well under this), small enough that a
    /// hostile winner cannot make the draw expensive. A failed push is credited to
    /// `pendingWithdrawal` instead.
    uint256 private constant PRIZE_PUSH_GAS = 50_000;

    /// The deployer; receives the commission.
    address public immutable publisher;
    /// Commission on each completed round's pot, in basis points.
    uint256 public immutable commissionBps;

    /// Seconds between an operator's announcement and the earliest time it may act.
    uint256 public immutable operatorDelay;

    /// The enclave's operator key: commits, draws and refunds rounds. Read it with
    /// `operator()`, which also applies a due change the chain has not stored yet.
    address private _operator;
    /// Its record in `_operatorRecords` (1-based; 0 before the first operator).
    uint32 private _operatorRecord;
    /// The announced next operator (zero when none), packed with the earliest time
    /// it takes effect and its record so the due check costs one storage read.
    address private _pendingOperator;
    uint64 private _pendingEffectiveAt;
    uint32 private _pendingRecord;
    /// Every operator ever announced, in announcement order.
    OperatorRecord[] private _operatorRecords;
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
    /// The publisher announced `operator` (record `recordId`) with its measurement; it
    /// may act from `effectiveAt`, at the first round boundary after it.
    event OperatorChangeAnnounced(
        uint256 indexed recordId, address indexed operator, bytes pcrs, uint256 effectiveAt
    );
    /// The publisher withdrew an announcement (or replaced it with a newer one).
    event OperatorChangeCancelled(uint256 indexed recordId, address indexed operator);
    /// An announced operator took effect: from this transaction on it is the operator.
    event OperatorUpdated(address indexed oldOperator, address indexed newOperator, uint256 indexed recordId);
    event Withdrawn(address indexed account, uint256 amount);

    // ---------------------------------------------------------------------------------
    // Errors
    // ---------------------------------------------------------------------------------

    error CommissionTooHigh(uint256 commissionBps, uint256 maxCommissionBps);
    error NotPublisher(address caller);
    error NotOperator(address caller);
    error InvalidOperator(address operator);
    error InvalidOperatorDelay(uint256 delay, uint256 min, uint256 max);
    error InvalidMeasurement(uint256 length);
    error OperatorNotYetEffective(address caller, uint256 effectiveAt);
    error NoPendingOperatorChange();
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

    /// Applies a due operator change first, so a replaced operator can never act once
    /// its successor may.
    modifier onlyOperator() {
        _syncOperator();
        if (msg.sender != _operator) _revertNotOperator();
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
    /// @param operatorDelay_ seconds between an operator's announcement and the
    /// earliest time it may act (`MIN_OPERATOR_DELAY` to `MAX_OPERATOR_DELAY`).
    constructor(uint256 commissionBps_, uint256 operatorDelay_) {
        if (commissionBps_ > MAX_COMMISSION_BPS) revert CommissionTooHigh(commissionBps_, MAX_COMMISSION_BPS);
        if (operatorDelay_ < MIN_OPERATOR_DELAY || operatorDelay_ > MAX_OPERATOR_DELAY) {
            revert InvalidOperatorDelay(operatorDelay_, MIN_OPERATOR_DELAY, MAX_OPERATOR_DELAY);
        }
        publisher = msg.sender;
        commissionBps = commissionBps_;
        operatorDelay = operatorDelay_;
        _openRound(1);
    }

    /// Announces `newOperator` (the enclave's attested key) with the measurement of the
    /// enclave image it is attested to: `pcrs` is PCR0, PCR1, ... in index order, 48
    /// bytes each, at least PCR0, which must not be zero (a debug-mode enclave). The
    /// change takes effect once `operatorDelay` has passed, at the first moment no
    /// round takes bets; a bet placed meanwhile still lands in a round committed by the
    /// current operator. A newer announcement replaces a pending one.
    function setOperator(address newOperator, bytes calldata pcrs) external onlyPublisher {
        if (newOperator == address(0) || newOperator == publisher) revert InvalidOperator(newOperator);
        uint256 len = pcrs.length;
        if (len == 0 || len % PCR_LENGTH != 0 || len > PCR_LENGTH * MAX_PCRS || _isZeroPcr0(pcrs)) {
            revert InvalidMeasurement(len);
        }
        _syncOperator();
        if (_pendingOperator != address(0)) emit OperatorChangeCancelled(_pendingRecord, _pendingOperator);
        uint256 effectiveAt = block.timestamp + operatorDelay;
        _operatorRecords.push(
            OperatorRecord({
                operator: newOperator,
                announcedAt: uint64(block.timestamp),
                effectiveAt: uint64(effectiveAt),
                pcrs: pcrs
            })
        );
        uint32 recordId = uint32(_operatorRecords.length);
        _pendingOperator = newOperator;
        _pendingEffectiveAt = uint64(effectiveAt);
        _pendingRecord = recordId;
        emit OperatorChangeAnnounced(recordId, newOperator, pcrs, effectiveAt);
    }

    /// Withdraws the pending operator announcement.
    function cancelOperatorChange() external onlyPublisher {
        _syncOperator();
        address pending = _pendingOperator;
        if (pending == address(0)) revert NoPendingOperatorChange();
        emit OperatorChangeCancelled(_pendingRecord, pending);
        _clearPending();
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
    /// the current end; the new end must be at least `MIN_END_TIME_EXTENSION` from now
    /// and never past `startTime + MAX_BETTING_DURATION`, however often it is extended,
    /// so the refund anyone can trigger can never be pushed out for ever.
    function extendBettingTime(uint256 newEndTime) external onlyOperator {
        uint256 id = currentRoundId;
        RoundData storage r = _rounds[id];
        _requireState(id, r, RoundState.BETTING);
        uint256 oldEnd = r.endTime;
        if (block.timestamp >= oldEnd) revert ExtensionNotAllowed(id, block.timestamp, oldEnd);
        uint256 earliest = block.timestamp + MIN_END_TIME_EXTENSION;
        if (earliest <= oldEnd) earliest = oldEnd + 1;
        uint256 latest = uint256(r.startTime) + MAX_BETTING_DURATION;
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

    /// Refunds round `roundId`, which must be the current round (for example when the
    /// operator lost its seed). Naming the round keeps a signed refund from voiding a
    /// later round it was not meant for.
    function refundRound(uint256 roundId) external onlyOperator {
        uint256 id = currentRoundId;
        if (roundId != id) revert NotCurrentRound(roundId, id);
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
        if (r.state == RoundState.WAITING) {
            // A due operator change happens before the round opens (it clears the old
            // operator's commitment, so such a bet reverts until the new one commits).
            _syncOperator();
            _startBetting(id, r);
        }
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
        // A due operator change clears the current WAITING round's commitment.
        info.seedCommitment = roundId == currentRoundId && _changeDue() ? bytes32(0) : r.seedCommitment;
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

    /// Most participants one `getParticipantsPage` returns: about 5,500 gas each, so a
    /// full page stays near 5.5 million gas, a tenth of the `eth_call` cap public
    /// nodes apply (geth's default is 50 million).
    uint256 public constant MAX_PARTICIPANTS_PAGE = 1000;

    /// Participants `offset` to `offset + limit` (exclusive, at most
    /// `MAX_PARTICIPANTS_PAGE`) of the current round, in the order of their first bet,
    /// and how many the round has. A page past the end is empty. Unlike
    /// `getParticipants`, its gas does not grow with the round: a mirror reads a round of
    /// any size page by page, each page pinned to the same block.
    function getParticipantsPage(uint256 offset, uint256 limit)
        external
        view
        returns (Participant[] memory page, uint256 total)
    {
        address[] storage players = _participants[currentRoundId];
        total = players.length;
        if (limit > MAX_PARTICIPANTS_PAGE) limit = MAX_PARTICIPANTS_PAGE;
        uint256 end = offset >= total ? offset : offset + limit;
        if (end > total) end = total;
        uint256 n = end > offset ? end - offset : 0;
        page = new Participant[](n);
        for (uint256 i = 0; i < n; ++i) {
            address player = players[offset + i];
            page[i] = Participant({player: player, amount: _stakes[player].amount});
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

    /// The operator now: the stored one, or the pending one when its change is due
    /// (the next operator action or first bet stores it).
    function operator() public view returns (address) {
        return _changeDue() ? _pendingOperator : _operator;
    }

    /// Operator record `recordId` (1-based, in announcement order).
    function getOperatorRecord(uint256 recordId) external view returns (OperatorRecord memory) {
        return _operatorRecords[recordId - 1];
    }

    /// How many operators were ever announced.
    function operatorRecordCount() external view returns (uint256) {
        return _operatorRecords.length;
    }

    function getConfig() external view returns (Config memory config) {
        bool due = _changeDue();
        uint256 active = due ? _pendingRecord : _operatorRecord;
        config = Config({
            publisher: publisher,
            operator: due ? _pendingOperator : _operator,
            commissionBps: commissionBps,
            minBetAmount: minBetAmount,
            bettingDuration: bettingDuration,
            minDrawDelayAfterEnd: MIN_DRAW_DELAY_AFTER_END,
            maxDrawDelayAfterEnd: MAX_DRAW_DELAY_AFTER_END,
            minEndTimeExtension: MIN_END_TIME_EXTENSION,
            minParticipants: minParticipants,
            operatorDelay: operatorDelay,
            operatorPcrs: active == 0 ? bytes("") : _operatorRecords[active - 1].pcrs,
            pendingOperator: due ? address(0) : _pendingOperator,
            pendingPcrs: due || _pendingRecord == 0 ? bytes("") : _operatorRecords[_pendingRecord - 1].pcrs,
            pendingEffectiveAt: due ? 0 : _pendingEffectiveAt
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

    /// Whether the pending operator change may take effect now: its delay has passed
    /// and no round takes bets.
    function _changeDue() private view returns (bool) {
        return _pendingOperator != address(0) && block.timestamp >= _pendingEffectiveAt
            && _rounds[currentRoundId].state == RoundState.WAITING;
    }

    /// Stores a due operator change. The old operator's commitment on the current
    /// WAITING round is cleared: only the one who committed can reveal.
    function _syncOperator() private {
        if (!_changeDue()) return;
        address old = _operator;
        address next = _pendingOperator;
        uint32 record = _pendingRecord;
        _operator = next;
        _operatorRecord = record;
        _clearPending();
        _rounds[currentRoundId].seedCommitment = bytes32(0);
        emit OperatorUpdated(old, next, record);
    }

    function _clearPending() private {
        _pendingOperator = address(0);
        _pendingEffectiveAt = 0;
        _pendingRecord = 0;
    }

    /// `NotOperator`, or `OperatorNotYetEffective` for the announced next operator.
    function _revertNotOperator() private view {
        if (msg.sender == _pendingOperator) revert OperatorNotYetEffective(msg.sender, _pendingEffectiveAt);
        revert NotOperator(msg.sender);
    }

    function _isZeroPcr0(bytes calldata pcrs) private pure returns (bool) {
        bytes32 a = bytes32(pcrs[0:32]);
        bytes16 b = bytes16(pcrs[32:48]);
        return a == bytes32(0) && b == bytes16(0);
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
