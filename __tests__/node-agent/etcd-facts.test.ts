/**
 * Facts about etcd 3.4 (Debian's etcd-server) that the agent's decisions rest
 * on, checked against the real binaries on loopback rather than assumed.
 */
import { ChildProcess, spawn, spawnSync } from 'child_process';
import { mkdtempSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { PROMOTE_NOT_READY, TOO_MANY_LEARNERS } from '../../node-agent/etcdctl';

const hasEtcd = spawnSync('etcd', ['--version']).status === 0 && spawnSync('etcdctl', ['version']).status === 0;
const etcdctl = (endpoint: string, args: string[]) => spawnSync('etcdctl', ['--endpoints', endpoint, '--dial-timeout', '1s', '--command-timeout', '2s', ...args], { encoding: 'utf8' });

function startEtcd(dir: string, name: string, client: string, peer: string, initialCluster: string): ChildProcess {
  return spawn('etcd', ['--name', name, '--data-dir', join(dir, name), '--listen-client-urls', client, '--advertise-client-urls', client, '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer, '--initial-cluster', initialCluster], { stdio: 'ignore' });
}

(hasEtcd || process.env.CI === 'true' ? describe : describe.skip)('etcd facts the start decision relies on (real etcd on loopback)', () => {
  let dir: string;
  const running: ChildProcess[] = [];
  beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'etcd-facts-'))));
  afterAll(() => {
    for (const p of running) p.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  test('a member without quorum does not answer member list, so "no answer" cannot tell forming from lost', async () => {
    const client = 'http://127.0.0.1:24811';
    const etcd = startEtcd(dir, 'alone', client, 'http://127.0.0.1:24812', 'alone=http://127.0.0.1:24812,b=http://127.0.0.1:24814,c=http://127.0.0.1:24816');
    running.push(etcd);
    await new Promise((r) => setTimeout(r, 1500));
    const list = etcdctl(client, ['member', 'list']);
    // The member is running, just without quorum.
    expect(etcd.exitCode).toBeNull();
    expect(list.status).not.toBe(0);
  });

  test('one learner at a time, and a learner that has not caught up is not promoted', async () => {
    const client = 'http://127.0.0.1:24821';
    running.push(startEtcd(dir, 'solo', client, 'http://127.0.0.1:24822', 'solo=http://127.0.0.1:24822'));
    for (let i = 0; i < 100 && etcdctl(client, ['endpoint', 'health']).status !== 0; i++) await new Promise((r) => setTimeout(r, 100));
    const first = etcdctl(client, ['member', 'add', 'learner-1', '--peer-urls=http://127.0.0.1:24891', '--learner']);
    expect(first.status).toBe(0);
    const second = etcdctl(client, ['member', 'add', 'learner-2', '--peer-urls=http://127.0.0.1:24892', '--learner']);
    expect(second.status).not.toBe(0);
    expect(second.stderr).toMatch(TOO_MANY_LEARNERS);
    // etcdctl prints the id with %16x: an id with a leading zero nibble comes out space-padded.
    const id = /Member\s+([0-9a-f]+) added/.exec(first.stdout)![1];
    const promote = etcdctl(client, ['member', 'promote', id]);
    expect(promote.status).not.toBe(0);
    expect(promote.stderr).toMatch(PROMOTE_NOT_READY);
    // member list marks it a learner in the last column, as parseMemberList reads it.
    expect(etcdctl(client, ['member', 'list', '-w', 'simple']).stdout).toMatch(new RegExp(`^${id}, unstarted, , http://127.0.0.1:24891, , true$`, 'm'));
  });
});
