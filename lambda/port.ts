/** The DNS updater's one port: what the handler needs from the world. The AWS adapter, the local cluster's Route 53 adapter and test fakes implement it. */
import type { LifecycleAction } from './events';
import type { ObservedInstance, ObservedRecord } from './reconcile';

/** What the handler (`handleEvent` in index.ts) reads and writes; `AwsUpdaterPort` in aws.ts is the AWS side. */
export interface UpdaterPort {
  /** The pending and running instances (the only ones that can be a peer) of one peer group, or of every group of the cluster. */
  describePeerInstances(scope: { groupName: string } | { all: true }): Promise<ObservedInstance[]>;
  /** Current A records by FQDN (without trailing dot); `fqdn` limits the read to that one name. */
  readPeerRecords(fqdn?: string): Promise<Map<string, ObservedRecord>>;
  /** UPSERTs A records in one change batch. */
  upsertPeerRecords(records: { fqdn: string; ip: string }[], ttl: number, comment: string): Promise<void>;
  completeLifecycleAction(action: LifecycleAction): Promise<void>;
}
