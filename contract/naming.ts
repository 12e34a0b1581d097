/**
 * The one source of truth for every name the cluster derives.
 *
 * The constructs (synth time), the DNS updater Lambda (event time), the node
 * agent (boot time) and the local simulation all import this module. Like all
 * of `contract/`, it imports nothing of theirs, so that esbuild can bundle it
 * into the Lambda and the agent without pulling in cdktf. If two places computed `peer-${i}` on their own
 * they would drift, and a drifted name is a cluster that cannot find itself.
 */

/** etcd's peer (raft) port. */
export const ETCD_PEER_PORT = 2380;
/** etcd's client port. */
export const ETCD_CLIENT_PORT = 2379;

/**
 * What every `peer-N` A record holds until the DNS updater first points it at
 * an instance (TEST-NET-1: routes nowhere). Terraform creates it; the Lambda,
 * the agent and the local cluster read it as "no instance yet".
 */
export const PLACEHOLDER_ADDRESS = '192.0.2.1';

/** Tag key carrying the cluster name, on volumes, instances and groups. */
export const CLUSTER_TAG_KEY = 'etcd-cluster:name';
/** Tag key carrying the peer index, on volumes, instances and groups. */
export const PEER_INDEX_TAG_KEY = 'etcd-cluster:peer-index';
/** Instance tag in every launch template while `rolling.generation` is above 0: raising it rolls every peer. */
export const ROLL_GENERATION_TAG_KEY = 'etcd-cluster:roll-generation';

/**
 * Tag the agent puts on a peer's volume right after it creates the volume's
 * filesystem (value: when). A volume carrying it is never formatted again:
 * if its filesystem is gone, it was wiped or damaged, not new. The peer's role
 * may set this tag key, and no other, on its own volume only.
 */
export const FORMATTED_TAG_KEY = 'etcd-cluster:formatted-at';

/** Filesystem label the agent gives a volume it formats (ext4 labels hold 16 bytes). */
export function volumeLabel(peerIndex: number): string {
  return `etcd-${peerIndex}`;
}

/**
 * The file at the root of a volume (the data dir) that says whose volume it is:
 * cluster name, cluster token, peer index and when the agent created the
 * filesystem. Written right after mkfs; checked before etcd may start.
 */
export const VOLUME_MARKER_FILE = 'etcd-volume-identity.json';

/** `peer-3`: the name of peer 3, used as etcd member name, DNS label and logical id. */
export function peerName(peerIndex: number): string {
  assertPeerIndex(peerIndex);
  return `peer-${peerIndex}`;
}

/** `peer-3.<domain>`: the fully qualified name that peer 3 advertises, whatever its IP. */
export function peerFqdn(domain: string, peerIndex: number): string {
  return `${peerName(peerIndex)}.${normalizeDomain(domain)}`;
}

/** Peer N's raft URL by name, never by IP, so the member survives IP changes: `https://peer-3.<domain>:2380`. */
export function peerUrl(domain: string, peerIndex: number, tls: boolean): string {
  return `${tls ? 'https' : 'http'}://${peerFqdn(domain, peerIndex)}:${ETCD_PEER_PORT}`;
}

/** Peer N's client URL by name: `https://peer-3.<domain>:2379`. */
export function clientUrl(domain: string, peerIndex: number, tls: boolean): string {
  return `${tls ? 'https' : 'http'}://${peerFqdn(domain, peerIndex)}:${ETCD_CLIENT_PORT}`;
}

/** Reads a peer index back from a peer name or FQDN (`peer-3` or `peer-3.example.internal`). */
export function parsePeerName(name: string): number | undefined {
  const match = /^peer-(0|[1-9][0-9]{0,3})(\.|$)/.exec(name);
  return match ? Number(match[1]) : undefined;
}

/** Index of the zone that holds peer i: the "count and modulo" layout. */
export function zoneIndexOf(peerIndex: number, zoneCount: number): number {
  assertPeerIndex(peerIndex);
  if (!Number.isInteger(zoneCount) || zoneCount < 1) {
    throw new Error(`zoneCount must be a positive integer, got ${zoneCount}`);
  }
  return peerIndex % zoneCount;
}

/** The zone that holds peer i (and its volume): `zones[i % zones.length]`. */
export function zoneOf<T>(peerIndex: number, zones: readonly T[]): T {
  return zones[zoneIndexOf(peerIndex, zones.length)];
}

