/**
 * The local cluster: the AWS pieces played on one Linux machine. This file is
 * the supervisor, one Auto Scaling group per peer: it launches an instance per
 * peer, replaces any instance whose etcd dies or is killed, and terminates
 * instances. It composes `ec2.ts` (namespaces with a NEW IP per launch, volume
 * files), `route53.ts` (the real DNS updater, dnsmasq as Route 53),
 * `agent-runner.ts` (the real node agent, local mode), `processes.ts` (etcd in
 * the namespace, kills, background work), `clients.ts` and `cleanup.ts`.
 */
import { promises as fs } from 'fs';
import { join } from 'path';
import { peerFqdn, peerIndices, peerName, PLACEHOLDER_ADDRESS, zoneIndexOf } from '../contract/naming';
import type { DatabaseSettings } from '../contract/database';
import { learnerMarkerFile } from '../node-agent/learner';
import type { CommandResult } from '../node-agent/system';
import { DirectoryCaStore } from '../node-agent/ca-store';
import { createCa } from '../node-agent/pki';
import type { EtcdBinaries } from '../runtime/etcd-binaries';
import { done, notYet, pollUntil, sleep } from '../runtime/retry';
import { AgentRunner, localAgentConfig, readSnapshotRound, SnapshotRound } from './agent-runner';
import { cleanLeftovers, registerRun } from './cleanup';
import { ClientFiles, createClientHost, memberList, writeClientCertificate } from './clients';
import type { DnsmasqServer } from './dns';
import { EtcdHttpClient, Endpoint } from './etcd-client';
import { ClusterEvent, Instance, isLive, observed } from './instance';
import { LocalEc2 } from './ec2';
import { LocalLaunchTemplate } from './launch-template';
import { createZone, enableForwarding, Host, restoreForwarding, Zone, zoneAt } from './net';
import { BackgroundTasks, killAndWait, spawnInNamespace } from './processes';
import { handOffLocally } from './hand-off';
import { LocalDnsUpdater, startPrivateZone } from './route53';

/** Options of {@link LocalCluster}. */
export interface LocalClusterOptions {
  readonly peers: number;
  readonly zones: number;
  /** Working directory (volumes, certificates, logs). */
  readonly dir: string;
  /** The bundled node agent (esbuild output). */
  readonly agentPath: string;
  readonly clusterName?: string;
  readonly domain?: string;
  /** Progress lines for a person watching. */
  readonly progress?: (line: string) => void;
  /** Volume size in MiB. */
  readonly volumeMiB?: number;
  /** The etcd binaries of the run: etcd, etcdctl and the agent all find this version first on their PATH. */
  readonly etcd: EtcdBinaries;
  /** The database settings of every peer's agent (the nospace scenario's small quota); the agent's defaults otherwise. */
  readonly database?: Partial<DatabaseSettings>;
}

export type { ClusterEvent, Instance } from './instance';

/** The clients' own zone: never killed or partitioned. */
const CLIENT_ZONE_INDEX = 200;

export class LocalCluster {
  readonly clusterName: string;
  readonly domain: string;
  readonly zones: Zone[];
  readonly clientZone = zoneAt(CLIENT_ZONE_INDEX);
  readonly instances: Instance[] = [];
  readonly events: ClusterEvent[] = [];
  /** Auto Scaling on: a dead instance is replaced. */
  autoHeal = true;
  client!: EtcdHttpClient;
  dns!: DnsmasqServer;
  /** The clients' host (etcdctl, SRV discovery), in its own zone. */
  clientHost?: Host;
  private clientFiles?: ClientFiles;

  private readonly caStore: DirectoryCaStore;
  private readonly agent: AgentRunner;
  private readonly updater: LocalDnsUpdater;
  private readonly background = new BackgroundTasks();
  private readonly ec2: LocalEc2;
  /** Which etcd the next launch installs, and the template version the roller compares with. */
  readonly template: LocalLaunchTemplate;
  private stopped = false;

  constructor(private readonly options: LocalClusterOptions) {
    this.clusterName = options.clusterName ?? 'sim';
    this.domain = options.domain ?? 'sim.etcd.test';
    this.zones = Array.from({ length: options.zones }, (_, z) => zoneAt(z));
    this.caStore = new DirectoryCaStore(join(options.dir, 'ca'));
    this.template = new LocalLaunchTemplate(options.etcd);
    this.agent = new AgentRunner(options.agentPath, this.template.env);
    this.ec2 = new LocalEc2(options.dir, options.volumeMiB ?? 256);
    const settings = { clusterName: this.clusterName, domain: this.domain, peerCount: options.peers, hostedZoneId: 'local', recordTtl: 1 };
    this.updater = new LocalDnsUpdater(settings, { dns: () => this.dns, instances: () => this.instances.map(observed), progress: (line) => this.progress(line) });
  }

