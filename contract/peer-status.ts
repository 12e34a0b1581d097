/**
 * What each peer publishes about its etcd for the roller, next to its volume
 * report in the backup bucket: the agent (run time) writes it every minute,
 * the roller (event time, on AWS without any path to etcd) reads it. Both
 * sides use this file's key, shape and parser.
 */
import { BACKUP_KEYS, peerName, parsePeerName } from './naming';

/** Where the statuses live: under the peers' report prefix, which the instance role may already write. */
export const PEER_STATUS_PREFIX = `${BACKUP_KEYS.peerReports}status/`;

/** The object key of peer i's status. */
export function peerStatusKey(peerIndex: number): string {
  return `${PEER_STATUS_PREFIX}${peerName(peerIndex)}.json`;
}

/** The peer a status key belongs to, or `undefined` for any other key. */
export function peerIndexOfStatusKey(key: string): number | undefined {
  if (!key.startsWith(PEER_STATUS_PREFIX) || !key.endsWith('.json')) return undefined;
  const index = parsePeerName(key.slice(PEER_STATUS_PREFIX.length, -'.json'.length));
  // Only the key a peer writes: a stray copy (`peer-3.bak.json`) must not stand for peer 3.
  return index !== undefined && key === peerStatusKey(index) ? index : undefined;
}

/** A peer's role in the cluster, as its own member reports it. */
export type PeerRole = 'leader' | 'follower' | 'learner';

/** The body a peer writes; the store adds the time it recorded it. */
export interface PeerStatusBody {
  readonly peer: number;
  /** The instance that wrote it: a status from an instance the group no longer has is stale. */
  readonly instanceId: string;
  /** This member answered and the cluster has a leader. */
  readonly healthy: boolean;
  readonly role: PeerRole;
  /** The store revision this member serves. */
  readonly revision: number;
  /** The etcd server's own version, e.g. `3.5.16`. */
  readonly etcdVersion: string;
  /** The cluster version etcd reports (the lowest minor every member runs, e.g. `3.4.0`), when known. */
  readonly clusterVersion?: string;
}

/** A status as read back, with the store's time (ms since the epoch). */
export interface PeerStatus extends PeerStatusBody {
  readonly at: number;
}

/** Reads a status body; anything malformed is no status (the roller waits for a good one). */
export function parsePeerStatus(text: string, at: number): PeerStatus | undefined {
  try {
    const b = JSON.parse(text) as Record<string, unknown>;
    const roles: readonly unknown[] = ['leader', 'follower', 'learner'];
    const count = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0;
    if (!count(b.peer) || typeof b.instanceId !== 'string' || b.instanceId === '' || typeof b.healthy !== 'boolean' || !roles.includes(b.role)) return undefined;
    // A revision past any real one would leave every other peer "behind" and the roll waiting for ever.
    if (!count(b.revision) || typeof b.etcdVersion !== 'string' || !/^\d+\.\d+\.\d+(-[0-9A-Za-z.]+)?$/.test(b.etcdVersion)) return undefined;
    return {
      peer: b.peer as number,
      instanceId: b.instanceId,
      healthy: b.healthy,
      role: b.role as PeerRole,
      revision: b.revision as number,
      etcdVersion: b.etcdVersion,
      ...(typeof b.clusterVersion === 'string' ? { clusterVersion: b.clusterVersion } : {}),
      at,
    };
  } catch {
    return undefined;
  }
}
