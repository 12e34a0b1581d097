/**
 * Renders the boot script of a peer's instance. Pure: the construct passes
 * Terraform references (bucket name, object key) in as plain strings.
 *
 * The script must not contain `${` or `%{` of its own: Terraform would read
 * them as interpolations. It uses `$VAR` only; a test enforces this.
 */
import type { AgentConfig } from '../contract/agent-config';
import { AGENT_COMMANDS, AGENT_CONFIG_PATH, AGENT_NODE, AGENT_PATH, agentCommandLine } from '../contract/agent-commands';
import { maintenanceUnits } from './maintenance-units';

export { maintenanceUnits };
import { HAND_OFF_UNIT, handOffUnit } from './hand-off-unit';

/** Where etcd's binaries come from. */
export interface EtcdReleaseSource {
  /** etcd version without the leading `v`, e.g. `3.5.33`. */
  readonly version: string;
  /**
   * Base URL holding `etcd-v<version>-linux-<arch>.tar.gz` (and `SHA256SUMS`
   * when `sha256` is not given): `https://…` or `s3://bucket/prefix`.
   */
  readonly baseUrl: string;
  /** Pinned sha256 of the tarball; without it the release's own `SHA256SUMS` is checked. */
  readonly sha256?: string;
  /** etcd is already on the image at `/usr/local/bin/etcd`: download nothing. */
  readonly preinstalled: boolean;
}

/** Inputs of {@link renderUserData}. */
export interface UserDataInput {
  readonly agentConfig: AgentConfig;
  /** Bucket and key of the bundled node agent, and its sha256. */
  readonly agentBucket: string;
  readonly agentKey: string;
  readonly agentSha256: string;
  readonly etcd: EtcdReleaseSource;
  /** Minutes between snapshot attempts (only the leader takes one); needs `agentConfig.backup`. */
  readonly snapshotIntervalMinutes?: number;
  /** Minutes between maintenance runs (defragmentation, NOSPACE recovery); default 1. */
  readonly maintenanceEveryMinutes?: number;
}


/** The systemd unit that prepares the volume; etcd cannot start unless it succeeded. */
export function agentUnit(): string {
  return `[Unit]
Description=etcd node agent: attach, check and mount this peer's volume, write etcd's configuration
Wants=network-online.target
After=network-online.target
OnFailure=etcd-node-agent-failed.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=${agentCommandLine(AGENT_COMMANDS.boot)}
TimeoutStartSec=1800

[Install]
WantedBy=multi-user.target
`;
}

/**
 * etcd's unit: `Requires=` and `After=` the agent, so a failed volume step
 * means no etcd; and it asserts the data dir is a mount point, so even a
 * manual `systemctl start etcd` cannot run on the root disk.
 */
export function etcdUnit(etcdConfigFile: string, etcdUser: string, dataDir: string): string {
  return `[Unit]
Description=etcd peer
Requires=etcd-node-agent.service
After=etcd-node-agent.service
Wants=etcd-learner-promote.service
AssertPathIsMountPoint=${dataDir}

[Service]
Type=notify
User=${etcdUser}
ExecStart=/usr/local/bin/etcd --config-file ${etcdConfigFile}
Restart=always
RestartSec=2
LimitNOFILE=65536

[Install]
WantedBy=multi-user.target
`;
}

/**
 * After etcd is up: promotes this peer if the agent added it as a learner
 * (a rejoin with an empty volume); does nothing otherwise. Retried until the
 * learner has caught up.
 */
export function learnerPromoteUnit(): string {
  return `[Unit]
Description=Promote this etcd peer from learner to voting member once caught up
After=etcd.service
BindsTo=etcd.service

[Service]
Type=oneshot
ExecStart=${agentCommandLine(AGENT_COMMANDS.promote)}
Restart=on-failure
RestartSec=15
`;
}

/** Renews this peer's certificate daily; etcd reloads certificate files on new connections. */
export function renewalUnits(): { service: string; timer: string } {
  return {
    service: `[Unit]
Description=Renew this etcd peer's certificate from the cluster CA
After=etcd-node-agent.service

[Service]
Type=oneshot
ExecStart=${agentCommandLine(AGENT_COMMANDS.renewCertificates)}
`,
    timer: `[Unit]
Description=Daily renewal of this etcd peer's certificate

[Timer]
OnBootSec=1h
OnUnitActiveSec=1d
RandomizedDelaySec=1h
Persistent=true

[Install]
WantedBy=timers.target
`,
  };
}

