/**
 * The mission's claims, exercised: real etcd in network namespaces, volumes on
 * loop devices, DNS discovery through dnsmasq, the real node agent and the real
 * DNS updater logic. Needs root and Linux namespaces. Every scenario runs on
 * etcd 3.5 (the version AWS deploys) and zone-and-node on 3.4 too (the roll
 * scenarios are in roll-scenarios.test.ts); each checks
 * the version its members reported, so a run that ignored the version asked
 * for fails (the PATH here finds the system's 3.4 first).
 */
import { ChildProcess, spawn } from 'child_process';
import { existsSync } from 'fs';
import { join } from 'path';
import { tmpdir } from 'os';
import { LocalCluster } from '../../simulation/cluster';
import { bundleEntry } from '../../runtime/bundle';
import { describeWithRoot } from '../helpers/privileges';
import { etcd34, etcd35, expectHealedWithoutLoss, expectRanOn, leftovers, runCleanly, scenarioHooks, simulationWhy } from '../helpers/scenarios';
import { highest } from '../../simulation/peer-metrics';

/** The WAL fsync p99 alarm's default threshold (constructs/monitoring.ts; etcd's guidance). */
const WAL_FSYNC_ALARM_MS = 10;
const why = simulationWhy;
const blkioWhy = existsSync('/sys/fs/cgroup/blkio/blkio.throttle.write_iops_device') ? undefined : 'no cgroup v1 block-I/O throttling';

describeWithRoot(`local cluster scenarios (9 peers, 3 zones), on etcd ${etcd35.etcd?.version ?? '3.5'}`, why ?? etcd35.why, () => {
  const progress = scenarioHooks();
  const etcd = () => etcd35.etcd!;

  /** Starts the simulate CLI as a user would and resolves once its load is running (so there is a lot to clean). */
  function startSimulation(dir: string): Promise<ChildProcess> {
    const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', join(__dirname, '..', '..', 'simulation', 'cli.ts'), '--scenario', 'zone-and-node', '--dir', dir], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return new Promise((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('load running')) resolve(child);
      });
      child.stderr!.on('data', (chunk: Buffer) => (out += chunk.toString()));
      child.on('exit', (code) => reject(new Error(`simulation exited (${code}) before its load ran:\n${out}`)));
    });
  }
  const exited = (child: ChildProcess) => new Promise<number | null>((r) => (child.exitCode !== null ? r(child.exitCode) : child.once('exit', (code) => r(code))));

  test('Ctrl-C in the middle of a run: it stops and cleans up everything', async () => {
    const dir = join(tmpdir(), 'etcdsim-test', 'interrupted');
    const child = await startSimulation(dir);
    child.kill('SIGINT');
    expect(await exited(child)).toBe(130);
    expect(leftovers(join(dir, 'zone-and-node'))).toEqual([]);
  }, 180_000);

  test('a run killed with SIGKILL leaves its cluster behind; the next run cleans it up first', async () => {
    const killedDir = join(tmpdir(), 'etcdsim-test', 'killed');
    const child = await startSimulation(killedDir);
    child.kill('SIGKILL');
    await exited(child);
    // The killed run could clean nothing: its etcd processes, mounts, loop devices and namespaces are still there.
    expect(leftovers(join(killedDir, 'zone-and-node'))).toEqual(expect.arrayContaining(['network namespaces', 'loop devices', 'mounts', 'etcd processes']));
    const agent = bundleEntry(join(__dirname, '..', '..', 'node-agent', 'cli'), { fileName: 'agent.js', target: 'node18' });
    const nextDir = join(tmpdir(), 'etcdsim-test', 'after-killed');
    const next = new LocalCluster({ peers: 3, zones: 3, dir: nextDir, agentPath: agent.path, etcd: etcd() });
    try {
      await next.setup();
    } finally {
      await next.teardown();
    }
    expect(leftovers(join(killedDir, 'zone-and-node'))).toEqual([]);
    expect(leftovers(nextDir)).toEqual([]);
  }, 180_000);

  test('zone-and-node: a whole zone plus one more peer die while writing; nothing acknowledged is lost', async () => {
    const r = await runCleanly('zone-and-node', { peers: 9, progress, etcd: etcd() });
    expectRanOn(r, etcd());
    expectHealedWithoutLoss(r, [0, 1, 3, 6]);
  }, 300_000);

  test('whole-cluster: every instance dies at once; all nine come back with their data, no operator', async () => {
    const r = await runCleanly('whole-cluster', { peers: 9, progress, etcd: etcd() });
    expectRanOn(r, etcd());
    expectHealedWithoutLoss(r, [0, 1, 2, 3, 4, 5, 6, 7, 8]);
  }, 300_000);

  test('volume-lost: a peer comes back with an empty volume and rejoins as a new member (a learner first), never under its old identity', async () => {
    const r = await runCleanly('volume-lost', { peers: 9, progress, etcd: etcd() });
    expectRanOn(r, etcd());
    expectHealedWithoutLoss(r, [4], ['peer-4']);
    // It rejoined as a learner, and was promoted to a voting member once caught up (membersAfter names no learner).
    expect(r.replacements).toEqual([expect.objectContaining({ peer: 4, promotedFromLearner: true })]);
  }, 300_000);

  test('volumes-lost: every instance and every volume is lost; the cluster comes back from the snapshot by itself', async () => {
    const r = await runCleanly('volumes-lost', { peers: 9, progress, etcd: etcd() });
    expectRanOn(r, etcd());
    // Every write the snapshot held, and every write after the restore, is there: on each of the nine members.
    expect(r.lost).toBe(0);
    expect(r.verifiedMembers).toBe(9);
    expect(r.lostKeys).toEqual([]);
    // Exactly the writes acknowledged after the snapshot are gone: the restore is the snapshot, no more, no less.
    expect(r.recoveryPoint).toBeDefined();
    expect(r.recoveryPoint!.writesAfterSnapshot).toBeGreaterThan(0);
    expect(r.recoveryPoint!.lostAfterSnapshot).toBe(r.recoveryPoint!.writesAfterSnapshot);
    // All nine restored the same snapshot, as the formation members they were: no operator, same member ids.
    expect(r.recoveryPoint!.restoredPeers).toBe(9);
    expect(r.memberIdsChanged).toEqual([]);
    expect(Object.keys(r.membersAfter)).toHaveLength(9);
    expect(r.replacements.map((x) => x.peer).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect(r.replacements.filter((x) => !x.hookCompleted)).toEqual([]);
    // The restored cluster takes snapshots again, from its leader only.
    expect(r.snapshot).toMatchObject({ taken: 1, skipped: 8, members: 9 });
    expect(r.snapshot.revision).toBeGreaterThan(r.recoveryPoint!.snapshotRevision);
  }, 300_000);

  test('nospace: a 32 MiB quota filled until etcd raises NOSPACE; the cluster becomes writable again by itself while the load goes on, losing nothing', async () => {
    const r = await runCleanly('nospace', { peers: 9, progress, etcd: etcd() });
    expect(r.nospaceRaised).toBe(true);
    expect(r.writableAgainSeconds).toEqual(expect.any(Number));
    expect(r.writableAgainSeconds!).toBeGreaterThan(0);
    // NOSPACE for real: the largest database reached the 32 MiB quota before the recovery.
    expect(r.dbSizeBytesBefore!).toBeGreaterThan(0.85 * 32 * 2 ** 20);
    expect(r.dbSizeBytesBefore!).toBeGreaterThan(r.dbSizeBytesAfter!);
    // The leader's run recovered: it compacted (revision policy), defragmented all nine members, disarmed.
    expect(r.recovery).toMatchObject({ reason: expect.stringMatching(/^compacted to revision \d+; defragmented .*alarm disarmed$/) });
    expect(r.recovery!.defragmented).toHaveLength(9);
    // Refused writes are failed attempts, retried; no acknowledged write is lost, on any member.
    expect(r.lost).toBe(0);
    expect(r.verifiedMembers).toBe(9);
    expect(r.acked).toBeGreaterThan(0);
    expect(r.memberIdsChanged).toEqual([]);
    // Every timer run wrote its one line.
    expect(r.maintenance!.broken).toEqual([]);
    expect(r.maintenance!.actions['nospace-recovered']).toBe(1);
  }, 420_000);

  test('defrag: most keys deleted; the maintenance timers defragment every member by themselves, never two at once', async () => {
    const r = await runCleanly('defrag', { peers: 9, progress, etcd: etcd() });
    expect(Object.keys(r.defragmented!).sort()).toEqual(Array.from({ length: 9 }, (_, i) => `peer-${i}`).sort());
    expect(r.defragOverlaps).toEqual([]);
    expect(r.dbSmallerOnEveryMember).toBe(true);
    for (const m of Object.values(r.defragmented!)) expect(m.after!).toBeLessThan(m.before!);
    expect(r.lost).toBe(0);
    expect(r.maintenance!.broken).toEqual([]);
  }, 420_000);
});

