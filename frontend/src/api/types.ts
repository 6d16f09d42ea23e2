// The web API's JSON shapes for the page, derived from the types generated from
// host-proxy's OpenAPI document (`openapi.ts`, by openapi-typescript from
// `frontend/openapi.json`: `npm run api:types`; `scripts/build-frontend` fails when
// it is stale, and a Rust test fails when the committed document is not the one the
// server serves). So the page cannot drift from the server: a field renamed or
// retyped there breaks the type check here.
//
// The document says what the wire carries: wei as decimal strings, addresses and
// hashes as strings. Two refinements are made here, by field name, once:
//
// - wei fields take the amount type as a parameter: `string` on the wire (`Wire…`
//   aliases, what JSON.parse gives), `bigint` inside the page (the default).
//   `decode.ts` converts at the edge, so no page code ever sees wei as a string.
// - address and hash fields are viem's `0x${string}` (the server only ever sends
//   0x-prefixed hex there).

import type { components } from './openapi';

type Schemas = components['schemas'];

/** A 0x-prefixed hex string (20-byte addresses, 32-byte hashes). */
export type Hex = `0x${string}`;
/** An EIP-55 checksummed address. */
export type Address = `0x${string}`;

/** Fields that carry wei. */
type WeiField = 'totalPot' | 'prize' | 'commission' | 'amount' | 'minBetAmount' | 'newTotal' | 'stake';
/** Fields that carry an address. */
type AddressField =
  | 'address'
  | 'player'
  | 'winner'
  | 'publisher'
  | 'contract'
  | 'account'
  | 'keyAddress'
  | 'contractOperator'
  | 'operator';
/** Fields that carry a hash or a seed. */
type HexField = 'hash' | 'transactionHash' | 'seed' | 'seedCommitment' | 'revealedSeed';

/** `V` with its string members as `To`, anything else refined further. */
type Swap<V, To, W> = V extends string ? To : Refined<V, W>;

type Field<K, V, W> = K extends WeiField
  ? Swap<V, W, W>
  : K extends AddressField
    ? Swap<V, Address, W>
    : K extends HexField
      ? Swap<V, Hex, W>
      : Refined<V, W>;

/** A wire type with wei as `W` and addresses and hashes as `0x…` strings. */
export type Refined<T, W = bigint> = T extends readonly (infer U)[]
  ? Refined<U, W>[]
  : T extends object
    ? { [K in keyof T]: Field<K, T[K], W> }
    : T;

/** `RoundState` (abi/src/contract.rs). DRAWING never lasts between blocks. */
export type RoundState = Schemas['RoundState'];
/** `RefundReason` (abi/src/contract.rs). */
export type RefundReason = Schemas['RefundReason'];
/** `ChainHead`: the latest block the enclave processed. */
export type ChainHead = Refined<Schemas['ChainHead']>;
/** `RoundView`: the current round, or a settled one. */
export type RoundView<W = bigint> = Refined<Schemas['RoundView'], W>;
/** `ParticipantView`: one player of the current round. */
export type ParticipantView<W = bigint> = Refined<Schemas['ParticipantView'], W>;
/** `ConfigView`: the contract's settings. */
export type ConfigView<W = bigint> = Refined<Schemas['ConfigView'], W>;
/** `PendingOperatorView`: an announced operator change (effective from `effectiveAt`). */
export type PendingOperatorView = Refined<Schemas['PendingOperatorView']>;
/** `HistoryEntry`: one settled round. */
export type HistoryEntry<W = bigint> = Refined<Schemas['HistoryEntry'], W>;
/** `Activity`: one contract event for the feed. */
export type Activity<W = bigint> = Refined<Schemas['Activity'], W>;
/** `OperatorStatus`: what the enclave's operator is doing. */
export type OperatorStatus = Refined<Schemas['OperatorStatus']>;
/** `ParticipantsSummary`: the current round's count, pot and top players (largest
 * stake first, at most `abi::api::FEED_TOP_PLAYERS`). */
export type ParticipantsSummary<W = bigint> = Refined<Schemas['ParticipantsSummary'], W>;
/** `StakeDelta`: one bet, as the change it makes (the player's new stake, the pot,
 * the count). */
export type StakeDelta<W = bigint> = Refined<Schemas['StakeDelta'], W>;
/** `FeedSnapshot`: the feed's bounded view of the mirrored state. */
export type FeedSnapshot<W = bigint> = Refined<Schemas['FeedSnapshot'], W>;
/** The page's state: a feed snapshot with the sequence number of the last message
 * folded into it (the snapshot notice's `seq`, then each event's). */
export type Snapshot<W = bigint> = FeedSnapshot<W> & { seq: number };
/** `StateEvent`: a change with its sequence number (one more than the last). */
export type StateEvent<W = bigint> = Refined<Schemas['StateEvent'], W>;
/** `StateChange`: one change, tagged by `type` with its `data`. */
export type StateChange<W = bigint> = StateEvent<W> extends infer E
  ? E extends { seq: number }
    ? Omit<E, 'seq'>
    : never
  : never;
/** `FeedNotice`: the feed's own messages. */
export type FeedNotice<W = bigint> = Refined<Schemas['FeedNotice'], W>;
/** `FeedMessage`: anything `/ws` sends (the document's `x-websocket-messages`). The
 * first is a snapshot (or a heartbeat while host-proxy has no state yet). */
export type FeedMessage<W = bigint> = Refined<Schemas['FeedMessage'], W>;
/** `/api/attestation`'s answer: the document and an unverified summary. */
export type AttestationView = Schemas['AttestationView'];
/** `AttestationSummary`: decoded, not verified; for display only. */
export type AttestationSummary = Schemas['AttestationSummary'];
/** `/api/page-config`: host-proxy's settings for the page. */
export type PageConfigView = Schemas['PageConfigView'];
/** `/api/status`. */
export type StatusView<W = bigint> = Refined<Schemas['StatusView'], W>;
/** `/api/round/player/{address}`. */
export type PlayerView<W = bigint> = Refined<Schemas['PlayerView'], W>;
/** Every error response. */
export type ErrorBody = Schemas['ErrorBody'];

/** The wire forms (wei as decimal strings). */
export type WireFeedMessage = FeedMessage<string>;
export type WireFeedSnapshot = FeedSnapshot<string>;
