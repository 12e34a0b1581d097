/**
 * The failures, one entry per scenario: which peers each one hits (derived
 * from the topology, never assumed), how it is injected into the local
 * cluster, and which member ids it may change. Orchestration and
 * verification stay in scenarios.ts.
 */
import { join } from 'path';
import { peerIndices, peerName, zoneIndexOf } from '../contract/naming';
import { failureBudget } from '../contract/topology';
import type { LocalCluster } from './cluster';
import { healZone, partitionZone } from './net';
import { collectPeerMetrics, highest, PeerMetrics } from './peer-metrics';
import { deviceAt, throttleWrites } from './slow-disk';
import { sleep } from '../runtime/retry';
import type { EtcdMinor } from '../runtime/etcd-binaries';
import { rollingReplace, rollingUpgrade, upgradeStops } from './roll-failures';
import type { DatabaseSettings } from '../contract/database';
import { defrag, nospace } from './database-failures';
import type { MaintenanceTimers } from './maintenance-timers';

export const SCENARIOS = ['zone-and-node', 'whole-cluster', 'rolling-replace', 'zone-partition', 'volume-still-attached', 'volume-lost', 'volumes-lost', 'slow-disk', 'rolling-upgrade', 'upgrade-stops', 'nospace', 'defrag'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

/** The layout a scenario runs on. */
export interface Topology {
  readonly peers: number;
  readonly zones: number;
}

/** The peers of zone `zone` (peer i sits in zone i mod zones). */
export function peersInZone(t: Topology, zone: number): number[] {
  return peerIndices(t.peers).filter((i) => zoneIndexOf(i, t.zones) === zone);
}

/** zone-and-node: every peer of zone 0, and the first peer of zone 1. */
export function zoneAndNodeVictims(t: Topology): number[] {
  return [...peersInZone(t, 0), peersInZone(t, 1)[0]];
}

/** volume-lost: the middle peer (peer 4 of 9, peer 1 of 3): one that exists in every layout. */
export function volumeLostVictim(t: Topology): number {
  return Math.floor(t.peers / 2);
}

/** volume-still-attached: peer 2, which every valid layout (3 peers or more) has. */
export function volumeStillAttachedVictim(t: Topology): number {
  return Math.min(2, t.peers - 1);
}

/** slow-disk: the last peer (peer 8 of 9, peer 2 of 3). */
export function slowDiskVictim(t: Topology): number {
  return t.peers - 1;
}

/** slow-disk: the writes per second its volume takes, and for how long, while the load runs. */
export const SLOW_DISK = { writeIops: 10, seconds: 15 } as const;

/** What the scenario needs from the run while injecting. */
export interface FailureContext extends Topology {
  readonly cluster: LocalCluster;
  readonly progress: (line: string) => void;
  /** A mark on the timeline (and the picture). */
  readonly mark: (what: string) => void;
  /** The run's directory (its local bucket is `backups/`). */
  readonly runDir: string;
  /** Seconds without an acknowledged write between two moments, while the load runs. */
  readonly unavailableSeconds: (from: number, to: number) => number;
  /** Writes acknowledged between two moments. */
  readonly ackedBetween: (from: number, to: number) => number;
  /** Every peer's maintenance timer, when the scenario runs them. */
  readonly maintenance?: MaintenanceTimers;
}

/** When the failure happened, if not when its injection started. */
export interface FailureOutcome {
  /** The moment the failure struck (default: when the injection started). */
  readonly faultAt?: number;
  /** The moment recovery is measured from (default: faultAt). */
  readonly recoveryFrom?: number;
  /** volumes-lost: the snapshot revision the cluster must come back from, and when every old member was dead. */
  readonly beforeLoss?: { readonly revision: number; readonly at: number };
  /** What every peer published over the time the failure was on (slow-disk). */
  readonly metricsDuringFailure?: PeerMetrics;
  /** Figures of this scenario's own, added to the report (keys of `ScenarioResult`). */
  readonly report?: Record<string, unknown>;
}

/** One scenario's failure. */
export interface Failure {
  /** Peers that lose their volume, so rejoin as new members with new ids; no other member id may change. */
  readonly newMembers: (t: Topology) => number[];
  readonly inject: (ctx: FailureContext) => Promise<FailureOutcome>;
  /** The etcd the cluster is formed on, when not the run's (`--etcd`): the run's is then the target of an upgrade. */
  readonly formOn?: EtcdMinor;
  /** The database settings every peer's agent gets (a small quota); the agent's defaults otherwise. */
  readonly database?: Partial<DatabaseSettings>;
  /** Runs every peer's maintenance timer (`node-agent maintain`) at this period from the start of the load. */
  readonly maintenanceEveryMs?: number;
}

/** Member names whose ids a scenario is expected to change (and no others). */
export function expectedMemberIdChanges(name: ScenarioName, t: Topology): string[] {
  return FAILURES[name].newMembers(t).map(peerName);
}

const none = (): number[] => [];

export const FAILURES: { readonly [K in ScenarioName]: Failure } = {
  'zone-and-node': {
    newMembers: none,
    inject: async (ctx) => {
      const victims = zoneAndNodeVictims(ctx);
      const quorum = failureBudget(ctx.peers, ctx.zones).quorum;
      ctx.mark(`kill zone 0 + ${peerName(victims[victims.length - 1])}`);
      await ctx.cluster.kill(victims, `zone 0 and one more peer (${victims.length} of ${ctx.peers}; quorum ${quorum})`);
      return {};
    },
  },
  'whole-cluster': {
    newMembers: none,
    inject: async (ctx) => {
      ctx.mark('kill all');
      await ctx.cluster.kill(peerIndices(ctx.peers), 'every instance at once');
      return {};
    },
  },
  'rolling-replace': rollingReplace,
  'zone-partition': {
    newMembers: none,
    inject: async (ctx) => {
      const zone = ctx.cluster.zones[1];
      ctx.mark('partition zone 1');
      ctx.progress('partition zone 1');
      await partitionZone(zone);
      await sleep(10_000);
      ctx.mark('heal zone 1');
      ctx.progress('heal zone 1');
      await healZone(zone);
      return { recoveryFrom: Date.now() };
    },
  },
  'volume-still-attached': {
    newMembers: none,
    inject: async (ctx) => {
      const peer = volumeStillAttachedVictim(ctx);
      const victim = ctx.cluster.current(peer)!;
      ctx.mark(`${peerName(peer)} dies, volume held 5 s`);
      ctx.progress(`kill ${peerName(peer)} (${victim.id}); its volume stays mounted for 5 s while the replacement boots`);
      await ctx.cluster.terminate(victim, { reason: 'instance lost, volume still attached', releaseVolumeAfterMs: 5000 });
      return {};
    },
  },
  'volume-lost': {
    newMembers: (t) => [volumeLostVictim(t)],
    inject: async (ctx) => {
      const peer = volumeLostVictim(ctx);
      const victim = ctx.cluster.current(peer)!;
      ctx.mark(`${peerName(peer)} dies with its volume`);
      ctx.progress(`kill ${peerName(peer)} (${victim.id}) and lose its volume: the replacement gets an empty one and must rejoin as a new member`);
      await ctx.cluster.terminate(victim, { reason: 'instance and volume lost', loseVolume: true });
      return {};
    },
  },
  'rolling-upgrade': rollingUpgrade,
  'upgrade-stops': upgradeStops,
  'volumes-lost': {
    // A restore brings every peer back under its formation member id.
    newMembers: none,
    inject: async (ctx) => {
      const taken = await ctx.cluster.snapshotAll();
      const revision = taken.uploaded[0]?.revision;
      if (revision === undefined) throw new Error('no snapshot was taken before the volumes were lost');
      ctx.mark(`snapshot at revision ${revision}`);
      ctx.progress(`snapshot at revision ${revision}; writing on for 2 s: those writes are the recovery point`);
      await sleep(2000);
      const faultAt = Date.now();
      ctx.mark('every instance dies with its volume');
      await ctx.cluster.kill(peerIndices(ctx.peers), 'every instance and every volume: the cluster must come back from the snapshot', { loseVolumes: true });
      // Every old etcd is dead now: a write acknowledged until here came from the old cluster, any later one from the restored.
      return { faultAt, recoveryFrom: faultAt, beforeLoss: { revision, at: Date.now() } };
    },
  },
  'slow-disk': {
    newMembers: none,
    inject: async (ctx) => {
      const peer = slowDiskVictim(ctx);
      const victim = ctx.cluster.current(peer)!;
      // The interval every peer's WAL fsync p99 speaks of starts here (the collector keeps the last histogram).
      await collectPeerMetrics(ctx.cluster, ctx.progress);
      const device = await deviceAt(join(victim.dir, 'data'));
      const faultAt = Date.now();
      ctx.mark(`${peerName(peer)}'s disk slowed`);
      ctx.progress(`slow ${peerName(peer)}'s volume (${device}) to ${SLOW_DISK.writeIops} writes/s for ${SLOW_DISK.seconds} s`);
      const throttle = await throttleWrites(victim.id, device, SLOW_DISK.writeIops, [victim.etcd!.pid!]);
      let metricsDuringFailure: PeerMetrics;
      try {
        await sleep(SLOW_DISK.seconds * 1000);
        metricsDuringFailure = await collectPeerMetrics(ctx.cluster, ctx.progress);
      } finally {
        await throttle.remove();
      }
      ctx.mark(`${peerName(peer)}'s disk back to normal`);
      const slowest = highest(metricsDuringFailure, 'WalFsyncP99Ms');
      ctx.progress(`WAL fsync p99 while slowed: ${slowest ? `highest on ${slowest.peer}, ${slowest.value} ms` : 'not reported'}`);
      return { faultAt, recoveryFrom: Date.now(), metricsDuringFailure };
    },
  },
  nospace,
  defrag,
};
