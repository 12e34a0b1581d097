#!/usr/bin/env node
/**
 * node-agent: makes a fungible instance become peer N, and looks after it.
 * The subcommands are `AGENT_COMMANDS` of the contract (the systemd units run
 * them); USAGE below says what each does.
 * Exit 0 only when the command's work held; 1 on a refusal or failure (after
 * a failed boot etcd stays down); 2 on bad usage or a bad config; 3 when a
 * volume is refused (not blank enough to format, or not this peer's).
 */
import { mkdirSync, writeFileSync } from 'fs';
import { promises as dns } from 'dns';
import { AGENT_COMMANDS, AgentCommand, nodeRuntimeProblem } from '../contract/agent-commands';
import { jsonLogger } from '../runtime/log';
import { AwsVolumeProvider } from './aws';
import { DirectoryBackupStore, EtcdctlSnapshots, refreshPeerReport, S3BackupStore, takeSnapshot } from './backup';
import { boot } from './boot';
import { writePeerCertificates } from './certificates';
import { DirectoryCaStore, SecretsManagerCaStore } from './ca-store';
import { mountPathProblem, type AgentConfig } from '../contract/agent-config';
import { Handler, parseFlags, readConfig, UsageError } from './cli-support';
import { handOffCommand } from './hand-off-command';
import { maintainCommand } from './maintain-command';
import { EtcdctlMembership, etcdctlPrefix } from './etcdctl';
import { issueCertificate } from './pki';
import type { BackupStore, CaStore, MetricsSink, PeerStatusStore } from './ports';
import { DirectoryPeerStatusStore, publishPeerStatus, S3PeerStatusStore } from './peer-status';
import { fileFormatRecord, LocalVolumeProvider, loopBackingFile } from './local';
import { promoteSelf } from './learner';
import { CloudWatchMetricsSink, collectMetrics, publishMetrics } from './metrics-collect';
import { logOutcome, verifyBackupIfOurTurn } from './verify-backup';
import type { MetricValues } from '../contract/metrics';
import { CliSnapshotRestorer } from './restore';
import { prepareVolume } from './volume';
import { clusterToken, peerName } from '../contract/naming';
import { VolumeRefusal } from './step';

const USAGE = `usage:
  node-agent boot --config FILE
      attach this peer's volume, format it only if it has no signature, mount it,
      issue the peer's certificates, decide how etcd starts (restoring a snapshot or
      joining as a learner when that is the plan), write etcd's configuration,
      wait for the peer's name to resolve here
  node-agent prepare-volume --device DEV --mount-point DIR --cluster NAME --peer-index N [--cluster-token T] [--fs-type ext4|xfs] [--owner USER]
      make DEV peer N's data dir at DIR: format only a device that reads as zeros (labelled etcd-N, marked with
      the cluster and peer), never one that holds data; refuse another peer's or cluster's volume (exit 3)
  node-agent snapshot --config FILE
      report that this peer's volume holds a member; then, if this peer is the leader,
      save, verify and upload an etcd snapshot (a timer runs this)
  node-agent promote --config FILE
      if this peer rejoined as a learner: promote it to a voting member once it has caught up
      (runs after etcd starts; does nothing otherwise)
  node-agent renew-certificates --config FILE
      issue this peer's certificate again from the cluster CA (a daily timer runs this)
  node-agent metrics --config FILE
      collect this peer's and the cluster's figures (quorum margin, database against quota, disk latency,
      certificates, snapshot age, member lists) and publish them: a log line, and CloudWatch on AWS
      (a timer runs this every minute)
  node-agent verify-backup --config FILE
      if it is this peer's turn (the peers other than the leader take turns by the hour): restore the
      newest snapshot into a scratch dir off the data volume, serve it from a throwaway etcd on loopback,
      check it against its upload record, and publish the result (an hourly timer runs this)
  node-agent issue-client-cert (--ca-secret ARN | --ca-dir DIR | --config FILE) --name NAME --out DIR [--hours 720]
      issue a client certificate (e.g. for kube-apiserver) from the cluster CA into DIR;
      --ca-secret is the stack's ca_secret_arn output (needs secretsmanager:GetSecretValue on it)
  node-agent hand-off --config FILE
      watch this instance's Auto Scaling target lifecycle state; once it is Terminated: move leadership to a
      healthy caught-up voter if this peer leads, stop etcd, unmount, detach the volume, complete the
      terminate lifecycle action (a service runs this; AWS mode)
  node-agent maintain --config FILE
      defragment this peer's member when worth it (one member of the cluster at a time, under a lock in etcd,
      followers before the leader, only while every member is healthy); on the leader, get the cluster out of
      NOSPACE (compact if the policy allows, defragment each member, disarm); one JSON line per run (a timer runs this)`;

