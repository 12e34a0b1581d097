/**
 * The boot sequence: a fungible instance becomes peer N. Every step logs one
 * JSON line with its duration; any failure stops the sequence, so etcd (whose
 * unit requires this one) never starts on a wrong or unmounted data dir.
 */
import { X509Certificate } from 'crypto';
import { promises as fs } from 'fs';
import { dirname, join } from 'path';
import { peerFqdn, peerName, peerUrl, volumeLabel } from '../contract/naming';
import type { Logger } from '../runtime/log';
import type { AgentConfig } from '../contract/agent-config';
import { classifyDataDir, DataDirState, decideFilesystem, decideMount } from './decisions';
import { renderEtcdConfig } from './etcd-config';
import type { BackupStore } from './backup';
import { MembershipPort, TOO_MANY_LEARNERS } from './etcdctl';
import { markLearner } from './learner';
import { decideStart, StartPlan } from './membership';
import { newestSnapshot, RecoveryFacts } from './recovery';
import { restoreSnapshot, SnapshotRestorer } from './restore';
import { CaStore, createCa, issueCertificate, validateCa } from './pki';
import type { NameResolver, VolumeProvider } from './ports';
import { createFilesystem, deviceNumberOf, mountDevice, ownDataDir, probeDevice, readMountTable } from './system';
import { sleep as pause } from '../runtime/retry';

/** Raised when the agent refuses to go on; the message says why and what to do. */
export class AgentRefusal extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AgentRefusal';
  }
}

/** Runs one named step and logs it with its duration. */
export async function step<T>(log: Logger, name: string, body: () => Promise<T>, describe?: (result: T) => Record<string, unknown>): Promise<T> {
  const started = Date.now();
  try {
    const result = await body();
    log.info(`step ${name} done`, { step: name, ok: true, durationMs: Date.now() - started, ...(describe ? describe(result) : {}) });
    return result;
  } catch (error) {
    log.error(`step ${name} failed`, { step: name, ok: false, durationMs: Date.now() - started, error: (error as Error).message });
    throw error;
  }
}

/** Inputs of {@link prepareVolume}. */
export interface PrepareVolumeInput {
  readonly device: string;
  readonly mountPoint: string;
  readonly fsType: 'ext4' | 'xfs';
  /** User that must own the mounted data dir; `undefined` leaves ownership alone. */
  readonly owner?: string;
  /** Label given to a filesystem this call creates. */
  readonly label: string;
}

/** What {@link prepareVolume} did. */
export interface PreparedVolume {
  readonly formatted: boolean;
  readonly alreadyMounted: boolean;
  readonly dataDir: DataDirState;
}

/**
 * Steps 5–6: probe, format only a device with no signature at all, mount at
 * the data dir (idempotent), hand it to the etcd user, and verify the mount
 * table before returning. Refuses, without writing anything, in every other case.
 */
export async function prepareVolume(input: PrepareVolumeInput, log: Logger): Promise<PreparedVolume> {
  const { device, mountPoint, fsType } = input;
  const deviceNumber = await deviceNumberOf(device);
  const before = decideMount(await readMountTable(), { path: device, deviceNumber }, mountPoint);
  if (before.action === 'refuse') throw new AgentRefusal(before.reason);

  let formatted = false;
  if (before.action === 'mount') {
    const probe = await step(log, 'probe-filesystem', () => probeDevice(device), (p) => ({ device, probe: p }));
    const decision = decideFilesystem(probe, fsType, device);
    if (decision.action === 'refuse') throw new AgentRefusal(decision.reason);
    if (decision.action === 'format') {
      // Probe again right before writing: a volume that gained a signature in between is not ours to format.
      const again = decideFilesystem(await probeDevice(device), fsType, device);
      if (again.action !== 'format') throw new AgentRefusal(`${device} changed while being prepared; not formatting it`);
      await step(log, 'create-filesystem', () => createFilesystem(device, fsType, input.label), () => ({ device, fsType, label: input.label }));
      formatted = true;
    }
    await step(log, 'mount', () => mountDevice(device, mountPoint, fsType), () => ({ device, mountPoint }));
  } else {
    log.info('step mount skipped', { step: 'mount', device, mountPoint, reason: 'already mounted from this device' });
  }

  const after = decideMount(await readMountTable(), { path: device, deviceNumber }, mountPoint);
  if (after.action !== 'already-mounted') {
    throw new AgentRefusal(`after mounting, ${mountPoint} is not mounted from ${device}: ${after.action === 'refuse' ? after.reason : 'no mount found'}`);
  }
  if (input.owner) await step(log, 'own-data-dir', () => ownDataDir(mountPoint, input.owner!), () => ({ owner: input.owner }));

  const top = await fs.readdir(mountPoint);
  const member = top.includes('member') ? await fs.readdir(join(mountPoint, 'member')).catch(() => undefined) : undefined;
  const dataDir = classifyDataDir(top, member);
  if (dataDir === 'unexpected') log.warn('data dir holds files etcd did not write', { mountPoint, entries: top.slice(0, 20) });
  return { formatted, alreadyMounted: before.action === 'already-mounted', dataDir };
}

