/**
 * The maintenance run against real etcd (3.4 and 3.5): three members on
 * loopback, started from config files that carry the agent's database lines,
 * with a 16 MiB quota so NOSPACE is raised for real.
 */
import { ChildProcess, spawn, spawnSync } from 'child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { buildAgentConfig } from '../../contract/agent-config';
import type { CompactionPolicy } from '../../contract/database';
import { memoryLogger } from '../../runtime/log';
import { databaseConfigLines } from '../../node-agent/etcd-config';
import { logMaintenance, maintain, MaintainOutcome } from '../../node-agent/maintain';
import { EtcdctlMaintenance, healthyEndpoints, MAINTENANCE_LOCK_KEY, statusesByEndpoint } from '../../node-agent/maintenance-etcdctl';
import { describeWithEtcd } from '../helpers/etcd';

const MiB = 1024 * 1024;
const QUOTA = 16 * MiB;

describe('reading etcdctl (captured output)', () => {
  test('health of every endpoint: an answer whose only complaint is an alarm (3.5 under NOSPACE) counts as healthy', () => {
    const json =
      '[{"endpoint":"http://127.0.0.1:1","health":true,"took":"2ms"},' +
      '{"endpoint":"http://127.0.0.1:2","health":false,"took":"2ms","error":"Active Alarm(s): NOSPACE "},' +
      '{"endpoint":"http://127.0.0.1:3","health":false,"took":"5s","error":"context deadline exceeded"}]';
    expect([...healthyEndpoints(json)]).toEqual(['http://127.0.0.1:1', 'http://127.0.0.1:2']);
    expect(healthyEndpoints('').size).toBe(0);
  });

  test('database figures from endpoint status, by endpoint, 64-bit ids kept exact', () => {
    const json =
      '[{"Endpoint":"http://127.0.0.1:28001","Status":{"header":{"cluster_id":4034076218482582103,"member_id":13387593125553652827,"revision":6,"raft_term":2},"version":"3.4.23","dbSize":3629056,"leader":13387593125553652827,"raftIndex":13,"errors":["memberID:6179383641494618074 alarm:NOSPACE "],"dbSizeInUse":2424832}}]';
    expect(statusesByEndpoint(json)).toEqual(new Map([['http://127.0.0.1:28001', { memberId: '13387593125553652827', leader: '13387593125553652827', dbSize: 3629056, dbSizeInUse: 2424832, revision: 6 }]]));
    expect(statusesByEndpoint('[]').size).toBe(0);
    expect(statusesByEndpoint('').size).toBe(0);
  });

  test('the one log line of a run carries DefragFreedBytes as an embedded metric when bytes were given back', () => {
    const config = buildAgentConfig({ mode: 'local', clusterName: 'c', domain: 'c.internal', peerIndex: 2, peerCount: 3, tls: false, dataDir: '/x' });
    const log = memoryLogger();
    const outcome: MaintainOutcome = { action: 'defragmented', reason: 'r', defragmentations: [], freedBytes: 5 * MiB, durationMs: 10 };
    logMaintenance(config, outcome, log, 7);
    logMaintenance(config, { ...outcome, action: 'skipped', freedBytes: 0 }, log, 8);
    expect(log.lines).toHaveLength(2);
    expect(log.lines[0]).toMatchObject({ msg: 'maintenance', peer: 'peer-2', action: 'defragmented', DefragFreedBytes: 5 * MiB, _aws: { Timestamp: 7 } });
    expect(log.lines[1]).not.toHaveProperty('_aws');
  });
});

