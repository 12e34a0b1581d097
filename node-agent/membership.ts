/**
 * How etcd must start on this peer, from what its data dir holds and what the
 * rest of the cluster says (pure). The case that matters: a fresh volume
 * (the old one was lost) while the cluster lives. Rejoining under the old
 * member identity with an empty raft log could vote twice in a term, so the
 * stale member is removed and the peer added back as a new member: a learner
 * first, which does not count towards quorum until it has caught up and is
 * promoted (`node-agent promote`, after etcd starts).
 */
import { createHash } from 'crypto';
import type { DataDirState } from './decisions';
import { decideRecovery, RecoveryFacts, SnapshotRef } from './recovery';

/**
 * The id etcd gives a member of the initial cluster: the first 8 bytes of
 * sha1(sorted peer URLs + cluster token). Members added later get a time-based
 * id instead, which is how an added-but-never-started member is told apart
 * from one of the first formation.
 */
export function formationMemberId(peerUrls: string[], clusterToken: string): string {
  const digest = createHash('sha1').update([...peerUrls].sort().join('') + clusterToken).digest();
  return digest.subarray(0, 8).toString('hex').replace(/^0+(?=.)/, '');
}

/** One member as `etcdctl member list -w simple` shows it. */
export interface MemberEntry {
  /** Hex member id. */
  readonly id: string;
  /** `started` or `unstarted`. */
  readonly status: string;
  /** Empty for a member that never started. */
  readonly name: string;
  readonly peerUrls: string[];
  /** A learner replicates the log but does not vote until promoted. */
  readonly isLearner: boolean;
}

/** What the other members answered. */
export type ClusterView =
  | { readonly kind: 'no-answer' }
  | { readonly kind: 'answered'; readonly healthy: boolean; readonly members: readonly MemberEntry[] };

/** How to start etcd. */
export type StartPlan =
  /** The data dir holds a member: etcd reads its membership from its own WAL. */
  | { readonly action: 'start-existing-data' }
  /** First formation of the cluster (alone or with others): `--discovery-srv`, state new. */
  | { readonly action: 'bootstrap'; readonly reason: string }
  /** Fresh volume, live cluster: remove the stale member (if listed), add this peer, start with state existing. */
  | { readonly action: 'rejoin'; readonly removeMemberId?: string; readonly reason: string }
  /** Added by an earlier boot that died before etcd ran: start with state existing and the listed members (still a learner if added as one). */
  | { readonly action: 'start-added'; readonly initialCluster: string; readonly learner: boolean; readonly reason: string }
  /** Every volume is gone: restore the newest snapshot into the data dir, then start on it (the same S on every peer). */
  | { readonly action: 'restore'; readonly snapshot: SnapshotRef; readonly reason: string }
  /** Not decidable yet (no quorum, or peers that may hold data have not spoken): ask again, up to the agent's deadline. */
  | { readonly action: 'wait'; readonly reason: string }
  | { readonly action: 'refuse'; readonly reason: string };

/** Who is deciding. */
export interface StartSelf {
  readonly name: string;
  readonly index: number;
  readonly peerCount: number;
  readonly peerUrl: string;
  readonly clusterToken: string;
}

/**
 * The decision table (README: "A peer whose volume comes back empty" and "A
 * cluster whose volumes are gone"). `recovery` is what the backup store says
 * (snapshots, peers' reports); without backups a fresh volume that finds no
 * member can only assume the cluster is forming.
 *
 * | data dir   | others                        | this peer in their member list | plan |
 * |------------|-------------------------------|--------------------------------|------|
 * | member     | anything                      | anything                       | start on its data |
 * | unexpected | anything                      | anything                       | refuse |
 * | fresh      | no member answers             | –                              | the recovery table ({@link decideRecovery}); bootstrap without backups |
 * | fresh      | answer                        | unstarted, formation id        | bootstrap (the formation is under way); in a restored cluster: restore the same snapshot, or rejoin |
 * | fresh      | answer                        | unstarted, added later         | start as the added member (state existing) |
 * | fresh      | healthy (quorum)              | started                        | rejoin: remove the stale member, add as a learner |
 * | fresh      | healthy (quorum)              | absent                         | rejoin: add as a learner |
 * | fresh      | no quorum                     | started or absent              | restore if the recovery table says so (peers restoring the same snapshot), else wait; never guess |
 */
