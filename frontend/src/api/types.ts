// The web API's JSON shapes, defined once for the page. They mirror the Rust types
// host-proxy serializes (abi/src/api.rs, abi/src/state.rs, abi/src/views.rs; the
// same types generate /api/openapi.json): camelCase fields, checksummed addresses,
// timestamps in seconds, and wei amounts as decimal strings on the wire.
//
// Every type that carries wei takes the amount type as a parameter: `string` on the
// wire (`Wire<…>` aliases, what JSON.parse gives), `bigint` inside the page (the
// default). `decode.ts` converts at the edge, so no page code ever sees wei as a
// string or a float.

/** A 0x-prefixed hex string (20-byte addresses, 32-byte hashes). */
export type Hex = `0x${string}`;
/** An EIP-55 checksummed address. */
export type Address = `0x${string}`;

/** `RoundState` (abi/src/contract.rs). DRAWING never lasts between blocks. */
export type RoundState = 'WAITING' | 'BETTING' | 'DRAWING' | 'COMPLETED' | 'REFUNDED';

/** `RefundReason` (abi/src/contract.rs). */
export type RefundReason = 'OPERATOR' | 'NOT_ENOUGH_PARTICIPANTS' | 'DRAW_WINDOW_EXPIRED';

/** `ChainHead`: the latest block the enclave processed. */
export interface ChainHead {
  number: number;
  hash: Hex;
  /** Chain time, seconds. */
  timestamp: number;
}

/** `RoundView`: the current round, or a settled one. */
export interface RoundView<W = bigint> {
  roundId: number;
  state: RoundState;
  /** 0 while WAITING. */
  startTime: number;
  endTime: number;
  minDrawTime: number;
  maxDrawTime: number;
  totalPot: W;
  participantCount: number;
  winner: Address | null;
  prize: W;
  commission: W;
  seedCommitment: Hex | null;
  revealedSeed: Hex | null;
}

/** `ParticipantView`: one player of the current round. */
export interface ParticipantView<W = bigint> {
  address: Address;
  amount: W;
  /** amount / totalPot, 0..=1. */
  winChance: number;
}

/** `ConfigView`: the contract's settings. */
export interface ConfigView<W = bigint> {
  publisher: Address;
  operator: Address | null;
  commissionBps: number;
  minBetAmount: W;
  bettingDuration: number;
  minDrawDelayAfterEnd: number;
  maxDrawDelayAfterEnd: number;
  minEndTimeExtension: number;
  minParticipants: number;
  /** Seconds between an operator's announcement and the earliest time it may act. */
  operatorDelay: number;
  /** The enclave measurement (PCR0, 96 hex digits) recorded on chain for the operator. */
  operatorPcr0: string | null;
  /** An announced operator change that has not taken effect yet. */
  pendingOperator: PendingOperatorView | null;
}

/** `PendingOperatorView`: an announced operator change. */
export interface PendingOperatorView {
  operator: Address;
  pcr0: string | null;
  /** Earliest chain time it takes effect (it then waits for a round boundary). */
  effectiveAt: number;
}

/** `Settlement`: how a round ended (flattened into the history entry). */
export type Settlement<W = bigint> =
  | { outcome: 'completed'; winner: Address; prize: W; commission: W; seed: Hex }
  | { outcome: 'refunded'; reason: RefundReason };

/** `HistoryEntry`: one settled round. */
export type HistoryEntry<W = bigint> = {
  roundId: number;
  totalPot: W;
  participantCount: number;
  settledAt: number;
  blockNumber: number;
  transactionHash: Hex;
} & Settlement<W>;

/** `ActivityKind`: what a contract event said (flattened into the activity). */
export type ActivityKind<W = bigint> =
  | { kind: 'roundCreated' }
  | { kind: 'seedCommitted' }
  | { kind: 'bettingStarted' }
  | { kind: 'bet'; player: Address; amount: W; newTotal: W }
  | { kind: 'endTimeExtended'; newEndTime: number }
  | { kind: 'roundCompleted'; winner: Address; prize: W }
  | { kind: 'roundRefunded'; reason: RefundReason }
  | { kind: 'withdrawn'; account: Address; amount: W }
  | { kind: 'configChanged'; setting: string };