/** The SRV record names etcd's DNS discovery looks up for a domain. */
export interface SrvNames {
  /** Peer discovery, port 2380: `_etcd-server._tcp.<domain>` or `_etcd-server-ssl._tcp.<domain>`. */
  readonly server: string;
  /** Client discovery, port 2379: `_etcd-client._tcp.<domain>` or `_etcd-client-ssl._tcp.<domain>`. */
  readonly client: string;
}

/** SRV names for `--discovery-srv <domain>`; with TLS etcd looks up the `-ssl` variants. */
export function srvNames(domain: string, tls: boolean): SrvNames {
  const d = normalizeDomain(domain);
  const suffix = tls ? '-ssl' : '';
  return {
    server: `_etcd-server${suffix}._tcp.${d}`,
    client: `_etcd-client${suffix}._tcp.${d}`,
  };
}

/** One SRV record value (`priority weight port target`) per peer, all equal so etcd treats them alike. */
export function srvRecordValues(domain: string, peerCount: number, port: number): string[] {
  return peerIndices(peerCount).map((i) => `0 0 ${port} ${peerFqdn(domain, i)}.`);
}

/** Name of peer i's Auto Scaling group: `<cluster>-peer-3`. */
export function autoScalingGroupName(clusterName: string, peerIndex: number): string {
  return `${clusterName}-${peerName(peerIndex)}`;
}

/** IAM resource pattern matching every peer group of a cluster: `<cluster>-peer-*`. */
export function autoScalingGroupNamePattern(clusterName: string): string {
  return `${clusterName}-peer-*`;
}

/**
 * Reads the peer index back from an Auto Scaling group name of this cluster;
 * `undefined` for any other group (so the Lambda ignores groups it does not own).
 */
export function peerIndexOfGroup(clusterName: string, groupName: string): number | undefined {
  const prefix = `${clusterName}-`;
  if (!groupName.startsWith(prefix)) return undefined;
  const rest = groupName.slice(prefix.length);
  const index = parsePeerName(rest);
  return index !== undefined && rest === peerName(index) ? index : undefined;
}

/** The tags that mark peer i's volume, instance and group, so each can be found by exactly one peer. */
export function peerTags(clusterName: string, peerIndex: number): Record<string, string> {
  assertPeerIndex(peerIndex);
  return { [CLUSTER_TAG_KEY]: clusterName, [PEER_INDEX_TAG_KEY]: String(peerIndex) };
}

/** The initial-cluster token every peer of a cluster shares: `<cluster>-etcd`. */
export function clusterToken(clusterName: string): string {
  return `${clusterName}-etcd`;
}

/** `[0, 1, …, count-1]`. */
export function peerIndices(count: number): number[] {
  return Array.from({ length: count }, (_, i) => i);
}

/** Lower-cases and strips a trailing dot: Route 53 and etcd compare names that way. */
export function normalizeDomain(domain: string): string {
  return domain.trim().toLowerCase().replace(/\.$/, '');
}

function assertPeerIndex(peerIndex: number): void {
  if (!Number.isInteger(peerIndex) || peerIndex < 0) {
    throw new Error(`peer index must be a non-negative integer, got ${peerIndex}`);
  }
}

/**
 * The backup bucket's layout, shared by the bucket's lifecycle rules, the
 * instance policy and the agent: every snapshot under `frequent/`, the day's
 * latest under `daily/`, and each peer's report on its volume under `peers/`.
 */
export const BACKUP_KEYS = {
  snapshots: 'snapshots/',
  frequent: 'snapshots/frequent/',
  daily: 'snapshots/daily/',
  peerReports: 'peers/',
} as const;

/** Where peer i reports whether its volume is empty (`peers/peer-i.json`). */
export function peerReportKey(peerIndex: number): string {
  return `${BACKUP_KEYS.peerReports}${peerName(peerIndex)}.json`;
}

/** The peer a report key belongs to, or `undefined` for any other key. */
export function peerIndexOfReportKey(key: string): number | undefined {
  if (!key.startsWith(BACKUP_KEYS.peerReports) || !key.endsWith('.json')) return undefined;
  return parsePeerName(key.slice(BACKUP_KEYS.peerReports.length, -'.json'.length));
}