describeWithRoot(`local cluster scenarios (9 peers, 3 zones), on etcd ${etcd34.etcd?.version ?? '3.4'}`, why ?? etcd34.why, () => {
  const progress = scenarioHooks();

  test('zone-and-node on etcd 3.4: a whole zone plus one more peer die while writing; nothing acknowledged is lost', async () => {
    const r = await runCleanly('zone-and-node', { peers: 9, progress, etcd: etcd34.etcd! }, 'zone-and-node-3.4');
    expectRanOn(r, etcd34.etcd!);
    expectHealedWithoutLoss(r, [0, 1, 3, 6]);
  }, 300_000);
});

describeWithRoot(`local cluster: a slow disk (9 peers, 3 zones), on etcd ${etcd35.etcd?.version ?? '3.5'}`, why ?? etcd35.why ?? blkioWhy, () => {
  const progress = scenarioHooks();

  test('slow-disk: one volume takes 10 writes/s; that peer\'s WAL fsync p99 crosses the alarm threshold while nothing is lost', async () => {
    const r = await runCleanly('slow-disk', { peers: 9, progress, etcd: etcd35.etcd! });
    expectRanOn(r, etcd35.etcd!);
    expectHealedWithoutLoss(r, []);
    // The metric the alarm reads, as the peers published it over the slow time: the slowed peer is the slowest, past the threshold.
    const slowest = highest(r.metricsDuringFailure!, 'WalFsyncP99Ms');
    expect(slowest?.peer).toBe('peer-8');
    expect(slowest!.value).toBeGreaterThan(WAL_FSYNC_ALARM_MS);
  }, 300_000);
});