export function decideStart(dataDir: DataDirState, view: ClusterView, self: StartSelf, recovery?: RecoveryFacts): StartPlan {
  if (dataDir === 'member') return { action: 'start-existing-data' };
  if (dataDir === 'unexpected') {
    return { action: 'refuse', reason: 'the data dir holds files etcd did not write and no member data; not starting etcd on it' };
  }
  if (view.kind === 'no-answer') {
    if (!recovery) return { action: 'bootstrap', reason: 'no other member answers and there are no backups to say otherwise: the cluster is forming' };
    return decideRecovery({ index: self.index, peerCount: self.peerCount }, recovery);
  }
  const me = view.members.find((m) => m.peerUrls.includes(self.peerUrl) || (m.name !== '' && m.name === self.name));
  if (me && me.status === 'unstarted') {
    if (me.id === formationMemberId([self.peerUrl], self.clusterToken)) return joinFormation(me, view.healthy, self, recovery);
    const initialCluster = view.members.map((m) => `${m.id === me.id ? self.name : m.name}=${m.peerUrls[0]}`).join(',');
    return { action: 'start-added', initialCluster, learner: me.isLearner, reason: `${self.name} was added as member ${me.id} but never started: starting as that member` };
  }
  if (!view.healthy) {
    // Members that answer without quorum may be peers starting on a restored snapshot this peer must restore too.
    const recoveryPlan = recovery ? decideRecovery({ index: self.index, peerCount: self.peerCount }, recovery) : undefined;
    if (recoveryPlan?.action === 'restore') return recoveryPlan;
    return {
      action: 'wait',
      reason: `${self.name}'s volume is empty but the cluster ${me ? 'knows it as a started member' : 'does not list it'} and has no quorum; membership cannot change now${
        recoveryPlan ? ` (${recoveryPlan.reason})` : ''
      }`,
    };
  }
  if (me) return { action: 'rejoin', removeMemberId: me.id, reason: `${self.name}'s volume is empty but member ${me.id} ran with it before: replacing that member` };
  return { action: 'rejoin', reason: `${self.name} is not a member of the live cluster: adding it` };
}

/**
 * This peer's formation member never started. In a first formation it
 * bootstraps like the others. In a cluster restored from a snapshot it must
 * not: the restored data lives only in the members' databases, not in the raft
 * log, so a member bootstrapped empty would agree with the leader's log and
 * never receive it. It restores the same snapshot instead, or, once the
 * restored cluster has moved on, rejoins as a new member (a learner gets the
 * whole database from the leader).
 */
function joinFormation(me: MemberEntry, healthy: boolean, self: StartSelf, recovery: RecoveryFacts | undefined): StartPlan {
  const recoveryPlan = recovery ? decideRecovery({ index: self.index, peerCount: self.peerCount }, recovery) : undefined;
  if (recoveryPlan?.action === 'restore') return recoveryPlan;
  const restored = recovery?.reports.find((r) => r.peer !== self.index && r.restoredFrom !== undefined);
  if (!restored) return { action: 'bootstrap', reason: `the cluster lists ${self.name} as never started: joining its formation` };
  const why = `the cluster lists ${self.name} as never started, but it was restored from ${restored.restoredFrom}: an empty member would never receive the restored data`;
  if (healthy) return { action: 'rejoin', removeMemberId: me.id, reason: `${why}; replacing that member` };
  return { action: 'wait', reason: `${why}; waiting for quorum to replace that member` };
}

/** Parses `etcdctl member list -w simple`: `id, status, name, peer urls, client urls[, is learner]`. */
export function parseMemberList(text: string): MemberEntry[] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean)
    .map((line) => {
      const f = line.split(', ');
      if (f.length < 5 || !/^[0-9a-f]+$/.test(f[0])) throw new Error(`unexpected etcdctl member list line: ${line}`);
      return { id: f[0], status: f[1], name: f[2], peerUrls: f[3].split(',').filter(Boolean), isLearner: f[5] === 'true' };
    });
}

/** Reads `ETCD_INITIAL_CLUSTER="…"` from the output of `etcdctl member add`. */
export function parseInitialCluster(text: string): string {
  const match = /^ETCD_INITIAL_CLUSTER="([^"]+)"$/m.exec(text);
  if (!match) throw new Error(`etcdctl member add printed no ETCD_INITIAL_CLUSTER: ${text.trim().slice(0, 200)}`);
  return match[1];
}
