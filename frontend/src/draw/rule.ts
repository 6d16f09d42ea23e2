// The fair-draw rule of Lottery.sol, in TypeScript: the one implementation the page
// uses to check a draw (tested against the Rust rule, abi::draw, and the contract on
// the same rounds: tests/tests/it/processes/verify_round.rs).
//
// - The operator commits to keccak256(abi.encode(chainId, contract, roundId, seed))
//   before the round takes bets.
// - The winning ticket is uint256(keccak256(abi.encode(seed))) mod totalPot.
// - The winner is the player whose bet covers that ticket when all bets are laid end
//   to end in the order they were placed.

import { encodeAbiParameters, keccak256, type Address, type Hex } from 'viem';

/** One bet, in placement order. */
export interface Bet {
  player: Address;
  amount: bigint;
}

/** The commitment `commitSeed` expects for `seed` in round `roundId` of `contract`. */
export function commitment(chainId: bigint, contract: Address, roundId: bigint, seed: Hex): Hex {
  return keccak256(
    encodeAbiParameters(
      [{ type: 'uint256' }, { type: 'address' }, { type: 'uint256' }, { type: 'bytes32' }],
      [chainId, contract, roundId, seed],
    ),
  );
}

/** `keccak256(abi.encode(seed))` as a number: the draw's only source of chance. */
export function seedHash(seed: Hex): bigint {
  return BigInt(keccak256(encodeAbiParameters([{ type: 'bytes32' }], [seed])));
}

/** The winning ticket in `[0, pot)`; `null` for an empty pot. */
export function winningTicket(seed: Hex, pot: bigint): bigint | null {
  if (pot <= 0n) return null;
  return seedHash(seed) % pot;
}

/** Where the winning ticket fell: the winner and the index of the bet that covers it. */
export interface Draw {
  winner: Address;
  /** Index into the bets of the bet whose segment holds the ticket. */
  index: number;
  ticket: bigint;
  pot: bigint;
}

/** The winner of `bets` (in placement order) for `seed`; `null` when there are no bets. */
export function winner(bets: readonly Bet[], seed: Hex): Draw | null {
  const pot = bets.reduce((sum, b) => sum + b.amount, 0n);
  const ticket = winningTicket(seed, pot);
  if (ticket === null) return null;
  let cumulative = 0n;
  for (const [index, bet] of bets.entries()) {
    cumulative += bet.amount;
    if (cumulative > ticket) return { winner: bet.player, index, ticket, pot };
  }
  return null;
}
