/**
 * The planned hand-off against a real three-member etcd on loopback, on each
 * version the project runs: the leadership view as etcdctl reports it, and a
 * hand-off of the leader that moves leadership to the voter the decision
 * chose before etcd stops, so the survivors elect nobody.
 */
import { ChildProcess, spawn, spawnSync } from 'child_process';
import { mkdtempSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { parseAgentConfig } from '../../contract/agent-config';
import { memoryLogger } from '../../runtime/log';
import { handOff } from '../../node-agent/hand-off';
import { EtcdctlLeadership } from '../../node-agent/hand-off-adapters';
import { decideLeadership } from '../../node-agent/leadership';
import { parseEtcdJson } from '../../node-agent/metrics-collect';
import type { HandOffHost, LifecyclePort } from '../../node-agent/ports';
import { collectPeerStatus } from '../../node-agent/peer-status';
import { parsePeerStatus } from '../../contract/peer-status';
import { describeWithEtcd } from '../helpers/etcd';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const config = parseAgentConfig({ mode: 'aws', clusterName: 'prod', domain: 'prod.internal', peerIndex: 0, peerCount: 3, dataDir: '/unused', clusterToken: 't', tls: false });

for (const [minor, port] of [['3.4', 26700], ['3.5', 27700]] as const) {
  describeWithEtcd(minor, 'planned hand-off on a real three-member etcd', (bin) => {
    let dir: string;
    const members = new Map<string, ChildProcess>();
    const client = (i: number) => `http://127.0.0.1:${port + 10 * i + 1}`;
    const peer = (i: number) => `http://127.0.0.1:${port + 10 * i + 2}`;
    const names = [0, 1, 2].map((i) => `peer-${i}`);
    const etcdctl = (endpoint: string, args: string[]) => spawnSync(bin().etcdctl, ['--endpoints', endpoint, '--dial-timeout', '1s', '--command-timeout', '5s', ...args], { encoding: 'utf8' });
    const status = (i: number) => parseEtcdJson(etcdctl(client(i), ['endpoint', 'status', '-w', 'json']).stdout)[0].Status as { leader: string; raftTerm: number; header: { member_id: string } };
    const leaderIndex = () => {
      for (const i of [0, 1, 2]) {
        if (!members.has(names[i])) continue;
        const s = status(i);
        if (s.leader === s.header.member_id) return i;
      }
      return -1;
    };

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'etcd-hand-off-'));
      const initial = [0, 1, 2].map((i) => `${names[i]}=${peer(i)}`).join(',');
      for (const i of [0, 1, 2]) {
        members.set(
          names[i],
          spawn(bin().etcd, ['--name', names[i], '--data-dir', join(dir, names[i]), '--listen-client-urls', client(i), '--advertise-client-urls', client(i), '--listen-peer-urls', peer(i), '--initial-advertise-peer-urls', peer(i), '--initial-cluster', initial, '--initial-cluster-token', `hand-off-${minor}`], { stdio: 'ignore' }),
        );
      }
      for (let i = 0; i < 150 && etcdctl(client(0), ['endpoint', 'health', '--cluster']).status !== 0; i++) await sleep(100);
      for (let k = 0; k < 20; k++) etcdctl(client(0), ['put', `/k/${k}`, `v${k}`]);
    });

    afterAll(() => {
      for (const p of members.values()) p.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    });

    /** A host whose etcd is the member's process here; unmount and detach are recorded. */
    function host(i: number, calls: string[], atStop: () => void = () => undefined): HandOffHost {
      return {
        stopEtcd: async () => {
          calls.push('stop');
          atStop();
          const p = members.get(names[i])!;
          const exited = new Promise((r) => p.once('exit', r));
          p.kill('SIGTERM');
          await exited;
          members.delete(names[i]);
        },
        unmountDataDir: async () => void calls.push('unmount'),
        detachVolume: async () => void calls.push('detach'),
      };
    }
    const lifecycle = (calls: string[]): LifecyclePort => ({ targetLifecycleState: async () => 'Terminated', completeTermination: async () => void calls.push('complete') });

    test('the view names this member, the leader and every voter with its applied index', async () => {
      const leader = leaderIndex();
      expect(leader).toBeGreaterThanOrEqual(0);
      const view = await new EtcdctlLeadership(config, [], client(0)).view();
      expect(view.selfId).toBe(status(0).header.member_id);
      expect(view.leaderId).toBe(status(leader).header.member_id);
      expect(view.members.map((m) => [m.name, m.isLearner, m.healthy]).sort()).toEqual(names.map((n) => [n, false, true]));
      for (const m of view.members) expect(m.appliedIndex).toBeGreaterThan(20);
      expect(view.leaderIndex).toBeGreaterThan(20);
    });

    test('each member publishes the status the roller reads: one leader, its version, the cluster version, one revision', async () => {
      const statuses = [];
      for (const i of [0, 1, 2]) {
        const body = await collectPeerStatus(config, { prefix: [], instanceId: `i-${i}`, ownEndpoint: client(i) });
        statuses.push(parsePeerStatus(JSON.stringify(body), Date.now())!);
      }
      expect(statuses.filter((s) => s.role === 'leader')).toHaveLength(1);
      expect(statuses.map((s) => s.role).sort()).toEqual(['follower', 'follower', 'leader']);
      for (const s of statuses) {
        expect(s).toMatchObject({ healthy: true, etcdVersion: bin().version, clusterVersion: `${minor}.0` });
        expect(s.revision).toBe(statuses[0].revision);
        expect(s.revision).toBeGreaterThanOrEqual(21);
      }
    });

    test('a follower hands off without touching leadership', async () => {
      const leader = leaderIndex();
      const follower = [0, 1, 2].find((i) => i !== leader)!;
      const view = await new EtcdctlLeadership(config, [], client(follower)).view();
      expect(decideLeadership(view).action).toBe('none');
    });

    test('the leader moves leadership to the chosen voter before it stops: no election among the survivors, every key served', async () => {
      const leader = leaderIndex();
      const leadership = new EtcdctlLeadership(config, [], client(leader));
      const chosen = decideLeadership(await leadership.view());
      expect(chosen.action).toBe('move');
      const target = names.indexOf((chosen as { to: { name: string } }).to.name);
      const termBefore = status(leader).raftTerm;
      const calls: string[] = [];
      const log = memoryLogger();
      // Checked when etcd is about to stop: etcd itself hands leadership over on SIGTERM too, but to a
      // follower of its own choosing and only as it stops; the hand-off has moved it to its target already.
      let leaderAtStop = '';
      const outcome = await handOff(config, { leadership, host: host(leader, calls, () => (leaderAtStop = status(target).leader)), lifecycle: lifecycle(calls), log });
      expect(leaderAtStop).toBe(status(target).header.member_id);
      expect(outcome.steps).toEqual({ moveLeader: 'done', stopEtcd: 'done', unmount: 'done', detach: 'done', complete: 'done' });
      expect(calls).toEqual(['stop', 'unmount', 'detach', 'complete']);
      // The target leads the moment the hand-off returns: without the move, the survivors would still wait out
      // an election timeout (1 s) for the stopped leader.
      const at = status(target);
      expect(at.leader).toBe(at.header.member_id);
      expect(at.raftTerm).toBe(termBefore + 1);
      // No election followed the stop.
      await sleep(1500);
      const after = status(target);
      expect(after.leader).toBe(after.header.member_id);
      expect(after.raftTerm).toBe(termBefore + 1);
      const survivor = [0, 1, 2].find((i) => i !== leader && i !== target)!;
      expect(status(survivor).leader).toBe(after.header.member_id);
      expect(etcdctl(client(target), ['get', '/k/', '--prefix', '--keys-only']).stdout.split('\n').filter(Boolean)).toHaveLength(20);
      expect(etcdctl(client(target), ['put', '/after', 'x']).status).toBe(0);
    });
  });
}
