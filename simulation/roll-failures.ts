/**
 * The roll scenarios (issue #16): the roller replaces peers one at a time
 * through the planned hand-off. `rolling-replace` rolls every peer on demand
 * (a new launch template generation, no version change); `rolling-upgrade`
 * moves a cluster formed on 3.4 to the run's etcd; `upgrade-stops` does the
 * same with a broken etcd for the second replacement, and the roller must stop
 * there while the cluster keeps its quorum and its writes.
 */
import { promises as fs } from 'fs';
import { join } from 'path';
import { peerName } from '../contract/naming';
import { failureBudget } from '../contract/topology';
import { DEFAULT_ROLL_POLICY, RollDecision, RollPolicy } from '../lambda/roller';
import { done, notYet, pollUntil, sleep } from '../runtime/retry';
import { brokenEtcd, BROKEN_ETCD_MESSAGE } from './broken-etcd';
import type { LocalCluster } from './cluster';
import type { Failure, FailureContext } from './failures';
import type { Instance } from './instance';
import { RollReport, rollLocally } from './roller';

/** What the roll scenarios add to the report (top-level keys of the JSON). */
export interface RollScenarioReport {
  /** `rolling-upgrade`, `upgrade-stops`: the cluster version etcd reported on /version before and after. */
  readonly clusterVersionBefore?: string;
  readonly clusterVersionAfter?: string;
  /** The longest gap without an acknowledged write during each replacement (until the stop for the one it stopped at). */
  readonly stepUnavailableSeconds?: number[];
  readonly leaderChanges?: number;
  /** Each replacement: its peer, the etcd it ran, where leadership went, seconds from the roller's decision to all healthy (or to the stop). */
  readonly rollSteps?: { peer: string; from: string; leadership: string; seconds: number }[];
  /** `upgrade-stops`: the roller stopped, at which peer, and the reason it gave. */
  readonly rollerStopped?: boolean;
  readonly stoppedAtPeer?: string;
  readonly stopReason?: string;
  /** `upgrade-stops`: the last line the broken peer's etcd wrote (why it cannot start), and how many instances the group launched with it. */
  readonly stoppedPeerEtcdLog?: string;
  readonly brokenLaunches?: number;
  /** `upgrade-stops`: writes acknowledged over the seconds after the stop, and the longest gap without one then. */
  readonly afterStop?: { readonly seconds: number; readonly acked: number; readonly unavailableSeconds: number };
  /** `upgrade-stops`: the fewest members healthy at once from the roll's start to the fix, and the quorum. */
  readonly healthyLowest?: number;
  readonly quorum?: number;
}

/** upgrade-stops: the replacement (from 0) that gets the broken etcd, the roller's deadline, and how long writes are watched after the stop. */
export const UPGRADE_STOPS = { brokenStep: 1, replaceDeadlineSeconds: 40, watchAfterStopSeconds: 6 } as const;

/**
 * The roll policy of the local scenarios: statuses are published every second here, so 15 s is old; a snapshot is
 * taken when the roller asks.
 */
const localPolicy = (replaceDeadlineSeconds: number): RollPolicy => ({ ...DEFAULT_ROLL_POLICY, statusMaxAgeSeconds: 15, replaceDeadlineSeconds, freshSnapshotSeconds: 120 });

/** The roll's figures for the report: each step's unavailability, its peer, version, leadership and length. */
function stepFigures(ctx: FailureContext, roll: RollReport): Pick<RollScenarioReport, 'stepUnavailableSeconds' | 'rollSteps' | 'leaderChanges'> {
  const end = (s: RollReport['steps'][number]) => s.healthyAt ?? Date.now();
  return {
    stepUnavailableSeconds: roll.steps.map((s) => ctx.unavailableSeconds(s.startedAt, end(s))),
    rollSteps: roll.steps.map((s) => ({ peer: peerName(s.peer), from: s.from, leadership: s.leadership, seconds: Math.round((end(s) - s.startedAt) / 100) / 10 })),
    leaderChanges: roll.leaderChanges,
  };
}

