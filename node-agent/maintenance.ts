/**
 * The maintenance timer's decisions (pure): whether this peer defragments its
 * own member now, and the steps that get a cluster out of NOSPACE. The
 * adapter (`maintain.ts`) reads the cluster, asks these functions, and runs
 * etcdctl; the README repeats the tables, and the tests check them row by row.
 */
import {
  CompactionPolicy,
  DatabaseSettings,
  DefragThresholds,
  NEAR_QUOTA_SHARE,
  NOSPACE_DISARM_BELOW_SHARE,
} from '../contract/database';

/** One member as the maintenance run sees it. */
export interface MemberDb {
  /** `peer-N`. */
  readonly name: string;
  readonly isLeader: boolean;
  readonly isLearner: boolean;
  /** It answered a health check (a NOSPACE alarm alone does not make it unhealthy). */
  readonly healthy: boolean;
  /** From its endpoint status; absent when it did not answer. */
  readonly dbSize?: number;
  readonly dbSizeInUse?: number;
}

/** What one run saw of the whole cluster. */
export interface MaintenanceView {
  readonly members: readonly MemberDb[];
  /** A NOSPACE alarm is raised (on any member). */
  readonly nospace: boolean;
  /** Other alarms raised (CORRUPT): `etcdctl alarm disarm` would disarm them too. */
  readonly otherAlarms?: readonly string[];
}

/** What this peer's run does. */
export type MaintenanceDecision =
  | { readonly kind: 'skip'; readonly reason: string }
  | { readonly kind: 'defragment'; readonly member: string; readonly reason: string }
  | { readonly kind: 'recover-nospace'; readonly reason: string };

const MiB = 1024 * 1024;
const mib = (bytes: number) => `${(bytes / MiB).toFixed(1)} MiB`;
const pct = (share: number) => `${Math.round(share * 100)} %`;

/** Database size minus size in use: what a defragmentation gives back. */
function freeableBytes(m: MemberDb): number | undefined {
  return m.dbSize === undefined || m.dbSizeInUse === undefined ? undefined : Math.max(0, m.dbSize - m.dbSizeInUse);
}

/** Whether one member's database is worth defragmenting (outside NOSPACE), and why. */
export function defragWanted(m: MemberDb, thresholds: DefragThresholds, quotaBytes: number): { wanted: boolean; reason: string } {
  const freeable = freeableBytes(m);
  if (freeable === undefined || m.dbSize === undefined) return { wanted: false, reason: `${m.name} gave no database size` };
  if (freeable < thresholds.minFreeableBytes) {
    return { wanted: false, reason: `${m.name}: ${mib(freeable)} freeable, below minFreeableBytes (${mib(thresholds.minFreeableBytes)})` };
  }
  if (m.dbSize >= NEAR_QUOTA_SHARE * quotaBytes) {
    return { wanted: true, reason: `${m.name}: ${mib(freeable)} freeable and the database at ${pct(m.dbSize / quotaBytes)} of the quota` };
  }
  const share = m.dbSize > 0 ? freeable / m.dbSize : 0;
  if (share < thresholds.minFreeableShare) {
    return { wanted: false, reason: `${m.name}: ${pct(share)} of the database freeable, below minFreeableShare (${pct(thresholds.minFreeableShare)})` };
  }
  return { wanted: true, reason: `${m.name}: ${mib(freeable)} (${pct(share)}) freeable` };
}

/** Why the cluster is not fit for a defragmentation now (one member's pause must cost nothing more), or `undefined`. */
export function clusterUnfit(view: MaintenanceView): string | undefined {
  const down = view.members.filter((m) => !m.healthy).map((m) => m.name);
  if (down.length) return `not every member is healthy (${down.join(', ')})`;
  const learners = view.members.filter((m) => m.isLearner).map((m) => m.name);
  if (learners.length) return `a member is rejoining as a learner (${learners.join(', ')})`;
  const silent = view.members.filter((m) => m.dbSize === undefined).map((m) => m.name);
  if (silent.length) return `no endpoint status from ${silent.join(', ')}`;
  if (view.members.filter((m) => m.isLeader).length !== 1) return 'the members name no single leader';
  return undefined;
}

/**
 * What this peer (`self`, `peer-N`) does on this run. Each peer defragments
 * only its own member; the leader's agent alone recovers from NOSPACE, since
 * the cluster-wide lock cannot be taken while NOSPACE refuses writes.
 */