export { parseFlags };

function backupStoreFor(config: AgentConfig): BackupStore | undefined {
  if (!config.backup) return undefined;
  return config.backup.bucket ? new S3BackupStore(config.backup.bucket) : new DirectoryBackupStore(config.backup.dir!);
}

function caStoreFor(config: AgentConfig): CaStore | undefined {
  if (!config.tls) return undefined;
  return config.mode === 'aws' ? new SecretsManagerCaStore(config.ca!.secretId!) : new DirectoryCaStore(config.ca!.dir!);
}

/** The roller reads the peers' statuses next to their volume reports. */
function peerStatusStoreFor(config: AgentConfig): PeerStatusStore | undefined {
  if (!config.backup) return undefined;
  return config.backup.bucket ? new S3PeerStatusStore(config.backup.bucket) : new DirectoryPeerStatusStore(config.backup.dir!);
}

function volumeProviderFor(config: AgentConfig) {
  return config.mode === 'aws' ? new AwsVolumeProvider(config) : new LocalVolumeProvider(config);
}

/** On AWS figures go to CloudWatch; locally the log line is the whole record. */
function metricsSinkFor(config: AgentConfig): MetricsSink | undefined {
  return config.mode === 'aws' ? new CloudWatchMetricsSink(config.clusterName, config.peerIndex) : undefined;
}