  /** Instances whose launch hook the DNS updater completed. */
  get lifecycleCompleted(): ReadonlySet<string> {
    return this.updater.lifecycleCompleted;
  }

  private progress(line: string): void {
    this.events.push({ at: Date.now(), what: line });
    this.options.progress?.(line);
  }

  /** Creates zones, certificates, volumes and the DNS server. Cleans what a killed earlier run left. */
  async setup(): Promise<void> {
    await cleanLeftovers(this.options.dir);
    await registerRun(this.options.dir);
    await fs.mkdir(this.options.dir, { recursive: true });
    // A fresh run starts from fresh instances, volumes, CA and bucket; a reused directory must not mix runs
    // (an earlier run's snapshots would rightly be restored into the new cluster).
    for (const sub of ['instances', 'volumes', 'ca', 'client', 'backups']) await fs.rm(join(this.options.dir, sub), { recursive: true, force: true });
    await this.ec2.shareInstanceMounts();
    await enableForwarding();
    for (const zone of [...this.zones, this.clientZone]) await createZone(zone);

    // The same CA store and issuing code as the agents: whoever comes first creates the CA, the rest read it.
    const ca = await this.caStore.getOrCreate(() => createCa(`${this.clusterName} etcd CA`));
    for (const i of peerIndices(this.options.peers)) await this.ec2.createVolume(i);
    this.clientFiles = await writeClientCertificate(ca, this.clusterName, join(this.options.dir, 'client'));
    this.client = new EtcdHttpClient(this.clientFiles);

    this.dns = await startPrivateZone(this.options.dir, this.domain, this.options.peers, [...this.zones, this.clientZone].map((z) => z.gateway));
    this.clientHost = await createClientHost(this.clientZone);
    this.progress(`setup: ${this.options.peers} peers over ${this.options.zones} zones, volumes, CA, dnsmasq for ${this.domain}`);
  }

  /** A new launch template with these binaries: see {@link LocalLaunchTemplate.useEtcd}. */
  useEtcd(binaries: EtcdBinaries): void {
    this.template.useEtcd(binaries);
    this.agent.env = this.template.env;
  }

  /** The live instance of each peer. */
  current(peerIndex: number): Instance | undefined {
    return [...this.instances].reverse().find((i) => i.peerIndex === peerIndex && isLive(i));
  }

  /** Launches one instance for every peer, in parallel, as the groups do at creation. */
  async launchAll(): Promise<void> {
    await Promise.all(peerIndices(this.options.peers).map((i) => this.launch(i)));
  }

  /** Auto Scaling launches a replacement for peer i: new namespace, new IP, real DNS updater, real agent, etcd. */
  launch(peerIndex: number): Promise<Instance> {
    return this.background.track(this.doLaunch(peerIndex));
  }

  private async doLaunch(peerIndex: number): Promise<Instance> {
    this.throwIfStopped();
    const zone = this.zones[zoneIndexOf(peerIndex, this.zones.length)];
    const { id, host } = await this.ec2.runInstance(peerIndex, zone);
    const dir = join(this.options.dir, 'instances', id);
    const spec = this.template.launchOf(peerIndex);
    const instance: Instance = { id, peerIndex, host, launchedAt: Date.now(), dir, state: 'pending', terminating: false, etcdVersion: spec.etcd.version, launchTemplateVersion: spec.templateVersion };
    this.instances.push(instance);
    this.progress(`launch ${id} as peer-${peerIndex} in zone ${zone.index} at ${host.ip}`);

    // The DNS updater handles the launch lifecycle action while the instance boots, as EventBridge would deliver it.
    // The hook only holds the group's in-service step; the agent's wait for its own name is what holds etcd.
    const updater = this.updater.launched(peerIndex, id);

    await fs.mkdir(dir, { recursive: true });
    const runInfo = { clusterName: this.clusterName, domain: this.domain, peerCount: this.options.peers, runDir: this.options.dir, database: this.options.database };
    const config = localAgentConfig(runInfo, instance, this.ec2.volumeFile(peerIndex));
    await fs.writeFile(join(dir, 'agent.json'), JSON.stringify(config, null, 2));

    this.throwIfStopped(instance);
    const agent = await this.agent.boot(host.namespace, join(dir, 'agent.json'), join(dir, 'agent.log'));
    await updater;
    this.throwIfStopped(instance);
    if (agent.code !== 0) {
      // The unit's OnFailure marks the instance unhealthy; the group replaces it.
      this.progress(`agent failed on ${id} (peer-${peerIndex}): ${agent.error}; replacing the instance`);
      await this.terminate(instance, { reason: 'agent failed' });
      throw new Error(`agent failed on ${id}: ${agent.error}`);
    }
    instance.agentMs = agent.durationMs;
    instance.restoredFrom = agent.restoredFrom;
    this.startEtcd(instance, config.etcdConfigFile, spec.etcdEnv);
    // The promotion unit (After=etcd.service) of a peer the agent added as a learner.
    if (await fs.stat(learnerMarkerFile(config)).catch(() => undefined)) this.promote(instance);
    this.progress(`etcd started on ${id} (peer-${peerIndex}, ${host.ip}); agent took ${agent.durationMs} ms`);
    return instance;
  }

