/**
 * The local cluster: the AWS pieces played on one Linux machine.
 *
 * - Auto Scaling: a supervisor keeps one instance per peer; an instance that
 *   dies is replaced by a new one with a new namespace and a NEW IP.
 * - Route 53 + the DNS updater: the real Lambda handler (`handleEvent`) runs
 *   on every launch and termination, through a local adapter that writes
 *   dnsmasq's records.
 * - EBS: peer i's volume is a sparse file that outlives its instances; the real
 *   node agent (local mode) attaches it as a loop device, formats it only if
 *   empty, mounts it and writes etcd's config.
 * - etcd: Debian's etcd, TLS peers, `--discovery-srv` through dnsmasq.
 */
import { ChildProcess, spawn } from 'child_process';
import { closeSync, createWriteStream, openSync, promises as fs } from 'fs';
import { join } from 'path';
import { autoScalingGroupName, ETCD_CLIENT_PORT, ETCD_PEER_PORT, peerFqdn, peerIndexOfGroup, peerIndices, peerName, PLACEHOLDER_ADDRESS, srvNames, zoneIndexOf } from '../contract/naming';
import { RecordChangeRejected, UpdaterPort } from '../lambda/port';
import { LifecycleAction } from '../lambda/events';
import { handleEvent, UpdaterSettings } from '../lambda/index';
import { ObservedInstance, ObservedRecord } from '../lambda/reconcile';
import { jsonLogger, Logger } from '../runtime/log';
import { buildAgentConfig } from '../contract/agent-config';
import { AUTO_SCALING_DETAIL_TYPES, AUTO_SCALING_SOURCE, LAUNCH_HOOK_NAME, LAUNCH_TRANSITION } from '../contract/events';
import { learnerMarkerFile } from '../node-agent/learner';
import { readMountTable, run, runChecked } from '../node-agent/system';
import { DnsmasqServer } from './dns';
import { EtcdHttpClient, Endpoint } from './etcd-client';
import { createHost, createZone, destroyHost, enableForwarding, healZone, Host, partitionZone, PREFIX, removeLeftoverNetwork, restoreForwarding, Zone, zoneAt } from './net';
import { DirectoryCaStore } from '../node-agent/ca-store';
import { CertificateMaterial, createCa, issueCertificate } from '../node-agent/pki';
import { sleep } from '../runtime/retry';

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
}

type InstanceState = 'pending' | 'running' | 'shutting-down' | 'terminated';

/** One instance playing a peer. */
export interface Instance {
  readonly id: string;
  readonly peerIndex: number;
  readonly host: Host;
  readonly launchedAt: number;
  readonly dir: string;
  state: InstanceState;
  etcd?: ChildProcess;
  /** Agent run time (attach → mount → config → own name), from its own report. */
  agentMs?: number;
  /** When etcd was started. */
  etcdStartedAt?: number;
  /** The snapshot its agent restored the data dir from, if it did. */
  restoredFrom?: string;
  /** Joined as a learner: whether the promotion to voting member succeeded (undefined while running or never needed). */
  promoted?: boolean;
  /** A terminate was requested (kill), as opposed to etcd dying on its own. */
  terminating: boolean;
}

/** Something the supervisor did, for the report and the picture. */
export interface ClusterEvent {
  readonly at: number;
  readonly what: string;
}

/** Work directories of runs that have not cleaned up yet, so a later run can clean after a killed one. */
const RUN_REGISTRY = '/run/etcdsim-runs.json';

async function readRunRegistry(): Promise<string[]> {
  try {
    return JSON.parse(await fs.readFile(RUN_REGISTRY, 'utf8'));
  } catch {
    return [];
  }
}

