/**
 * The database scenarios (issue #17): `nospace` fills a cluster with a small
 * quota until etcd raises NOSPACE and waits for it to become writable again by
 * itself; `defrag` leaves most of every member's database free and waits for
 * the maintenance timers to defragment every member, one at a time. Both run
 * the real agent's `maintain` on every peer's timer (maintenance-timers.ts).
 */
import { peerName } from '../contract/naming';
import { done, notYet, pollUntil, sleep } from '../runtime/retry';
import type { Endpoint } from './etcd-client';
import type { Failure, FailureContext } from './failures';
import { defragmentationsOf, overlaps } from './maintenance-timers';

const MiB = 1024 * 1024;

/** What the database scenarios add to the report (top-level keys of the JSON). */
export interface DatabaseScenarioReport {
  /** nospace: etcd raised NOSPACE under the filler. */
  readonly nospaceRaised?: boolean;
  /** nospace: from the alarm to the first write that succeeded again. */
  readonly writableAgainSeconds?: number;
  /** nospace: the largest member database at the alarm, and once writable again. */
  readonly dbSizeBytesBefore?: number;
  readonly dbSizeBytesAfter?: number;
  readonly fillWrites?: number;
  /** nospace: the peer whose run recovered (the leader), and what its line said. */
  readonly recoveredBy?: string;
  readonly recovery?: { readonly reason: string; readonly defragmented: string[] };
  /** defrag: each member's database before (the agent's own figure) and after, and its defragmentation's times. */
  readonly defragmented?: Record<string, { before?: number; after?: number; defragStartedAt: string; defragFinishedAt: string; defragMs: number }>;
  readonly defragOrder?: string[];
  /** defrag: pairs of members whose defragmentations overlapped in time (their own log lines): none. */
  readonly defragOverlaps?: string[];
  readonly dbSmallerOnEveryMember?: boolean;
}
/** Large values, so the quota fills in seconds. */
const BIG = 'x'.repeat(256 * 1024);

/** The member endpoints that DNS currently names. */
function members(ctx: FailureContext): Endpoint[] {
  return ctx.cluster.endpoints();
}

/** Each member's database size (by peer name); a member that does not answer is left out. */
async function dbSizes(ctx: FailureContext): Promise<Record<string, number>> {
  const sizes: Record<string, number> = {};
  await Promise.all(
    members(ctx).map(async (e, i) => {
      try {
        sizes[peerName(i)] = (await ctx.cluster.client.status(e, 5000)).dbSize;
      } catch {
        /* left out */
      }
    }),
  );
  return sizes;
}

const largest = (sizes: Record<string, number>) => Math.max(0, ...Object.values(sizes));

/** etcd's answer to a write while the NOSPACE alarm stands. */
const isNospace = (error: unknown) => /database space exceeded/.test((error as Error)?.message ?? '');

/** Puts `value` under `key` on any member that takes it; rejects with the last member's error (NOSPACE at once). */
async function putAnywhere(ctx: FailureContext, key: string, value: string, start: number): Promise<void> {
  const list = members(ctx);
  let last: unknown;
  for (let k = 0; k < list.length; k++) {
    try {
      await ctx.cluster.client.put(list[(start + k) % list.length], key, value, 5000);
      return;
    } catch (error) {
      last = error;
      if (isNospace(error)) throw error;
    }
  }
  throw last;
}

