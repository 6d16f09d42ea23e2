// "Check this draw": the checks `lottery verify-round` makes (cli/src/audit.rs), done
// in the browser from the chain alone, through the player's wallet or the site's
// public RPC URL, never through this page's server (which is untrusted).

import { getAbiItem, type Address, type Client, type Hex } from 'viem';
import { getBlock, getLogs, getTransactionReceipt, readContract } from 'viem/actions';

import { LOTTERY_ABI } from '../wallet/wallet';
import { commitment, winner, type Bet, type Draw } from './rule';

const BPS_DENOMINATOR = 10_000n;

/** One check and its verdict, naming the values compared (as the CLI prints it). */
export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

/** A bet with where it sits in the chain. */
export interface PlacedBet extends Bet {
  block: bigint;
  logIndex: number;
}

/** What the check found: the verdicts and what the picture needs. */
export interface DrawCheck {
  roundId: number;
  outcome: 'completed' | 'refunded';
  checks: Check[];
  bets: PlacedBet[];
  seed: Hex | null;
  /** Where the winning ticket fell (completed rounds). */
  draw: Draw | null;
  /** The contract's winner. */
  paid: Address | null;
}

type Position = { block: bigint; logIndex: number };
const before = (a: Position, b: Position) => a.block < b.block || (a.block === b.block && a.logIndex < b.logIndex);
const at = (p: Position) => `block ${p.block} (log ${p.logIndex})`;
const same = (a: string | null | undefined, b: string | null | undefined) => !!a && !!b && a.toLowerCase() === b.toLowerCase();

const event = (name: string) => getAbiItem({ abi: LOTTERY_ABI, name }) as never;

function position(log: { blockNumber: bigint | null; logIndex: number | null }): Position {
  return { block: log.blockNumber ?? 0n, logIndex: log.logIndex ?? 0 };
}

