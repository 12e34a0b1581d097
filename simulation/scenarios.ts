/**
 * The scenarios: each boots the local cluster, writes while a failure is
 * injected, waits for the groups to heal it, and ends by checking that every
 * acknowledged write is still readable.
 */
import { bundleNodeAgent } from '../runtime/bundle';
import { peerIndices } from '../contract/naming';
import { failureBudget } from '../contract/topology';
import { etcdBinaries, EtcdBinaries, EtcdMinor } from '../runtime/etcd-binaries';
import { LocalCluster } from './cluster';
import { FAILURES, ScenarioName } from './failures';
import { collectPeerMetrics, PeerMetrics } from './peer-metrics';
import { discoverClientEndpoints, LoadEvent, LoadGenerator } from './load';
import type { DatabaseScenarioReport } from './database-failures';
import type { RollScenarioReport } from './roll-failures';
import { MaintenanceTimers } from './maintenance-timers';
import { HealthSampler } from './health-sampler';
import { done, notYet, pollUntil, sleep } from '../runtime/retry';

export { SCENARIOS } from './failures';
export type { ScenarioName } from './failures';

/** Options of {@link runScenario}. */
export interface ScenarioOptions {
  readonly peers: number;
  readonly zones: number;
  /** Working directory; wiped at start. */
  readonly dir: string;
  readonly progress?: (line: string) => void;
  /** The etcd binaries every process of the run uses (see `runtime/etcd-binaries.ts`). */
  readonly etcd: EtcdBinaries;
  /** Receives the cluster as soon as it exists (the CLI tears it down on Ctrl-C). */
  readonly onCluster?: (cluster: LocalCluster) => void;
}

/** Figures of one run; the JSON report carries these keys (the database scenarios add theirs). */
export interface ScenarioResult extends DatabaseScenarioReport, RollScenarioReport {
  readonly scenario: ScenarioName;
  readonly peers: number;
  readonly zones: number;
  readonly acked: number;
  readonly failed: number;
  readonly lost: number;
  readonly maxUnavailableSeconds: number;
  readonly recoverySeconds: number;
  readonly agentMsMedian: number;
  /** What the members reported on `/version` once healed (distinct versions joined), whatever was asked for. */
  readonly etcdVersion: string;
  /** Reads of acknowledged keys that no member answered. */
  readonly readFailures: number;
  readonly bootstrapSeconds: number;
  /** From the last replacement's etcd start to every peer healthy. */
  readonly healthyAfterLastEtcdStartSeconds: number;
  readonly memberIdsUnchanged: boolean;
  /** Peers whose member id changed (expected only where a volume was lost). */
  readonly memberIdsChanged: string[];
  readonly membersBefore: Record<string, string>;
  readonly membersAfter: Record<string, string>;
  /**
   * Instances launched after the failure; `hookCompleted`: the real DNS updater completed its launch lifecycle
   * action; `promotedFromLearner`: it rejoined as a learner and was promoted (absent if it never was a learner).
   */
  readonly replacements: { peer: number; instanceId: string; ip: string; hookCompleted: boolean; promotedFromLearner?: boolean }[];
  readonly lostKeys: string[];
  /** Members whose own data the end check read (each must hold every acknowledged write), and those it could not read. */
  readonly verifiedMembers: number;
  readonly unreadMembers: string[];
  /**
   * `volumes-lost` only: the snapshot the cluster came back from, and the writes acknowledged after it and
   * before every volume was lost (gone by design: the recovery point). `lost` counts only the other writes.
   */
  readonly recoveryPoint?: {
    readonly snapshotRevision: number;
    readonly secondsFromSnapshotToLoss: number;
    readonly writesAfterSnapshot: number;
    readonly lostAfterSnapshot: number;
    readonly restoredPeers: number;
  };
  /** What every peer published (`node-agent metrics`) at the end of the run, after the snapshot: peer → metric → value. */
  readonly metrics: PeerMetrics;
  /** What every peer published over the time the failure was on (slow-disk only). */
  readonly metricsDuringFailure?: PeerMetrics;
  /** Every peer's snapshot timer fired once after healing: how many took one (only the leader should). */
  readonly snapshot: { readonly taken: number; readonly skipped: number; readonly members?: number; readonly revision?: number };
  /** Maintenance timer runs (`node-agent maintain`, one line each) and runs without their line, when the scenario ran them. */
  readonly maintenance?: { readonly runs: number; readonly actions: Record<string, number>; readonly broken: string[] };
  readonly timeline: { readonly startedAt: number; readonly load: LoadEvent[]; readonly healthy: { at: number; healthy: number }[]; readonly marks: { at: number; what: string }[] };
}


/** Why scenario `name` cannot run with `--etcd minor`: one that upgrades from `minor` has nothing to upgrade to. */
export function formationProblem(name: ScenarioName, minor: EtcdMinor): string | undefined {
  const formOn = FAILURES[name].formOn;
  if (formOn && minor === formOn) return `${name} forms the cluster on etcd ${formOn} and upgrades it to the --etcd version; --etcd ${formOn} leaves nothing to upgrade: use --etcd 3.5`;
  return undefined;
}

