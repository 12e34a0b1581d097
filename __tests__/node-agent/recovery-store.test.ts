import { mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync, existsSync, mkdirSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { Readable } from 'stream';
import { mockClient } from 'aws-sdk-client-mock';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { createHash } from 'crypto';
import { DirectoryBackupStore, parsePeerReportBody, S3BackupStore } from '../../node-agent/backup';
import { parseAgentConfig } from '../../contract/agent-config';
import { restoreSnapshot, fullInitialCluster } from '../../node-agent/restore';
import type { SnapshotRestorer } from '../../node-agent/ports';
import { memoryLogger } from '../../runtime/log';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'recovery-store-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('peer reports', () => {
  test('only a well-formed body is a report', () => {
    expect(parsePeerReportBody('{"state":"fresh"}')).toEqual({ state: 'fresh' });
    expect(parsePeerReportBody('{"state":"member","restoredFrom":"snapshots/frequent/a.db"}')).toEqual({ state: 'member', restoredFrom: 'snapshots/frequent/a.db' });
    expect(parsePeerReportBody('{"state":"empty"}')).toBeUndefined();
    expect(parsePeerReportBody('not json')).toBeUndefined();
  });
});

describe('directory store (local mode)', () => {
  test('lists snapshots of both tiers with their times, downloads one with its metadata', async () => {
    const store = new DirectoryBackupStore(dir);
    writeFileSync(join(dir, 'snap.db'), 'bytes');
    await store.upload('snapshots/frequent/a-rev1.db', join(dir, 'snap.db'), { sha256: 'x', revision: '1' });
    await store.upload('snapshots/daily/2026-11-25.db', join(dir, 'snap.db'), { sha256: 'x', revision: '1' });
    utimesSync(join(dir, 'snapshots/frequent/a-rev1.db'), 1000, 1000);
    const listed = await store.listSnapshots();
    expect(listed.map((s) => s.key).sort()).toEqual(['snapshots/daily/2026-11-25.db', 'snapshots/frequent/a-rev1.db']);
    expect(listed.find((s) => s.key.includes('frequent'))!.at).toBe(1_000_000);
    expect(await store.download('snapshots/frequent/a-rev1.db', join(dir, 'out.db'))).toEqual({ sha256: 'x', revision: '1' });
    expect(readFileSync(join(dir, 'out.db'), 'utf8')).toBe('bytes');
  });

  test('reports: the latest of each peer, stamped with the store\'s time; unreadable ones count as none', async () => {
    const store = new DirectoryBackupStore(dir);
    expect(await store.readPeerReports()).toEqual([]);
    await store.putPeerReport(2, { state: 'fresh' });
    await store.putPeerReport(2, { state: 'member', restoredFrom: 'snapshots/frequent/a.db' });
    await store.putPeerReport(0, { state: 'fresh' });
    writeFileSync(join(dir, 'peers/peer-5.json'), '{garbage');
    writeFileSync(join(dir, 'peers/notes.txt'), 'ignored');
    const reports = (await store.readPeerReports()).sort((a, b) => a.peer - b.peer);
    expect(reports.map(({ at, ...r }) => r)).toEqual([
      { peer: 0, state: 'fresh' },
      { peer: 2, state: 'member', restoredFrom: 'snapshots/frequent/a.db' },
    ]);
    expect(reports.every((r) => Math.abs(r.at - Date.now()) < 60_000)).toBe(true);
  });
});

