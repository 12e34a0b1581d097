import { Construct } from 'constructs';
import { TerraformOutput } from 'cdktf';
import { currentRegionName } from './terraform-strings';
import { DataAwsSsmParameter } from '@cdktf/provider-aws/lib/data-aws-ssm-parameter';
import { buildAgentConfig, DEFAULT_HAND_OFF_TIMEOUT_SECONDS, handOffBudgetSeconds, mountPathProblem } from '../contract/agent-config';
import { EtcdArtifacts } from './artifacts';
import { BackupOptions, EtcdBackups } from './backups';
import { DatabaseOptions, resolveDatabaseOptions } from './database';
import { EtcdDns } from './dns';
import { EtcdDnsUpdater } from './dns-updater';
import { EtcdEncryption, validateKmsKeyArn } from './encryption';

import { EtcdMonitoring, MonitoringOptions } from './monitoring';
import { autoScalingGroupName, clientUrl, normalizeDomain, peerFqdn, peerIndices, peerName, zoneIndexOf } from '../contract/naming';
import { EtcdNetwork, EtcdNetworkProps } from './network';
import { EtcdPeer, PeerVolumeOptions, resolveVolumeOptions } from './peer';
import { EtcdRoller, RollingOptions, validateRollingOptions } from './roller';
import { EtcdSecurity } from './security';
import { DEFAULT_TOLERANCE, describeSurvivability, survivability, Tolerance, validateSizeAndZones } from '../contract/topology';
import { renderUserData } from './user-data';

/** Where etcd's binaries come from. */
export interface EtcdReleaseOptions {
  /**
   * etcd version, without the `v`. The default is a 3.5 patch at or above 3.5.26, the lowest from which etcd's
   * upgrade guide allows moving to 3.6; earlier 3.5 patches lack member-list and consistency fixes.
   * @default '3.5.33'
   */
  readonly version?: string;
  /**
   * Base URL of the release files (`https://…` or `s3://bucket/prefix` for a mirror in the VPC).
   * @default 'https://github.com/etcd-io/etcd/releases/download/v<version>'
   */
  readonly baseUrl?: string;
  /**
   * sha256 of `etcd-v<version>-linux-<arch>.tar.gz`. Pin it to protect against a changed upstream file.
   * @default - checked against the release's own `SHA256SUMS`
   */
  readonly sha256?: string;
  /**
   * etcd is already installed in the image at `/usr/local/bin/etcd`; nothing is downloaded.
   * @default false
   */
  readonly preinstalled?: boolean;
}