for (const [minor, base] of [['3.4', 24100], ['3.5', 24200]] as const) {
  describeWithEtcd(minor, 'maintenance of a real three-member cluster', (etcd) => {
    let dir: string;
    const members: ChildProcess[] = [];
    const client = (i: number) => `http://127.0.0.1:${base + 2 * i}`;
    const peer = (i: number) => `http://127.0.0.1:${base + 2 * i + 1}`;
    const all = [0, 1, 2].map(client).join(',');
    const etcdctl = (args: string[], input?: string) =>
      spawnSync(etcd().etcdctl, ['--endpoints', all, '--dial-timeout', '2s', '--command-timeout', '10s', ...args], { input, encoding: 'utf8' });
    const configOf = (i: number, compaction: CompactionPolicy) =>
      buildAgentConfig({
        mode: 'local',
        clusterName: 'm',
        domain: 'm.internal',
        peerIndex: i,
        peerCount: 3,
        tls: false,
        dataDir: join(dir, `peer-${i}`),
        database: { quotaBackendBytes: QUOTA, compaction, defragment: { minFreeableBytes: 1 * MiB, minFreeableShare: 0.1 } },
      });
    const run = (i: number, compaction: CompactionPolicy = { mode: 'kube-apiserver' }) =>
      maintain(configOf(i, compaction), { etcd: new EtcdctlMaintenance(configOf(i, compaction), [], client(i)) });
    const leaderIndex = () => {
      const status = JSON.parse(etcdctl(['endpoint', 'status', '-w', 'json']).stdout.replace(/"(member_id|leader)":(\d+)/g, '"$1":"$2"'));
      return status.findIndex((s: { Status: { header: { member_id: string }; leader: string } }) => s.Status.header.member_id === s.Status.leader);
    };
    const big = 'x'.repeat(MiB - 1024);
    /** Overwrites one key with 1 MiB values until etcd raises NOSPACE. */
    const fillUntilNospace = () => {
      for (let i = 0; i < 40; i++) {
        if (/database space exceeded/.test(etcdctl(['put', 'fill'], big).stderr)) return;
      }
      throw new Error('NOSPACE was never raised');
    };

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'etcd-maintain-'));
      const initialCluster = [0, 1, 2].map((i) => `peer-${i}=${peer(i)}`).join(',');
      for (const i of [0, 1, 2]) {
        mkdirSync(join(dir, `conf-${i}`));
        const file = join(dir, `conf-${i}`, 'etcd.conf.yml');
        // The agent's own database lines; etcd's revision compaction with a retention far beyond this test, so only the agent compacts here.
        const lines = databaseConfigLines({ quotaBackendBytes: QUOTA, compaction: { mode: 'revision', retention: 100000 }, defragment: { minFreeableBytes: 0, minFreeableShare: 0 } });
        writeFileSync(
          file,
          [`name: peer-${i}`, `data-dir: ${join(dir, `peer-${i}`)}`, `listen-client-urls: ${client(i)}`, `advertise-client-urls: ${client(i)}`, `listen-peer-urls: ${peer(i)}`,
            `initial-advertise-peer-urls: ${peer(i)}`, `initial-cluster: ${initialCluster}`, 'initial-cluster-state: new', 'initial-cluster-token: maintain', ...lines, ''].join('\n'),
        );
        members.push(spawn(etcd().etcd, ['--config-file', file], { stdio: 'ignore' }));
      }
      for (let i = 0; i < 150 && etcdctl(['endpoint', 'health', '--cluster']).status !== 0; i++) await new Promise((r) => setTimeout(r, 100));
    });

    afterAll(() => {
      for (const m of members) m.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    });

    test("etcd takes the agent's database lines from its config file: the quota is the agent's", async () => {
      const metrics = await (await fetch(`${client(0)}/metrics`)).text();
      // Prometheus prints it as a float (1.6777216e+07).
      expect(Number(/^etcd_server_quota_backend_bytes (\S+)$/m.exec(metrics)?.[1])).toBe(QUOTA);
    });

    test('outside NOSPACE: followers are defragmented one at a time under the lock, the leader last', async () => {
      // Fragment every member: 8 MiB written, deleted and compacted (as kube-apiserver would compact).
      for (let i = 0; i < 8; i++) etcdctl(['put', `frag/${i}`], big);
      etcdctl(['del', 'frag/', '--prefix']);
      const rev = JSON.parse(etcdctl(['endpoint', 'status', '-w', 'json']).stdout)[0].Status.header.revision;
      expect(etcdctl(['compact', String(rev), '--physical']).status).toBe(0);
      const leader = leaderIndex();
      const followers = [0, 1, 2].filter((i) => i !== leader);

      const early = await run(leader);
      expect(early).toMatchObject({ action: 'skipped', reason: expect.stringMatching(/^followers first: peer-\d, peer-\d before the leader$/) });

      // Another peer holds the lock: this one waits its turn.
      const other = new EtcdctlMaintenance(configOf(leader, { mode: 'kube-apiserver' }), [], client(leader));
      await other.read();
      const held = await other.tryLock('peer-9', 30);
      expect(held.taken).toBe(true);
      expect(await run(followers[0])).toMatchObject({ action: 'skipped', reason: 'peer-9 holds the maintenance lock' });
      if (held.taken) await held.lock.release();

      const outcomes: MaintainOutcome[] = [];
      for (const i of followers) outcomes.push(await run(i));
      outcomes.push(await run(leader));
      expect(outcomes.map((o) => o.action)).toEqual(['defragmented', 'defragmented', 'defragmented']);
      expect(outcomes.map((o) => o.defragmentations[0].member)).toEqual([...followers, leader].map((i) => `peer-${i}`));
      for (const o of outcomes) {
        const d = o.defragmentations[0];
        expect(d.dbSizeBefore! - d.dbSizeAfter!).toBeGreaterThanOrEqual(4 * MiB);
        expect(o.freedBytes).toBe(d.dbSizeBefore! - d.dbSizeAfter!);
      }
      // No lock is left behind, and a run with nothing to do skips with the figures.
      expect(etcdctl(['get', MAINTENANCE_LOCK_KEY, '--print-value-only']).stdout.trim()).toBe('');
      expect(await run(followers[0])).toMatchObject({ action: 'skipped', reason: expect.stringContaining('below minFreeableBytes') });
    });

    test('NOSPACE under kube-apiserver: the follower leaves it to the leader; the leader never compacts, defragments every member one at a time, disarms', async () => {
      const firstFill = Number(JSON.parse(etcdctl(['put', 'fill', 'first', '-w', 'json']).stdout).header.revision);
      fillUntilNospace();
      expect(etcdctl(['alarm', 'list']).stdout).toMatch(/alarm:NOSPACE/);
      const leader = leaderIndex();
      const follower = [0, 1, 2].find((i) => i !== leader)!;
      expect(await run(follower)).toMatchObject({ action: 'skipped', reason: "NOSPACE raised: the leader's agent recovers" });
      const recovered = await run(leader);
      expect(recovered.compactedTo).toBeUndefined();
      expect(recovered.reason).toMatch(/^kube-apiserver compacts \(every 5 minutes\); the agent does not compact ahead of it; defragmented /);
      expectRecovered(recovered, leader);
      // The history is the API server's: every revision since the fill began is still there.
      expect(etcdctl(['get', 'fill', `--rev=${firstFill}`, '--print-value-only']).stdout.trim()).toBe('first');
    });

    test('NOSPACE with the data in use at the quota: no member is defragmented, the alarm stays, the line says what a human can do', async () => {
      fillUntilNospace();
      const leader = leaderIndex();
      // With 1 MiB values the file is about twice the data when etcd refuses a write, so the agent is told a
      // quota just above the data in use: that is the case where nothing but deleting data or a larger quota helps.
      const inUse = Math.max(...(await new EtcdctlMaintenance(configOf(leader, { mode: 'kube-apiserver' }), [], client(leader)).read()).members.map((m) => m.dbSizeInUse!));
      const tight = { ...configOf(leader, { mode: 'kube-apiserver' }) };
      const config = { ...tight, database: { ...tight.database, quotaBackendBytes: Math.ceil(inUse / 0.95) } };
      const left = await maintain(config, { etcd: new EtcdctlMaintenance(config, [], client(leader)) });
      expect(left).toMatchObject({ action: 'nospace-left', defragmentations: [], freedBytes: 0 });
      expect(left.reason).toMatch(/^the data in use on peer-\d is 9\d % of the quota, at or above the 90 % a disarm needs: the alarm stays; delete data or raise database.quotaBackendBytes/);
      expect(etcdctl(['alarm', 'list']).stdout).toMatch(/alarm:NOSPACE/);
      // Once the history is compacted (as the API server would), the next run with the real quota gets out.
      const rev = JSON.parse(etcdctl(['endpoint', 'status', '-w', 'json']).stdout)[0].Status.header.revision;
      expect(etcdctl(['compact', String(rev), '--physical']).status).toBe(0);
      expectRecovered(await run(leader), leader);
    });

    test('NOSPACE under revision compaction: the leader compacts to the current revision, defragments every member one at a time, disarms; writes resume', async () => {
      fillUntilNospace();
      const leader = leaderIndex();
      const recovered = await run(leader, { mode: 'revision', retention: 1000 });
      expect(recovered.compactedTo).toBeGreaterThan(0);
      expectRecovered(recovered, leader);
    });

    function expectRecovered(outcome: MaintainOutcome, leader: number): void {
      expect(outcome).toMatchObject({ action: 'nospace-recovered', reason: expect.stringMatching(/every database is below 90 % of the quota: alarm disarmed$/) });
      const order = outcome.defragmentations.map((d) => d.member);
      expect(order).toHaveLength(3);
      expect(order[2]).toBe(`peer-${leader}`);
      // One member at a time: each starts after the one before it finished.
      for (let k = 1; k < outcome.defragmentations.length; k++) {
        expect(Date.parse(outcome.defragmentations[k].startedAt)).toBeGreaterThanOrEqual(Date.parse(outcome.defragmentations[k - 1].finishedAt));
      }
      for (const d of outcome.defragmentations) expect(d.dbSizeAfter!).toBeLessThan(0.9 * QUOTA);
      expect(etcdctl(['alarm', 'list']).stdout.trim()).toBe('');
      expect(etcdctl(['put', 'after', 'writable']).status).toBe(0);
    }
  });
}