/** Dependencies of {@link boot}. */
export interface BootDeps {
  readonly volumes: VolumeProvider;
  readonly resolver: NameResolver;
  readonly log: Logger;
  readonly sleep?: (ms: number) => Promise<void>;
  /** Address etcd listens on; `0.0.0.0` on AWS. */
  readonly listenAddress?: string;
  /** Where the cluster CA lives; required with TLS. */
  readonly caStore?: CaStore;
  /** The live cluster's membership; asked only when the volume is fresh. */
  readonly membership?: MembershipPort;
  /** Snapshots and the peers' volume reports; without it a fresh volume that finds no member can only bootstrap. */
  readonly backups?: BackupStore;
  /** Unpacks a snapshot; required with `backups`. */
  readonly restorer?: SnapshotRestorer;
}

/** What {@link writePeerCertificates} issued. */
export interface IssuedCertificates {
  readonly names: string[];
  readonly notAfter: string;
}

/**
 * Issues this peer's certificate from the cluster CA (creating the CA if the
 * store holds none) and writes ca.crt, peer.crt/key and server.crt/key into
 * the PKI dir. etcd reloads certificate files on new connections, so a renewal
 * needs no restart.
 */
export async function writePeerCertificates(config: AgentConfig, caStore: CaStore): Promise<IssuedCertificates> {
  const ca = await caStore.getOrCreate(() => createCa(`${config.clusterName} etcd CA`));
  await validateCa(ca);
  const fqdn = peerFqdn(config.domain, config.peerIndex);
  const names = [fqdn, config.domain];
  const leaf = await issueCertificate(ca, { commonName: fqdn, dnsNames: names, lifetimeHours: config.certLifetimeHours, usage: 'peer' });
  await fs.mkdir(config.pkiDir, { recursive: true, mode: 0o755 });
  const write = async (name: string, content: string, mode: number) => {
    const temporary = join(config.pkiDir, `.${name}.tmp`);
    await fs.writeFile(temporary, content, { mode });
    await fs.chmod(temporary, mode);
    await fs.rename(temporary, join(config.pkiDir, name));
  };
  await write('ca.crt', ca.certPem, 0o644);
  for (const kind of ['peer', 'server']) {
    await write(`${kind}.key`, leaf.keyPem, 0o600);
    await write(`${kind}.crt`, leaf.certPem, 0o644);
  }
  // etcd runs as its own user and must read its key: a failed chown fails the boot rather than etcd later.
  if (config.etcdUser !== 'root') await ownDataDir(config.pkiDir, config.etcdUser);
  return { names, notAfter: new Date(new X509Certificate(leaf.certPem).validTo).toISOString() };
}

/** What a successful boot did; `dataDir` tells a later step whether this peer starts fresh or holds a member. */
export interface BootReport {
  readonly peer: string;
  readonly instanceId: string;
  readonly volumeId: string;
  readonly device: string;
  readonly formatted: boolean;
  readonly dataDir: DataDirState;
  readonly etcdConfigFile: string;
  readonly durationMs: number;
}

