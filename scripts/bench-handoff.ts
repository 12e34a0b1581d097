/**
 * Write unavailability when one peer is replaced, the planned hand-off (the
 * terminate hook: leadership moved away, etcd stopped cleanly, the volume let
 * go) side by side with today's crash path (terminated without the hook), for
 * the leader and for a follower, in one run on the real local cluster under
 * the scenarios' load. Prints figures; not a test. Needs root; take
 * /tmp/etcd-root-tests.lock while it runs.
 *   npm run bench:handoff -- [--peers 5] [--rounds 2] [--etcd 3.5|3.4] [--json docs/bench/handoff.json] [--dir DIR] [--status-polling]
 * `--status-polling` also runs what the local roller does every second while it rolls (every peer's status
 * collected through etcdctl in its namespace), to see whether that load, not the hand-off, makes the write gaps
 * the rolling-upgrade scenario showed.
 */
import { cpus, loadavg } from 'os';
import { promises as fs } from 'fs';
import { dirname } from 'path';
import { parseArgs } from 'util';
import { peerName } from '../contract/naming';
import { bundleNodeAgent } from '../runtime/bundle';
import { etcdBinaries, parseEtcdMinor } from '../runtime/etcd-binaries';
import { sleep } from '../runtime/retry';
import { LocalCluster } from '../simulation/cluster';
import type { Endpoint } from '../simulation/etcd-client';
import { discoverClientEndpoints, LoadEvent, LoadGenerator } from '../simulation/load';
import { publishAndRead } from '../simulation/roller';
import { maxAckGap } from '../simulation/scenarios';
import { handoffVerdicts, HandoffPath, HandoffRole, HandoffRow, LEADER_TARGET_SECONDS, renderHandoffTable, victimPeer } from './bench-handoff-figures';

/** Quiet time before each replacement: the cluster settles, and its longest write gap is the noise floor. */
const QUIET_MS = 4000;

/**
 * One writer, one put at a time, to `endpoint` (a member that is not replaced) until `stop()` says so: the times of
 * its acknowledgements. A 1 s attempt timeout, so a stalled put shows as a gap rather than a failure.
 */
async function probe(cluster: LocalCluster, endpoint: Endpoint, stop: () => boolean): Promise<LoadEvent[]> {
  const acks: LoadEvent[] = [];
  for (let n = 0; !stop(); n++) {
    try {
      await cluster.client.put(endpoint, `/bench/probe/${String(n).padStart(8, '0')}`, String(Date.now()), 1000);
      acks.push({ at: Date.now(), kind: 'ack' });
    } catch {
      await sleep(10);
    }
  }
  return acks;
}