/**
 * Every peer tries on a timer; only the leader takes and uploads the snapshot. A failed run shows as a failed unit.
 * The first run comes 2 minutes after boot, not a whole interval: until a cluster has a snapshot, nothing tells
 * a fresh peer that the cluster existed (README Limits), so that window is kept short.
 */
export function snapshotUnits(intervalMinutes: number): { service: string; timer: string } {
  return {
    service: `[Unit]
Description=Snapshot etcd to the backup bucket if this peer is the leader
After=etcd.service

[Service]
Type=oneshot
ExecStart=${agentCommandLine(AGENT_COMMANDS.snapshot)}
`,
    timer: `[Unit]
Description=etcd snapshots every ${intervalMinutes} minutes

[Timer]
OnBootSec=${Math.min(2, intervalMinutes)}min
OnUnitActiveSec=${intervalMinutes}min

[Install]
WantedBy=timers.target
`,
  };
}

/** Every minute, after etcd: this peer's and the cluster's figures, for the alarms and the dashboard. */
export function metricsUnits(): { service: string; timer: string } {
  return {
    service: `[Unit]
Description=Publish this etcd peer's and its cluster's metrics
After=etcd.service
Requisite=etcd.service

[Service]
Type=oneshot
ExecStart=${agentCommandLine(AGENT_COMMANDS.metrics)}
TimeoutStartSec=50
`,
    timer: `[Unit]
Description=etcd metrics every minute

[Timer]
OnBootSec=1min
OnUnitActiveSec=1min
AccuracySec=5s

[Install]
WantedBy=timers.target
`,
  };
}

/** Hourly, after etcd: the peer whose turn it is restores the newest snapshot off the data volume and checks it. */
export function verifyBackupUnits(): { service: string; timer: string } {
  return {
    service: `[Unit]
Description=Prove the newest etcd snapshot restorable (only the peer whose turn it is)
After=etcd.service
Requisite=etcd.service

[Service]
Type=oneshot
ExecStart=${agentCommandLine(AGENT_COMMANDS.verifyBackup)}
TimeoutStartSec=45min
Nice=10
IOSchedulingClass=idle
`,
    timer: `[Unit]
Description=Hourly verification of the newest etcd snapshot

[Timer]
OnBootSec=20min
OnCalendar=hourly
RandomizedDelaySec=5min

[Install]
WantedBy=timers.target
`,
  };
}

/** Marks the instance unhealthy when the agent gives up, so its group replaces it instead of leaving a peer down. */
export function agentFailedUnit(): string {
  return `[Unit]
Description=Report a failed etcd node agent to Auto Scaling

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/etcd-report-unhealthy
`;
}

/** Shell lines that write one systemd unit file. */
function unitFile(name: string, content: string): string[] {
  return [`cat > /etc/systemd/system/${name} <<'END_OF_UNIT'`, content.trimEnd(), 'END_OF_UNIT'];
}

