/**
 * Every port of the node agent: what the boot sequence and the timers need
 * from their surroundings. The AWS adapters (EC2, S3, Secrets Manager) and the
 * local ones (loop devices, directories) implement them, etcdctl stands for the
 * live cluster in both modes, and the tests pass fakes. The plain data these
 * ports carry belongs to the pure modules that decide on it.
 */
import type { Logger } from '../runtime/log';
import type { LeadershipView } from './leadership';
import type { MaintenanceView } from './maintenance';
import type { ClusterView, MemberEntry } from './membership';
import type { CertificateMaterial } from './pki';
import type { PeerReport, PeerReportBody, SnapshotRef } from './recovery';
import type { MetricValues } from '../contract/metrics';
import type { PeerStatusBody } from '../contract/peer-status';

/** Who this instance is. */
export interface Identity {
  readonly instanceId: string;
  readonly zone: string;
  readonly privateIp: string;
}

/** An attached volume and the block device it appeared as. */
export interface AttachedVolume {
  readonly volumeId: string;
  readonly device: string;
}

/**
 * Where the agent records, outside the volume, that it created the volume's
 * filesystem: the volume's `etcd-cluster:formatted-at` tag on AWS, a file
 * beside the volume's file locally.
 */
export interface FormatRecord {
  /** Names the record for an operator (the tag on vol-…, the file …). */
  readonly where: string;
  /** When the filesystem was created, or `undefined` if the agent never recorded it. */
  read(): Promise<string | undefined>;
  write(at: Date): Promise<void>;
}

/** Finds and attaches this peer's volume (EBS or a loop device). */
export interface VolumeProvider {
  identify(): Promise<Identity>;
  /** Returns once the volume is attached here and its device node exists; throws with the reason at the deadline. */
  attachPeerVolume(identity: Identity, log: Logger): Promise<AttachedVolume>;
  /** The attached volume's format record. */
  formatRecord(volume: AttachedVolume): FormatRecord;
}

/** DNS lookups (the system resolver in both modes). */
export interface NameResolver {
  resolve4(name: string): Promise<string[]>;
}

/** What the start decision and the learner promotion need from the live cluster. */
export interface MembershipPort {
  view(): Promise<ClusterView>;
  remove(memberId: string): Promise<void>;
  /** Adds a member (a learner unless told otherwise) and returns the initial cluster it must start with. */
  add(name: string, peerUrl: string, options?: { learner?: boolean }): Promise<string>;
  /** The member list alone (no health probe). */
  members(): Promise<MemberEntry[]>;
  /** Promotes a learner; `not-ready` while it has not caught up with the leader. */
  promote(memberId: string): Promise<'promoted' | 'not-ready'>;
}

/** Where snapshots and the peers' volume reports go: S3 on AWS, a directory locally. */
export interface BackupStore {
  upload(key: string, file: string, metadata: Record<string, string>): Promise<void>;
  /** Every snapshot object with the time the store recorded it. */
  listSnapshots(): Promise<SnapshotRef[]>;
  /** Writes a snapshot to `file` and returns its metadata. */
  download(key: string, file: string): Promise<Record<string, string>>;
  /** Records what peer i says about its volume; the store's clock stamps it. */
  putPeerReport(peerIndex: number, body: PeerReportBody): Promise<void>;
  /** The latest report of every peer; an unreadable report counts as none. */
  readPeerReports(): Promise<PeerReport[]>;
}

/** What the snapshot timer asks etcd about this peer's own member. */
export interface SnapshotPort {
  /** Whether this member is the leader right now. */
  isLeader(): Promise<boolean>;
  /** Saves a snapshot to `file`. */
  save(file: string): Promise<void>;
  /** Verifies a snapshot file and reads its figures. */
  status(file: string): Promise<{ hash: number; revision: number; totalKey: number; totalSize: number }>;
  memberCount(): Promise<number>;
}