/** Steps 1–9 of the agent. Resolves only when every one of them holds. */
export async function boot(config: AgentConfig, deps: BootDeps): Promise<BootReport> {
  const started = Date.now();
  const { log } = deps;
  const sleep = deps.sleep ?? pause;
  const identity = await step(log, 'identify', () => deps.volumes.identify(), (id) => ({ ...id, peer: peerName(config.peerIndex) }));
  const attached = await step(log, 'attach-volume', () => deps.volumes.attachPeerVolume(identity, log), (a) => ({ ...a }));
  const prepared = await prepareVolume(
    { device: attached.device, mountPoint: config.dataDir, fsType: config.fsType, owner: config.etcdUser, label: volumeLabel(config.peerIndex) },
    log,
  );
  if (config.tls) {
    if (!deps.caStore) throw new AgentRefusal('TLS is on but no CA store was given; etcd would start without certificates');
    await step(log, 'issue-certificates', () => writePeerCertificates(config, deps.caStore!), (issued) => ({ ...issued, pkiDir: config.pkiDir }));
  }
  const joining = await step(log, 'decide-start', () => planStart(config, prepared.dataDir, { ...deps, sleep }), (j) => ({ dataDir: prepared.dataDir, joining: j }));
  await step(
    log,
    'write-etcd-config',
    async () => {
      await fs.mkdir(dirname(config.etcdConfigFile), { recursive: true });
      const temporary = `${config.etcdConfigFile}.tmp`;
      await fs.writeFile(temporary, renderEtcdConfig(config, deps.listenAddress ?? '0.0.0.0', joining), { mode: 0o644 });
      await fs.rename(temporary, config.etcdConfigFile);
    },
    () => ({ file: config.etcdConfigFile, dataDir: prepared.dataDir, formatted: prepared.formatted }),
  );
  await step(log, 'wait-for-own-name', () => waitForOwnName(config, identity.privateIp, deps.resolver, log, sleep), (ips) => ({ resolved: ips }));
  const report: BootReport = {
    peer: peerName(config.peerIndex),
    instanceId: identity.instanceId,
    volumeId: attached.volumeId,
    device: attached.device,
    formatted: prepared.formatted,
    dataDir: prepared.dataDir,
    etcdConfigFile: config.etcdConfigFile,
    durationMs: Date.now() - started,
  };
  log.info('ready: etcd may start', { ...report });
  return report;
}

/**
 * Decides how etcd starts and carries out any membership change or restore
 * first. A fresh volume that cannot decide yet (no quorum; peers that may hold
 * data have not reported) asks again until `deadlines.decideSeconds`, then
 * refuses. Before returning, the peer reports `member`: from then on etcd may
 * run on this volume, and no other peer may restore beside it.
 * Returns the initial cluster to join with, or `undefined` for a normal start.
 */
export async function planStart(
  config: AgentConfig,
  dataDir: DataDirState,
  deps: Pick<BootDeps, 'membership' | 'backups' | 'restorer' | 'log'> & { sleep: (ms: number) => Promise<void> },
): Promise<{ initialCluster: string } | undefined> {
  const { log, backups, membership } = deps;
  const self = {
    name: peerName(config.peerIndex),
    index: config.peerIndex,
    peerCount: config.peerCount,
    peerUrl: peerUrl(config.domain, config.peerIndex, config.tls),
    clusterToken: config.clusterToken,
  };
  // What this peer restored from last is carried from report to report (see RecoveryFacts.ownRestoredFrom),
  // so it is read before this boot's first report overwrites it.
  const lastOwnReport = async () => (await backups!.readPeerReports()).find((r) => r.peer === config.peerIndex);
  if (dataDir === 'member') {
    // A peer on its own data starts whatever the store says; the report only keeps others from restoring beside it.
    // If the store cannot be read, no report is written rather than one that forgets what this peer restored from.
    if (backups) {
      try {
        const restoredFrom = (await lastOwnReport())?.restoredFrom;
        await backups.putPeerReport(config.peerIndex, { state: 'member', ...(restoredFrom ? { restoredFrom } : {}) });
      } catch (error) {
        log.warn('could not report this peer\'s volume to the backup store', { error: (error as Error).message });
      }
    }
    return undefined;
  }
  // Foreign files: refused before anything is reported, so the volume never counts as empty for a restore.
  const withoutCluster = decideStart(dataDir, { kind: 'no-answer' }, self);
  if (withoutCluster.action === 'refuse') throw new AgentRefusal(withoutCluster.reason);

  const deadline = Date.now() + config.deadlines.decideSeconds * 1000;
  let lastLog = 0;
  let plan: StartPlan;
  let own: { restoredFrom?: string } | undefined;
  for (;;) {
    let facts: RecoveryFacts | undefined;
    try {
      if (backups) {
        own ??= { restoredFrom: (await lastOwnReport())?.restoredFrom };
        await backups.putPeerReport(config.peerIndex, { state: 'fresh', ...(own.restoredFrom ? { restoredFrom: own.restoredFrom } : {}) });
      }
      const view = membership ? await membership.view() : ({ kind: 'no-answer' } as const);
      if (backups) facts = { newestSnapshot: newestSnapshot(await backups.listSnapshots()), reports: await backups.readPeerReports(), ownRestoredFrom: own?.restoredFrom };
      plan = decideStart(dataDir, view, self, facts);
      if (plan.action !== 'wait' || Date.now() - lastLog >= 10_000) {
        log.info('start decision', {
          dataDir,
          cluster: view.kind === 'answered' ? { healthy: view.healthy, members: view.members.length } : 'no answer',
          newestSnapshot: facts?.newestSnapshot?.key,
          reports: facts?.reports.map((r) => `${peerName(r.peer)}:${r.state}`).join(' '),
          ...plan,
        });
        lastLog = Date.now();
      }
    } catch (error) {
      // The store or etcdctl failing is a reason to ask again, never to guess.
      plan = { action: 'wait', reason: `could not learn the cluster's state: ${(error as Error).message}` };
      log.warn('start decision failed; asking again', { error: (error as Error).message });
    }
    if (plan.action !== 'wait') break;
    if (Date.now() >= deadline) throw new AgentRefusal(`${plan.reason}; gave up after ${config.deadlines.decideSeconds}s (the next boot asks again)`);
    await deps.sleep(2000);
  }

  let restoredFrom = own?.restoredFrom;
  let learner = false;
  let joining: { initialCluster: string } | undefined;
  switch (plan.action) {
    case 'start-existing-data':
    case 'bootstrap':
      break;
    case 'refuse':
      throw new AgentRefusal(plan.reason);
    case 'restore': {
      if (!deps.restorer || !backups) throw new AgentRefusal('a restore was decided but the agent has no snapshot restorer');
      await step(log, 'restore-snapshot', () => restoreSnapshot(config, plan.snapshot, { store: backups, restorer: deps.restorer!, log }), (r) => ({ ...r }));
      if (config.etcdUser !== 'root') await ownDataDir(config.dataDir, config.etcdUser);
      restoredFrom = plan.snapshot.key;
      break;
    }
    case 'start-added':
      joining = { initialCluster: plan.initialCluster };
      learner = plan.learner;
      break;
    case 'rejoin':
      if (plan.removeMemberId) {
        await membership!.remove(plan.removeMemberId);
        log.warn('removed the stale member of this peer', { memberId: plan.removeMemberId, peer: self.name });
      }
      joining = { initialCluster: await addAsLearner(config, membership!, self, { log, sleep: deps.sleep }) };
      learner = true;
      log.info('joined as a learner: promoted once caught up', { peer: self.name });
      break;
  }
  await markLearner(config, learner);
  // Required: a peer about to run etcd on this volume that failed to say so could let the others restore beside it.
  if (backups) await backups.putPeerReport(config.peerIndex, { state: 'member', ...(restoredFrom ? { restoredFrom } : {}) });
  return joining;
}