/** Runs one scenario end to end, always cleaning up. */
export async function runScenario(name: ScenarioName, options: ScenarioOptions): Promise<ScenarioResult> {
  const progress = options.progress ?? (() => undefined);
  const budget = failureBudget(options.peers, options.zones);
  progress(`scenario ${name}: ${options.peers} peers over ${options.zones} zones (quorum ${budget.quorum}), etcd ${options.etcd.version} from ${options.etcd.dir}`);
  const agent = bundleNodeAgent();
  const failure = FAILURES[name];
  const formOn = failure.formOn;
  const problem = formationProblem(name, options.etcd.minor);
  if (problem) throw new Error(problem);
  const cluster = new LocalCluster({ peers: options.peers, zones: options.zones, dir: options.dir, agentPath: agent.path, progress, etcd: formOn ? etcdBinaries(formOn) : options.etcd, database: failure.database });
  options.onCluster?.(cluster);
  let startedAt = Date.now();
  const marks: { at: number; what: string }[] = [];
  let sampler: HealthSampler | undefined;
  let load: LoadGenerator | undefined;
  let timers: MaintenanceTimers | undefined;
  try {
    await cluster.setup();
    const bootStart = Date.now();
    await cluster.launchAll();
    await cluster.waitAllHealthy(90_000);
    const bootstrapSeconds = (Date.now() - bootStart) / 1000;
    progress(`bootstrap: ${options.peers} healthy in ${bootstrapSeconds.toFixed(1)} s`);
    const membersBefore = await cluster.members();

    startedAt = Date.now();
    sampler = new HealthSampler({ peers: options.peers, endpoints: () => cluster.endpoints(), health: (e, ms) => cluster.client.health(e, ms) });
    sampler.start();
    load = new LoadGenerator(cluster.client, () => discoverClientEndpoints(cluster.clientZone.gateway, cluster.domain, true));
    load.start();
    if (failure.maintenanceEveryMs) {
      timers = new MaintenanceTimers(cluster, options.peers, failure.maintenanceEveryMs);
      timers.start();
    }
    await sleep(3000);
    progress(`load running: ${load.ackedCount} writes acknowledged so far`);

    const instancesBefore = new Set(cluster.instances.map((i) => i.id));
    const mark = (what: string) => marks.push({ at: Date.now(), what });
    const injectedAt = Date.now();
    if (formOn) cluster.useEtcd(options.etcd);
    const unavailableSeconds = (from: number, to: number) => round(maxAckGap(load!.events, from, to) / 1000);
    const ackedBetween = (from: number, to: number) => load!.events.filter((e) => e.kind === 'ack' && e.at >= from && e.at <= to).length;
    const outcome = await FAILURES[name].inject({ cluster, peers: options.peers, zones: options.zones, progress, mark, runDir: options.dir, unavailableSeconds, ackedBetween, maintenance: timers });
    const faultAt = outcome.faultAt ?? injectedAt;
    const recoveryFrom = outcome.recoveryFrom ?? faultAt;
    const beforeLoss = outcome.beforeLoss;

    // Healed: every peer healthy, and no replacement still booting.
    await pollUntil(
      async () => (peerIndices(options.peers).every((i) => cluster.current(i)?.state === 'running') ? done(undefined) : notYet('waiting for every peer to have a running instance')),
      { timeoutMs: 180_000, delayMs: 200, onTimeout: (reason, ms) => new Error(`timed out after ${ms / 1000}s ${reason}`) },
    );
    const recoveredAt = await cluster.waitAllHealthy(180_000);
    mark('all healthy');
    const etcdVersion = await runningVersion(cluster);
    const replacementsList = cluster.instances.filter((i) => !instancesBefore.has(i.id));
    const lastEtcdStart = Math.max(...replacementsList.map((i) => i.etcdStartedAt ?? 0), recoveryFrom);
    progress(`healed: all ${options.peers} healthy ${((recoveredAt - recoveryFrom) / 1000).toFixed(1)} s after the failure`);

    await sleep(3000);
    await load.stop();
    await timers?.stop();
    const loadStoppedAt = Date.now();
    await sampler.stop();
    // volumes-lost: acknowledged after the snapshot and before the loss, so gone by design (the recovery point).
    const afterSnapshot = new Set(
      beforeLoss ? [...load.ackedDetail].filter(([, d]) => d.at <= beforeLoss!.at && d.revision > beforeLoss!.revision).map(([key]) => key) : [],
    );
    const verified = await load.verify(afterSnapshot);
    const lost = verified.lost;
    let recoveryPoint: ScenarioResult['recoveryPoint'];
    if (beforeLoss) {
      const snapshotMark = marks.find((m) => m.what.startsWith('snapshot at revision'))!;
      recoveryPoint = {
        snapshotRevision: beforeLoss.revision,
        secondsFromSnapshotToLoss: round((faultAt - snapshotMark.at) / 1000),
        writesAfterSnapshot: afterSnapshot.size,
        lostAfterSnapshot: verified.gone,
        restoredPeers: cluster.instances.filter((i) => !instancesBefore.has(i.id) && i.restoredFrom !== undefined).length,
      };
      progress(
        `recovery point: ${recoveryPoint.writesAfterSnapshot} writes acknowledged in the ${recoveryPoint.secondsFromSnapshotToLoss} s after the snapshot, ${recoveryPoint.lostAfterSnapshot} of them gone; ${recoveryPoint.restoredPeers} peers restored`,
      );
    }
    const snap = await cluster.snapshotAll();
    const metrics = await collectPeerMetrics(cluster, progress);
    const membersAfter = await cluster.members();
    const memberIdsChanged = [...membersBefore].filter(([peer, id]) => membersAfter.get(peer) !== id).map(([peer]) => peer);
    const memberIdsUnchanged = membersAfter.size === options.peers && memberIdsChanged.length === 0;
    const agentTimes = (replacementsList.length ? replacementsList : cluster.instances).map((i) => i.agentMs).filter((t): t is number => t !== undefined);

    const result: ScenarioResult = {
      scenario: name,
      peers: options.peers,
      zones: options.zones,
      acked: load.ackedCount,
      failed: load.failedWrites,
      lost: lost.length,
      // Measured while the load ran: what follows (verification, snapshots) is not client-facing time.
      maxUnavailableSeconds: round(maxAckGap(load.events, faultAt, loadStoppedAt) / 1000),
      recoverySeconds: round((recoveredAt - recoveryFrom) / 1000),
      agentMsMedian: median(agentTimes),
      etcdVersion,
      readFailures: load.readFailures,
      bootstrapSeconds: round(bootstrapSeconds),
      healthyAfterLastEtcdStartSeconds: round(Math.max(0, recoveredAt - lastEtcdStart) / 1000),
      memberIdsUnchanged,
      memberIdsChanged,
      membersBefore: Object.fromEntries(membersBefore),
      membersAfter: Object.fromEntries(membersAfter),
      replacements: replacementsList.map((i) => ({
        peer: i.peerIndex,
        instanceId: i.id,
        ip: i.host.ip,
        hookCompleted: cluster.lifecycleCompleted.has(i.id),
        ...(i.promoted !== undefined ? { promotedFromLearner: i.promoted } : {}),
      })),
      lostKeys: lost.slice(0, 20),
      verifiedMembers: verified.members,
      unreadMembers: verified.unread,
      recoveryPoint,
      metrics,
      ...(outcome.metricsDuringFailure ? { metricsDuringFailure: outcome.metricsDuringFailure } : {}),
      snapshot: { taken: snap.taken, skipped: snap.skipped, members: snap.uploaded[0]?.members, revision: snap.uploaded[0]?.revision },
      ...(timers ? { maintenance: { runs: timers.lines.length, actions: countBy(timers.lines.map((l) => l.action)), broken: timers.broken } } : {}),
      timeline: { startedAt, load: load.events, healthy: sampler.levels(), marks },
      ...(outcome.report as Partial<ScenarioResult> | undefined),
    };
    progress(`verified on ${result.verifiedMembers} members: ${result.acked} acknowledged writes, ${result.lost} lost, ${result.failed} failed after retries`);
    return result;
  } finally {
    await sampler?.stop().catch(() => undefined);
    await load?.stop().catch(() => undefined);
    await timers?.stop().catch(() => undefined);
    progress('cleaning up: processes, mounts, loop devices, namespaces');
    await cluster.teardown();
  }
}