describe('S3 store (mock SDK)', () => {
  const s3 = mockClient(S3Client);
  beforeEach(() => s3.reset());

  test('lists every page of snapshots/ and keeps only snapshot files', async () => {
    s3.on(ListObjectsV2Command, { Bucket: 'b', Prefix: 'snapshots/', ContinuationToken: undefined }).resolves({
      IsTruncated: true,
      NextContinuationToken: 'page2',
      Contents: [{ Key: 'snapshots/frequent/a-rev1.db', LastModified: new Date(1000) }],
    });
    s3.on(ListObjectsV2Command, { Bucket: 'b', Prefix: 'snapshots/', ContinuationToken: 'page2' }).resolves({
      IsTruncated: false,
      Contents: [{ Key: 'snapshots/daily/2026-11-25.db', LastModified: new Date(2000) }, { Key: 'snapshots/frequent/stray.txt', LastModified: new Date(3000) }],
    });
    expect(await new S3BackupStore('b', new S3Client({})).listSnapshots()).toEqual([
      { key: 'snapshots/frequent/a-rev1.db', at: 1000 },
      { key: 'snapshots/daily/2026-11-25.db', at: 2000 },
    ]);
    expect(s3.commandCalls(ListObjectsV2Command)).toHaveLength(2);
  });

  test('downloads to the file and returns the object metadata; a throttled read is retried with a fresh file', async () => {
    s3.on(GetObjectCommand, { Bucket: 'b', Key: 'snapshots/frequent/a.db' })
      .rejectsOnce(Object.assign(new Error('slow down'), { name: 'SlowDown', $metadata: { httpStatusCode: 503 } }))
      .resolves({ Body: Readable.from([Buffer.from('snap'), Buffer.from('shot')]) as any, Metadata: { sha256: 'abc', revision: '7' } });
    const file = join(dir, 'a.db');
    expect(await new S3BackupStore('b', new S3Client({})).download('snapshots/frequent/a.db', file)).toEqual({ sha256: 'abc', revision: '7' });
    expect(readFileSync(file, 'utf8')).toBe('snapshot');
    expect(s3.commandCalls(GetObjectCommand)).toHaveLength(2);
  });

  test('writes a report to peers/peer-N.json and reads each one back with the time of the version read', async () => {
    s3.on(PutObjectCommand).resolves({});
    await new S3BackupStore('b', new S3Client({})).putPeerReport(4, { state: 'fresh', restoredFrom: 'snapshots/frequent/a.db' });
    expect(s3.commandCalls(PutObjectCommand)[0].args[0].input).toEqual({
      Bucket: 'b',
      Key: 'peers/peer-4.json',
      Body: '{"state":"fresh","restoredFrom":"snapshots/frequent/a.db"}',
      ContentType: 'application/json',
    });

    s3.on(ListObjectsV2Command, { Prefix: 'peers/' }).resolves({
      Contents: ['peers/peer-0.json', 'peers/peer-4.json', 'peers/peer-7.json', 'peers/README'].map((Key) => ({ Key, LastModified: new Date(1) })),
    });
    s3.on(GetObjectCommand, { Key: 'peers/peer-0.json' }).resolves({ Body: Readable.from(['{"state":"member"}']) as any, LastModified: new Date(5000) });
    s3.on(GetObjectCommand, { Key: 'peers/peer-4.json' }).resolves({ Body: Readable.from(['{"state":"fresh"}']) as any, LastModified: new Date(6000) });
    s3.on(GetObjectCommand, { Key: 'peers/peer-7.json' }).resolves({ Body: Readable.from(['<html>']) as any, LastModified: new Date(7000) });
    expect(await new S3BackupStore('b', new S3Client({})).readPeerReports()).toEqual([
      { peer: 0, state: 'member', at: 5000 },
      { peer: 4, state: 'fresh', at: 6000 },
    ]);
    expect(s3.commandCalls(GetObjectCommand).map((c) => c.args[0].input.Key)).toEqual(['peers/peer-0.json', 'peers/peer-4.json', 'peers/peer-7.json']);
  });
});