  /** A stopping cluster launches nothing more; an instance half-launched is left to teardown's clean-up. */
  private throwIfStopped(instance?: Instance): void {
    if (!this.stopped) return;
    if (instance) instance.state = 'terminated';
    throw new Error('the local cluster is stopping');
  }

  /** Runs the agent's `promote` in the instance, as the learner-promotion unit would after etcd starts. */
  private promote(instance: Instance): void {
    const p = this.agent.promote(instance.host.namespace, join(instance.dir, 'agent.json'), join(instance.dir, 'promote.log')).then((r) => {
      instance.promoted = r.promoted;
      this.progress(r.promoted ? `${peerName(instance.peerIndex)} (${instance.id}) promoted from learner to voting member` : `promotion of ${peerName(instance.peerIndex)} failed: ${r.detail}`);
    });
    this.background.track(p).catch(() => undefined);
  }

  private startEtcd(instance: Instance, configFile: string, env: NodeJS.ProcessEnv): void {
    const etcd = spawnInNamespace(instance.host.namespace, 'etcd', ['--config-file', configFile], join(instance.dir, 'etcd.log'), env);
    instance.etcd = etcd;
    instance.state = 'running';
    instance.etcdStartedAt = Date.now();
    etcd.on('exit', (code, signal) => {
      if (instance.terminating || this.stopped) return;
      // etcd died on its own: the instance fails its health check and the group replaces it.
      this.progress(`etcd on ${instance.id} (peer-${instance.peerIndex}) exited (${signal ?? code}); replacing the instance`);
      void this.terminate(instance, { reason: 'etcd exited' }).catch(() => undefined);
    });
  }

  /**
   * Terminates an instance as EC2 would: processes die at once; the volume is
   * released (unmounted, loop device freed) after `releaseVolumeAfterMs`; then,
   * with autoHeal, the group launches a replacement.
   */
  async terminate(
    instance: Instance,
    options: { reason: string; releaseVolumeAfterMs?: number; replace?: boolean; loseVolume?: boolean; handOff?: boolean } = { reason: 'terminated' },
  ): Promise<void> {
    if (instance.state === 'terminated' || (instance.terminating && instance.state === 'shutting-down')) return;
    instance.terminating = true;
    instance.state = 'shutting-down';
    // A planned termination (the terminate hook): the agent's hand-off moves leadership away, stops etcd and releases the volume.
    if (options.handOff) instance.handOff = await handOffLocally(instance, () => this.ec2.releaseVolume(join(instance.dir, 'data')), (line) => this.progress(line));
    await killAndWait(instance.etcd);
    const replace = (options.replace ?? true) && this.autoHeal && !this.stopped;
    const release = async () => {
      if (options.releaseVolumeAfterMs) await sleep(options.releaseVolumeAfterMs);
      await this.ec2.releaseVolume(join(instance.dir, 'data'));
      if (options.loseVolume) await this.ec2.loseVolume(instance.peerIndex);
      await this.ec2.removeHost(instance.host);
      instance.state = 'terminated';
      await this.updater.terminated(instance.peerIndex, instance.id);
    };
    // With a delayed release, the old instance still holds the volume while its replacement boots.
    if (options.releaseVolumeAfterMs) this.background.track(release()).catch(() => undefined);
    else await release();
    this.progress(`terminated ${instance.id} (peer-${instance.peerIndex}): ${options.reason}`);
    if (replace) this.launch(instance.peerIndex).catch(() => undefined);
  }

