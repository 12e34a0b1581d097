/**
 * The metrics the peers publish and the alarms and dashboard read: one
 * namespace, one set of names and dimensions for the agent (boot and run
 * time), the DNS updater (event time) and the monitoring construct (synth time).
 */

/** CloudWatch namespace of every metric of every cluster. */
export const METRIC_NAMESPACE = 'EtcdCluster';

/** Dimension names: every metric carries the cluster; per-peer figures carry the peer too. */
export const METRIC_DIMENSIONS = { cluster: 'ClusterName', peer: 'Peer' } as const;

/** CloudWatch units used by the metrics below. */
export type MetricUnit = 'Count' | 'Bytes' | 'Percent' | 'Milliseconds' | 'Seconds' | 'None';

/** Every metric: its name, unit, whether it is per peer, and what it means. */
export const METRICS = {
  quorumMargin: { name: 'QuorumMargin', unit: 'Count', perPeer: false, about: 'healthy voting members minus quorum; 0 means one more failure loses quorum' },
  membersHealthy: { name: 'MembersHealthy', unit: 'Count', perPeer: false, about: 'members answering a health check' },
  dbSizeBytes: { name: 'DbSizeBytes', unit: 'Bytes', perPeer: true, about: "size of this member's database file" },
  dbQuotaUsedPercent: { name: 'DbQuotaUsedPercent', unit: 'Percent', perPeer: true, about: 'database size as a share of the backend quota' },
  walFsyncP99Ms: { name: 'WalFsyncP99Ms', unit: 'Milliseconds', perPeer: true, about: "99th percentile of WAL fsync, from etcd's own histogram" },
  backendCommitP99Ms: { name: 'BackendCommitP99Ms', unit: 'Milliseconds', perPeer: true, about: "99th percentile of backend commits, from etcd's own histogram" },
  leaderChanges: { name: 'LeaderChanges', unit: 'Count', perPeer: true, about: 'leader changes this member has seen since it started' },
  snapshotAgeSeconds: { name: 'SnapshotAgeSeconds', unit: 'Seconds', perPeer: false, about: 'age of the newest snapshot in the backup bucket' },
  verifiedRestoreAgeSeconds: { name: 'VerifiedRestoreAgeSeconds', unit: 'Seconds', perPeer: false, about: 'age of the newest snapshot proven restorable' },
  certificateDaysLeft: { name: 'CertificateDaysLeft', unit: 'Count', perPeer: true, about: "days until this peer's certificate expires" },
  nospaceAlarm: { name: 'NospaceAlarm', unit: 'Count', perPeer: false, about: '1 while etcd has a NOSPACE alarm raised' },
  memberListAgrees: { name: 'MemberListAgrees', unit: 'Count', perPeer: false, about: '1 when every member reports the same member list and cluster id' },
  backupVerifyFailures: { name: 'BackupVerifyFailures', unit: 'Count', perPeer: false, about: 'newest snapshots that could not be restored and served' },
  defragFreedBytes: { name: 'DefragFreedBytes', unit: 'Bytes', perPeer: true, about: 'bytes a defragmentation gave back' },
  rollerStopped: { name: 'RollerStopped', unit: 'Count', perPeer: false, about: '1 while the roller has stopped: a replaced peer did not come back, or the target version skips a minor' },
  dnsUpdaterErrors: { name: 'DnsUpdaterErrors', unit: 'Count', perPeer: false, about: 'DNS updater invocations that failed' },
  agentBootFailures: { name: 'AgentBootFailures', unit: 'Count', perPeer: true, about: 'node agent boots that failed (etcd stayed down)' },
} as const satisfies Record<string, { name: string; unit: MetricUnit; perPeer: boolean; about: string }>;

/** A metric's key in {@link METRICS}. */
export type MetricKey = keyof typeof METRICS;

/** One set of figures to publish: any subset of the metrics. */
export type MetricValues = Partial<Record<MetricKey, number>>;