/** Renders the whole boot script. */
export function renderUserData(input: UserDataInput): string {
  const c = input.agentConfig;
  const etcd = input.etcd;
  const lines: string[] = [
    '#!/bin/bash',
    `# etcd peer ${c.peerIndex} of cluster ${c.clusterName}: identity below, volume and etcd through systemd.`,
    'set -euo pipefail',
    // The AWS CLI does not read the region from instance metadata either.
    ...(c.region ? [`export AWS_DEFAULT_REGION=${c.region}`] : []),
    'exec > >(tee -a /var/log/etcd-bootstrap.log) 2>&1',
    'install -d -m 0755 /etc/etcd-node-agent /etc/etcd /usr/local/lib/etcd-node-agent',
    `cat > ${AGENT_CONFIG_PATH} <<'END_OF_CONFIG'`,
    JSON.stringify(c, null, 2),
    'END_OF_CONFIG',
    '',
    // Not the image's default `nodejs` (18 on the AL2023 releases known here, past its end of life): the units run this binary.
    `# Node.js ${AGENT_NODE.major} runs the agent: AL2023 packages each major side by side; its repositories are reached through the S3 endpoint.`,
    `test -x ${AGENT_NODE.binary} || dnf install -y ${AGENT_NODE.dnfPackage}`,
    `${AGENT_NODE.binary} --version`,
    `aws s3 cp "s3://${input.agentBucket}/${input.agentKey}" ${AGENT_PATH}`,
    `echo "${input.agentSha256}  ${AGENT_PATH}" | sha256sum -c -`,
    '',
    `id -u ${c.etcdUser} >/dev/null 2>&1 || useradd --system --no-create-home --shell /sbin/nologin ${c.etcdUser}`,
  ];
  if (!etcd.preinstalled) {
    lines.push(
      '',
      '# etcd: a pinned release, checked before it is unpacked.',
      `ETCD_VERSION=${etcd.version}`,
      `ETCD_BASE_URL=${etcd.baseUrl.replace(/\/$/, '')}`,
      `ETCD_SHA256=${etcd.sha256 ?? ''}`,
      'ARCH=$(uname -m | sed -e s/x86_64/amd64/ -e s/aarch64/arm64/)',
      'TARBALL=etcd-v$ETCD_VERSION-linux-$ARCH.tar.gz',
      'fetch() { case "$1" in s3://*) aws s3 cp "$1" "$2" ;; *) curl -fsSL --retry 5 -o "$2" "$1" ;; esac; }',
      'WORK=$(mktemp -d)',
      'fetch "$ETCD_BASE_URL/$TARBALL" "$WORK/$TARBALL"',
      'if [ -n "$ETCD_SHA256" ]; then',
      '  echo "$ETCD_SHA256  $WORK/$TARBALL" | sha256sum -c -',
      'else',
      '  fetch "$ETCD_BASE_URL/SHA256SUMS" "$WORK/SHA256SUMS"',
      "  (cd \"$WORK\" && awk -v f=\"$TARBALL\" '$2 == f' SHA256SUMS | sha256sum -c -)",
      'fi',
      'tar -xzf "$WORK/$TARBALL" -C /usr/local/bin --strip-components=1 etcd-v$ETCD_VERSION-linux-$ARCH/etcd etcd-v$ETCD_VERSION-linux-$ARCH/etcdctl etcd-v$ETCD_VERSION-linux-$ARCH/etcdutl',
      'rm -rf "$WORK"',
    );
  }
  lines.push(
    '',
    "cat > /usr/local/sbin/etcd-report-unhealthy <<'END_OF_SCRIPT'",
    '#!/bin/bash',
    ...(c.region ? [`export AWS_DEFAULT_REGION=${c.region}`] : []),
    'TOKEN=$(curl -fsS -X PUT -H "X-aws-ec2-metadata-token-ttl-seconds: 60" http://169.254.169.254/latest/api/token)',
    'ID=$(curl -fsS -H "X-aws-ec2-metadata-token: $TOKEN" http://169.254.169.254/latest/meta-data/instance-id)',
    'aws autoscaling set-instance-health --instance-id "$ID" --health-status Unhealthy --no-should-respect-grace-period',
    'END_OF_SCRIPT',
    'chmod 0755 /usr/local/sbin/etcd-report-unhealthy',
    ...unitFile('etcd-node-agent.service', agentUnit()),
    ...unitFile('etcd-node-agent-failed.service', agentFailedUnit()),
    ...unitFile('etcd.service', etcdUnit(c.etcdConfigFile, c.etcdUser, c.dataDir)),
    ...unitFile('etcd-learner-promote.service', learnerPromoteUnit()),
    ...unitFile(HAND_OFF_UNIT, handOffUnit()),
  );
  // Timers: snapshots (only the leader takes one) and their verification, certificate renewal and metrics.
  const timers: [string, { service: string; timer: string }][] = [];
  if (c.backup && input.snapshotIntervalMinutes) {
    timers.push(['etcd-snapshot', snapshotUnits(input.snapshotIntervalMinutes)], ['etcd-verify-backup', verifyBackupUnits()]);
  }
  if (c.tls) timers.push(['etcd-certificates', renewalUnits()]);
  timers.push(['etcd-metrics', metricsUnits()], ['etcd-maintenance', maintenanceUnits(input.maintenanceEveryMinutes ?? 1)]);
  for (const [name, units] of timers) lines.push(...unitFile(`${name}.service`, units.service), ...unitFile(`${name}.timer`, units.timer));
  const timerNames = timers.map(([name]) => `${name}.timer`);
  lines.push(
    'systemctl daemon-reload',
    '# Starting etcd starts the agent first (Requires=/After=); if the agent fails, etcd stays down.',
    ['systemctl enable etcd-node-agent.service etcd.service', HAND_OFF_UNIT, ...timerNames].join(' '),
    `systemctl start --no-block ${HAND_OFF_UNIT}`,
    ...(timerNames.length ? [`systemctl start --no-block ${timerNames.join(' ')}`] : []),
    'systemctl start --no-block etcd.service',
    '',
  );
  return lines.join('\n');
}