/** Props of {@link EtcdCluster}. */
export interface EtcdClusterProps {
  /** Name of the cluster: lower-case letters, digits and hyphens, at most 32 characters. Used in every resource name and tag. */
  readonly clusterName: string;
  /**
   * Availability zones, at least 3. Peer i and its volume live in `zones[i % zones.length]`.
   */
  readonly zones: string[];
  /**
   * Number of peers: odd, at least 3. The default survives the loss of a whole zone plus one more peer.
   * @default 9
   */
  readonly size?: number;
  /**
   * What the layout must survive while keeping quorum: `'zone-and-node'` (a whole zone
   * and one more peer at once) or `'zone'` (a whole zone). A `size` and `zones` that
   * survive less are refused with the arithmetic and the nearest layouts that do
   * (see the README's survivability table); ask for `'zone'` by name to run e.g. 3 or 5 peers over 3 zones.
   * @default 'zone-and-node'
   */
  readonly tolerate?: Tolerance;
  /**
   * Private DNS domain of the cluster; peers are `peer-N.<domain>`.
   * @default '<clusterName>.etcd.internal'
   */
  readonly domain?: string;
  /**
   * Network: a created VPC (default) or an existing one.
   * @default - a new VPC with one private subnet per zone
   */
  readonly network?: Omit<EtcdNetworkProps, 'clusterName' | 'zones'>;
  /**
   * EC2 instance type of every peer.
   * @default 'm6i.large'
   */
  readonly instanceType?: string;
  /**
   * AMI id of every peer.
   * @default - latest Amazon Linux 2023 for the instance type's architecture, from its public SSM parameter
   */
  readonly imageId?: string;
  /** Persistent volumes (gp3). See {@link PeerVolumeOptions} for defaults. */
  readonly volume?: PeerVolumeOptions;
  /**
   * etcd's database: its quota (checked against `volume.sizeGiB`), who compacts its history, and when the
   * peers' maintenance timer defragments. See {@link DatabaseOptions} for defaults.
   * @default - the quota the volume holds (at most 8 GiB), compaction by kube-apiserver, defragmentation from 64 MiB and 25 % freeable
   */
  readonly database?: DatabaseOptions;
  /** etcd release to install. See {@link EtcdReleaseOptions} for defaults. */
  readonly etcd?: EtcdReleaseOptions;
  /**
   * IPv4 CIDR blocks allowed to reach etcd's client port (2379). Each must lie in a private
   * range (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 100.64.0.0/10) unless
   * `allowPublicClientCidrs` is set; blocks that together cover every address are always refused.
   * @default [] - only the peers
   */
  readonly clientCidrBlocks?: string[];
  /**
   * Accept `clientCidrBlocks` outside the private ranges.
   * @default false
   */
  readonly allowPublicClientCidrs?: boolean;
  /**
   * Security groups allowed to reach etcd's client port (2379).
   * @default [] - only the peers
   */
  readonly clientSecurityGroupIds?: string[];
  /**
   * TTL of the `peer-N` A records in seconds.
   * @default 10
   */
  readonly peerRecordTtl?: number;
  /**
   * Minutes between scheduled reconciles of every peer record.
   * @default 2
   */
  readonly reconcileEveryMinutes?: number;
  /**
   * Run the DNS updater, and the roller, one invocation at a time each (reserved concurrency 1). See `EtcdDnsUpdaterProps.oneInvocationAtATime`.
   * @default true
   */
  readonly dnsUpdaterOneInvocationAtATime?: boolean;
  /**
   * Serve etcd over TLS (peers and clients, client certificates required) and
   * publish only the `-ssl` SRV names. Turn off only for tests.
   * @default true
   */
  readonly tls?: boolean;
  /**
   * Lifetime of the certificates each peer issues itself at boot and renews daily, in hours.
   * @default 720 (30 days)
   */
  readonly certificateLifetimeHours?: number;
  /** Snapshots to S3 by the leader. See {@link BackupOptions} for defaults (every 15 min, kept 1 day; daily ones 30 days). */
  readonly backup?: BackupOptions;
  /**
   * Mount point of each peer's volume and etcd's data dir.
   * @default '/var/lib/etcd'
   */
  readonly dataDir?: string;
  /**
   * Customer-managed KMS key for the artifact bucket, the CA secret, the DNS
   * updater's environment and logs, and the volumes unless `volume.kmsKeyArn` names another.
   * @default - a key is created for the cluster, with rotation on
   */
  readonly kmsKeyArn?: string;
  /**
   * Alarms (quorum margin, NOSPACE, quota, disk latency, snapshot age, certificates, member lists, DNS updater
   * and agent failures), their SNS topic and a dashboard. See {@link MonitoringOptions} for defaults.
   * @default - every alarm with its default threshold, a created topic, a dashboard
   */
  readonly monitoring?: MonitoringOptions;
  /**
   * Seconds a terminating peer may spend on its planned hand-off (leadership moved away, etcd stopped, volume
   * unmounted and detached) before its group terminates it anyway: the terminate lifecycle hook's timeout, 30 to 7,200.
   * @default 180
   */
  readonly handOffTimeoutSeconds?: number;
  /**
   * TTL of the SRV records, in seconds, 1 to 86,400. They never change while the size stays.
   * @default 60
   */
  readonly srvRecordTtl?: number;
  /**
   * Days the DNS updater's and the roller's logs are kept: one of CloudWatch Logs' retention periods
   * (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, …, 3653).
   * @default 30
   */
  readonly logRetentionDays?: number;
  /**
   * Seconds a new instance waits in `Pending:Wait` for the DNS updater before its group continues anyway: the
   * launch lifecycle hook's timeout, 30 to 7,200.
   * @default 300
   */
  readonly launchHookTimeoutSeconds?: number;
  /**
   * Seconds after launch before EC2 health checks count against an instance: covers the volume attach, the mount
   * and the DNS wait. 0 or more.
   * @default 600
   */
  readonly healthCheckGracePeriodSeconds?: number;
  /** Rolling a launch template change out, one peer at a time. See {@link RollingOptions} for defaults. */
  readonly rolling?: RollingOptions;
}