/**
 * Adds this peer as a learner. etcd 3.4 allows one learner at a time, so while
 * another rejoining peer is still catching up this asks again until the
 * decide deadline.
 */
async function addAsLearner(
  config: AgentConfig,
  membership: MembershipPort,
  self: { name: string; peerUrl: string },
  deps: { log: Logger; sleep: (ms: number) => Promise<void> },
): Promise<string> {
  const deadline = Date.now() + config.deadlines.decideSeconds * 1000;
  for (;;) {
    try {
      return await membership.add(self.name, self.peerUrl, { learner: true });
    } catch (error) {
      if (!TOO_MANY_LEARNERS.test((error as Error).message) || Date.now() >= deadline) throw error;
      deps.log.info('another learner is catching up; waiting to be added', { peer: self.name });
      await deps.sleep(2000);
    }
  }
}

/**
 * Step 8: until `peer-N.<domain>` resolves to this instance's IP. The launch
 * hook holds the group's in-service step, not the boot, so without this wait
 * etcd could start while its name still points at the dead instance.
 */
export async function waitForOwnName(
  config: AgentConfig,
  ownIp: string,
  resolver: NameResolver,
  log: Logger,
  sleep: (ms: number) => Promise<void>,
): Promise<string[]> {
  const fqdn = peerFqdn(config.domain, config.peerIndex);
  const deadline = Date.now() + config.deadlines.dnsSeconds * 1000;
  let lastLog = 0;
  let seen: string[] = [];
  for (let attempt = 0; ; attempt++) {
    try {
      seen = await resolver.resolve4(fqdn);
    } catch (error) {
      seen = [`error: ${(error as Error).message}`];
    }
    if (seen.length === 1 && seen[0] === ownIp) return seen;
    if (Date.now() >= deadline) {
      throw new AgentRefusal(
        `${fqdn} still resolves to ${seen.join(', ') || 'nothing'} instead of this instance's ${ownIp} after ${config.deadlines.dnsSeconds}s; is the DNS updater running?`,
      );
    }
    if (Date.now() - lastLog >= 5000) {
      log.info('waiting for own name', { name: fqdn, want: ownIp, resolved: seen });
      lastLog = Date.now();
    }
    await sleep(Math.min(2000, 100 * 2 ** Math.min(attempt, 5)));
  }
}