/** Reads round `roundId` of `contract` from `client` and checks it. */
export async function checkDraw(client: Client, chainId: number, contract: Address, roundId: number): Promise<DrawCheck> {
  const id = BigInt(roundId);
  const logs = (name: string, args?: Record<string, unknown>) =>
    getLogs(client, { address: contract, event: event(name), args, fromBlock: 0n, toBlock: 'latest' } as never) as unknown as Promise<
      { args: Record<string, unknown>; blockNumber: bigint | null; logIndex: number | null; transactionHash: Hex | null }[]
    >;
  const read = <T>(functionName: string, args: unknown[] = []) =>
    readContract(client, { address: contract, abi: LOTTERY_ABI, functionName, args } as never) as Promise<T>;

  const [betLogs, commitLogs, completedLogs, refundedLogs, operatorLogs, round, config] = await Promise.all([
    logs('BetPlaced', { roundId: id }),
    logs('SeedCommitted', { roundId: id }),
    logs('RoundCompleted', { roundId: id }),
    logs('RoundRefunded', { roundId: id }),
    logs('OperatorUpdated'),
    read<{
      state: number;
      totalPot: bigint;
      participantCount: bigint;
      winner: Address;
      seedCommitment: Hex;
      maxDrawTime: bigint;
    }>('getRoundById', [id]),
    read<{ commissionBps: bigint; minParticipants: bigint }>('getConfig'),
  ]);
  const settle = completedLogs[0] ?? refundedLogs[0];
  if (!settle || !settle.transactionHash) throw new Error(`Round ${roundId} is not settled on chain.`);
  const settledAt = position(settle);
  const [receipt, block] = await Promise.all([
    getTransactionReceipt(client, { hash: settle.transactionHash }),
    getBlock(client, { blockNumber: settledAt.block }),
  ]);

  const bets: PlacedBet[] = betLogs
    .map((l) => ({
      player: l.args.player as Address,
      amount: l.args.amount as bigint,
      ...position(l),
    }))
    .sort((a, b) => (before(a, b) ? -1 : before(b, a) ? 1 : 0));
  const commits = commitLogs.map((l) => ({ commitment: l.args.commitment as Hex, ...position(l) })).sort((a, b) => (before(a, b) ? -1 : 1));
  const operators = operatorLogs
    .map((l) => ({ operator: l.args.newOperator as Address, recordId: l.args.recordId as bigint, ...position(l) }))
    .filter((o) => before(o, settledAt))
    .sort((a, b) => (before(a, b) ? -1 : 1));
  const operator = operators[operators.length - 1] ?? null;
  let pcr0: string | null = null;
  if (operator) {
    try {
      const record = await read<{ pcrs: Hex }>('getOperatorRecord', [operator.recordId]);
      pcr0 = record.pcrs.length >= 2 + 96 ? record.pcrs.slice(2, 98) : null;
    } catch {
      pcr0 = null;
    }
  }

  const checks: Check[] = [];
  const pot = bets.reduce((s, b) => s + b.amount, 0n);
  const players = new Set(bets.map((b) => b.player.toLowerCase())).size;
  checks.push({
    name: 'bets',
    ok: pot === round.totalPot && BigInt(players) === round.participantCount,
    detail: `${bets.length} bets from ${players} players add up to ${pot} wei; the round reports ${round.totalPot} wei from ${round.participantCount} players`,
  });
  const last = commits[commits.length - 1];
  const first = bets[0];
  checks.push(
    !last
      ? { name: 'committed first', ok: false, detail: 'no SeedCommitted log for this round' }
      : !first
        ? { name: 'committed first', ok: true, detail: `committed in ${at(last)}; the round had no bets` }
        : {
            name: 'committed first',
            ok: commits.every((c) => before(c, first)),
            detail: `seed committed in ${at(last)}, first bet in ${at(first)}`,
          },
  );
  const sentBy = receipt.from;
  const byOperator: Check = operator
    ? same(operator.operator, sentBy)
      ? {
          name: 'drawn by the operator',
          ok: true,
          detail: `sent by ${sentBy}, the operator since ${at(operator)} (record ${operator.recordId}, PCR0 ${pcr0 ?? 'not recorded'})`,
        }
      : { name: 'drawn by the operator', ok: false, detail: `sent by ${sentBy}, but the operator then was ${operator.operator}` }
    : { name: 'drawn by the operator', ok: false, detail: `sent by ${sentBy}, but no operator had taken effect by then` };

  if (completedLogs[0]) {
    const done = completedLogs[0].args as { winner: Address; totalPot: bigint; prize: bigint; commission: bigint; seed: Hex };
    const opened = commitment(BigInt(chainId), contract, id, done.seed);
    const published = last?.commitment ?? null;
    const sealed = same(published, opened) && same(round.seedCommitment, opened);
    checks.push({
      name: 'commitment',
      ok: sealed,
      detail: sealed
        ? `keccak256(chainId, contract, round, seed) = ${opened}, the commitment`
        : `keccak256(chainId, contract, round, seed ${done.seed}) = ${opened}, but the commitment is ${published ?? 'missing'}`,
    });
    const draw = winner(bets, done.seed);
    const right = !!draw && same(draw.winner, done.winner) && same(round.winner, done.winner);
    checks.push({
      name: 'winner',
      ok: right,
      detail: draw
        ? `ticket keccak256(seed) mod ${draw.pot} = ${draw.ticket} falls to ${draw.winner}${right ? ', the contract’s winner' : `, but the contract paid ${done.winner}`}`
        : `no bets to draw from, but the contract paid ${done.winner}`,
    });
    checks.push({
      name: 'payout',
      ok: done.prize + done.commission === done.totalPot && done.totalPot === round.totalPot,
      detail: `prize ${done.prize} + commission ${done.commission} = ${done.prize + done.commission} wei, the pot is ${round.totalPot} wei`,
    });
    const expected = (done.totalPot * config.commissionBps) / BPS_DENOMINATOR;
    checks.push({
      name: 'commission',
      ok: done.commission === expected,
      detail: `commission ${done.commission} wei; ${config.commissionBps} bps of ${done.totalPot} wei is ${expected} wei`,
    });
    checks.push(byOperator);
    return { roundId, outcome: 'completed', checks, bets, seed: done.seed, draw, paid: done.winner };
  }

  const refund = settle.args as { totalRefunded: bigint; reason: number };
  const reason = Number(refund.reason);
  const time = block.timestamp;
  checks.push(
    reason === 2
      ? {
          name: 'refund reason',
          ok: time > round.maxDrawTime,
          detail: `draw window expired: refunded at ${time}, the window closed at ${round.maxDrawTime}`,
        }
      : reason === 1
        ? {
            name: 'refund reason',
            ok: round.participantCount < config.minParticipants && byOperator.ok,
            detail: `too few players: ${round.participantCount} of at least ${config.minParticipants}`,
          }
        : { name: 'refund reason', ok: byOperator.ok, detail: `refunded by the operator: ${byOperator.detail}` },
  );
  checks.push({
    name: 'refunded total',
    ok: refund.totalRefunded === round.totalPot,
    detail: `${refund.totalRefunded} wei refunded, the pot is ${round.totalPot} wei`,
  });
  return { roundId, outcome: 'refunded', checks, bets, seed: null, draw: null, paid: null };
}
