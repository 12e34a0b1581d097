/**
 * Pure decisions of the DNS updater: which instance is peer N, and whether
 * its A record must change. No AWS here; the handler feeds observed state in.
 */
import { peerFqdn } from '../contract/naming';

/** An instance as observed through EC2. */
export interface ObservedInstance {
  readonly instanceId: string;
  /** EC2 state name: pending, running, shutting-down, terminated, stopping, stopped. */
  readonly state: string;
  readonly privateIp?: string;
  /** ISO time of launch; the newest live instance of a group is the peer. */
  readonly launchTime: string;
  /** Peer index read from the instance's group membership. */
  readonly peerIndex: number;
}

/** A record as Route 53 holds it. */
export interface ObservedRecord {
  readonly values: string[];
  readonly ttl?: number;
}

/** What to do about one peer's record. */
export interface RecordDecision {
  readonly peerIndex: number;
  readonly fqdn: string;
  /** The instance chosen as the peer, if any is alive. */
  readonly instanceId?: string;
  readonly current?: string[];
  readonly desired?: string;
  /** `upsert`: write `desired`; `none`: already right; `no-live-instance`: leave the record (never delete: SRV targets must resolve). */
  readonly action: 'upsert' | 'none' | 'no-live-instance';
}

const LIVE_STATES = new Set(['pending', 'running']);

/** The live instance that plays the peer: newest launch among pending/running with an IP; ties broken by id. */
export function choosePeerInstance(instances: readonly ObservedInstance[]): ObservedInstance | undefined {
  return instances
    .filter((i) => LIVE_STATES.has(i.state) && !!i.privateIp)
    .sort((a, b) => Date.parse(b.launchTime) - Date.parse(a.launchTime) || (a.instanceId < b.instanceId ? 1 : -1))[0];
}

/** Decides peer N's record from the instances of its group and the record as it is. */
export function decidePeerRecord(
  domain: string,
  peerIndex: number,
  instances: readonly ObservedInstance[],
  current: ObservedRecord | undefined,
  ttl: number,
): RecordDecision {
  const fqdn = peerFqdn(domain, peerIndex);
  const chosen = choosePeerInstance(instances.filter((i) => i.peerIndex === peerIndex));
  if (!chosen) return { peerIndex, fqdn, current: current?.values, action: 'no-live-instance' };
  const upToDate = current !== undefined && current.values.length === 1 && current.values[0] === chosen.privateIp && current.ttl === ttl;
  return {
    peerIndex,
    fqdn,
    instanceId: chosen.instanceId,
    current: current?.values,
    desired: chosen.privateIp,
    action: upToDate ? 'none' : 'upsert',
  };
}