/** The peer that leads now, as the members themselves say; `undefined` when none answers for a leader. */
async function leaderPeer(cluster: LocalCluster): Promise<number | undefined> {
  const answers = await Promise.all(cluster.endpoints().map((e) => cluster.client.leadership(e, 2000).catch(() => undefined)));
  const index = answers.findIndex((a) => a && a.memberId === a.leaderId);
  return index < 0 ? undefined : index;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { peers: { type: 'string' }, rounds: { type: 'string' }, etcd: { type: 'string' }, json: { type: 'string' }, dir: { type: 'string' }, 'status-polling': { type: 'boolean' } }, strict: true });
  const peers = Number(values.peers ?? 5);
  const rounds = Number(values.rounds ?? 2);
  if (![3, 5, 7, 9].includes(peers)) throw new Error(`--peers must be 3, 5, 7 or 9, got ${values.peers}`);
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds must be a whole number >= 1, got ${values.rounds}`);
  const etcd = etcdBinaries(parseEtcdMinor(values.etcd ?? '3.5'));
  if (process.getuid?.() !== 0) throw new Error('bench:handoff needs root (network namespaces, loop devices, mounts): run it with sudo');
  const started = Date.now();
  const progress = (line: string) => process.stdout.write(`[${((Date.now() - started) / 1000).toFixed(1).padStart(6)}s] ${line}\n`);
  const loadBefore = loadavg();
  const dir = values.dir ?? '/tmp/etcdsim-bench-handoff';
  const cluster = new LocalCluster({ peers, zones: 3, dir, agentPath: bundleNodeAgent().path, progress: () => undefined, etcd });
  const rows: HandoffRow[] = [];
  let load: LoadGenerator | undefined;
  let polling = false;
  let poller: Promise<void> | undefined;
  try {
    await cluster.setup();
    await cluster.launchAll();
    await cluster.waitAllHealthy(90_000);
    progress(`${peers} peers healthy on etcd ${etcd.version}`);
    load = new LoadGenerator(cluster.client, () => discoverClientEndpoints(cluster.clientZone.gateway, cluster.domain, true));
    load.start();
    if (values['status-polling']) {
      polling = true;
      poller = (async () => {
        while (polling) {
          await publishAndRead(cluster, dir, peers);
          await sleep(1000);
        }
      })();
    }
    for (let round = 1; round <= rounds; round++) {
      // Alternate which path goes first, so a drift of the machine's load does not favour one of them.
      const paths: HandoffPath[] = round % 2 ? ['hand-off', 'crash'] : ['crash', 'hand-off'];
      for (const role of ['leader', 'follower'] as HandoffRole[]) {
        for (const path of paths) {
          await cluster.waitAllHealthy(120_000);
          const leader = await leaderPeer(cluster);
          if (leader === undefined) throw new Error('no member answered as the leader');
          const victim = victimPeer(role, leader, round, peers);
          const instance = cluster.current(victim)!;
          // The probe writes through the member after the victim: never replaced here, and a follower when the leader is.
          let probing = true;
          const probed = probe(cluster, cluster.endpoints()[(victim + 1) % peers], () => !probing);
          const quietFrom = Date.now();
          await sleep(QUIET_MS);
          const quietGap = maxAckGap(load.events, quietFrom, Date.now());
          const failedBefore = load.failedWrites;
          const t0 = Date.now();
          await cluster.terminate(instance, path === 'hand-off' ? { reason: 'bench: planned hand-off', handOff: true } : { reason: 'bench: terminated without the hook' });
          const stopped = Date.now();
          await cluster.waitAllHealthy(120_000);
          const healthy = Date.now();
          await sleep(1000);
          probing = false;
          const probeAcks = await probed;
          const l = instance.handOff?.leadership;
          const row: HandoffRow = {
            round,
            role,
            path,
            peer: peerName(victim),
            gapSeconds: maxAckGap(load.events, t0, healthy + 1000) / 1000,
            gapWhileStoppingSeconds: maxAckGap(load.events, t0, stopped) / 1000,
            quietGapSeconds: quietGap / 1000,
            probeGapSeconds: maxAckGap(probeAcks, t0, healthy + 1000) / 1000,
            probeQuietGapSeconds: maxAckGap(probeAcks, quietFrom, t0) / 1000,
            replacementSeconds: (healthy - t0) / 1000,
            failedWrites: load.failedWrites - failedBefore,
            leaderBefore: peerName(leader),
            leaderAfter: await leaderPeer(cluster).then((p) => (p === undefined ? undefined : peerName(p))),
            leadership: path === 'crash' ? '–' : l?.action === 'move' ? `moved to ${l.to.name}` : l?.reason ?? 'none',
          };
          rows.push(row);
          progress(`round ${round}, ${role} ${row.peer}, ${path}: longest write gap ${row.gapSeconds.toFixed(2)} s (while stopping ${row.gapWhileStoppingSeconds.toFixed(2)} s, quiet before ${row.quietGapSeconds.toFixed(2)} s), probe ${row.probeGapSeconds.toFixed(2)} s (quiet ${row.probeQuietGapSeconds.toFixed(2)} s), healthy after ${row.replacementSeconds.toFixed(1)} s; ${row.leadership}`);
        }
      }
    }
    polling = false;
    await poller;
    await load.stop();
  } finally {
    polling = false;
    await poller?.catch(() => undefined);
    await load?.stop().catch(() => undefined);
    await cluster.teardown();
  }
  const verdicts = { load: handoffVerdicts(rows, 'load'), probe: handoffVerdicts(rows, 'probe') };
  const machine = { cpus: cpus().length, model: cpus()[0]?.model ?? '?', loadBefore: loadBefore.map((n) => Math.round(n * 10) / 10), loadAfter: loadavg().map((n) => Math.round(n * 10) / 10) };
  process.stdout.write(`\n${renderHandoffTable(rows)}\n\netcd ${etcd.version}, ${peers} peers over 3 zones, ${rounds} round(s)${values['status-polling'] ? ', with the roller\'s status polling' : ''}; ${machine.cpus} CPUs (${machine.model}), load ${machine.loadBefore[0]} before, ${machine.loadAfter[0]} after\n`);
  for (const m of ['probe', 'load'] as const) {
    process.stdout.write(`${m}: a planned leader replacement within ${LEADER_TARGET_SECONDS} s: ${verdicts[m].leader}\n${m}: a planned follower replacement with no measurable gap: ${verdicts[m].follower}\n`);
  }
  if (values.json) {
    await fs.mkdir(dirname(values.json), { recursive: true });
    await fs.writeFile(values.json, JSON.stringify({ date: new Date(started).toISOString(), etcdVersion: etcd.version, peers, zones: 3, rounds, statusPolling: !!values['status-polling'], machine, targets: { leaderSeconds: LEADER_TARGET_SECONDS, verdicts }, rows }, null, 2) + '\n');
    process.stdout.write(`wrote ${values.json}\n`);
  }
}

main().catch((error) => {
  process.stderr.write(`bench:handoff failed: ${(error as Error).message}\n`);
  process.exit(1);
});