const DEFAULT_ETCD_VERSION = '3.5.33';

/**
 * A self-healing etcd cluster: `size` peers spread over `zones` by count and
 * modulo, each an Auto Scaling group of one with its own persistent volume,
 * found through static SRV records in a private zone whose `peer-N` records
 * the DNS updater keeps pointing at the live instances.
 */
export class EtcdCluster extends Construct {
  /** The cluster KMS key (or the one `kmsKeyArn` names). */
  public readonly encryption: EtcdEncryption;
  /** The VPC and subnets the peers run in, created or given. */
  public readonly network: EtcdNetwork;
  /** The private zone, its SRV records and the peer A records. */
  public readonly dns: EtcdDns;
  /** Security group, instance roles and profiles, and the CA secret. */
  public readonly security: EtcdSecurity;
  /** The bucket holding the node agent. */
  public readonly artifacts: EtcdArtifacts;
  /** Snapshot bucket, unless backups are disabled. */
  public readonly backups?: EtcdBackups;
  /** The Lambda that points `peer-N` records at the live instances. */
  public readonly dnsUpdater: EtcdDnsUpdater;
  /** The roller, unless rolling is off (or backups are). */
  public readonly roller?: EtcdRoller;
  /** Metric permissions, alarms, their topic and the dashboard. */
  public readonly monitoring: EtcdMonitoring;
  /** Peers by index. */
  public readonly peers: EtcdPeer[];
  /** The cluster's domain, normalized. */
  public readonly domain: string;
  /** Number of peers. */
  public readonly size: number;