describe('restoring a snapshot into the data dir', () => {
  const config = parseAgentConfig({ mode: 'aws', clusterName: 'prod', domain: 'prod.internal', peerIndex: 1, peerCount: 3, dataDir: '/unused', clusterToken: 't', tls: true, ca: { secretId: 'arn' } });

  async function prepared(content: string, metadata: Record<string, string>) {
    const dataDir = join(dir, 'data');
    mkdirSync(join(dataDir, 'lost+found'), { recursive: true });
    const store = new DirectoryBackupStore(join(dir, 'backups'));
    writeFileSync(join(dir, 'x.db'), content);
    await store.upload('snapshots/frequent/a.db', join(dir, 'x.db'), metadata);
    return { dataDir, store, cfg: { ...config, dataDir } };
  }

  test('the full initial cluster names every peer by its FQDN', () => {
    expect(fullInitialCluster(config)).toBe('peer-0=https://peer-0.prod.internal:2380,peer-1=https://peer-1.prod.internal:2380,peer-2=https://peer-2.prod.internal:2380');
  });

  test('a snapshot whose checksum does not match is never unpacked', async () => {
    const { dataDir, store, cfg } = await prepared('bytes', { sha256: 'f'.repeat(64) });
    const restorer: SnapshotRestorer = { restore: jest.fn() };
    await expect(restoreSnapshot(cfg, { key: 'snapshots/frequent/a.db', at: 0 }, { store, restorer, log: memoryLogger() })).rejects.toThrow(/is corrupt: its sha256 is .* but it was uploaded as f{64}/);
    expect(restorer.restore).not.toHaveBeenCalled();
    expect(existsSync(join(dataDir, 'member'))).toBe(false);
  });

  test('never restores over a data dir that holds anything', async () => {
    const sha256 = createHash('sha256').update('bytes').digest('hex');
    const { dataDir, store, cfg } = await prepared('bytes', { sha256 });
    mkdirSync(join(dataDir, 'member', 'wal'), { recursive: true });
    writeFileSync(join(dataDir, 'member', 'wal', 'keep.wal'), 'precious');
    const restorer: SnapshotRestorer = { restore: jest.fn() };
    await expect(restoreSnapshot(cfg, { key: 'snapshots/frequent/a.db', at: 0 }, { store, restorer, log: memoryLogger() })).rejects.toThrow(/is not empty \(member\): not restoring a snapshot over it/);
    expect(restorer.restore).not.toHaveBeenCalled();
    expect(readFileSync(join(dataDir, 'member', 'wal', 'keep.wal'), 'utf8')).toBe('precious');
  });

  test('a snapshot without a checksum is refused', async () => {
    const { store, cfg } = await prepared('bytes', { revision: '1' });
    await expect(restoreSnapshot(cfg, { key: 'snapshots/frequent/a.db', at: 0 }, { store, restorer: { restore: jest.fn() }, log: memoryLogger() })).rejects.toThrow(/has no sha256 metadata/);
  });

  test('member is renamed into place last, with the identity of this peer in the full cluster; the work dir is removed', async () => {
    const sha256 = createHash('sha256').update('bytes').digest('hex');
    const { dataDir, store, cfg } = await prepared('bytes', { sha256, revision: '9' });
    const restorer: SnapshotRestorer = {
      restore: jest.fn(async (file: string, target: string) => {
        expect(readFileSync(file, 'utf8')).toBe('bytes');
        expect(existsSync(target)).toBe(false);
        mkdirSync(join(target, 'member', 'wal'), { recursive: true });
      }),
    };
    await expect(restoreSnapshot(cfg, { key: 'snapshots/frequent/a.db', at: 0 }, { store, restorer, log: memoryLogger() })).resolves.toMatchObject({ sha256, revision: 9, bytes: 5 });
    expect((restorer.restore as jest.Mock).mock.calls[0][2]).toEqual({
      name: 'peer-1',
      peerUrl: 'https://peer-1.prod.internal:2380',
      initialCluster: fullInitialCluster(config),
      clusterToken: 't',
    });
    expect(existsSync(join(dataDir, 'member', 'wal'))).toBe(true);
    expect(existsSync(join(dataDir, '.etcd-restore'))).toBe(false);
  });
});