export function decideMaintenance(view: MaintenanceView, self: string, settings: DatabaseSettings): MaintenanceDecision {
  const me = view.members.find((m) => m.name === self);
  if (!me) return { kind: 'skip', reason: `${self} is not in the member list` };
  if (view.otherAlarms?.length) return { kind: 'skip', reason: `alarm ${view.otherAlarms.join(', ')} raised: that needs a human, and a disarm would clear it too` };
  const unfit = clusterUnfit(view);
  if (view.nospace) {
    if (unfit) return { kind: 'skip', reason: `NOSPACE raised, but ${unfit}: recovery waits until every member is healthy` };
    if (!me.isLeader) return { kind: 'skip', reason: "NOSPACE raised: the leader's agent recovers" };
    return { kind: 'recover-nospace', reason: 'NOSPACE raised and this peer is the leader' };
  }
  if (unfit) return { kind: 'skip', reason: unfit };
  const mine = defragWanted(me, settings.defragment, settings.quotaBackendBytes);
  if (!mine.wanted) return { kind: 'skip', reason: mine.reason };
  if (me.isLeader) {
    const followers = view.members.filter((m) => !m.isLeader && defragWanted(m, settings.defragment, settings.quotaBackendBytes).wanted);
    if (followers.length) return { kind: 'skip', reason: `followers first: ${followers.map((m) => m.name).join(', ')} before the leader` };
  }
  return { kind: 'defragment', member: self, reason: mine.reason };
}

/**
 * Whether a NOSPACE recovery compacts to the current revision first. Under
 * `kube-apiserver` it never does: the API server owns compaction, and
 * compacting ahead of it would make its watch caches relist.
 */
export function nospaceCompaction(policy: CompactionPolicy): { compact: boolean; reason: string } {
  return policy.mode === 'kube-apiserver'
    ? { compact: false, reason: 'kube-apiserver compacts (every 5 minutes); the agent does not compact ahead of it' }
    : { compact: true, reason: `compaction mode ${policy.mode}: the history kept is given up so that writes come back` };
}

/** Followers first (by name), the leader last. */
export function defragOrder<M extends MemberDb>(members: readonly M[]): M[] {
  const byName = (a: M, b: M) => a.name.localeCompare(b.name, 'en', { numeric: true });
  return [...members.filter((m) => !m.isLeader).sort(byName), ...members.filter((m) => m.isLeader)];
}

/** What the NOSPACE recovery does after the compaction (if any), from fresh statuses. */
export type NospacePlan =
  | { readonly kind: 'at-quota'; readonly reason: string }
  | { readonly kind: 'defragment'; readonly members: string[] };

/**
 * The members to defragment, in order, or `at-quota` when the data in use
 * alone leaves no room: then no member is defragmented (it would free nothing
 * a second time) and the alarm stays for a human. A member is defragmented
 * when it can give back at least the smaller of `minFreeableBytes` and 1 % of
 * the quota, so a run after a recovery that won too little does not repeat it.
 */
export function planNospace(members: readonly MemberDb[], settings: DatabaseSettings): NospacePlan {
  const line = NOSPACE_DISARM_BELOW_SHARE * settings.quotaBackendBytes;
  const full = members.filter((m) => (m.dbSizeInUse ?? 0) >= line);
  if (full.length) {
    const worst = full.reduce((a, b) => ((a.dbSizeInUse ?? 0) >= (b.dbSizeInUse ?? 0) ? a : b));
    const more = settings.compaction.mode === 'kube-apiserver' ? "; the API server's next compaction may free more, and the next run looks again" : '';
    return {
      kind: 'at-quota',
      reason:
        `the data in use on ${worst.name} is ${pct((worst.dbSizeInUse ?? 0) / settings.quotaBackendBytes)} of the quota, at or above the ${pct(NOSPACE_DISARM_BELOW_SHARE)} ` +
        `a disarm needs: the alarm stays; delete data or raise database.quotaBackendBytes${more}`,
    };
  }
  const floor = Math.min(settings.defragment.minFreeableBytes, 0.01 * settings.quotaBackendBytes);
  return { kind: 'defragment', members: defragOrder(members.filter((m) => (freeableBytes(m) ?? 0) >= floor)).map((m) => m.name) };
}

/** After the defragmentations: disarm when every database is below the line and no other alarm stands, otherwise leave the alarm and say why. */
export function nospaceVerdict(members: readonly MemberDb[], quotaBytes: number, otherAlarms: readonly string[] = []): { disarm: boolean; reason: string } {
  // Raised during the recovery (the first check refused to start with one): `alarm disarm` would clear it too.
  if (otherAlarms.length) return { disarm: false, reason: `alarm ${otherAlarms.join(', ')} raised meanwhile: that needs a human, and a disarm would clear it too; NOSPACE stays` };
  const line = NOSPACE_DISARM_BELOW_SHARE * quotaBytes;
  const over = members.filter((m) => m.dbSize === undefined || m.dbSize >= line);
  if (!over.length) return { disarm: true, reason: `every database is below ${pct(NOSPACE_DISARM_BELOW_SHARE)} of the quota` };
  const items = over.map((m) => (m.dbSize === undefined ? `${m.name} (no size)` : `${m.name} at ${pct(m.dbSize / quotaBytes)}`));
  return { disarm: false, reason: `after defragmentation ${items.join(', ')} of the quota, not below ${pct(NOSPACE_DISARM_BELOW_SHARE)}: the alarm stays` };
}
