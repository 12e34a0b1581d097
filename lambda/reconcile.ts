/**
 * Pure decisions of the DNS updater: which instance is peer N, whether its A
 * record must change, and what to do with a launch hook. No AWS here; the
 * handler feeds observed state in. The README's tables are these functions.
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
  /** The instance chosen as the peer, if one is. */
  readonly instanceId?: string;
  readonly current?: string[];
  readonly desired?: string;
  /**
   * `upsert`: write `desired`; `none`: already right. The record is left as it is (never deleted: SRV targets
   * must resolve) with `no-live-instance`, with `awaiting-ip` (the peer has no private IP yet) and with
   * `ambiguous` (several live instances launched at the same time and nothing tells which is newer).
   */
  readonly action: 'upsert' | 'none' | 'no-live-instance' | 'awaiting-ip' | 'ambiguous';
  /** With `ambiguous`: the instances that tie. */
  readonly candidates?: string[];
}

/** What tells tied instances apart besides their launch time. */
export interface ChoiceHints {
  /** The instance whose launch lifecycle action is being handled. */
  readonly launching?: string;
  /** The values the record holds now. */
  readonly recordValues?: readonly string[];
}

/** Who plays the peer among one group's instances. */
export type PeerChoice =
  | { readonly kind: 'chosen'; readonly instance: ObservedInstance }
  | { readonly kind: 'none' }
  | { readonly kind: 'ambiguous'; readonly candidates: ObservedInstance[] };

const LIVE_STATES = new Set(['pending', 'running']);

/** Pending or running: an instance that is, or is about to be, the peer. */
export function isLive(instance: ObservedInstance): boolean {
  return LIVE_STATES.has(instance.state);
}

/**
 * The live instance that plays the peer: the newest launch among pending and
 * running ones, with or without an IP yet. EC2's launch time has whole
 * seconds, so ties are broken by what really orders them: the instance whose
 * launch hook is being handled (Auto Scaling launches it after every other
 * instance of a one-instance group), else the one the record already names (no
 * change on a guess). Instance ids carry no order, so beyond that it is ambiguous.
 */
export function choosePeerInstance(instances: readonly ObservedInstance[], hints: ChoiceHints = {}): PeerChoice {
  const live = instances.filter(isLive);
  if (live.length === 0) return { kind: 'none' };
  const newest = Math.max(...live.map((i) => Date.parse(i.launchTime)));
  const tied = live.filter((i) => Date.parse(i.launchTime) === newest);
  if (tied.length === 1) return { kind: 'chosen', instance: tied[0] };
  const launching = tied.find((i) => i.instanceId === hints.launching);
  if (launching) return { kind: 'chosen', instance: launching };
  const holders = tied.filter((i) => !!i.privateIp && (hints.recordValues ?? []).includes(i.privateIp));
  if (holders.length === 1) return { kind: 'chosen', instance: holders[0] };
  return { kind: 'ambiguous', candidates: tied };
}

/** Decides peer N's record from the instances of its group and the record as it is. */
export function decidePeerRecord(
  domain: string,
  peerIndex: number,
  instances: readonly ObservedInstance[],
  current: ObservedRecord | undefined,
  ttl: number,
  launching?: string,
): RecordDecision {
  const fqdn = peerFqdn(domain, peerIndex);
  const base = { peerIndex, fqdn, current: current?.values };
  const choice = choosePeerInstance(
    instances.filter((i) => i.peerIndex === peerIndex),
    { launching, recordValues: current?.values },
  );
  if (choice.kind === 'none') return { ...base, action: 'no-live-instance' };
  if (choice.kind === 'ambiguous') return { ...base, action: 'ambiguous', candidates: choice.candidates.map((i) => i.instanceId) };
  const chosen = choice.instance;
  if (!chosen.privateIp) return { ...base, instanceId: chosen.instanceId, action: 'awaiting-ip' };
  const upToDate = current !== undefined && current.values.length === 1 && current.values[0] === chosen.privateIp && current.ttl === ttl;
  return { ...base, instanceId: chosen.instanceId, desired: chosen.privateIp, action: upToDate ? 'none' : 'upsert' };
}

/** What to do with a launch lifecycle action, given its peer's record decision. */
export type LifecycleDecision =
  /** Complete it with CONTINUE once the record holds the instance's IP (written or already right). */
  | { readonly action: 'complete' }
  /** Fail the invocation so Lambda delivers the event again: the instance is the peer but not ready. */
  | { readonly action: 'retry'; readonly reason: string }
  /** Nothing to complete: the instance is going or gone. */
  | { readonly action: 'not-needed'; readonly reason: string }
  /** Another instance is the peer; this hook times out with its default result. */
  | { readonly action: 'leave'; readonly reason: string };

/** Decides a launch hook of `instanceId` from its group's instances (every state) and the record decision made with it as `launching`. */
export function decideLifecycleAction(instanceId: string, instances: readonly ObservedInstance[], record: RecordDecision): LifecycleDecision {
  const own = instances.find((i) => i.instanceId === instanceId);
  // EC2 lists new instances with a delay; an unlisted one is never called old.
  if (!own) return { action: 'retry', reason: `launching instance ${instanceId} is not visible in EC2 yet` };
  if (!isLive(own)) return { action: 'not-needed', reason: `instance ${instanceId} is ${own.state}` };
  if (record.instanceId === instanceId) {
    if (record.action === 'awaiting-ip') return { action: 'retry', reason: `launching instance ${instanceId} has no private IP yet` };
    return { action: 'complete' };
  }
  // The hook's instance wins every tie on launch time, so any other choice launched strictly later.
  const newer = record.instanceId ? [record.instanceId] : (record.candidates ?? []);
  return { action: 'leave', reason: `a newer instance ${newer.join(' or ')} is the peer` };
}
