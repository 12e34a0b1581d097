import { ChildProcess, execFileSync, spawn, spawnSync } from 'child_process';
import { createHash } from 'crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { mockClient } from 'aws-sdk-client-mock';
import { AbortMultipartUploadCommand, CompleteMultipartUploadCommand, CreateMultipartUploadCommand, PutObjectCommand, S3Client, UploadPartCommand } from '@aws-sdk/client-s3';
import { DirectoryBackupStore, EtcdctlSnapshots, isLeaderInEndpointStatus, S3BackupStore, snapshotKeys, takeSnapshot } from '../../node-agent/backup';
import type { SnapshotPort } from '../../node-agent/ports';
import { findEtcdutl } from '../../node-agent/etcdctl';
import { run } from '../../node-agent/system';
import { formationMemberId } from '../../node-agent/membership';
import { CliSnapshotRestorer, restoreSnapshot } from '../../node-agent/restore';
import { parseAgentConfig } from '../../contract/agent-config';
import { memoryLogger } from '../../runtime/log';
import { describeWithEtcd } from '../helpers/etcd';

const config = parseAgentConfig({ mode: 'aws', clusterName: 'prod', domain: 'prod.internal', peerIndex: 3, peerCount: 9, dataDir: '/d', clusterToken: 't', backup: { dir: '/unused' } });