/** Who a restored member is. */
export interface RestoredIdentity {
  readonly name: string;
  readonly peerUrl: string;
  /** `peer-0=URL,...`: every peer of the cluster. */
  readonly initialCluster: string;
  readonly clusterToken: string;
}

/** Unpacks a snapshot file into a data dir that does not exist yet (etcdutl, or etcdctl on etcd 3.4). */
export interface SnapshotRestorer {
  restore(file: string, dataDir: string, identity: RestoredIdentity): Promise<void>;
}

/** Where the cluster CA lives: Secrets Manager on AWS, a directory locally. */
export interface CaStore {
  /** Returns the cluster CA, creating it exactly once if the store holds none. */
  getOrCreate(create: () => Promise<CertificateMaterial>): Promise<CertificateMaterial>;
}

/** Where published figures go: CloudWatch on AWS; locally the log line is the whole record. */
export interface MetricsSink {
  publish(values: MetricValues, at: Date): Promise<void>;
}

/** A single-member etcd on loopback, started on a restored data dir and stopped after the check. */
export interface ThrowawayEtcd {
  /** Serves `dataDir` and returns its revision and how many keys it holds; always stops the member. */
  serve(dataDir: string, ports: { client: number; peer: number }): Promise<{ revision: number; keys: number }>;
}

/** What the planned hand-off needs from etcd: the cluster as this member sees it, and moving leadership. */
export interface LeadershipPort {
  view(): Promise<LeadershipView>;
  /** Asks this member (the leader) to hand leadership to `toMemberId` (decimal, as etcd's JSON prints it). */
  moveLeader(toMemberId: string): Promise<void>;
}

/** This instance's place in its Auto Scaling group's lifecycle (instance metadata and Auto Scaling on AWS). */
export interface LifecyclePort {
  /** The target lifecycle state (`InService`, `Terminated`, ...); `undefined` while the metadata has none. */
  targetLifecycleState(): Promise<string | undefined>;
  /** Completes this instance's terminate lifecycle action (CONTINUE): the group may terminate it now. */
  completeTermination(): Promise<void>;
}

/** The instance-side steps of a hand-off: systemd, umount and EC2 on AWS. */
export interface HandOffHost {
  /** Stops etcd cleanly (SIGTERM, no restart) and returns once it has exited. */
  stopEtcd(): Promise<void>;
  /** Unmounts the data dir (nothing to do when it is not mounted). */
  unmountDataDir(): Promise<void>;
  /** Detaches this peer's volume from this instance and returns once it is free for the replacement. */
  detachVolume(log: Logger): Promise<void>;
}

/** Where a peer publishes its etcd's status for the roller: the backup bucket on AWS, the backup directory locally. */
export interface PeerStatusStore {
  put(body: PeerStatusBody): Promise<void>;
}

/** The cluster as one maintenance run reads it: the pure view, plus the revision a NOSPACE compaction goes to. */
export interface MaintenanceRead extends MaintenanceView {
  readonly revision: number;
}

/** The cluster-wide maintenance lock, once taken: held by a lease that ends with its holder. */
export interface HeldLock {
  /** Renews the lease once (the run calls it while a defragmentation lasts). */
  keepAlive(): Promise<void>;
  /** Revokes the lease: the key goes with it. */
  release(): Promise<void>;
}

/** What the maintenance timer needs from etcd (etcdctl in both modes). */
export interface MaintenancePort {
  read(): Promise<MaintenanceRead>;
  /** Takes the lock for `holder` if nobody holds it; otherwise says who does. */
  tryLock(holder: string, ttlSeconds: number): Promise<{ readonly taken: true; readonly lock: HeldLock } | { readonly taken: false; readonly holder: string }>;
  /** Who holds the lock now (a read: it works while NOSPACE refuses writes). */
  lockHolder(): Promise<string | undefined>;
  /** Compacts the history up to `revision`, waiting until the freed pages are reusable (`--physical`). */
  compact(revision: number): Promise<void>;
  /** Defragments member `name` (`peer-N`); returns once it is done. */
  defragment(name: string): Promise<void>;
  disarmNospace(): Promise<void>;
}