  constructor(scope: Construct, id: string, props: EtcdClusterProps) {
    super(scope, id);
    validateClusterName(props.clusterName);
    const size = props.size ?? 9;
    const tolerate = props.tolerate ?? DEFAULT_TOLERANCE;
    validateSizeAndZones(size, props.zones, tolerate);
    this.size = size;
    this.domain = validateDomain(props.domain ?? `${props.clusterName}.etcd.internal`, size);
    // Fail before any resource is created.
    const database = resolveDatabaseOptions(props.database, resolveVolumeOptions(props.volume).sizeGiB);
    const tls = props.tls ?? true;
    const certLifetimeHours = props.certificateLifetimeHours ?? 720;
    if (!Number.isInteger(certLifetimeHours) || certLifetimeHours < 24 || certLifetimeHours > 8760) {
      throw new Error(`certificateLifetimeHours must be a whole number of hours from 24 to 8760 (renewal runs daily), got ${certLifetimeHours}`);
    }
    const dataDir = props.dataDir ?? '/var/lib/etcd';
    const dataDirProblem = mountPathProblem(dataDir);
    if (dataDirProblem) throw new Error(`dataDir ${dataDirProblem}`);
    const instanceType = props.instanceType ?? 'm6i.large';
    const etcd = resolveEtcdRelease(props.etcd);
    refuseUnreachableEtcd(props);
    validateRollingOptions(props.rolling);
    if (props.rolling?.enabled === true && props.backup?.enabled === false) {
      throw new Error('rolling.enabled needs backups: the peers publish their status in the backup bucket; set backup.enabled: true or rolling.enabled: false');
    }
    if (props.volume?.kmsKeyArn !== undefined) validateKmsKeyArn(props.volume.kmsKeyArn, 'volume.kmsKeyArn');

    this.encryption = new EtcdEncryption(this, 'encryption', { clusterName: props.clusterName, kmsKeyArn: props.kmsKeyArn });
    const kmsKeyArn = this.encryption.keyArn;
    const volumeKmsKeyArn = props.volume?.kmsKeyArn ?? kmsKeyArn;
    this.network = new EtcdNetwork(this, 'network', { clusterName: props.clusterName, zones: props.zones, ...props.network });
    this.artifacts = new EtcdArtifacts(this, 'artifacts', { clusterName: props.clusterName, kmsKeyArn });
    this.backups =
      props.backup?.enabled === false ? undefined : new EtcdBackups(this, 'backups', { clusterName: props.clusterName, kmsKeyArn, ...props.backup });
    this.security = new EtcdSecurity(this, 'security', {
      clusterName: props.clusterName,
      peerCount: size,
      vpcId: this.network.vpcId,
      clientCidrBlocks: props.clientCidrBlocks,
      allowPublicClientCidrs: props.allowPublicClientCidrs,
      clientSecurityGroupIds: props.clientSecurityGroupIds,
      artifactBucketArn: this.artifacts.bucket.arn,
      kmsKeyArn,
      volumeKmsKeyArn,
      tls,
      airGapped: this.network.airGapped,
      backupBucketArn: this.backups?.bucket.arn,
    });
    this.dns = new EtcdDns(this, 'dns', {
      domain: this.domain,
      vpcId: this.network.vpcId,
      peerCount: size,
      tls,
      peerRecordTtl: props.peerRecordTtl,
      srvRecordTtl: props.srvRecordTtl,
    });
    this.dnsUpdater = new EtcdDnsUpdater(this, 'dns-updater', {
      clusterName: props.clusterName,
      domain: this.domain,
      peerCount: size,
      hostedZoneId: this.dns.zone.zoneId,
      hostedZoneArn: this.dns.zone.arn,
      recordTtl: props.peerRecordTtl,
      reconcileEveryMinutes: props.reconcileEveryMinutes,
      oneInvocationAtATime: props.dnsUpdaterOneInvocationAtATime,
      kmsKeyArn,
      logRetentionDays: props.logRetentionDays,
    });

    this.monitoring = new EtcdMonitoring(this, 'monitoring', {
      clusterName: props.clusterName,
      kmsKeyArn,
      instanceRoleNames: this.security.instanceRoles.map((r) => r.name),
      dnsUpdaterFunctionName: this.dnsUpdater.function.functionName,
      snapshotIntervalMinutes: this.backups?.intervalMinutes,
      ...props.monitoring,
    });

    const imageId =
      props.imageId ??
      new DataAwsSsmParameter(this, 'al2023-image', {
        name: `/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-${architectureOf(instanceType)}`,
      }).insecureValue;

    // Placement is decided here, in TypeScript: one peer construct per index, named after the peer,
    // so adding peer 9 never renumbers peers 0..8 in a plan.
    // The agent's AWS SDK cannot learn the region from instance metadata: it is written into its config.
    const region = currentRegionName(this);
    this.peers = peerIndices(size).map((i) => {
      const zoneIndex = zoneIndexOf(i, props.zones.length);
      const agentConfig = buildAgentConfig({
        mode: 'aws',
        region,
        clusterName: props.clusterName,
        domain: this.domain,
        peerIndex: i,
        peerCount: size,
        tls,
        dataDir,
        certLifetimeHours,
        ca: this.security.caSecret ? { secretId: this.security.caSecret.arn } : undefined,
        backup: this.backups ? { bucket: this.backups.bucket.bucket } : undefined,
        database: database.settings,
        deadlines: { handOffSeconds: handOffBudgetSeconds(props.handOffTimeoutSeconds ?? DEFAULT_HAND_OFF_TIMEOUT_SECONDS) },
      });
      return new EtcdPeer(this, peerName(i), {
        clusterName: props.clusterName,
        peerIndex: i,
        zone: props.zones[zoneIndex],
        subnetId: this.network.subnetIds[zoneIndex],
        securityGroupId: this.security.peerSecurityGroup.id,
        instanceProfileArn: this.security.instanceProfiles[i].arn,
        imageId,
        instanceType,
        volume: { ...props.volume, kmsKeyArn: volumeKmsKeyArn },
        handOffTimeoutSeconds: props.handOffTimeoutSeconds,
        launchHookTimeoutSeconds: props.launchHookTimeoutSeconds,
        healthCheckGracePeriodSeconds: props.healthCheckGracePeriodSeconds,
        rollGeneration: props.rolling?.generation,
        userData: renderUserData({
          agentConfig,
          agentBucket: this.artifacts.bucket.bucket,
          agentKey: this.artifacts.agentObject.key,
          agentSha256: this.artifacts.agentBundle.sha256,
          etcd,
          snapshotIntervalMinutes: this.backups?.intervalMinutes,
          maintenanceEveryMinutes: database.maintenanceEveryMinutes,
        }),
        // The event rule and its permission must exist before a group's first launch event fires.
        dependsOn: this.dnsUpdater.wiring,
      });
    });

    if (this.backups && props.rolling?.enabled !== false) {
      const { enabled: _enabled, generation: _generation, ...rolling } = props.rolling ?? {};
      this.roller = new EtcdRoller(this, 'roller', {
        clusterName: props.clusterName,
        peerCount: size,
        backupBucketName: this.backups.bucket.bucket,
        backupBucketArn: this.backups.bucket.arn,
        targetVersion: etcd.version,
        oneInvocationAtATime: props.dnsUpdaterOneInvocationAtATime,
        kmsKeyArn,
        logRetentionDays: props.logRetentionDays,
        ...rolling,
      });
    }

    // Output names are `<construct id>_<what>`, so `terraform output` reads plainly and two clusters in one stack don't clash.
    const out = (name: string, value: unknown, description: string) =>
      new TerraformOutput(this, name, { value, description }).overrideLogicalId(`${id}_${name}`);
    out('hosted_zone_id', this.dns.zone.zoneId, 'Private hosted zone of the cluster');
    out('domain', this.domain, 'Domain for etcd --discovery-srv');
    out('srv_names', [this.dns.srvNames.server, this.dns.srvNames.client], 'SRV records for peer and client discovery');
    out('peer_names', this.dns.peerFqdns, 'Peer FQDNs, by index');
    out(
      'client_endpoints',
      peerIndices(size).map((i) => clientUrl(this.domain, i, tls)),
      'etcd client URLs (e.g. for kube-apiserver --etcd-servers)',
    );
    // kube-apiserver cannot use SRV discovery: --etcd-servers takes this comma-joined list.
    out('etcd_servers', peerIndices(size).map((i) => clientUrl(this.domain, i, tls)).join(','), 'Value for kube-apiserver --etcd-servers');
    out('vpc_id', this.network.vpcId, 'VPC of the peers (created, or network.vpcId)');
    out('subnet_ids', this.network.subnetIds, 'Subnet of each zone, in zones order (created, or network.subnetIds)');
    out('peer_security_group_id', this.security.peerSecurityGroup.id, 'Security group of the peers; allow 2379 from your clients with it or with clientSecurityGroupIds');
    out('dns_updater_function_name', this.dnsUpdater.function.functionName, 'Lambda that points peer-N records at the instances');
    out('autoscaling_group_names', peerIndices(size).map((i) => autoScalingGroupName(props.clusterName, i)), 'Auto Scaling group of each peer');
    out('volume_ids', this.peers.map((p) => p.volume.id), 'Persistent EBS volume of each peer');
    out('artifact_bucket', this.artifacts.bucket.bucket, 'Bucket holding the node agent (and an optional etcd mirror under etcd/)');
    out('kms_key_arn', kmsKeyArn, 'KMS key encrypting artifacts, the CA secret, the DNS updater and the volumes (unless volume.kmsKeyArn names another)');
    if (this.backups) out('backup_bucket', this.backups.bucket.bucket, 'Bucket of the etcd snapshots (snapshots/frequent/, snapshots/daily/)');
    out('tolerates', describeSurvivability(survivability(size, props.zones.length)), 'What the layout survives while keeping quorum, with the arithmetic');
    if (props.monitoring?.enabled !== false) out('alarm_topic_arn', this.monitoring.alarmTopicArn, 'SNS topic the cluster alarms notify');
    if (this.security.caSecret) {
      out('ca_secret_arn', this.security.caSecret.arn, 'Secret holding the cluster CA; client certificates are issued from it (see README: client certificates)');
    }
  }
}