/**
 * Whether a roll ended as upgrade-stops expects: stopped by the deadline row at the broken peer. `undefined`
 * when it did, else what happened instead (the scenario fails with it).
 */
export function unexpectedEnd(end: RollDecision, brokenPeer: number | undefined): string | undefined {
  if (brokenPeer === undefined) return `the roller ended (${end.action}: ${end.reason}) before its replacement ${UPGRADE_STOPS.brokenStep + 1}, which was to get the broken etcd`;
  if (end.action !== 'stop') return `the roller did not stop at ${peerName(brokenPeer)}, whose etcd cannot start: ${end.action}: ${end.reason}`;
  if (end.peer !== brokenPeer) return `the roller stopped at ${end.peer === undefined ? 'no peer' : peerName(end.peer)}, not at ${peerName(brokenPeer)}, whose etcd cannot start: ${end.reason}`;
  return undefined;
}

export const rollingReplace: Failure = {
  newMembers: () => [],
  inject: async (ctx) => {
    // On AWS: raise rolling.generation. Every instance is then out of date, with no version change.
    ctx.cluster.template.rollGeneration();
    ctx.mark('launch template: new generation');
    ctx.progress('new launch template generation: the roller replaces every peer, one at a time, the leader last');
    const roll = await rollLocally(ctx.cluster, { runDir: ctx.runDir, peers: ctx.peers, progress: ctx.progress, mark: ctx.mark, policy: localPolicy(120) });
    if (roll.end.action !== 'done') throw new Error(`the roller stopped: ${roll.end.reason}`);
    return { report: stepFigures(ctx, roll) };
  },
};

/** The etcd minor the rolling scenarios form the cluster on, before the roll to the run's etcd. */
const FORMED_ON = '3.4';

export const rollingUpgrade: Failure = {
  newMembers: () => [],
  formOn: FORMED_ON,
  inject: async (ctx) => {
    // The launch template now installs the run's etcd (--etcd, 3.5 by default); the roller replaces every peer through the hand-off.
    const target = ctx.cluster.template.etcd;
    const clusterVersionBefore = await clusterVersionReaching(ctx.cluster, FORMED_ON);
    ctx.mark(`launch template: etcd ${target.version}`);
    ctx.progress(`new launch template: etcd ${target.version}; the roller replaces one peer at a time, the leader last`);
    const roll = await rollLocally(ctx.cluster, { runDir: ctx.runDir, peers: ctx.peers, progress: ctx.progress, mark: ctx.mark, policy: localPolicy(120) });
    if (roll.end.action !== 'done') throw new Error(`the roller stopped: ${roll.end.reason}`);
    return {
      report: {
        clusterVersionBefore,
        // etcd raises the cluster version shortly after the last member runs the new minor.
        clusterVersionAfter: await clusterVersionReaching(ctx.cluster, target.minor),
        ...stepFigures(ctx, roll),
      },
    };
  },
};

