/**
 * Which peer the roller replaces next (pure). A change to the launch template
 * (etcd version, image, instance type, user data, or `rollGeneration` to roll
 * on demand) leaves every running instance out of date; the roller replaces
 * them one at a time, and only while the whole cluster is healthy, so at most
 * one peer is ever down. Shared by the AWS roller (a scheduled Lambda) and the
 * local cluster, like the DNS updater's decisions.
 */
import { peerName } from '../contract/naming';
import type { PeerStatus } from '../contract/peer-status';

/** One peer as Auto Scaling and its own published status show it. */
export interface RollPeer {
  readonly index: number;
  /** The group's instance; `undefined` while the group has none (between a termination and the next launch). */
  readonly instance?: {
    readonly id: string;
    /** Auto Scaling's lifecycle state: `InService`, `Pending`, `Terminating:Wait`, ... */
    readonly lifecycleState: string;
    /** Auto Scaling's health status is `Healthy`. */
    readonly healthy: boolean;
    /** Launched from the group's current launch template version. */
    readonly upToDate: boolean;
    /** When it was launched (ms since the epoch). */
    readonly launchedAt: number;
  };
  /** The newest status the peer published; `undefined` when there is none. */
  readonly status?: PeerStatus;
}

/** The roller's limits. */
export interface RollPolicy {
  /** How far behind the highest revision a member may be and still count as caught up. */
  readonly maxRevisionLag: number;
  /** A status older than this (seconds) says nothing about the member now. */
  readonly statusMaxAgeSeconds: number;
  /** A replacement must be healthy this long (seconds) after its launch, or the roller stops. */
  readonly replaceDeadlineSeconds: number;
  /** Before the first peer moves to a new minor version, the newest snapshot must be at most this old (seconds). */
  readonly freshSnapshotSeconds: number;
}

/** Defaults: the agent publishes every minute, a replacement boots in a few minutes, snapshots come every 15. */
export const DEFAULT_ROLL_POLICY: RollPolicy = { maxRevisionLag: 1000, statusMaxAgeSeconds: 180, replaceDeadlineSeconds: 1200, freshSnapshotSeconds: 900 };

/** What the roller sees. */
export interface RollInput {
  readonly peers: readonly RollPeer[];
  /** The etcd version the launch template installs, e.g. `3.5.33`. */
  readonly targetVersion: string;
  readonly now: number;
  /** When the newest snapshot was stored; `undefined` without any. */
  readonly newestSnapshotAt?: number;
  readonly policy?: RollPolicy;
}

/** What the roller does now. */
export type RollDecision =
  | { readonly action: 'done'; readonly reason: string }
  | { readonly action: 'wait'; readonly reason: string }
  | { readonly action: 'snapshot-first'; readonly reason: string }
  | { readonly action: 'replace'; readonly peer: number; readonly instanceId: string; readonly reason: string }
  | { readonly action: 'stop'; readonly peer?: number; readonly reason: string };

/** `[major, minor]` of `3.5.16` (or of `3.5`). */
export function minorOf(version: string): [number, number] {
  const m = /^(\d+)\.(\d+)/.exec(version);
  if (!m) throw new Error(`not an etcd version: "${version}"`);
  return [Number(m[1]), Number(m[2])];
}

const minorName = ([major, minor]: [number, number]) => `${major}.${minor}`;
const compareMinor = (a: [number, number], b: [number, number]) => a[0] - b[0] || a[1] - b[1];

/** Why a peer is not a healthy, caught-up voter on an up-to-date status; `undefined` when it is. */
function unhealthyBecause(p: RollPeer, now: number, policy: RollPolicy, highestRevision: number): string | undefined {
  const i = p.instance;
  if (!i) return 'its group has no instance';
  if (i.lifecycleState !== 'InService') return `its instance ${i.id} is ${i.lifecycleState}`;
  if (!i.healthy) return `its instance ${i.id} is unhealthy in Auto Scaling`;
  const s = p.status;
  if (!s || s.instanceId !== i.id) return `no status from its instance ${i.id} yet`;
  if (now - s.at > policy.statusMaxAgeSeconds * 1000) return `its status is ${Math.round((now - s.at) / 1000)} s old`;
  if (!s.healthy) return 'its etcd is unhealthy';
  if (s.role === 'learner') return 'it is a learner, not yet a voter';
  if (highestRevision - s.revision > policy.maxRevisionLag) return `it is ${highestRevision - s.revision} revisions behind`;
  return undefined;
}

