/**
 * Whether a peer that is about to go away moves leadership first, and to whom
 * (pure). A planned termination of the leader would otherwise cost an
 * election (writes stall until a new leader is elected); `etcdctl move-leader`
 * hands leadership to another voter without one. It is worth doing only to a
 * member that can take it at once: a healthy, caught-up voter.
 */
import { parseEtcdJson } from './metrics-collect';

/** One member as the cluster reports it: member list plus that member's own endpoint status. */
export interface MemberStatus {
  /** Member id as etcd's JSON prints it (decimal digits; 64 bits, so never a JavaScript number). */
  readonly id: string;
  readonly name: string;
  readonly isLearner: boolean;
  /** It answered its endpoint status with no errors (alarms such as NOSPACE count as errors). */
  readonly healthy: boolean;
  /** Its raft applied index; `undefined` when it did not answer. */
  readonly appliedIndex?: number;
}

/** The cluster as one member sees it. */
export interface LeadershipView {
  /** This member's id. */
  readonly selfId: string;
  /** The leader's id, as this member reports it; `undefined` with no leader. */
  readonly leaderId?: string;
  /** The leader's raft index (its last log entry); `undefined` when the leader did not answer. */
  readonly leaderIndex?: number;
  readonly members: readonly MemberStatus[];
}

/** How far behind the leader (raft entries) a member may be and still count as caught up. */
export const DEFAULT_MAX_LAG_ENTRIES = 1000;

/** What the hand-off does about leadership. */
export type LeadershipStep =
  | { readonly action: 'none'; readonly reason: string }
  | { readonly action: 'move'; readonly to: MemberStatus; readonly reason: string }
  | { readonly action: 'no-target'; readonly reason: string };

/**
 * The leadership table (README: "The planned hand-off"):
 *
 * | this member | another voter that is healthy and within `maxLag` entries of the leader | step |
 * |---|---|---|
 * | not the leader (or no leader known) | anything | none: stopping a follower costs no election |
 * | the leader | one or more | move to the most caught-up one (ties: the lowest name) |
 * | the leader | none (learners, unhealthy or lagging members only) | no-target: stop anyway, an election follows |
 */
export function decideLeadership(view: LeadershipView, maxLag = DEFAULT_MAX_LAG_ENTRIES): LeadershipStep {
  if (!view.leaderId) return { action: 'none', reason: 'no leader known: nothing to hand over' };
  if (view.leaderId !== view.selfId) return { action: 'none', reason: 'this member is a follower: stopping it costs no election' };
  const lagOf = (m: MemberStatus) => (view.leaderIndex ?? Infinity) - (m.appliedIndex ?? -Infinity);
  const candidates = view.members
    .filter((m) => m.id !== view.selfId && !m.isLearner && m.healthy && m.appliedIndex !== undefined && lagOf(m) <= maxLag)
    .sort((a, b) => b.appliedIndex! - a.appliedIndex! || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  if (!candidates.length) {
    const others = view.members.filter((m) => m.id !== view.selfId);
    const why = others.map((m) => `${m.name || m.id}: ${m.isLearner ? 'learner' : !m.healthy ? 'unhealthy' : `${lagOf(m)} entries behind`}`).join(', ');
    return { action: 'no-target', reason: `no healthy voter within ${maxLag} entries of the leader (${why || 'no other member'}): stopping anyway, an election follows` };
  }
  const to = candidates[0];
  return { action: 'move', to, reason: `this member leads: moving leadership to ${to.name || to.id}, ${Math.max(0, lagOf(to))} entries behind` };
}

/** `etcdctl move-leader` takes the member id in hex; etcd's JSON prints it in decimal. */
export function memberIdHex(decimal: string): string {
  if (!/^\d+$/.test(decimal)) throw new Error(`member id ${decimal} is not a decimal number`);
  return BigInt(decimal).toString(16);
}

/**
 * Builds the view from `etcdctl member list -w json` and
 * `etcdctl endpoint status --cluster -w json` (both from this member's endpoint).
 * A member missing from the status output did not answer: unhealthy. The
 * status output is read even when etcdctl failed on one endpoint (it still
 * prints the others).
 */
export function parseLeadershipView(memberListJson: string, endpointStatusJson: string): LeadershipView {
  const list = parseEtcdJson(memberListJson) as { header?: { member_id?: string }; members?: Array<{ ID: string; name?: string; isLearner?: boolean }> };
  let statuses: Array<{ Status?: { header?: { member_id?: string }; leader?: string; raftIndex?: number; raftAppliedIndex?: number; errors?: string[] } }> = [];
  try {
    statuses = endpointStatusJson.trim() ? parseEtcdJson(endpointStatusJson) : [];
  } catch {
    statuses = [];
  }
  const selfId = list.header?.member_id;
  if (!selfId) throw new Error(`etcdctl member list printed no header.member_id: ${memberListJson.trim().slice(0, 200)}`);
  const byId = new Map(statuses.filter((s) => s.Status?.header?.member_id).map((s) => [s.Status!.header!.member_id!, s.Status!]));
  const own = byId.get(selfId);
  const leaderId = own?.leader && own.leader !== '0' ? own.leader : undefined;
  const members: MemberStatus[] = (list.members ?? []).map((m) => {
    const s = byId.get(m.ID);
    return {
      id: m.ID,
      name: m.name ?? '',
      isLearner: m.isLearner === true,
      healthy: !!s && !(s.errors?.length),
      // etcd 3.4 and 3.5 both report raftAppliedIndex; raftIndex stands in where it is missing.
      appliedIndex: s ? Number(s.raftAppliedIndex ?? s.raftIndex) : undefined,
    };
  });
  const leaderStatus = leaderId ? byId.get(leaderId) : undefined;
  return { selfId, leaderId, leaderIndex: leaderStatus?.raftIndex !== undefined ? Number(leaderStatus.raftIndex) : undefined, members };
}