export const nospace: Failure = {
  newMembers: () => [],
  // A few tens of MiB; compaction by etcd's revision policy, so the NOSPACE recovery may compact (the agent's rule).
  database: { quotaBackendBytes: 32 * MiB, compaction: { mode: 'revision', retention: 1000 } },
  maintenanceEveryMs: 5000,
  inject: async (ctx) => {
    ctx.mark('fill the database');
    ctx.progress('filling the 32 MiB quota: 256 KiB values over 8 keys, overwritten, while the load keeps going');
    let fills = 0;
    let raisedAt: number | undefined;
    const deadline = Date.now() + 120_000;
    while (raisedAt === undefined) {
      if (Date.now() > deadline) throw new Error(`NOSPACE was not raised after ${fills} writes of 256 KiB`);
      try {
        await putAnywhere(ctx, `/fill/k${fills % 8}`, BIG, fills);
        fills++;
      } catch (error) {
        if (isNospace(error)) raisedAt = Date.now();
        else await sleep(100);
      }
    }
    ctx.mark('NOSPACE raised');
    const before = await dbSizes(ctx);
    ctx.progress(`NOSPACE raised after ${fills} writes of 256 KiB; largest database ${(largest(before) / MiB).toFixed(1)} MiB; waiting for the maintenance timers`);
    let probes = 0;
    const writableAt = await pollUntil(
      async () => {
        try {
          await putAnywhere(ctx, '/probe/writable', String(probes++), probes);
          return done(Date.now());
        } catch {
          return notYet('writes still refused');
        }
      },
      { timeoutMs: 180_000, delayMs: 250, onTimeout: (reason, ms) => new Error(`${reason} ${ms / 1000} s after NOSPACE was raised`) },
    );
    ctx.mark('writable again');
    const after = await dbSizes(ctx);
    const writableAgainSeconds = Math.round((writableAt - raisedAt) / 10) / 100;
    // The run that disarmed writes its line when it ends, a moment after writes resume.
    const recovery = await pollUntil(
      async () => {
        const line = ctx.maintenance?.lines.find((l) => l.action === 'nospace-recovered');
        return line ? done(line) : notYet('no maintenance line says nospace-recovered yet');
      },
      { timeoutMs: 60_000, delayMs: 250 },
    ).catch(() => undefined);
    ctx.progress(`writable again ${writableAgainSeconds} s after NOSPACE; largest database ${(largest(after) / MiB).toFixed(1)} MiB (${recovery?.reason ?? 'no recovery line'})`);
    return {
      faultAt: raisedAt,
      report: {
        nospaceRaised: true,
        writableAgainSeconds,
        dbSizeBytesBefore: largest(before),
        dbSizeBytesAfter: largest(after),
        fillWrites: fills,
        recoveredBy: recovery?.peer,
        // Every member the leader's NOSPACE runs defragmented (a run that found a member unhealthy stops, the next goes on).
        recovery: recovery
          ? { reason: recovery.reason, defragmented: [...new Set(ctx.maintenance!.lines.filter((l) => l.action.startsWith('nospace')).flatMap((l) => l.defragmentations.map((d) => d.member)))].sort() }
          : undefined,
      },
    };
  },
};

export const defrag: Failure = {
  newMembers: () => [],
  database: { quotaBackendBytes: 128 * MiB, defragment: { minFreeableBytes: 4 * MiB, minFreeableShare: 0.25 } },
  maintenanceEveryMs: 5000,
  inject: async (ctx) => {
    ctx.progress('writing 32 MiB under /bulk/, then deleting it and compacting (as kube-apiserver would)');
    for (let i = 0; i < 128; i++) await putAnywhere(ctx, `/bulk/${i}`, BIG, i);
    const [first] = members(ctx);
    await ctx.cluster.client.deletePrefix(first, '/bulk/', 10_000);
    const { revision } = await ctx.cluster.client.status(first, 5000);
    await ctx.cluster.client.compact(first, revision, 60_000);
    const faultAt = Date.now();
    ctx.mark('bulk deleted and compacted');
    const before = await dbSizes(ctx);
    const peers = members(ctx).map((_, i) => peerName(i));
    await pollUntil(
      async () => {
        const done_ = new Set(defragmentationsOf(ctx.maintenance?.lines ?? []).map((d) => d.member));
        const waiting = peers.filter((p) => !done_.has(p));
        return waiting.length ? notYet(`waiting for ${waiting.join(', ')} to be defragmented`) : done(undefined);
      },
      { timeoutMs: 300_000, delayMs: 500 },
    );
    ctx.mark('every member defragmented');
    const after = await dbSizes(ctx);
    const defrags = defragmentationsOf(ctx.maintenance?.lines ?? []);
    const members_ = Object.fromEntries(
      peers.map((p) => {
        const d = defrags.find((x) => x.member === p)!;
        // The agent's own figure before: a member may be defragmented before this run reads the sizes.
        return [p, { before: d.dbSizeBefore ?? before[p], after: after[p], defragStartedAt: d.startedAt, defragFinishedAt: d.finishedAt, defragMs: d.durationMs }];
      }),
    );
    const overlapping = overlaps(defrags);
    ctx.progress(`every member defragmented, one at a time (${overlapping.length} overlaps), in order ${defrags.map((d) => d.member).join(', ')}`);
    return {
      faultAt,
      report: {
        defragmented: members_,
        defragOrder: defrags.map((d) => d.member),
        defragOverlaps: overlapping,
        dbSmallerOnEveryMember: peers.every((p) => members_[p].after !== undefined && members_[p].before !== undefined && members_[p].after! < members_[p].before!),
      },
    };
  },
};