/** Cluster names become resource names, tags and group names. */
export function validateClusterName(name: string): void {
  if (!/^[a-z][a-z0-9-]{0,31}$/.test(name) || name.endsWith('-')) {
    throw new Error(
      `clusterName "${name}" is invalid: use 1 to 32 lower-case letters, digits and hyphens, starting with a letter and not ending with a hyphen`,
    );
  }
}

/** A private DNS domain that can hold `peer-<size-1>.` names; returns it normalized. */
export function validateDomain(domain: string, size: number): string {
  const d = normalizeDomain(domain);
  const labels = d.split('.');
  const labelOk = (l: string) => /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(l);
  if (labels.length < 2 || !labels.every(labelOk)) {
    throw new Error(
      `domain "${domain}" is not a valid DNS name: use two or more labels of letters, digits and inner hyphens, e.g. "etcd.internal"`,
    );
  }
  const longest = peerFqdn(d, size - 1);
  if (longest.length > 253) {
    throw new Error(`domain "${domain}" is too long: ${longest} exceeds the 253 characters a DNS name may have`);
  }
  return d;
}

/** `arm64` for Graviton families (m7g, c7gn, r8g, t4g…), `x86_64` otherwise. */
export function architectureOf(instanceType: string): 'arm64' | 'x86_64' {
  return /^[a-z]+[0-9]+[a-z]*g[a-z]*\./.test(instanceType) ? 'arm64' : 'x86_64';
}