/** Longest time without an acknowledged write between `from` and `to`. */
export function maxAckGap(events: readonly LoadEvent[], from: number, to: number): number {
  const acks = events.filter((e) => e.kind === 'ack' && e.at >= from && e.at <= to).map((e) => e.at);
  let previous = from;
  let gap = 0;
  for (const at of acks) {
    gap = Math.max(gap, at - previous);
    previous = at;
  }
  return Math.max(gap, to - previous);
}

export function median(values: number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : Math.round((sorted[mid - 1] + sorted[mid]) / 2);
}

const round = (n: number) => Math.round(n * 100) / 100;

/**
 * The version the running members report about themselves (`/version`), not the one asked for: distinct
 * versions are joined, so a run that mixed binaries shows it.
 */
async function runningVersion(cluster: LocalCluster): Promise<string> {
  const versions = await Promise.all(cluster.endpoints().map((e) => cluster.client.serverVersion(e, 5000).catch(() => undefined)));
  const distinct = [...new Set(versions.filter((v): v is string => v !== undefined))].sort();
  if (distinct.length === 0) throw new Error('no member reported its version on /version');
  return distinct.join(', ');
}

const countBy = (values: string[]) => values.reduce<Record<string, number>>((acc, v) => ({ ...acc, [v]: (acc[v] ?? 0) + 1 }), {});