describe('snapshots (pure parts and adapters)', () => {
  test('keys: every run under frequent/, the day\'s latest under daily/', () => {
    expect(snapshotKeys(new Date('2026-11-24T12:34:56.789Z'), 4711)).toEqual({
      frequent: 'snapshots/frequent/2026-11-24T12-34-56Z-rev4711.db',
      daily: 'snapshots/daily/2026-11-24.db',
    });
  });

  test('only the leader takes a snapshot', async () => {
    const port: SnapshotPort = {
      isLeader: async () => false,
      save: async () => {
        throw new Error('a follower must not save');
      },
      status: async () => ({ hash: 0, revision: 0, totalKey: 0, totalSize: 0 }),
      memberCount: async () => 9,
    };
    const log = memoryLogger();
    await expect(takeSnapshot(config, { etcd: port, store: new DirectoryBackupStore('/nonexistent'), log })).resolves.toEqual({ taken: false, reason: 'not the leader' });
    expect(log.lines).toContainEqual(expect.objectContaining({ msg: 'snapshot skipped', peer: 'peer-3' }));
  });

  test.each([
    // Captured from `etcdctl endpoint status -w json` of a one-member cluster (the leader), 3.4.23 and 3.5.16.
    ['3.4, the leader', '[{"Endpoint":"http://127.0.0.1:25051","Status":{"header":{"cluster_id":14772580057112066956,"member_id":1696873935892686469,"revision":1,"raft_term":2},"version":"3.4.23","dbSize":20480,"leader":1696873935892686469,"raftIndex":4,"raftTerm":2,"raftAppliedIndex":4,"dbSizeInUse":16384}}]', true],
    ['3.5, the leader', '[{"Endpoint":"http://127.0.0.1:25041","Status":{"header":{"cluster_id":6314073880963075715,"member_id":13387593125553652827,"revision":1,"raft_term":2},"version":"3.5.16","dbSize":20480,"leader":13387593125553652827,"raftIndex":4,"raftTerm":2,"raftAppliedIndex":4,"dbSizeInUse":16384}}]', true],
    // Ids that are equal as JavaScript numbers (beyond 2^53) but are different members.
    ['a follower whose id differs from the leader\'s only past 2^53', '[{"Status":{"header":{"member_id":13387593125553652827},"leader":13387593125553652828}}]', false],
  ])('leader or not, from endpoint status: %s', (_, json, leader) => {
    expect(isLeaderInEndpointStatus(json)).toBe(leader);
  });

  test('an endpoint status without the ids is an error, not a follower', () => {
    expect(() => isLeaderInEndpointStatus('[]')).toThrow(/printed no member_id and leader: \[\]/);
  });

  describe('S3 upload', () => {
    const s3 = mockClient(S3Client);
    let dir: string;
    beforeEach(() => {
      s3.reset();
      dir = mkdtempSync(join(tmpdir(), 'snap-'));
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));
    const metadata = { revision: '12', members: '9', sha256: 'abc' };

    /** Collects the bytes of each uploaded part by part number. */
    function recordParts(): Map<number, Buffer> {
      const parts = new Map<number, Buffer>();
      s3.on(CreateMultipartUploadCommand).resolves({ UploadId: 'u-1' });
      s3.on(UploadPartCommand).callsFake(async (input) => {
        parts.set(input.PartNumber, Buffer.from(input.Body as Uint8Array));
        return { ETag: `"etag-${input.PartNumber}"` };
      });
      s3.on(CompleteMultipartUploadCommand).resolves({});
      return parts;
    }

    /** Like {@link recordParts}, for a file of one part and 10 bytes whose second part S3 refuses once with `error`. */
    function recordPartsRefusingTheSecondOnce(fill: number, error: { name: string; message: string; status: number }) {
      const partBytes = 5 * 1024 * 1024;
      const content = Buffer.alloc(partBytes + 10, fill);
      writeFileSync(join(dir, 'x.db'), content);
      const parts = recordParts();
      s3.on(UploadPartCommand, { PartNumber: 2 })
        .rejectsOnce(Object.assign(new Error(error.message), { name: error.name, $metadata: { httpStatusCode: error.status } }))
        .callsFake(async (input) => {
          parts.set(input.PartNumber, Buffer.from(input.Body as Uint8Array));
          return { ETag: '"etag-2"' };
        });
      return { parts, content, store: new S3BackupStore('b', new S3Client({ region: 'eu-west-1' }), partBytes) };
    }

    test('a snapshot below one part: one PutObject carrying revision, member count and checksum as metadata', async () => {
      let uploaded = '';
      s3.on(PutObjectCommand).callsFake(async (input) => {
        uploaded += Buffer.from(input.Body as Uint8Array).toString();
        return {};
      });
      writeFileSync(join(dir, 'x.db'), 'snapshot bytes');
      await new S3BackupStore('prod-etcd-backups-1', new S3Client({ region: 'eu-west-1' })).upload('snapshots/daily/2026-11-24.db', join(dir, 'x.db'), metadata);
      const input = s3.commandCalls(PutObjectCommand)[0].args[0].input;
      expect(input).toMatchObject({ Bucket: 'prod-etcd-backups-1', Key: 'snapshots/daily/2026-11-24.db', Metadata: metadata });
      expect(uploaded).toBe('snapshot bytes');
    });

    test('a snapshot across the part boundary goes up in parts, every byte once and in order, the metadata on the object', async () => {
      const partBytes = 5 * 1024 * 1024; // S3's smallest part
      const content = Buffer.alloc(2 * partBytes + 1234);
      for (let i = 0; i < content.length; i++) content[i] = (i * 7 + (i >> 13)) & 0xff;
      writeFileSync(join(dir, 'x.db'), content);
      const parts = recordParts();
      await new S3BackupStore('b', new S3Client({ region: 'eu-west-1' }), partBytes).upload('snapshots/frequent/x.db', join(dir, 'x.db'), metadata);
      expect(s3.commandCalls(PutObjectCommand)).toHaveLength(0);
      expect(s3.commandCalls(CreateMultipartUploadCommand)[0].args[0].input).toMatchObject({ Bucket: 'b', Key: 'snapshots/frequent/x.db', Metadata: metadata });
      expect([...parts.keys()].sort()).toEqual([1, 2, 3]);
      expect(parts.get(1)!.length).toBe(partBytes);
      expect(Buffer.concat([1, 2, 3].map((n) => parts.get(n)!)).equals(content)).toBe(true);
      const completed = s3.commandCalls(CompleteMultipartUploadCommand)[0].args[0].input;
      expect(completed.MultipartUpload?.Parts?.map((p) => p.PartNumber)).toEqual([1, 2, 3]);
    });

    test('a part refused by a throttled S3: the upload is aborted and sent again whole from the file', async () => {
      const { parts, content, store } = recordPartsRefusingTheSecondOnce(3, { name: 'SlowDown', message: 'Slow Down', status: 503 });
      s3.on(AbortMultipartUploadCommand).resolves({});
      await store.upload('k.db', join(dir, 'x.db'), metadata);
      expect(s3.commandCalls(AbortMultipartUploadCommand)).toHaveLength(1);
      expect(s3.commandCalls(CreateMultipartUploadCommand)).toHaveLength(2);
      expect(s3.commandCalls(CompleteMultipartUploadCommand)).toHaveLength(1);
      expect(Buffer.concat([parts.get(1)!, parts.get(2)!]).equals(content)).toBe(true);
    });

    test('an abort that S3 refuses (a role without s3:AbortMultipartUpload) does not hide the part error: the upload is still retried', async () => {
      const { parts, content, store } = recordPartsRefusingTheSecondOnce(4, { name: 'InternalError', message: 'We encountered an internal error', status: 500 });
      s3.on(AbortMultipartUploadCommand).rejects(Object.assign(new Error('Access Denied'), { name: 'AccessDenied', $metadata: { httpStatusCode: 403 } }));
      await store.upload('k.db', join(dir, 'x.db'), metadata);
      expect(s3.commandCalls(AbortMultipartUploadCommand)).toHaveLength(1);
      expect(s3.commandCalls(CreateMultipartUploadCommand)).toHaveLength(2);
      expect(Buffer.concat([parts.get(1)!, parts.get(2)!]).equals(content)).toBe(true);
    });
  });
});

