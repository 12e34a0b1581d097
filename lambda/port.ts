/** The DNS updater's one port: what the handler needs from the world. The AWS adapter, the local cluster's Route 53 adapter and test fakes implement it. */
import type { LifecycleAction } from './events';
import type { ObservedInstance, ObservedRecord } from './reconcile';
import type { RollPeer } from './roller';
import type { PeerStatus } from '../contract/peer-status';

/**
 * One conditional change of a peer's A record: it lands only while the record
 * still is `expected`, so a write decided on an older read can never replace a newer one.
 */
export interface PeerRecordWrite {
  readonly fqdn: string;
  readonly ip: string;
  readonly ttl: number;
  /** The record as read before the decision; `undefined` when there was none. */
  readonly expected?: ObservedRecord;
}

/**
 * Thrown by {@link UpdaterPort.writePeerRecords} when the change batch is refused
 * as a whole (a record changed since it was read, or one change is invalid); nothing of it was written.
 */
export class RecordChangeRejected extends Error {
  override readonly name = 'RecordChangeRejected';
}

/** What the handler (`handleEvent` in index.ts) reads and writes; `AwsUpdaterPort` in aws.ts is the AWS side. */
export interface UpdaterPort {
  /**
   * The instances of one peer group, or of every group of the cluster, in every state EC2 still lists:
   * only pending and running ones can be a peer, and a shutting-down or terminated one tells a hook that is no longer needed.
   */
  describePeerInstances(scope: { groupName: string } | { all: true }): Promise<ObservedInstance[]>;
  /** Current A records by FQDN (without trailing dot); `fqdn` limits the read to that one name. */
  readPeerRecords(fqdn?: string): Promise<Map<string, ObservedRecord>>;
  /** Applies the writes in one atomic batch, each conditional on its `expected` record; throws {@link RecordChangeRejected} if refused. */
  writePeerRecords(writes: readonly PeerRecordWrite[], comment: string): Promise<void>;
  /** Completes the hook with CONTINUE; `not-needed` when Auto Scaling has no such action any more (completed before, timed out, or the instance is gone). */
  completeLifecycleAction(action: LifecycleAction): Promise<'completed' | 'not-needed'>;
}

/** What the roller (`handleRoll` in roller-handler.ts) reads and does; `AwsRollerPort` in roller-aws.ts is the AWS side. */
export interface RollerPort {
  /** Peer i's instance as its group shows it (`undefined` when the group has none), for every peer of the cluster. */
  describePeerInstances(): Promise<Map<number, RollPeer['instance']>>;
  /** The newest status of every peer that published one. */
  readPeerStatuses(): Promise<PeerStatus[]>;
  /** When the newest snapshot was stored (ms since the epoch); `undefined` without any. */
  newestSnapshotAt(): Promise<number | undefined>;
  /** Terminates this instance of its group (the group keeps its size and launches the replacement). */
  replace(peer: number, instanceId: string): Promise<void>;
}