  /**
   * Fires every peer's snapshot timer at once, through the real agent CLI, as
   * the systemd timers would; only the leader should take one.
   */
  async snapshotAll(): Promise<SnapshotRound> {
    const result = readSnapshotRound((await this.onEveryPeer('snapshot')).map((r) => r.output));
    this.progress(`snapshot timers fired on every peer: ${result.taken} taken (the leader), ${result.skipped} skipped`);
    return result;
  }

  /** Runs an agent timer's subcommand on every running peer at once, as the systemd timers would; a run that could not finish is exit code -1 with the reason. */
  onEveryPeer(subcommand: 'snapshot' | 'metrics'): Promise<{ peer: number; output: CommandResult }[]> {
    const running = peerIndices(this.options.peers)
      .map((i) => this.current(i))
      .filter((i): i is Instance => i?.state === 'running');
    const runOn = (i: Instance) => this.agent.run(i.host.namespace, subcommand, join(i.dir, 'agent.json'), 120_000).catch((e: Error) => ({ code: -1, stdout: '', stderr: e.message }));
    return Promise.all(running.map(async (i) => ({ peer: i.peerIndex, output: await runOn(i) })));
  }

  /** Runs an agent subcommand on peer `peerIndex`'s running instance, as its timer would; `undefined` while it has none. */
  async runOnPeer(peerIndex: number, subcommand: 'maintain' | 'snapshot', timeoutMs: number): Promise<CommandResult | undefined> {
    const instance = this.current(peerIndex);
    if (instance?.state !== 'running') return undefined;
    return this.agent.run(instance.host.namespace, subcommand, join(instance.dir, 'agent.json'), timeoutMs);
  }

  /** Kills the instances of these peers at once (groups replace them); with `loseVolumes` their volumes are replaced by empty ones. */
  async kill(peerIndexes: number[], reason: string, options: { loseVolumes?: boolean } = {}): Promise<void> {
    const victims = peerIndexes.map((i) => this.current(i)).filter((i): i is Instance => !!i);
    this.progress(`kill ${victims.map((v) => `peer-${v.peerIndex} (${v.id})`).join(', ')}: ${reason}`);
    await Promise.all(victims.map((v) => this.terminate(v, { reason, loseVolume: options.loseVolumes })));
  }

  /** Endpoints of the running peers, by the addresses DNS gives their names. */
  endpoints(): Endpoint[] {
    const records = this.dns.readRecords();
    return peerIndices(this.options.peers).map((i) => ({ name: peerFqdn(this.domain, i), ip: records.get(peerFqdn(this.domain, i)) ?? PLACEHOLDER_ADDRESS }));
  }

  /** How many peers answer healthy on /health. */
  async healthyCount(timeoutMs = 1000): Promise<number> {
    const results = await Promise.all(this.endpoints().map((e) => (e.ip === PLACEHOLDER_ADDRESS ? false : this.client.health(e, timeoutMs))));
    return results.filter(Boolean).length;
  }

  /** Waits until every peer is healthy; returns when, or throws at the deadline. */
  async waitAllHealthy(timeoutMs: number): Promise<number> {
    let last = -1;
    return pollUntil(
      async () => {
        const healthy = await this.healthyCount(800);
        if (healthy !== last) this.progress(`${healthy}/${this.options.peers} peers healthy`);
        last = healthy;
        return healthy === this.options.peers ? done(Date.now()) : notYet(`only ${healthy}/${this.options.peers} peers healthy`);
      },
      { timeoutMs, delayMs: 200, onTimeout: (reason) => new Error(`${reason} after ${timeoutMs / 1000}s; logs in ${this.options.dir}/instances`) },
    );
  }

  /** Member list (name → member id; a learner's name marked), as a client sees it. */
  members(): Promise<Map<string, string>> {
    return memberList(this.clientHost!, this.domain, this.clientFiles!, this.template.env);
  }

  /** Stops everything and removes every trace: processes, mounts, loop devices, namespaces, links, DNS. */
  async teardown(): Promise<void> {
    this.stopped = true;
    for (const instance of this.instances) await killAndWait(instance.etcd, 3000);
    await this.background.settle(20_000);
    this.client?.close();
    await this.dns?.stop();
    await cleanLeftovers(this.options.dir);
    await restoreForwarding();
  }
}
