/** Renders etcd's configuration file for peer N (pure). */
import { clientUrl, ETCD_CLIENT_PORT, ETCD_PEER_PORT, peerName, peerUrl } from '../contract/naming';
import type { AgentConfig } from '../contract/agent-config';
import type { DatabaseSettings } from '../contract/database';

/**
 * The database lines of etcd's config: the quota past which it raises NOSPACE,
 * and its own auto-compaction, off under `kube-apiserver` (the API server
 * compacts). The retention is a string in both modes, as etcd's YAML wants it.
 */
export function databaseConfigLines(database: DatabaseSettings): string[] {
  const c = database.compaction;
  return [
    `quota-backend-bytes: ${database.quotaBackendBytes}`,
    ...(c.mode === 'kube-apiserver' ? [] : [`auto-compaction-mode: ${c.mode}`, `auto-compaction-retention: "${c.retention}"`]),
  ];
}

/**
 * Settings whose defaults in a config file differ between etcd versions
 * (checked by the etcd-facts tests), so the agent never leaves them to the
 * default. Both are off in an etcd 3.4 config file that omits them, on in 3.5.
 */
export const SETTINGS_WITH_VERSION_DEPENDENT_DEFAULTS = [
  // A restarted member must not depose a healthy leader with a higher term.
  'pre-vote: true',
  // The JSON gateway (/v3/...) on the client port, same TLS client auth; the local cluster's clients use it.
  'enable-grpc-gateway: true',
] as const;

/**
 * etcd's YAML configuration for this peer. Advertise URLs use the peer's FQDN,
 * never an IP, so the member keeps its identity when its instance (and IP)
 * changes. `initial-*` settings only matter on a fresh data dir; on a data dir
 * that holds a member, etcd reads the membership from its WAL.
 */
export function renderEtcdConfig(c: AgentConfig, listenAddress = '0.0.0.0', joining?: { initialCluster: string }): string {
  const scheme = c.tls ? 'https' : 'http';
  const lines = [
    `# Written by the etcd node agent for ${peerName(c.peerIndex)} of ${c.clusterName}; rewritten at every boot.`,
    `name: ${peerName(c.peerIndex)}`,
    `data-dir: ${c.dataDir}`,
    // First formation: DNS discovery. Joining a live cluster: its current members, state existing.
    ...(joining ? [`initial-cluster: ${joining.initialCluster}`] : [`discovery-srv: ${c.domain}`]),
    `initial-advertise-peer-urls: ${peerUrl(c.domain, c.peerIndex, c.tls)}`,
    `advertise-client-urls: ${clientUrl(c.domain, c.peerIndex, c.tls)}`,
    `listen-peer-urls: ${scheme}://${listenAddress}:${ETCD_PEER_PORT}`,
    `listen-client-urls: ${scheme}://${listenAddress}:${ETCD_CLIENT_PORT}`,
    `initial-cluster-token: ${c.clusterToken}`,
    `initial-cluster-state: ${joining ? 'existing' : 'new'}`,
    'strict-reconfig-check: true',
    'logger: zap',
    ...SETTINGS_WITH_VERSION_DEPENDENT_DEFAULTS,
    ...databaseConfigLines(c.database),
  ];
  if (c.tls) {
    for (const [section, cert] of [
      ['client-transport-security', 'server'],
      ['peer-transport-security', 'peer'],
    ]) {
      lines.push(
        `${section}:`,
        `  cert-file: ${c.pkiDir}/${cert}.crt`,
        `  key-file: ${c.pkiDir}/${cert}.key`,
        `  trusted-ca-file: ${c.pkiDir}/ca.crt`,
        '  client-cert-auth: true',
      );
    }
  }
  return lines.join('\n') + '\n';
}