/** `Activity`: one contract event for the feed. */
export type Activity<W = bigint> = {
  /** 0 for round-less events (withdrawals). */
  roundId: number;
  timestamp: number;
  blockNumber: number;
  transactionHash: Hex;
  logIndex: number;
} & ActivityKind<W>;

/** `OperatorStatus`: what the enclave's operator is doing. */
export type OperatorStatus =
  | { status: 'starting' }
  | { status: 'readOnly'; reason: string; keyAddress: Address | null; contractOperator: Address | null }
  | { status: 'idle' }
  | { status: 'committing'; roundId: number; transactionHash: Hex | null }
  | { status: 'waitingForDrawWindow'; roundId: number; minDrawTime: number }
  | { status: 'drawing'; roundId: number; transactionHash: Hex | null }
  | { status: 'refunding'; roundId: number; reason: string; transactionHash: Hex | null }
  | { status: 'error'; reason: string };

/** `Snapshot`: the whole mirrored state at one sequence number. */
export interface Snapshot<W = bigint> {
  seq: number;
  contract: Address;
  chainId: number;
  head: ChainHead | null;
  config: ConfigView<W> | null;
  round: RoundView<W> | null;
  participants: ParticipantView<W>[];
  /** Newest first. */
  history: HistoryEntry<W>[];
  /** Newest first. */
  activities: Activity<W>[];
  operator: OperatorStatus;
}

/** `StateChange`: one change, tagged by `type` with its `data`. */
export type StateChange<W = bigint> =
  | { type: 'round_update'; data: RoundView<W> }
  | { type: 'participants_update'; data: ParticipantView<W>[] }
  | { type: 'history_update'; data: HistoryEntry<W> }
  | { type: 'config_update'; data: ConfigView<W> }
  | { type: 'activity'; data: Activity<W> }
  | { type: 'operator_update'; data: OperatorStatus }
  | { type: 'head_update'; data: ChainHead }
  | { type: 'reorged'; data: { fromBlock: number } };

/** `StateEvent`: a change with its sequence number (one more than the last). */
export type StateEvent<W = bigint> = { seq: number } & StateChange<W>;

/** `FeedNotice`: the feed's own messages. */
export type FeedNotice<W = bigint> =
  | { type: 'snapshot'; seq: number; connected: boolean; data: Snapshot<W> }
  | { type: 'heartbeat'; seq: number; connected: boolean };

/** `FeedMessage`: anything `/ws` sends. The first is a snapshot (or a heartbeat
 * while host-proxy has no state yet). */
export type FeedMessage<W = bigint> = FeedNotice<W> | StateEvent<W>;

/** `/api/attestation`'s answer: the document and an unverified summary. */
export interface AttestationView {
  /** COSE_Sign1, base64. */
  document: string;
  summary: AttestationSummary;
}

/** `AttestationSummary`: decoded, not verified; for display only. */
export interface AttestationSummary {
  moduleId: string;
  timestampMs: number;
  pcrs: Record<string, string>;
  nonce: string | null;
  publicKey: string | null;
  userData: string | null;
}

/** `/api/page-config`: host-proxy's settings for the page. */
export interface PageConfigView {
  /** Base URL without a trailing slash: `/tx/{hash}`, `/address/{address}`. */
  explorerUrl: string | null;
  /** Offered to wallets that do not know the chain. */
  publicRpcUrl: string | null;
  chainName: string | null;
}

/** `/api/status`. */
export interface StatusView<W = bigint> {
  connected: boolean;
  enclaveVersion: string | null;
  contract: Address;
  chainId: number;
  head: ChainHead | null;
  round: RoundView<W> | null;
  participantCount: number;
  config: ConfigView<W> | null;
  operator: OperatorStatus;
  historyCount: number;
  seq: number;
}

/** `/api/round/player/{address}`. */
export interface PlayerView<W = bigint> {
  address: Address;
  roundId: number | null;
  amount: W;
  winChance: number;
}

/** Every error response. */
export interface ErrorBody {
  error: string;
}

/** The wire forms (wei as decimal strings). */
export type WireFeedMessage = FeedMessage<string>;
export type WireSnapshot = Snapshot<string>;
