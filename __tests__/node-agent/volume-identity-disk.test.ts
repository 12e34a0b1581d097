/**
 * The volume's identity on real loop devices (root): a device with no
 * signature is formatted only when it reads as zeros, and a filesystem is used
 * only when its label and marker say it is this peer's of this cluster. Every
 * refusal leaves the backing file byte-for-byte as it was.
 */
import { execFileSync, spawnSync } from 'child_process';
import { mockClient } from 'aws-sdk-client-mock';
import { CreateTagsCommand, DescribeVolumesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { AwsVolumeProvider } from '../../node-agent/aws';
import { parseAgentConfig } from '../../contract/agent-config';
import { fileFormatRecord, formatRecordFileOf } from '../../node-agent/local';
import type { FormatRecord } from '../../node-agent/ports';
import { createHash } from 'crypto';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { VOLUME_MARKER_FILE } from '../../contract/naming';
import { VolumeRefusal } from '../../node-agent/step';
import { readForZeros } from '../../node-agent/system';
import { prepareVolume } from '../../node-agent/volume';
import { blankReadPlan, VolumeOwner } from '../../node-agent/volume-identity';
import { memoryLogger } from '../../runtime/log';
import { describeWithRoot, loopDeviceUnavailability } from '../helpers/privileges';

const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: 'utf8' }).trim();
const MiB = 1024 * 1024;
const prod = (peerIndex: number): VolumeOwner => ({ clusterName: 'prod', clusterToken: 'prod-etcd', peerIndex });

