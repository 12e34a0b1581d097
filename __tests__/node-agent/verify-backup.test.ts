import { spawn, spawnSync, ChildProcess } from 'child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, readdirSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { buildAgentConfig } from '../../contract/agent-config';
import { memoryLogger } from '../../runtime/log';
import { DirectoryBackupStore } from '../../node-agent/backup';
import { CliSnapshotRestorer } from '../../node-agent/restore';
import { sha256OfFile } from '../../node-agent/system';
import { judgeRestore, leaderIndexFrom, LoopbackEtcd, roomToVerify, verifierOf, verifyNewestSnapshot } from '../../node-agent/verify-backup';

describe('who verifies, and whether there is room', () => {
  test.each([
    // peers, leader, hour → verifier
    [9, 0, 0, 1],
    [9, 0, 7, 8],
    [9, 0, 8, 1], // the turn wraps around, still skipping the leader
    [9, 4, 4, 5],
    [3, 1, 1, 2],
    [3, undefined, 1, 1], // no leader known: every peer takes its turn
    [1, 0, 5, undefined], // only the leader: nobody verifies
  ])('%i peers, leader %s, hour %i → peer %s', (peers, leader, hour, verifier) => {
    expect(verifierOf(peers, leader, hour)).toBe(verifier);
  });

  test('the leader never verifies, and each other peer gets a turn', () => {
    const turns = Array.from({ length: 16 }, (_, h) => verifierOf(9, 3, h));
    expect(turns).not.toContain(3);
    expect(new Set(turns).size).toBe(8);
  });

  test('room for the snapshot, its restored copy and 64 MiB', () => {
    expect(roomToVerify(200 * 1048576, 60 * 1048576)).toEqual({ ok: true });
    expect(roomToVerify(150 * 1048576, 60 * 1048576)).toEqual({ ok: false, reason: 'only 150 MiB free where 184 MiB are needed to restore a copy' });
  });

  test('the leader is found by its member id in the member list', () => {
    const status = '[{"Endpoint":"x","Status":{"header":{"cluster_id":1,"member_id":2},"leader":17237436991929493444}}]';
    const list = '{"header":{},"members":[{"ID":2,"name":"peer-0"},{"ID":17237436991929493444,"name":"peer-7","peerURLs":[]}]}';
    expect(leaderIndexFrom(status, list)).toBe(7);
    expect(leaderIndexFrom('{"leader":0}', list)).toBeUndefined();
  });
});

describe('judging a restore', () => {
  const metadata = { sha256: 'a'.repeat(64), revision: '42' };
  test.each([
    [{ metadata, sha256: 'a'.repeat(64), servedRevision: 42, servedKeys: 10 }, undefined],
    [{ metadata, sha256: 'b'.repeat(64), servedRevision: 42, servedKeys: 10 }, 'the object is corrupt'],
    [{ metadata, sha256: 'a'.repeat(64), servedRevision: 41, servedKeys: 10 }, 'serves revision 41, the snapshot was taken at 42'],
    [{ metadata: { revision: '42' }, sha256: 'a'.repeat(64), servedRevision: 42, servedKeys: 1 }, 'no sha256 recorded'],
  ])('%j → %s', (facts, reason) => {
    const judged = judgeRestore(facts);
    if (reason === undefined) expect(judged).toEqual({ ok: true });
    else expect(judged).toEqual({ ok: false, reason: expect.stringContaining(reason) });
  });
});

const hasEtcd = spawnSync('etcd', ['--version']).status === 0 && spawnSync('etcdctl', ['version']).status === 0;

(hasEtcd || process.env.CI === 'true' ? describe : describe.skip)('verifying a real snapshot (real etcd on loopback)', () => {
  let dir: string;
  let etcd: ChildProcess;
  const endpoint = 'http://127.0.0.1:27951';
  const etcdctl = (args: string[]) => spawnSync('etcdctl', ['--endpoints', endpoint, '--dial-timeout', '1s', '--command-timeout', '5s', ...args], { encoding: 'utf8' });
  let revision: number;
  let store: DirectoryBackupStore;
  const config = () => buildAgentConfig({ mode: 'local', clusterName: 'v', domain: 'v.internal', peerIndex: 1, peerCount: 3, tls: false, dataDir: join(dir, 'data') });
  const ports = { client: 27961, peer: 27962 };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'etcd-verify-'));
    etcd = spawn('etcd', ['--name', 's', '--data-dir', join(dir, 'source'), '--listen-client-urls', endpoint, '--advertise-client-urls', endpoint, '--listen-peer-urls', 'http://127.0.0.1:27952', '--initial-advertise-peer-urls', 'http://127.0.0.1:27952', '--initial-cluster', 's=http://127.0.0.1:27952'], { stdio: 'ignore' });
    for (let i = 0; i < 100 && etcdctl(['endpoint', 'health']).status !== 0; i++) await new Promise((r) => setTimeout(r, 100));
    for (let i = 0; i < 25; i++) etcdctl(['put', `key-${i}`, `value-${i}`]);
    revision = Number(/"revision":(\d+)/.exec(etcdctl(['endpoint', 'status', '-w', 'json']).stdout)![1]);
    const file = join(dir, 'snap.db');
    expect(etcdctl(['snapshot', 'save', file]).status).toBe(0);
    store = new DirectoryBackupStore(join(dir, 'bucket'));
    await store.upload('snapshots/frequent/2026-11-25T10-00-00Z-rev.db', file, { sha256: await sha256OfFile(file), revision: String(revision) });
  });
  afterAll(() => {
    etcd?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  const verify = (workDir = join(dir, 'scratch')) =>
    verifyNewestSnapshot(config(), { store, restorer: new CliSnapshotRestorer(config()), etcd: new LoopbackEtcd(), log: memoryLogger(), workDir, ports });

  test('the newest snapshot restores, serves its revision and every key, and the scratch dir is gone after', async () => {
    const outcome = await verify();
    expect(outcome).toMatchObject({ verified: true, revision, keys: 25 });
    expect(readdirSync(join(dir, 'scratch'))).toEqual([]);
  });

  test('a corrupt object is reported, never trusted', async () => {
    const key = join(dir, 'bucket', 'snapshots/frequent/2026-11-25T10-00-00Z-rev.db');
    const good = readFileSync(key);
    const bad = Buffer.from(good);
    bad[bad.length >> 1] ^= 0xff;
    writeFileSync(key, bad);
    try {
      expect(await verify()).toMatchObject({ verified: false, corrupt: true, reason: expect.stringContaining('the object is corrupt') });
    } finally {
      writeFileSync(key, good);
    }
  });

  test('a snapshot whose recorded revision it does not serve fails', async () => {
    const meta = join(dir, 'bucket', 'snapshots/frequent/2026-11-25T10-00-00Z-rev.db.json');
    const good = readFileSync(meta, 'utf8');
    writeFileSync(meta, JSON.stringify({ ...JSON.parse(good), revision: String(revision + 5) }));
    try {
      expect(await verify()).toMatchObject({ verified: false, corrupt: true, reason: expect.stringContaining(`serves revision ${revision}`) });
    } finally {
      writeFileSync(meta, good);
    }
  });

  test('a scratch dir on the data dir is refused before anything is read', async () => {
    await expect(verify(join(dir, 'data', 'tmp'))).rejects.toThrow('a verification never touches the data volume');
  });
});