async function writeRunRegistry(dirs: string[]): Promise<void> {
  if (dirs.length === 0) await fs.rm(RUN_REGISTRY, { force: true });
  else await fs.writeFile(RUN_REGISTRY, JSON.stringify(dirs));
}

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

  private readonly caStore: DirectoryCaStore;
  private ca?: CertificateMaterial;
  private readonly log: Logger;
  private nextInstance = 1;
  private readonly nextHostOctet = new Map<number, number>();
  private readonly pendingLaunches = new Set<Promise<unknown>>();
  /** Instances whose launch hook the DNS updater completed. */
  readonly lifecycleCompleted = new Set<string>();
  private readonly updaterSettings: UpdaterSettings;
  private stopped = false;

  constructor(private readonly options: LocalClusterOptions) {
    this.clusterName = options.clusterName ?? 'sim';
    this.domain = options.domain ?? 'sim.etcd.test';
    this.zones = Array.from({ length: options.zones }, (_, z) => zoneAt(z));
    this.caStore = new DirectoryCaStore(join(options.dir, 'ca'));
    this.log = jsonLogger({ component: 'local-cluster' }, () => undefined);
    this.updaterSettings = { clusterName: this.clusterName, domain: this.domain, peerCount: options.peers, hostedZoneId: 'local', recordTtl: 1 };
  }

  private progress(line: string): void {
    this.events.push({ at: Date.now(), what: line });
    this.options.progress?.(line);
  }

  /** Creates zones, certificates, volumes and the DNS server. Cleans what a killed earlier run left. */
  async setup(): Promise<void> {
    await this.cleanLeftovers();
    await writeRunRegistry([this.options.dir]);
    await fs.mkdir(this.options.dir, { recursive: true });
    // A fresh run starts from fresh instances, volumes, CA and bucket; a reused directory must not mix runs
    // (an earlier run's snapshots would rightly be restored into the new cluster).
    for (const sub of ['instances', 'volumes', 'ca', 'client', 'backups']) await fs.rm(join(this.options.dir, sub), { recursive: true, force: true });
    await fs.mkdir(join(this.options.dir, 'volumes'), { recursive: true });
    await fs.mkdir(join(this.options.dir, 'instances'), { recursive: true });
    await enableForwarding();
    for (const zone of [...this.zones, this.clientZone]) await createZone(zone);

    // The same CA store and issuing code as the agents: whoever comes first creates the CA, the rest read it.
    this.ca = await this.caStore.getOrCreate(() => createCa(`${this.clusterName} etcd CA`));
    for (const i of peerIndices(this.options.peers)) {
      await runChecked('truncate', ['-s', `${this.options.volumeMiB ?? 256}M`, this.volumeFile(i)]);
    }
    const clientDir = join(this.options.dir, 'client');
    await fs.mkdir(clientDir, { recursive: true });
    const clientCert = await issueCertificate(this.ca, { commonName: `${this.clusterName}-load-generator`, dnsNames: [], lifetimeHours: 24, usage: 'client' });
    await fs.writeFile(join(clientDir, 'ca.crt'), this.ca.certPem);
    await fs.writeFile(join(clientDir, 'client.crt'), clientCert.certPem);
    await fs.writeFile(join(clientDir, 'client.key'), clientCert.keyPem, { mode: 0o600 });
    this.client = new EtcdHttpClient({ ca: join(clientDir, 'ca.crt'), cert: join(clientDir, 'client.crt'), key: join(clientDir, 'client.key') });

    // etcd 3.4 completes SRV discovery only through the -ssl names, so the local cluster runs TLS.
    const names = srvNames(this.domain, true);
    const targets = peerIndices(this.options.peers).map((i) => peerFqdn(this.domain, i));
    this.dns = new DnsmasqServer(this.options.dir, this.domain, [...this.zones, this.clientZone].map((z) => z.gateway), [
      { name: names.server, port: ETCD_PEER_PORT, targets },
      { name: names.client, port: ETCD_CLIENT_PORT, targets },
    ]);
    await this.dns.start(new Map(targets.map((t) => [t, PLACEHOLDER_ADDRESS])));
    this.clientHost = await createHost(`${PREFIX}-client`, `${PREFIX}-vclient`, this.clientZone, `${this.clientZone.prefix}.10`);
    this.progress(`setup: ${this.options.peers} peers over ${this.options.zones} zones, volumes, CA, dnsmasq for ${this.domain}`);
  }

  volumeFile(peerIndex: number): string {
    return join(this.options.dir, 'volumes', `${peerName(peerIndex)}.img`);
  }

  /** The live instance of each peer. */
  current(peerIndex: number): Instance | undefined {
    return [...this.instances].reverse().find((i) => i.peerIndex === peerIndex && (i.state === 'pending' || i.state === 'running'));
  }

  /** Launches one instance for every peer, in parallel, as the groups do at creation. */
  async launchAll(): Promise<void> {
    await Promise.all(peerIndices(this.options.peers).map((i) => this.launch(i)));
  }

  /** Auto Scaling launches a replacement for peer i: new namespace, new IP, real DNS updater, real agent, etcd. */
  launch(peerIndex: number): Promise<Instance> {
    const p = this.doLaunch(peerIndex);
    this.pendingLaunches.add(p);
    p.finally(() => this.pendingLaunches.delete(p)).catch(() => undefined);
    return p;
  }

  private async doLaunch(peerIndex: number): Promise<Instance> {
    this.throwIfStopped();
    const zone = this.zones[zoneIndexOf(peerIndex, this.zones.length)];
    const n = this.nextInstance++;
    const id = `i-${String(n).padStart(4, '0')}`;
    const octet = this.nextHostOctet.get(zone.index) ?? 10;
    this.nextHostOctet.set(zone.index, octet >= 250 ? 10 : octet + 1);
    const host = await createHost(`${PREFIX}-p${peerIndex}-${id}`, `${PREFIX}-v${n}`, zone, `${zone.prefix}.${octet}`);
    const dir = join(this.options.dir, 'instances', id);
    const instance: Instance = { id, peerIndex, host, launchedAt: Date.now(), dir, state: 'pending', terminating: false };
    this.instances.push(instance);
    this.progress(`launch ${id} as peer-${peerIndex} in zone ${zone.index} at ${host.ip}`);

    // The DNS updater handles the launch lifecycle action while the instance boots, as EventBridge would deliver it.
    // The hook only holds the group's in-service step; the agent's wait for its own name is what holds etcd.
    const updater = this.invokeUpdater({
      'detail-type': AUTO_SCALING_DETAIL_TYPES.launchLifecycleAction,
      source: AUTO_SCALING_SOURCE,
      detail: {
        AutoScalingGroupName: autoScalingGroupName(this.clusterName, peerIndex),
        LifecycleHookName: LAUNCH_HOOK_NAME,
        LifecycleActionToken: `token-${id}`,
        EC2InstanceId: id,
        LifecycleTransition: LAUNCH_TRANSITION,
      },
    });

    await fs.mkdir(dir, { recursive: true });
    const config = buildAgentConfig({
      mode: 'local',
      clusterName: this.clusterName,
      domain: this.domain,
      peerIndex,
      peerCount: this.options.peers,
      tls: true,
      dataDir: join(dir, 'data'),
      etcdUser: 'root',
      etcdConfigFile: join(dir, 'etcd.conf.yml'),
      pkiDir: join(dir, 'pki'),
      deadlines: { attachSeconds: 120, forceDetachGraceSeconds: 60, deviceSeconds: 10, dnsSeconds: 60, decideSeconds: 120 },
      // The agent issues this peer's certificate from the cluster CA at every boot.
      ca: { dir: join(this.options.dir, 'ca') },
      backup: { dir: join(this.options.dir, 'backups') },
      certLifetimeHours: 24,
      local: { volumeFile: this.volumeFile(peerIndex), ipAddress: host.ip, instanceId: id, dnsServers: [zone.gateway], netns: host.namespace },
    });
    await fs.writeFile(join(dir, 'agent.json'), JSON.stringify(config, null, 2));

    this.throwIfStopped(instance);
    const agent = await this.runAgent(instance, join(dir, 'agent.json'));
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
    this.startEtcd(instance, config.etcdConfigFile);
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

  /** Runs the bundled agent in the instance's network namespace but the host's mount namespace (so its mount persists). */
  private runAgent(instance: Instance, configFile: string): Promise<{ code: number; durationMs?: number; error?: string; restoredFrom?: string }> {
    return new Promise((resolve) => {
      const log = createWriteStream(join(instance.dir, 'agent.log'));
      // Own process group: a Ctrl-C on the terminal reaches the supervisor, which then stops its children itself.
      const child = spawn('nsenter', [`--net=/run/netns/${instance.host.namespace}`, '--', process.execPath, this.options.agentPath, 'boot', '--config', configFile], {
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
      });
      let durationMs: number | undefined;
      let error: string | undefined;
      let restoredFrom: string | undefined;
      let buffer = '';
      child.stdout!.on('data', (chunk: Buffer) => {
        log.write(chunk);
        buffer += chunk.toString();
        let newline: number;
        while ((newline = buffer.indexOf('\n')) >= 0) {
          const line = buffer.slice(0, newline);
          buffer = buffer.slice(newline + 1);
          try {
            const entry = JSON.parse(line);
            if (entry.msg === 'ready: etcd may start') durationMs = entry.durationMs;
            if (entry.msg === 'snapshot restored') restoredFrom = entry.key;
            if (entry.level === 'error') error = entry.error;
          } catch {
            /* not a log line */
          }
        }
      });
      child.stderr!.on('data', (chunk: Buffer) => log.write(chunk));
      // 'close', not 'exit': stdout may still hold the final report line when the process exits.
      child.on('close', (code) => {
        log.end();
        resolve({ code: code ?? 1, durationMs, restoredFrom, error: error ?? (code === 0 ? undefined : `exit ${code}`) });
      });
    });
  }

  /** Runs the agent's `promote` in the instance, as the learner-promotion unit would after etcd starts. */
  private promote(instance: Instance): void {
    const p = run('nsenter', [`--net=/run/netns/${instance.host.namespace}`, '--', process.execPath, this.options.agentPath, 'promote', '--config', join(instance.dir, 'agent.json')], 300_000).then(
      async (r) => {
        await fs.appendFile(join(instance.dir, 'promote.log'), r.stdout + r.stderr).catch(() => undefined);
        instance.promoted = r.code === 0 && r.stdout.includes('learner promoted to voting member');
        this.progress(instance.promoted ? `${peerName(instance.peerIndex)} (${instance.id}) promoted from learner to voting member` : `promotion of ${peerName(instance.peerIndex)} failed: ${r.stderr.trim().split('\n').pop()}`);
      },
    );
    this.pendingLaunches.add(p);
    p.finally(() => this.pendingLaunches.delete(p)).catch(() => undefined);
  }

  private startEtcd(instance: Instance, configFile: string): void {
    const log = openSync(join(instance.dir, 'etcd.log'), 'a');
    const etcd = spawn('ip', ['netns', 'exec', instance.host.namespace, 'etcd', '--config-file', configFile], { stdio: ['ignore', log, log], detached: true });
    closeSync(log);
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
    options: { reason: string; releaseVolumeAfterMs?: number; replace?: boolean; loseVolume?: boolean } = { reason: 'terminated' },
  ): Promise<void> {
    if (instance.state === 'terminated' || (instance.terminating && instance.state === 'shutting-down')) return;
    instance.terminating = true;
    instance.state = 'shutting-down';
    const etcd = instance.etcd;
    if (etcd && etcd.exitCode === null && etcd.signalCode === null) {
      const exited = new Promise((r) => etcd.once('exit', r));
      etcd.kill('SIGKILL');
      await exited;
    }
    const replace = (options.replace ?? true) && this.autoHeal && !this.stopped;
    const release = async () => {
      if (options.releaseVolumeAfterMs) await sleep(options.releaseVolumeAfterMs);
      await this.releaseVolume(instance);
      if (options.loseVolume) {
        // The volume is gone; the replacement gets a new, empty one (as after restoring the stack's volume resource).
        await fs.rm(this.volumeFile(instance.peerIndex), { force: true });
        await runChecked('truncate', ['-s', `${this.options.volumeMiB ?? 256}M`, this.volumeFile(instance.peerIndex)]);
      }
      await destroyHost(instance.host);
      instance.state = 'terminated';
      await this.invokeUpdater({
        'detail-type': AUTO_SCALING_DETAIL_TYPES.terminateSuccessful,
        source: AUTO_SCALING_SOURCE,
        detail: { AutoScalingGroupName: autoScalingGroupName(this.clusterName, instance.peerIndex), EC2InstanceId: instance.id },
      });
    };
    if (options.releaseVolumeAfterMs) {
      // The old instance still holds the volume while its replacement boots.
      const released = release();
      this.pendingLaunches.add(released);
      released.finally(() => this.pendingLaunches.delete(released)).catch(() => undefined);
    } else {
      await release();
    }
    this.progress(`terminated ${instance.id} (peer-${instance.peerIndex}): ${options.reason}`);
    if (replace) this.launch(instance.peerIndex).catch(() => undefined);
  }

  private async releaseVolume(instance: Instance): Promise<void> {
    const dataDir = join(instance.dir, 'data');
    const mounted = (await readMountTable()).filter((m) => m.mountPoint === dataDir);
    for (let n = 0; n < mounted.length; n++) {
      if ((await run('umount', [dataDir])).code !== 0) await run('umount', ['-l', dataDir]);
    }
    for (const m of mounted) if (m.source.startsWith('/dev/loop')) await run('losetup', ['-d', m.source]);
  }

  /**
   * Fires every peer's snapshot timer at once, through the real agent CLI, as
   * the systemd timers would; only the leader should take one.
   */
  async snapshotAll(): Promise<{ taken: number; skipped: number; uploaded: { keys: string[]; members: number; revision: number }[] }> {
    const runs = peerIndices(this.options.peers)
      .map((i) => this.current(i))
      .filter((i): i is Instance => i?.state === 'running')
      .map((i) =>
        run('nsenter', [`--net=/run/netns/${i.host.namespace}`, '--', process.execPath, this.options.agentPath, 'snapshot', '--config', join(i.dir, 'agent.json')], 120_000),
      );
    const outputs = await Promise.all(runs);
    const lines = outputs.flatMap((o) => o.stdout.split('\n')).filter(Boolean).map((l) => JSON.parse(l));
    const uploaded = lines.filter((l) => l.msg === 'snapshot uploaded').map((l) => ({ keys: l.keys, members: l.members, revision: l.revision }));
    const failed = outputs.filter((o) => o.code !== 0);
    if (failed.length) throw new Error(`snapshot failed on ${failed.length} peer(s): ${failed[0].stderr.trim()}`);
    const result = { taken: uploaded.length, skipped: lines.filter((l) => l.msg === 'snapshot skipped').length, uploaded };
    this.progress(`snapshot timers fired on every peer: ${result.taken} taken (the leader), ${result.skipped} skipped`);
    return result;
  }

  /** Kills the instances of these peers at once (groups replace them); with `loseVolumes` their volumes are replaced by empty ones. */
  async kill(peerIndexes: number[], reason: string, options: { loseVolumes?: boolean } = {}): Promise<void> {
    const victims = peerIndexes.map((i) => this.current(i)).filter((i): i is Instance => !!i);
    this.progress(`kill ${victims.map((v) => `peer-${v.peerIndex} (${v.id})`).join(', ')}: ${reason}`);
    await Promise.all(victims.map((v) => this.terminate(v, { reason, loseVolume: options.loseVolumes })));
  }

  async partition(zoneIndex: number): Promise<void> {
    this.progress(`partition zone ${zoneIndex}`);
    await partitionZone(this.zones[zoneIndex]);
  }

  async heal(zoneIndex: number): Promise<void> {
    this.progress(`heal zone ${zoneIndex}`);
    await healZone(this.zones[zoneIndex]);
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
    const deadline = Date.now() + timeoutMs;
    let last = -1;
    for (;;) {
      const healthy = await this.healthyCount(800);
      if (healthy !== last) this.progress(`${healthy}/${this.options.peers} peers healthy`);
      last = healthy;
      if (healthy === this.options.peers) return Date.now();
      if (Date.now() > deadline) throw new Error(`only ${healthy}/${this.options.peers} peers healthy after ${timeoutMs / 1000}s; logs in ${this.options.dir}/instances`);
      await sleep(200);
    }
  }

  /** Member list (name → member id), by `etcdctl --discovery-srv` from the clients' namespace. */
  async members(): Promise<Map<string, string>> {
    const client = join(this.options.dir, 'client');
    const r = await run('ip', [
      'netns', 'exec', this.clientHost!.namespace, 'etcdctl', '--discovery-srv', this.domain,
      '--cacert', join(client, 'ca.crt'), '--cert', join(client, 'client.crt'), '--key', join(client, 'client.key'),
      '--command-timeout', '5s', '-w', 'simple', 'member', 'list',
    ], 20_000);
    if (r.code !== 0) throw new Error(`etcdctl member list failed: ${(r.stderr || r.stdout).trim().split('\n').pop()}`);
    // Lines: "<hex id>, started, peer-3, https://peer-3…:2380, https://peer-3…:2379, false"; a learner is marked `true`.
    return new Map(r.stdout.trim().split('\n').map((line) => line.split(', ')).map((f) => [f[2] + (f[5] === 'true' ? ' (learner)' : ''), f[0]]));
  }

  /** etcd's version string, as the report prints it. */
  static async etcdVersion(): Promise<string> {
    const out = await runChecked('etcd', ['--version']);
    return /etcd Version: (\S+)/.exec(out)?.[1] ?? out.split('\n')[0];
  }

  /** Stops everything and removes every trace: processes, mounts, loop devices, namespaces, links, DNS. */
  async teardown(): Promise<void> {
    this.stopped = true;
    for (const instance of this.instances) {
      const etcd = instance.etcd;
      if (etcd && etcd.exitCode === null && etcd.signalCode === null) {
        const exited = new Promise((r) => etcd.once('exit', r));
        etcd.kill('SIGKILL');
        await Promise.race([exited, sleep(3000)]);
      }
    }
    const deadline = Date.now() + 20_000;
    while (this.pendingLaunches.size > 0 && Date.now() < deadline) {
      await Promise.race([Promise.allSettled([...this.pendingLaunches]), sleep(1000)]);
    }
    this.client?.close();
    await this.dns?.stop();
    await this.cleanLeftovers();
    await restoreForwarding();
  }

  /**
   * Removes what any run left, this one or a killed one in another directory:
   * every process inside a simulation namespace, our dnsmasq, the mounts and
   * loop devices under every registered work directory, the network.
   */
  private async cleanLeftovers(): Promise<void> {
    const namespaces = (await run('ip', ['netns', 'list'])).stdout.split('\n').map((l) => l.split(' ')[0]).filter((n) => n.startsWith(PREFIX));
    const pids = new Set<string>();
    for (const ns of namespaces) for (const pid of (await run('ip', ['netns', 'pids', ns])).stdout.split(/\s+/).filter(Boolean)) pids.add(pid);
    if (pids.size) await run('kill', ['-9', ...pids]);
    await run('pkill', ['-9', '-f', 'dnsmasq .*peer-records\\.hosts']);
    for (let i = 0; i < 50 && pids.size && (await run('kill', ['-0', ...pids])).code === 0; i++) await sleep(100);

    const dirs = new Set([this.options.dir, ...(await readRunRegistry())]);
    // Backstop for an etcd whose namespace is already gone.
    for (const d of dirs) await run('pkill', ['-9', '-f', `etcd --config-file ${d}/`]);
    const mounts = (await readMountTable()).filter((m) => [...dirs].some((d) => m.mountPoint.startsWith(d + '/'))).reverse();
    for (const m of mounts) await run('umount', ['-l', m.mountPoint]);
    const loops = (await run('losetup', ['-n', '-O', 'NAME,BACK-FILE'])).stdout.split('\n');
    for (const line of loops) {
      const [name, file] = line.trim().split(/\s+/);
      if (name && file && [...dirs].some((d) => file.startsWith(join(d, 'volumes') + '/'))) await run('losetup', ['-d', name]);
    }
    await removeLeftoverNetwork();
    await writeRunRegistry([]);
  }

  private async invokeUpdater(event: unknown): Promise<void> {
    try {
      await this.runUpdaterOnce(event);
    } catch (error) {
      // As on AWS: a failed invocation is retried; the scheduled reconcile catches what is left.
      this.progress(`dns updater failed once (${(error as Error).message}); retrying`);
      await sleep(300);
      await this.runUpdaterOnce(event).catch((e) => this.progress(`dns updater failed again: ${(e as Error).message}`));
    }
  }

  /** One invocation at a time, as the function's reserved concurrency of 1 runs them on AWS. */
  private runUpdaterOnce(event: unknown): Promise<unknown> {
    const run = this.updaterRuns.then(() => handleEvent(event, this.updaterSettings, this.updaterPort(), this.log));
    this.updaterRuns = run.catch(() => undefined);
    return run;
  }

  private updaterRuns: Promise<unknown> = Promise.resolve();

  /** Route 53, EC2 and Auto Scaling as the DNS updater sees them, backed by this supervisor and dnsmasq. */
  private updaterPort(): UpdaterPort {
    return {
      describePeerInstances: async (scope) => {
        const index = 'groupName' in scope ? peerIndexOfGroup(this.clusterName, scope.groupName) : undefined;
        return this.instances
          .filter((i) => index === undefined || i.peerIndex === index)
          .map(
            (i): ObservedInstance => ({ instanceId: i.id, state: i.state, privateIp: i.host.ip, launchTime: new Date(i.launchedAt).toISOString(), peerIndex: i.peerIndex }),
          );
      },
      readPeerRecords: async (fqdn) => {
        const out = new Map<string, ObservedRecord>();
        for (const [name, ip] of this.dns.readRecords()) if (!fqdn || name === fqdn) out.set(name, { values: [ip], ttl: this.updaterSettings.recordTtl });
        return out;
      },
      writePeerRecords: async (writes) => {
        // Conditional like Route 53's DELETE + CREATE batch; exact because invocations run one at a time.
        const now = this.dns.readRecords();
        const changed = writes.filter((w) => now.get(w.fqdn) !== w.expected?.values[0]);
        if (changed.length > 0) throw new RecordChangeRejected(`${changed.map((w) => w.fqdn).join(', ')} changed since it was read`);
        await this.dns.setRecords(new Map(writes.map((w) => [w.fqdn, w.ip])));
      },
      completeLifecycleAction: async (action: LifecycleAction) => {
        if (this.lifecycleCompleted.has(action.instanceId)) return 'not-needed';
        this.lifecycleCompleted.add(action.instanceId);
        return 'completed';
      },
    };
  }
}