/**
 * The rolling table (README: "Rolling a change"), checked in this order:
 *
 * | # | what the roller sees | decision |
 * |---|---|---|
 * | 1 | the target skips a minor version past the lowest one running (3.4 → 3.6), or goes below the highest | stop: never skip or downgrade a minor |
 * | 2 | a peer is not a healthy, caught-up voter (instance missing or not InService, no fresh status from its instance, unhealthy, learner, revision lag), and its instance is up to date and older than the deadline | stop, naming the peer and why (the cluster keeps quorum: nothing else is replaced) |
 * | 3 | a peer is not a healthy, caught-up voter otherwise | wait (at most one peer is down, the one being replaced) |
 * | 4 | every group has an up-to-date instance (and, by now, every member is healthy) | done |
 * | 5 | the next replacement is the first onto a new minor, and the newest snapshot is missing or older than the limit | snapshot-first |
 * | 6 | otherwise | replace the lowest-numbered out-of-date follower; the leader last |
 */
export function decideRoll(input: RollInput): RollDecision {
  const policy = input.policy ?? DEFAULT_ROLL_POLICY;
  const target = minorOf(input.targetVersion);
  const running = input.peers.flatMap((p) => (p.status ? [minorOf(p.status.etcdVersion)] : []));
  if (running.length) {
    const lowest = running.reduce((a, b) => (compareMinor(a, b) <= 0 ? a : b));
    const highest = running.reduce((a, b) => (compareMinor(a, b) >= 0 ? a : b));
    if (target[0] !== lowest[0] || target[1] > lowest[1] + 1) {
      return { action: 'stop', reason: `refusing to skip a minor version: the cluster runs ${minorName(lowest)}, the target is ${input.targetVersion}; upgrade to ${lowest[0]}.${lowest[1] + 1} first` };
    }
    if (compareMinor(target, highest) < 0) {
      return { action: 'stop', reason: `refusing to downgrade: a member runs ${minorName(highest)}, the target is ${input.targetVersion}` };
    }
  }

  // A group without an instance is pending too: its replacement has not launched yet.
  const pending = input.peers.filter((p) => !p.instance?.upToDate);

  const highestRevision = Math.max(0, ...input.peers.map((p) => p.status?.revision ?? 0));
  for (const p of input.peers) {
    const why = unhealthyBecause(p, input.now, policy, highestRevision);
    if (!why) continue;
    const overdue = p.instance?.upToDate && input.now - p.instance.launchedAt > policy.replaceDeadlineSeconds * 1000;
    if (overdue) {
      return { action: 'stop', peer: p.index, reason: `${peerName(p.index)} is not healthy ${policy.replaceDeadlineSeconds} s after its launch: ${why}; nothing more is replaced` };
    }
    return { action: 'wait', reason: `${peerName(p.index)}: ${why}` };
  }
  // Done only once the last replacement is back, too.
  if (!pending.length) return { action: 'done', reason: 'every peer runs the current launch template, healthy and caught up' };

  const onTarget = running.some((m) => compareMinor(m, target) === 0);
  const minorChange = pending.some((p) => p.status && compareMinor(minorOf(p.status.etcdVersion), target) !== 0);
  if (minorChange && !onTarget) {
    const age = input.newestSnapshotAt === undefined ? undefined : (input.now - input.newestSnapshotAt) / 1000;
    if (age === undefined || age > policy.freshSnapshotSeconds) {
      return {
        action: 'snapshot-first',
        reason: `the first peer is about to move to ${minorName(target)}: a snapshot no older than ${policy.freshSnapshotSeconds} s is needed (newest: ${age === undefined ? 'none' : `${Math.round(age)} s old`})`,
      };
    }
  }

  const next = [...pending].sort((a, b) => Number(a.status?.role === 'leader') - Number(b.status?.role === 'leader') || a.index - b.index)[0];
  const role = next.status?.role === 'leader' ? 'the leader, last' : 'a follower';
  return { action: 'replace', peer: next.index, instanceId: next.instance!.id, reason: `${peerName(next.index)} (${role}) runs an old launch template; every member is healthy and caught up (${pending.length} to go)` };
}