for (const [minor, port] of [['3.4', 23790], ['3.5', 23890]] as const) {
  describeWithEtcd(minor, 'snapshot of a real etcd (one member on loopback)', (etcd) => {
    let dir: string;
    let member: ChildProcess;
    const client = `http://127.0.0.1:${port + 1}`;
    const etcdctl = (endpoint: string, args: string[]) => execFileSync(etcd().etcdctl, ['--endpoints', endpoint, ...args], { encoding: 'utf8' });
    const healthy = (endpoint: string) => spawnSync(etcd().etcdctl, ['--endpoints', endpoint, 'endpoint', 'health']).status === 0;

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'etcd-snap-'));
      member = spawn(etcd().etcd, ['--name', 'peer-3', '--data-dir', join(dir, 'data'), '--listen-client-urls', client, '--advertise-client-urls', client, '--listen-peer-urls', `http://127.0.0.1:${port + 11}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${port + 11}`, '--initial-cluster', `peer-3=http://127.0.0.1:${port + 11}`], { stdio: 'ignore' });
      for (let i = 0; i < 100 && !healthy(client); i++) await new Promise((r) => setTimeout(r, 100));
      for (let i = 0; i < 20; i++) etcdctl(client, ['put', `/k/${i}`, `v${i}`]);
    });

    afterAll(() => {
      member.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    });

    test('the agent runs this version\'s etcdctl, and its etcdutl for the offline snapshot commands (none on 3.4)', async () => {
      expect((await run('sh', ['-c', 'command -v etcdctl'])).stdout.trim()).toBe(etcd().etcdctl);
      expect(await findEtcdutl()).toBe(etcd().etcdutl);
    });

    test('the leader saves, verifies and uploads a snapshot holding every key, with matching metadata', async () => {
      const store = join(dir, 'backups');
      const log = memoryLogger();
      const outcome = await takeSnapshot(config, { etcd: new EtcdctlSnapshots(config, [], client), store: new DirectoryBackupStore(store), log, now: () => new Date('2026-11-24T10:00:00Z'), workDir: join(dir, 'work') });
      expect(outcome).toMatchObject({ taken: true, members: 1, revision: 21 });
      const file = join(store, 'snapshots/frequent/2026-11-24T10-00-00Z-rev21.db');
      const metadata = JSON.parse(readFileSync(`${file}.json`, 'utf8'));
      expect(metadata).toMatchObject({ revision: '21', members: '1', 'taken-by': 'peer-3' });
      expect(metadata.sha256).toBe(createHash('sha256').update(readFileSync(file)).digest('hex'));
      expect(existsSync(join(store, 'snapshots/daily/2026-11-24.db'))).toBe(true);
      // The uploaded file is a valid etcd snapshot by etcd's own check, and the metadata says what etcd says.
      const [tool, ...prefix] = etcd().etcdutl ? [etcd().etcdutl!] : [etcd().etcdctl];
      const status = JSON.parse(execFileSync(tool, [...prefix, 'snapshot', 'status', file, '-w', 'json'], { encoding: 'utf8' }));
      expect(status.revision).toBe(21);
      expect(metadata['total-keys']).toBe(String(status.totalKey));
      expect(metadata['etcd-hash']).toBe(String(status.hash));
      expect(existsSync(join(dir, 'work', `etcd-snapshot-${process.pid}.db`))).toBe(false);
    });

    test('the leader is told from this version\'s endpoint status: this member reads as leader, the same status naming another leader as a follower', async () => {
      const snapshots = new EtcdctlSnapshots(config, [], client);
      expect(await snapshots.isLeader()).toBe(true);
      const status = etcdctl(client, ['endpoint', 'status', '-w', 'json']);
      const otherLeader = status.replace(/"leader":\d+/, '"leader":1');
      expect(isLeaderInEndpointStatus(otherLeader)).toBe(false);
    });

    test('restored by the agent into an empty data dir, an etcd started on it serves every key as the formation member', async () => {
      const store = new DirectoryBackupStore(join(dir, 'backups'));
      const [snapshot] = (await store.listSnapshots()).filter((s) => s.key.includes('/frequent/'));
      expect(snapshot).toBeDefined();
      const dataDir = join(dir, 'restored');
      mkdirSync(join(dataDir, 'lost+found'), { recursive: true });
      const restoreConfig = parseAgentConfig({ mode: 'aws', clusterName: 'r', domain: 'restore.test', peerIndex: 0, peerCount: 1, dataDir, clusterToken: 'restored-token' });
      const log = memoryLogger();
      await restoreSnapshot(restoreConfig, snapshot, { store, restorer: new CliSnapshotRestorer(restoreConfig), log });
      expect(log.lines).toContainEqual(expect.objectContaining({ msg: 'snapshot restored', revision: 21, takenBy: 'peer-3' }));
      const restoredClient = `http://127.0.0.1:${port + 2}`;
      // etcd reads its identity from the restored WAL: no initial-cluster flags.
      const restored = spawn(etcd().etcd, ['--name', 'peer-0', '--data-dir', dataDir, '--listen-client-urls', restoredClient, '--advertise-client-urls', restoredClient, '--listen-peer-urls', `http://127.0.0.1:${port + 12}`], { stdio: 'ignore' });
      try {
        for (let i = 0; i < 100 && !healthy(restoredClient); i++) await new Promise((r) => setTimeout(r, 100));
        const keys = etcdctl(restoredClient, ['get', '/k/', '--prefix', '--keys-only']).split('\n').filter(Boolean);
        expect(keys.sort()).toEqual(Array.from({ length: 20 }, (_, i) => `/k/${i}`).sort());
        const members = etcdctl(restoredClient, ['member', 'list', '-w', 'simple']).trim().split('\n');
        expect(members).toHaveLength(1);
        expect(members[0].split(', ').slice(0, 4)).toEqual([formationMemberId(['http://peer-0.restore.test:2380'], 'restored-token'), 'started', 'peer-0', 'http://peer-0.restore.test:2380']);
      } finally {
        restored.kill('SIGKILL');
      }
    });
  });
}