export const upgradeStops: Failure = {
  newMembers: () => [],
  formOn: FORMED_ON,
  inject: async (ctx) => {
    const target = ctx.cluster.template.etcd;
    const broken = await brokenEtcd(target, join(ctx.runDir, 'broken-etcd'));
    const clusterVersionBefore = await clusterVersionReaching(ctx.cluster, FORMED_ON);
    ctx.mark(`launch template: etcd ${target.version}`);
    ctx.progress(`new launch template: etcd ${target.version}; replacement ${UPGRADE_STOPS.brokenStep + 1} gets an etcd that cannot start; the roller's deadline is ${UPGRADE_STOPS.replaceDeadlineSeconds} s`);
    // How many members answer at once, all along: never fewer than a quorum.
    let sampling = true;
    let healthyLowest = ctx.peers;
    const sampler = (async () => {
      while (sampling) {
        healthyLowest = Math.min(healthyLowest, await ctx.cluster.healthyCount(1500));
        await sleep(500);
      }
    })();
    let brokenPeer: number | undefined;
    let roll: RollReport;
    try {
      roll = await rollLocally(ctx.cluster, {
        runDir: ctx.runDir,
        peers: ctx.peers,
        progress: ctx.progress,
        mark: ctx.mark,
        policy: localPolicy(UPGRADE_STOPS.replaceDeadlineSeconds),
        beforeReplace: (peer, step) => {
          if (step !== UPGRADE_STOPS.brokenStep) return;
          // Only this group's launches get the broken binary: the group's own launch template, as each peer has on AWS.
          brokenPeer = peer;
          ctx.cluster.template.useEtcdFor(peer, broken);
          ctx.mark(`${peerName(peer)}'s new etcd is broken`);
          ctx.progress(`${peerName(peer)}'s replacements start a broken etcd ("${BROKEN_ETCD_MESSAGE}")`);
        },
      });
      const wrong = unexpectedEnd(roll.end, brokenPeer);
      if (wrong) throw new Error(wrong);
      const stoppedAt = Date.now();
      ctx.progress(`roller stopped at ${peerName(brokenPeer!)}: ${roll.end.reason}; writing on for ${UPGRADE_STOPS.watchAfterStopSeconds} s`);
      await sleep(UPGRADE_STOPS.watchAfterStopSeconds * 1000);
      const watchedUntil = Date.now();
      const peer = brokenPeer!;
      const brokenStart = roll.steps[UPGRADE_STOPS.brokenStep].startedAt;
      const launches = ctx.cluster.instances.filter((i) => i.peerIndex === peer && i.launchedAt >= brokenStart);
      // The fix: the group's template installs the good binary again; its next launch comes back as the same member.
      ctx.cluster.template.useEtcdFor(peer, undefined);
      ctx.mark(`${peerName(peer)}'s launch template fixed`);
      ctx.progress(`${peerName(peer)}'s launch template fixed: its next launch runs etcd ${target.version}`);
      const fixedAt = Date.now();
      sampling = false;
      await sampler;
      return {
        recoveryFrom: fixedAt,
        report: {
          clusterVersionBefore,
          clusterVersionAfter: await clusterVersion(ctx.cluster),
          ...stepFigures(ctx, roll),
          rollerStopped: true,
          stoppedAtPeer: peerName(peer),
          stopReason: roll.end.reason,
          stoppedPeerEtcdLog: await lastEtcdLine(launches),
          brokenLaunches: launches.length,
          afterStop: { seconds: Math.round((watchedUntil - stoppedAt) / 100) / 10, acked: ctx.ackedBetween(stoppedAt, watchedUntil), unavailableSeconds: ctx.unavailableSeconds(stoppedAt, watchedUntil) },
          healthyLowest,
          quorum: failureBudget(ctx.peers, ctx.zones).quorum,
        },
      };
    } finally {
      sampling = false;
      await sampler;
    }
  },
};

/** The last line any of these instances' etcd wrote, newest first (the newest may not have started etcd yet). */
async function lastEtcdLine(instances: readonly Instance[]): Promise<string | undefined> {
  for (const instance of [...instances].reverse()) {
    const text = await fs.readFile(join(instance.dir, 'etcd.log'), 'utf8').catch(() => '');
    const line = text.trim().split('\n').pop();
    if (line) return line;
  }
  return undefined;
}

/**
 * The cluster version once it reaches `minor` (e.g. `3.4`), or as it stands after a minute. A new cluster
 * answers 3.0.0 until every member has published its own version; only then does etcd decide it.
 */
async function clusterVersionReaching(cluster: LocalCluster, minor: string): Promise<string> {
  return pollUntil(
    async () => {
      const v = await clusterVersion(cluster);
      return v.startsWith(`${minor}.`) ? done(v) : notYet(`the cluster version is still ${v || 'undecided'}`);
    },
    { timeoutMs: 60_000, delayMs: 500 },
  ).catch(() => clusterVersion(cluster));
}

/** The cluster version as the members answer it on /version (distinct answers joined). */
async function clusterVersion(cluster: LocalCluster): Promise<string> {
  const answers = await Promise.all(cluster.endpoints().map((e) => cluster.client.clusterVersion(e, 3000).catch(() => undefined)));
  return [...new Set(answers.filter((v): v is string => !!v && v !== 'not_decided'))].sort().join(', ');
}
