/**
 * Public API of the library: the constructs, their props and options, and the naming and quorum helpers a user
 * wires against. Everything else (parsers, validators, bundling, the agent and Lambda code) is internal and may
 * change; `__tests__/package/api.test.ts` holds this list and checks that every member is documented.
 */

// The cluster, and what its props take.
export { EtcdCluster, type EtcdClusterProps, type EtcdReleaseOptions } from './etcd-cluster';
export { type DatabaseOptions } from './database';
export { type CompactionPolicy } from '../contract/database';
export { type PeerVolumeOptions, GP3_LIMITS } from './peer';
export { type BackupOptions } from './backups';
export { type MonitoringOptions, type MonitoringThresholds } from './monitoring';
export { type RollingOptions } from './roller';

// The parts it composes, each usable alone.
export { EtcdNetwork, type EtcdNetworkProps } from './network';
export { EtcdDns, type EtcdDnsProps } from './dns';
export { EtcdDnsUpdater, type EtcdDnsUpdaterProps } from './dns-updater';
export { EtcdEncryption, type EtcdEncryptionProps } from './encryption';
export { EtcdPeer, type EtcdPeerProps } from './peer';
export { EtcdSecurity, type EtcdSecurityProps } from './security';
export { EtcdArtifacts, type EtcdArtifactsProps } from './artifacts';
export { EtcdBackups, type EtcdBackupsProps } from './backups';
export { EtcdMonitoring, type EtcdMonitoringProps } from './monitoring';
export { EtcdRoller, type EtcdRollerProps } from './roller';
export { PrivateBucket, type PrivateBucketProps } from './private-bucket';
export { type Bundle } from '../runtime/bundle';

// Names and arithmetic a user wires against (client URLs, SRV names, tags, what a layout survives).
export {
  CLUSTER_TAG_KEY,
  PEER_INDEX_TAG_KEY,
  ETCD_CLIENT_PORT,
  ETCD_PEER_PORT,
  type SrvNames,
  autoScalingGroupName,
  clientUrl,
  peerFqdn,
  peerName,
  peerUrl,
  srvNames,
  zoneOf,
} from '../contract/naming';
export {
  DEFAULT_TOLERANCE,
  type Survivability,
  TOLERANCES,
  type Tolerance,
  describeSurvivability,
  faultToleranceOf,
  quorumOf,
  survivability,
  survivabilityTable,
} from '../contract/topology';
