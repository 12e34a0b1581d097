/**
 * The boot sequence: a fungible instance becomes peer N, in the README's ten
 * steps. Every step logs one JSON line with its duration; any failure stops
 * the sequence, so etcd (whose unit requires this one) never starts on a wrong
 * or unmounted data dir. Each step's work lives in its own module.
 */
import type { AgentConfig } from '../contract/agent-config';
import { peerName } from '../contract/naming';
import { sleep as pause } from '../runtime/retry';
import { writePeerCertificates } from './certificates';
import type { DataDirState } from './decisions';
import { renderEtcdConfig } from './etcd-config';
import { waitForOwnName } from './own-name';
import type { CaStore, NameResolver, VolumeProvider } from './ports';
import { planStart, StartPlanDeps } from './start-plan';
import { AgentRefusal, step } from './step';
import { writeFileAtomically } from './system';
import { prepareVolume, readMountedIdentity } from './volume';

/** Dependencies of {@link boot}. */
export interface BootDeps extends Omit<StartPlanDeps, 'sleep' | 'readIdentity'> {
  readonly volumes: VolumeProvider;
  readonly resolver: NameResolver;
  readonly sleep?: (ms: number) => Promise<void>;
  /** @default - the label and marker of the volume mounted at the data dir (`readMountedIdentity`) */
  readonly readIdentity?: StartPlanDeps['readIdentity'];
  /** Address etcd listens on; `0.0.0.0` on AWS. */
  readonly listenAddress?: string;
  /** Where the cluster CA lives; required with TLS. */
  readonly caStore?: CaStore;
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

/** Steps 1–10 of the agent. Resolves only when every one of them holds. */
export async function boot(config: AgentConfig, deps: BootDeps): Promise<BootReport> {
  const started = Date.now();
  const { log } = deps;
  const sleep = deps.sleep ?? pause;
  // 1: identity.
  const identity = await step(log, 'identify', () => deps.volumes.identify(), (id) => ({ ...id, peer: peerName(config.peerIndex) }));
  // 2–4: find, attach and wait for this peer's volume.
  const attached = await step(log, 'attach-volume', () => deps.volumes.attachPeerVolume(identity, log), (a) => ({ ...a }));
  // 5–6: filesystem and mount.
  const prepared = await prepareVolume(
    {
      device: attached.device,
      mountPoint: config.dataDir,
      fsType: config.fsType,
      owner: config.etcdUser,
      identity: { clusterName: config.clusterName, clusterToken: config.clusterToken, peerIndex: config.peerIndex },
      formatRecord: deps.volumes.formatRecord(attached),
    },
    log,
  );
  // 7: certificates.
  if (config.tls) {
    if (!deps.caStore) throw new AgentRefusal('TLS is on but no CA store was given; etcd would start without certificates');
    await step(log, 'issue-certificates', () => writePeerCertificates(config, deps.caStore!), (issued) => ({ ...issued, pkiDir: config.pkiDir }));
  }
  // 8: start decision.
  const joining = await step(log, 'decide-start', () => planStart(config, prepared.dataDir, { readIdentity: () => readMountedIdentity(config.dataDir), ...deps, sleep }), (j) => ({ dataDir: prepared.dataDir, joining: j }));
  // 9: etcd's config.
  await step(
    log,
    'write-etcd-config',
    () => writeFileAtomically(config.etcdConfigFile, renderEtcdConfig(config, deps.listenAddress ?? '0.0.0.0', joining), 0o644),
    () => ({ file: config.etcdConfigFile, dataDir: prepared.dataDir, formatted: prepared.formatted }),
  );
  // 10: own name.
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