/** One handler per contract command: the compiler refuses a command the units name and the CLI lacks. */
const HANDLERS: Record<AgentCommand, Handler> = {
  [AGENT_COMMANDS.boot]: async (rest, log) => {
    const flags = parseFlags(rest, ['config']);
    if (!flags.config) throw new UsageError('boot needs --config FILE');
    const config = readConfig(flags.config);
    const volumes = volumeProviderFor(config);
    let resolver: { resolve4(name: string): Promise<string[]> } = dns;
    if (config.local?.dnsServers?.length) {
      const custom = new dns.Resolver();
      custom.setServers(config.local.dnsServers);
      resolver = custom;
    }
    const membership = new EtcdctlMembership(config, etcdctlPrefix(config));
    try {
      await boot(config, {
        volumes,
        resolver,
        log,
        caStore: caStoreFor(config),
        membership,
        backups: backupStoreFor(config),
        restorer: new CliSnapshotRestorer(config),
        listenAddress: config.mode === 'local' ? config.local!.ipAddress : '0.0.0.0',
      });
    } catch (error) {
      // A failed boot leaves this peer down: count it where the alarm looks, as far as the failure lets us.
      await publishMetrics(config, { agentBootFailures: 1 }, { log, sink: metricsSinkFor(config) }).catch(
        (e) => log.warn('could not publish the boot failure', { error: (e as Error).message }),
      );
      throw error;
    }
    return 0;
  },
  [AGENT_COMMANDS.snapshot]: async (rest, log) => {
    const config = readConfig(parseFlags(rest, ['config']).config);
    const store = backupStoreFor(config);
    if (!store) throw new UsageError('this config has no "backup" destination');
    const etcd = new EtcdctlSnapshots(config, etcdctlPrefix(config));
    // The report first: it must stay current even while snapshots fail.
    await refreshPeerReport(config, store, log);
    await takeSnapshot(config, { etcd, store, log });
    return 0;
  },
  [AGENT_COMMANDS.metrics]: async (rest, log) => {
    const config = readConfig(parseFlags(rest, ['config']).config);
    const values = await collectMetrics(config, { prefix: etcdctlPrefix(config), store: backupStoreFor(config), log });
    await publishMetrics(config, values, { log, sink: metricsSinkFor(config) });
    const statuses = peerStatusStoreFor(config);
    if (statuses) await publishPeerStatus(config, { prefix: etcdctlPrefix(config), instanceId: async () => (await volumeProviderFor(config).identify()).instanceId, store: statuses, log });
    return 0;
  },
  [AGENT_COMMANDS.verifyBackup]: async (rest, log) => {
    const config = readConfig(parseFlags(rest, ['config']).config);
    const store = backupStoreFor(config);
    if (!store) throw new UsageError('this config has no "backup" destination: there is nothing to verify');
    const outcome = await verifyBackupIfOurTurn(config, { store, prefix: etcdctlPrefix(config), log });
    if (!outcome) return 0;
    logOutcome(config, outcome, log);
    const values: MetricValues = outcome.verified
      ? { verifiedRestoreAgeSeconds: Math.round((Date.now() - outcome.takenAt) / 1000), backupVerifyFailures: 0 }
      : outcome.corrupt
        ? { backupVerifyFailures: 1 }
        : {};
    await publishMetrics(config, values, { log, sink: metricsSinkFor(config) });
    return outcome.verified || !outcome.corrupt ? 0 : 1;
  },
  [AGENT_COMMANDS.promote]: async (rest, log) => {
    const config = readConfig(parseFlags(rest, ['config']).config);
    const outcome = await promoteSelf(config, new EtcdctlMembership(config, etcdctlPrefix(config)), { log });
    if (outcome === 'nothing-pending') log.info('nothing to promote: this peer did not join as a learner', { peer: peerName(config.peerIndex) });
    return 0;
  },
  [AGENT_COMMANDS.renewCertificates]: async (rest, log) => {
    const config = readConfig(parseFlags(rest, ['config']).config);
    const store = caStoreFor(config);
    if (!store) throw new UsageError('TLS is off in this config: there is nothing to renew');
    log.info('certificates renewed', { ...(await writePeerCertificates(config, store)) });
    return 0;
  },
  [AGENT_COMMANDS.issueClientCert]: async (rest, log) => {
    const flags = parseFlags(rest, ['config', 'ca-secret', 'ca-dir', 'name', 'out', 'hours']);
    let store: CaStore | undefined;
    let clusterName = 'etcd';
    if (flags['ca-secret']) {
      // The secret's ARN names its region; the SDK would otherwise need AWS_REGION.
      const arnRegion = /^arn:[^:]+:secretsmanager:([a-z0-9-]+):/.exec(flags['ca-secret'])?.[1];
      if (!process.env.AWS_REGION && arnRegion) process.env.AWS_REGION = arnRegion;
      store = new SecretsManagerCaStore(flags['ca-secret']);
    }
    else if (flags['ca-dir']) store = new DirectoryCaStore(flags['ca-dir']);
    else {
      const config = readConfig(flags.config);
      clusterName = config.clusterName;
      store = caStoreFor(config);
      if (!store) throw new UsageError('TLS is off in this config: clients need no certificate');
    }
    if (!flags.name || !/^[A-Za-z0-9._-]{1,64}$/.test(flags.name)) throw new UsageError('--name must be 1 to 64 letters, digits, dots, dashes or underscores');
    if (!flags.out) throw new UsageError('--out DIR is required');
    const hours = Number(flags.hours ?? 720);
    if (!Number.isInteger(hours) || hours < 1 || hours > 8760) throw new UsageError('--hours must be a whole number from 1 to 8760');
    // A client never creates the CA: only a booting peer may.
    const ca = await store.getOrCreate(async () => {
      throw new Error(`the cluster CA does not exist yet; it is created when the first ${clusterName} peer boots`);
    });
    const cert = await issueCertificate(ca, { commonName: flags.name, dnsNames: [], lifetimeHours: hours, usage: 'client' });
    mkdirSync(flags.out, { recursive: true });
    writeFileSync(`${flags.out}/ca.crt`, ca.certPem);
    writeFileSync(`${flags.out}/${flags.name}.crt`, cert.certPem);
    writeFileSync(`${flags.out}/${flags.name}.key`, cert.keyPem, { mode: 0o600 });
    log.info('client certificate issued', { name: flags.name, out: flags.out, hours });
    return 0;
  },
  [AGENT_COMMANDS.handOff]: handOffCommand,
  [AGENT_COMMANDS.maintain]: maintainCommand,
  [AGENT_COMMANDS.prepareVolume]: async (rest, log) => {
    const flags = parseFlags(rest, ['device', 'mount-point', 'fs-type', 'owner', 'cluster', 'cluster-token', 'peer-index']);
    if (!flags.device || !flags['mount-point'] || !flags.cluster || flags['peer-index'] === undefined) {
      throw new UsageError("prepare-volume needs --device DEV, --mount-point DIR, --cluster NAME and --peer-index N: whose volume it prepares");
    }
    if (!/^(0|[1-9][0-9]{0,3})$/.test(flags['peer-index'])) throw new UsageError(`--peer-index must be a whole number from 0 to 9999, got ${flags['peer-index']}`);
    const mountPointProblem = mountPathProblem(flags['mount-point']);
    if (mountPointProblem) throw new UsageError(`--mount-point ${mountPointProblem}`);
    const fsType = flags['fs-type'] ?? 'ext4';
    if (fsType !== 'ext4' && fsType !== 'xfs') throw new UsageError(`--fs-type must be ext4 or xfs, got ${fsType}`);
    const identity = { clusterName: flags.cluster, clusterToken: flags['cluster-token'] ?? clusterToken(flags.cluster), peerIndex: Number(flags['peer-index']) };
    // A loop device's file has its format record beside it, as the local cluster keeps it.
    const backing = await loopBackingFile(flags.device);
    const formatRecord = backing ? fileFormatRecord(backing) : undefined;
    const result = await prepareVolume({ device: flags.device, mountPoint: flags['mount-point'], fsType, owner: flags.owner, identity, formatRecord }, log);
    log.info('volume ready', { device: flags.device, mountPoint: flags['mount-point'], ...result });
    return 0;
  },
};