/**
 * Without internet egress the default download (GitHub) can never be reached:
 * refuse at synth instead of synthesizing peers that cannot boot.
 */
function refuseUnreachableEtcd(props: EtcdClusterProps): void {
  if (props.network?.internetEgress !== false || props.etcd?.preinstalled || props.etcd?.baseUrl !== undefined) return;
  throw new Error(
    'network.internetEgress: false leaves the peers no way to the default etcd download (GitHub releases): ' +
      "put the release under etcd/ in the artifact bucket and set etcd.baseUrl: 's3://<artifact_bucket>/etcd', " +
      'or bake etcd into the image and set etcd.preinstalled: true, or let the peers out with network.internetEgress: true',
  );
}

function resolveEtcdRelease(options: EtcdReleaseOptions = {}) {
  const version = options.version ?? DEFAULT_ETCD_VERSION;
  if (!/^\d+\.\d+\.\d+$/.test(version)) {
    throw new Error(`etcd.version must look like 3.5.33 (no leading v), got "${version}"`);
  }
  if (options.sha256 !== undefined && !/^[a-f0-9]{64}$/.test(options.sha256)) {
    throw new Error('etcd.sha256 must be 64 lower-case hex characters (the sha256 of the release tarball)');
  }
  const baseUrl = options.baseUrl ?? `https://github.com/etcd-io/etcd/releases/download/v${version}`;
  if (!/^(https:\/\/|s3:\/\/)[^\s'"$`]+$/.test(baseUrl)) {
    throw new Error(`etcd.baseUrl must be an https:// or s3:// URL without spaces or quotes, got "${baseUrl}"`);
  }
  return { version, baseUrl, sha256: options.sha256, preinstalled: options.preinstalled ?? false };
}