describeWithRoot('the volume\'s identity on real loop devices', loopDeviceUnavailability(['losetup', 'blkid', 'mkfs.ext4', 'mount', 'wipefs', 'blockdev']), () => {
  let dir: string;
  let files: string[];
  const mountPoint = () => join(dir, 'data');

  function volumeFile(name: string, size = '64M'): string {
    const file = join(dir, name);
    sh('truncate', ['-s', size, file]);
    files.push(file);
    return file;
  }
  const attach = (file: string) => sh('losetup', ['--find', '--show', file]);
  const mounted = (point: string) => readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.split(' ')[4] === point);
  /** The backing file's hash once everything written through the loop device has reached it. */
  const sha = (file: string) => {
    sh('sync', []);
    return createHash('sha256').update(readFileSync(file)).digest('hex');
  };
  const prepare = (device: string, identity: VolumeOwner, log = memoryLogger(), formatRecord?: FormatRecord) =>
    prepareVolume({ device, mountPoint: mountPoint(), fsType: 'ext4', owner: 'root', identity, formatRecord }, log);
  const steps = (log: ReturnType<typeof memoryLogger>) => log.lines.map((l) => l.step).filter(Boolean);

  /** A volume the agent prepared for `owner`, on which etcd wrote its member dir; unmounted again, its loop device kept. */
  async function usedVolume(name: string, owner: VolumeOwner): Promise<{ file: string; loop: string }> {
    const file = volumeFile(name);
    const loop = attach(file);
    await prepare(loop, owner);
    mkdirSync(join(mountPoint(), 'member', 'wal'), { recursive: true });
    writeFileSync(join(mountPoint(), 'member', 'wal', '0.wal'), 'acknowledged writes');
    sh('umount', [mountPoint()]);
    return { file, loop };
  }

  /** Expects a refusal that says `message`, with the file unchanged and nothing mounted. */
  async function expectRefused(file: string, loop: string, identity: VolumeOwner, message: string | RegExp): Promise<void> {
    const before = sha(file);
    const attempt = prepare(loop, identity);
    await expect(attempt).rejects.toThrow(VolumeRefusal);
    await expect(attempt).rejects.toThrow(message);
    expect(sha(file)).toBe(before);
    expect(mounted(mountPoint())).toBe(false);
  }

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'volume-identity-'));
    files = [];
  });

  afterEach(() => {
    const points = readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .map((l) => l.split(' ')[4])
      .filter((p) => p && p.startsWith(dir))
      .sort((a, b) => b.length - a.length);
    for (const p of points) spawnSync('umount', ['-l', p]);
    for (const f of files) {
      for (const loop of sh('losetup', ['-n', '-O', 'NAME', '-j', f]).split('\n').filter(Boolean)) spawnSync('losetup', ['-d', loop]);
    }
    rmSync(dir, { recursive: true, force: true });
  });

  test('a truly blank volume is formatted, labelled etcd-N and marked with the cluster and the peer', async () => {
    const loop = attach(volumeFile('blank.img'));
    const log = memoryLogger();
    expect(await prepare(loop, prod(4), log)).toEqual({ formatted: true, alreadyMounted: false, adopted: false, dataDir: 'fresh' });
    expect(sh('blkid', ['-p', '-o', 'value', '-s', 'LABEL', loop])).toBe('etcd-4');
    const marker = JSON.parse(readFileSync(join(mountPoint(), VOLUME_MARKER_FILE), 'utf8'));
    expect(marker).toEqual({ clusterName: 'prod', clusterToken: 'prod-etcd', peerIndex: 4, createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) });
    // 64 MiB is under the full-read limit: every byte was read before mkfs.
    expect(log.lines).toContainEqual(expect.objectContaining({ step: 'check-blank', bytesRead: 64 * MiB, plannedBytes: 64 * MiB }));
  });

  test('a volume of this peer mounts with its data, its identity checked read-only before the mount', async () => {
    const { loop } = await usedVolume('mine.img', prod(4));
    const log = memoryLogger();
    expect(await prepare(loop, prod(4), log)).toEqual({ formatted: false, alreadyMounted: false, adopted: false, dataDir: 'member' });
    expect(readFileSync(join(mountPoint(), 'member', 'wal', '0.wal'), 'utf8')).toBe('acknowledged writes');
    expect(log.lines.map((l) => l.step).filter(Boolean)).toEqual(['probe-filesystem', 'check-identity', 'mount', 'own-data-dir']);
    // Already mounted (a second run of the agent): checked on the mount, still accepted.
    expect(await prepare(loop, prod(4))).toMatchObject({ alreadyMounted: true, adopted: false });
  });

  test('a wiped signature (wipefs -a) on a volume holding etcd data: refused, not formatted', async () => {
    const { file, loop } = await usedVolume('wiped.img', prod(4));
    sh('wipefs', ['-a', '-q', loop]);
    expect(spawnSync('blkid', ['-p', loop]).status).toBe(2); // no signature at all: what fooled the old check
    await expectRefused(file, loop, prod(4), /has no filesystem signature but is not blank \(byte \d+ is not zero\)/);
  });

  test('a damaged start (the first MiB zeroed): refused, not formatted', async () => {
    const { file, loop } = await usedVolume('zeroed.img', prod(4));
    sh('dd', ['if=/dev/zero', `of=${loop}`, 'bs=1M', 'count=1', 'conv=notrunc,fsync', 'status=none']);
    expect(spawnSync('blkid', ['-p', loop]).status).toBe(2);
    await expectRefused(file, loop, prod(4), /has no filesystem signature but is not blank \(byte \d+ is not zero\)/);
  });

  test("another peer's volume (marked for peer 3) presented to peer 4: refused, naming both", async () => {
    const { file, loop } = await usedVolume('peer-3.img', prod(3));
    await expectRefused(file, loop, prod(4), 'belongs to another peer: its marker says peer 3 of cluster prod (token prod-etcd)');
    await expectRefused(file, loop, prod(4), 'but this is peer 4 of cluster prod (token prod-etcd)');
  });

  test("another peer's volume from before markers (label etcd-3, member/, no marker): refused by its label", async () => {
    const file = volumeFile('old-peer-3.img');
    const loop = attach(file);
    sh('mkfs.ext4', ['-q', '-L', 'etcd-3', loop]);
    await expectRefused(file, loop, prod(4), "is labelled etcd-3: peer 3's volume, not etcd-4");
  });

  test("another cluster's volume (same peer index): refused, naming both clusters", async () => {
    const { file, loop } = await usedVolume('staging-4.img', { clusterName: 'staging', clusterToken: 'staging-etcd', peerIndex: 4 });
    await expectRefused(file, loop, prod(4), 'belongs to another cluster: its marker says peer 4 of cluster staging (token staging-etcd)');
  });

  test('a volume of this peer from before markers (label etcd-4, member/) is adopted: the marker is written', async () => {
    const file = volumeFile('old-peer-4.img');
    const loop = attach(file);
    sh('mkfs.ext4', ['-q', '-L', 'etcd-4', loop]);
    const old = join(dir, 'old');
    mkdirSync(old);
    sh('mount', [loop, old]);
    mkdirSync(join(old, 'member', 'snap'), { recursive: true });
    sh('umount', [old]);
    expect(await prepare(loop, prod(4))).toEqual({ formatted: false, alreadyMounted: false, adopted: true, dataDir: 'member' });
    expect(JSON.parse(readFileSync(join(mountPoint(), VOLUME_MARKER_FILE), 'utf8'))).toMatchObject(prod(4));
  });

  describe('formatted once, never again: the record outside the volume', () => {
    test('local: a blank volume file is formatted, then recorded beside it; a second run only reads the record', async () => {
      const file = volumeFile('recorded.img');
      const loop = attach(file);
      const log = memoryLogger();
      await prepare(loop, prod(4), log, fileFormatRecord(file));
      expect(steps(log)).toEqual(['probe-filesystem', 'read-format-record', 'check-blank', 'create-filesystem', 'record-formatted', 'mount', 'write-marker', 'own-data-dir']);
      expect(readFileSync(formatRecordFileOf(file), 'utf8')).toMatch(/^\d{4}-\d\d-\d\dT.*Z\n$/);
    });

    test('local: a volume recorded as formatted that reads as blank is refused, untouched: its filesystem was wiped, not new', async () => {
      const file = volumeFile('wiped-whole.img');
      writeFileSync(formatRecordFileOf(file), '2026-12-01T00:00:00.000Z\n');
      const loop = attach(file);
      const before = sha(file);
      const attempt = prepare(loop, prod(4), memoryLogger(), fileFormatRecord(file));
      await expect(attempt).rejects.toThrow(VolumeRefusal);
      await expect(attempt).rejects.toThrow(`has no filesystem, but the agent created one on this volume at 2026-12-01T00:00:00.000Z (the file ${formatRecordFileOf(file)})`);
      expect(sha(file)).toBe(before);
      expect(spawnSync('blkid', ['-p', loop]).status).toBe(2);
    });

    test('local: a volume of this peer with no record (from before records) gets one', async () => {
      const { file, loop } = await usedVolume('unrecorded.img', prod(4));
      const log = memoryLogger();
      await prepare(loop, prod(4), log, fileFormatRecord(file));
      expect(log.lines).toContainEqual(expect.objectContaining({ step: 'record-formatted', backfilled: true }));
      expect(readFileSync(formatRecordFileOf(file), 'utf8')).toMatch(/Z\n$/);
    });

    describe('AWS (mocked EC2): the etcd-cluster:formatted-at tag', () => {
      const ec2 = mockClient(EC2Client);
      const config = parseAgentConfig({ mode: 'aws', clusterName: 'prod', domain: 'prod.internal', peerIndex: 4, peerCount: 5, dataDir: '/var/lib/etcd', clusterToken: 'prod-etcd' });
      const awsRecord = () => new AwsVolumeProvider(config, { sleep: async () => undefined }).formatRecord({ volumeId: 'vol-4', device: '/dev/loop' });
      const described = (tags: { Key: string; Value: string }[]) => ({ Volumes: [{ VolumeId: 'vol-4', State: 'in-use' as const, Tags: tags }] });
      beforeEach(() => ec2.reset());
      afterAll(() => ec2.restore());

      test('read before mkfs, written after it', async () => {
        ec2.on(DescribeVolumesCommand).resolves(described([{ Key: 'etcd-cluster:peer-index', Value: '4' }]));
        ec2.on(CreateTagsCommand).resolves({});
        const loop = attach(volumeFile('ebs.img'));
        const log = memoryLogger();
        await prepare(loop, prod(4), log, awsRecord());
        const order = steps(log);
        expect(order.indexOf('read-format-record')).toBeLessThan(order.indexOf('create-filesystem'));
        expect(order.indexOf('record-formatted')).toBe(order.indexOf('create-filesystem') + 1);
        expect(ec2.commandCalls(CreateTagsCommand).map((c) => c.args[0].input)).toEqual([
          { Resources: ['vol-4'], Tags: [{ Key: 'etcd-cluster:formatted-at', Value: expect.stringMatching(/Z$/) }] },
        ]);
      });

      test('a tagged volume with no filesystem is refused: no mkfs, no tag written, the device untouched', async () => {
        ec2.on(DescribeVolumesCommand).resolves(described([{ Key: 'etcd-cluster:formatted-at', Value: '2026-11-30T12:00:00.000Z' }]));
        const file = volumeFile('ebs-wiped.img');
        const loop = attach(file);
        const before = sha(file);
        await expect(prepare(loop, prod(4), memoryLogger(), awsRecord())).rejects.toThrow(
          'has no filesystem, but the agent created one on this volume at 2026-11-30T12:00:00.000Z (the tag etcd-cluster:formatted-at on vol-4)',
        );
        expect(ec2.commandCalls(CreateTagsCommand)).toHaveLength(0);
        expect(sha(file)).toBe(before);
      });
    });
  });

  describe('a large sparse device (20 GiB), within the stated sampling rule', () => {
    const size = 20 * 1024 * MiB;
    const poke = (file: string, offset: number) => {
      const fd = openSync(file, 'r+');
      writeSync(fd, Buffer.from([0x5a]), 0, 1, offset);
      closeSync(fd);
    };

    test('blank: the head, the tail and one MiB per 128 MiB are read (175 MiB), all zero', async () => {
      const loop = attach(volumeFile('large.img', '20G'));
      const read = await readForZeros(loop, size, blankReadPlan(size));
      expect(read).toEqual({ sizeBytes: size, plannedBytes: 175 * MiB, bytesRead: 175 * MiB });
    });

    test.each([
      ['at a 128 MiB boundary in the middle', 10 * 1024 * MiB],
      ['in the last MiB', size - 1],
      ['in the first 8 MiB, past the first', 5 * MiB],
    ])('one byte %s: refused, naming its offset, nothing mounted', async (_where, offset) => {
      const file = volumeFile('large.img', '20G');
      poke(file, offset);
      const loop = attach(file);
      const attempt = prepare(loop, prod(4));
      await expect(attempt).rejects.toThrow(`(byte ${offset} is not zero)`);
      expect(spawnSync('blkid', ['-p', loop]).status).toBe(2);
      expect(mounted(mountPoint())).toBe(false);
    });
  });

  test('the CLI: a refused volume exits 3 with one line naming both identities', async () => {
    const { loop } = await usedVolume('peer-3-cli.img', prod(3));
    const r = spawnSync(process.execPath, [join(__dirname, '..', '..', 'bin', 'node-agent.js'), 'prepare-volume', '--device', loop, '--mount-point', mountPoint(), '--cluster', 'prod', '--peer-index', '4'], { encoding: 'utf8' });
    expect(r.status).toBe(3);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('belongs to another peer: its marker says peer 3 of cluster prod (token prod-etcd)');
    expect(lines[0]).toContain('but this is peer 4 of cluster prod (token prod-etcd)');
  });
});