/** What a failure of each command means for the peer, for the log line. */
function failureMessage(command: AgentCommand): string {
  return command === AGENT_COMMANDS.boot ? 'boot failed; etcd will not start' : `${command} failed`;
}

function isAgentCommand(command: string | undefined): command is AgentCommand {
  return (Object.values(AGENT_COMMANDS) as string[]).includes(command ?? '');
}

/** Runs the CLI on Node.js `nodeVersion` (this process's by default); returns the exit code. */
export async function main(argv: string[], nodeVersion: string = process.versions.node): Promise<number> {
  const [command, ...rest] = argv;
  const log = jsonLogger({ component: 'etcd-node-agent' });
  // First of all: on too old a Node.js the SDK fails later with an error that names neither.
  const runtimeProblem = nodeRuntimeProblem(nodeVersion, process.execPath);
  if (runtimeProblem) {
    log.error('unsupported Node.js', { command, nodeVersion });
    process.stderr.write(`node-agent: ${runtimeProblem}\n`);
    return 1;
  }
  if (command === undefined || command === '--help' || command === 'help') {
    process.stdout.write(USAGE + '\n');
    return command === undefined ? 2 : 0;
  }
  try {
    if (!isAgentCommand(command)) throw new UsageError(`unknown command ${command}`);
    return await HANDLERS[command](rest, log);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`node-agent: ${error.message}\n${USAGE}\n`);
      return 2;
    }
    log.error(isAgentCommand(command) ? failureMessage(command) : 'node agent failed', { command, error: (error as Error).message, kind: (error as Error).name });
    process.stderr.write(`node-agent: ${(error as Error).message}\n`);
    return error instanceof VolumeRefusal ? 3 : 1;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
