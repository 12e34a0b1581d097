/**
 * Whether a peer with an empty volume may restore the cluster from a snapshot
 * (pure). The volumes are the first line; a restore is only for a cluster
 * whose every volume is gone, and it must never run beside a peer that still
 * holds data. Peers cannot see each other's disks, so each one publishes a
 * small report next to the snapshots (`peers/peer-N.json`): `fresh` while its
 * agent decides on an empty volume, `member` before etcd starts on data.
 * Times are the store's own clock (S3 LastModified), never an instance's.
 */
import { BACKUP_KEYS, peerIndices, peerName } from '../contract/naming';

/** What one peer last said about its volume. */
export interface PeerReport {
  readonly peer: number;
  /** `fresh`: the volume is empty and etcd has not started on it since; `member`: etcd runs (or is about to) on data. */
  readonly state: 'fresh' | 'member';
  /** When the store recorded the report (ms since the epoch, the store's clock). */
  readonly at: number;
  /**
   * The snapshot this peer last restored from; carried from report to report,
   * so a peer that already ran in a cluster restored from S never restores S
   * again beside peers that still hold that cluster.
   */
  readonly restoredFrom?: string;
}

/** The body a peer writes; the store adds `peer` and `at`. */
export type PeerReportBody = Pick<PeerReport, 'state' | 'restoredFrom'>;

/** A snapshot in the store. */
export interface SnapshotRef {
  readonly key: string;
  /** When the store recorded it (ms since the epoch, the store's clock). */
  readonly at: number;
}

/** What the stores say about the cluster's past. */
export interface RecoveryFacts {
  readonly newestSnapshot?: SnapshotRef;
  /** The latest report of each peer that ever reported. */
  readonly reports: readonly PeerReport[];
  /** The restoredFrom this peer carried into this boot (from its own last report). */
  readonly ownRestoredFrom?: string;
}

/** What a peer with an empty volume and no live quorum does. */
export type RecoveryPlan =
  | { readonly action: 'restore'; readonly snapshot: SnapshotRef; readonly reason: string }
  | { readonly action: 'bootstrap'; readonly reason: string }
  | { readonly action: 'wait'; readonly reason: string };

/**
 * The snapshot to restore: the newest of the frequent tier, whose keys are
 * unique per run; only when none is left (they expire first), the newest
 * daily one. A daily object is a copy of that day's latest frequent one,
 * uploaded just after it, and its key is rewritten all day, so it never
 * names a snapshot while a frequent one exists.
 */
export function newestSnapshot(snapshots: readonly SnapshotRef[]): SnapshotRef | undefined {
  const newest = (tier: string) =>
    snapshots.filter((s) => s.key.startsWith(tier) && s.key.endsWith('.db')).reduce<SnapshotRef | undefined>((best, s) => (!best || s.at > best.at ? s : best), undefined);
  return newest(BACKUP_KEYS.frequent) ?? newest(BACKUP_KEYS.daily);
}

/**
 * The recovery table (README: "A cluster whose volumes are gone"). Asked only
 * for an empty volume when no quorum answers.
 *
 * | newest snapshot | the other peers' latest reports                                   | plan |
 * |-----------------|--------------------------------------------------------------------|------|
 * | none            | anything                                                           | bootstrap (first formation) |
 * | S               | every peer reported after S: `fresh`, or `member` restored from S  | restore S (all fresh peers restore the same S) |
 * | S               | a peer has not reported since S was taken                          | wait: it may still hold data |
 * | S               | a peer says `member`, not restored from S                          | wait: never restore beside data |
 * | S               | a peer says `member` restored from S, and so did this peer before  | wait: rejoin that cluster once it has quorum |
 */
export function decideRecovery(self: { index: number; peerCount: number }, facts: RecoveryFacts): RecoveryPlan {
  const latest = new Map(facts.reports.map((r) => [r.peer, r]));
  const others = peerIndices(self.peerCount).filter((i) => i !== self.index);
  const snapshot = facts.newestSnapshot;
  // Without a snapshot nothing tells a forming cluster from a lost one, and members that lack quorum do not
  // answer: waiting on a peer's `member` report here would deadlock the first formation.
  if (!snapshot) return { action: 'bootstrap', reason: 'no snapshot exists: the cluster is forming' };
  const silent = others.filter((i) => (latest.get(i)?.at ?? -Infinity) <= snapshot.at);
  if (silent.length) {
    return {
      action: 'wait',
      reason: `snapshot ${snapshot.key} shows the cluster existed, and ${silent.map(peerName).join(', ')} ${silent.length === 1 ? 'has' : 'have'} not reported since it was taken: they may still hold data`,
    };
  }
  for (const i of others) {
    const report = latest.get(i)!;
    if (report.state !== 'member') continue;
    if (report.restoredFrom !== snapshot.key) {
      return { action: 'wait', reason: `${peerName(i)} holds data newer than snapshot ${snapshot.key}: never restoring beside it; waiting for its etcd to answer` };
    }
    if (facts.ownRestoredFrom === snapshot.key) {
      return {
        action: 'wait',
        reason: `this peer already ran in the cluster restored from ${snapshot.key}, which ${peerName(i)} still holds: it must rejoin that cluster once it has quorum, not restore again`,
      };
    }
  }
  return {
    action: 'restore',
    snapshot,
    reason: `every other peer's volume is empty or restored from ${snapshot.key}: restoring the newest snapshot`,
  };
}
