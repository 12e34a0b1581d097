/**
 * The agent against real disks: sparse files as volumes, real loop devices,
 * real blkid, mkfs.ext4 and mount. Needs root.
 */
import { execFileSync, spawnSync } from 'child_process';
import { createHash } from 'crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { boot } from '../../node-agent/boot';
import { AgentRefusal } from '../../node-agent/step';
import { prepareVolume } from '../../node-agent/volume';
import { parseAgentConfig } from '../../contract/agent-config';
import { VOLUME_MARKER_FILE } from '../../contract/naming';
import { LocalVolumeProvider } from '../../node-agent/local';
import { memoryLogger } from '../../runtime/log';
import { describeWithRoot, loopDeviceUnavailability } from '../helpers/privileges';

const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: 'utf8' }).trim();
const peer = (peerIndex: number) => ({ clusterName: 'sim', clusterToken: 'sim-etcd', peerIndex });
const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

describeWithRoot('node agent on real loop devices', loopDeviceUnavailability(['losetup', 'blkid', 'mkfs.ext4', 'mkfs.xfs', 'sfdisk', 'mount']), () => {
  let dir: string;
  let files: string[];

  function volumeFile(name: string, sizeMiB = 64): string {
    const file = join(dir, name);
    sh('truncate', ['-s', `${sizeMiB}M`, file]);
    files.push(file);
    return file;
  }
  const attach = (file: string) => sh('losetup', ['--find', '--show', file]);
  const mounted = (point: string) => readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.split(' ')[4] === point);

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'agent-disk-'));
    files = [];
  });

  afterEach(() => {
    // Unmount everything under dir (deepest first), then free the loop devices of our files.
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

  test('an empty volume is formatted, labelled and mounted; its data survives a detach and a second prepare', async () => {
    const file = volumeFile('peer-0.img');
    const mountPoint = join(dir, 'data');
    let loop = attach(file);
    const log = memoryLogger();
    const first = await prepareVolume({ device: loop, mountPoint, fsType: 'ext4', owner: 'root', identity: peer(0) }, log);
    expect(first).toEqual({ formatted: true, alreadyMounted: false, adopted: false, dataDir: 'fresh' });
    expect(sh('blkid', ['-p', '-o', 'value', '-s', 'LABEL', loop])).toBe('etcd-0');
    expect(mounted(mountPoint)).toBe(true);
    expect(log.lines.map((l) => l.step).filter(Boolean)).toEqual(['probe-filesystem', 'check-blank', 'create-filesystem', 'mount', 'write-marker', 'own-data-dir']);

    // etcd writes its member dir; the instance goes away (unmount, detach); a new one attaches the same file.
    mkdirSync(join(mountPoint, 'member', 'wal'), { recursive: true });
    writeFileSync(join(mountPoint, 'member', 'wal', '0.wal'), 'acknowledged writes');
    sh('umount', [mountPoint]);
    sh('losetup', ['-d', loop]);
    loop = attach(file);

    const second = await prepareVolume({ device: loop, mountPoint, fsType: 'ext4', owner: 'root', identity: peer(0) }, memoryLogger());
    expect(second).toEqual({ formatted: false, alreadyMounted: false, adopted: false, dataDir: 'member' });
    expect(readFileSync(join(mountPoint, 'member', 'wal', '0.wal'), 'utf8')).toBe('acknowledged writes');
  });

  test('already mounted from this device: nothing to do (idempotent)', async () => {
    const loop = attach(volumeFile('peer-1.img'));
    const mountPoint = join(dir, 'data');
    await prepareVolume({ device: loop, mountPoint, fsType: 'ext4', identity: peer(1) }, memoryLogger());
    const again = await prepareVolume({ device: loop, mountPoint, fsType: 'ext4', identity: peer(1) }, memoryLogger());
    expect(again).toMatchObject({ formatted: false, alreadyMounted: true });
  });

  test.each([
    ['an xfs filesystem', (dev: string) => sh('mkfs.xfs', ['-q', dev]), 'holds a xfs filesystem, not ext4; not formatting a volume that holds data'],
    ['a GPT partition table', (dev: string) => execFileSync('sfdisk', ['-q', dev], { input: 'label: gpt\n,\n', stdio: ['pipe', 'pipe', 'pipe'] }), 'holds a gpt partition table; not formatting a volume that holds data'],
  ])('a volume holding %s is refused and left byte-for-byte unchanged', async (_what, prepare, message) => {
    const file = volumeFile('foreign.img', 300);
    const loop = attach(file);
    prepare(loop);
    sh('sync', []);
    const before = sha(file);
    const mountPoint = join(dir, 'data');
    await expect(prepareVolume({ device: loop, mountPoint, fsType: 'ext4', identity: peer(2) }, memoryLogger())).rejects.toThrow(message);
    sh('sync', []);
    expect(sha(file)).toBe(before);
    expect(mounted(mountPoint)).toBe(false);
  });

  test('something else mounted at the data dir is refused', async () => {
    const mountPoint = join(dir, 'data');
    const other = attach(volumeFile('other.img'));
    sh('mkfs.ext4', ['-q', other]);
    mkdirSync(mountPoint);
    sh('mount', [other, mountPoint]);
    const mine = attach(volumeFile('mine.img'));
    await expect(prepareVolume({ device: mine, mountPoint, fsType: 'ext4', identity: peer(3) }, memoryLogger())).rejects.toThrow(
      `${mountPoint} already has ${other} (ext4) mounted on it, not ${mine}; unmount it first`,
    );
    // Still no signature at all: blkid -p exits 2.
    expect(spawnSync('blkid', ['-p', mine]).status).toBe(2);
  });

  describe('boot in local mode', () => {
    const configFor = (file: string, dataDir: string, extra: object = {}) =>
      parseAgentConfig({
        mode: 'local',
        clusterName: 'sim',
        domain: 'sim.etcd.test',
        peerIndex: 2,
        peerCount: 3,
        dataDir,
        etcdUser: 'root',
        etcdConfigFile: join(dir, 'etc', 'etcd.conf.yml'),
        clusterToken: 'sim-etcd',
        deadlines: { attachSeconds: 20, forceDetachGraceSeconds: 5, deviceSeconds: 5, dnsSeconds: 3 },
        local: { volumeFile: file, ipAddress: '10.99.0.12', instanceId: 'sim-i-1' },
        ...extra,
      });

    test('attaches the file, formats it once, writes etcd config for peer 2, and waits for its own name', async () => {
      const file = volumeFile('peer-2.img');
      const config = configFor(file, join(dir, 'data'));
      let lookups = 0;
      const resolver = { resolve4: async () => (++lookups < 3 ? ['10.99.0.5'] : ['10.99.0.12']) };
      const log = memoryLogger();
      const report = await boot(config, { volumes: new LocalVolumeProvider(config), resolver, log, sleep: async () => undefined, listenAddress: '10.99.0.12' });
      expect(report).toMatchObject({ peer: 'peer-2', instanceId: 'sim-i-1', volumeId: file, formatted: true, dataDir: 'fresh' });
      expect(lookups).toBe(3);
      const yaml = readFileSync(config.etcdConfigFile, 'utf8');
      expect(yaml).toContain('name: peer-2\n');
      expect(yaml).toContain('listen-peer-urls: http://10.99.0.12:2380\n');
      expect(log.lines.filter((l) => l.step).map((l) => l.step)).toEqual([
        'identify',
        'attach-volume',
        'probe-filesystem',
        'read-format-record',
        'check-blank',
        'create-filesystem',
        'record-formatted',
        'mount',
        'write-marker',
        'own-data-dir',
        'decide-start',
        'write-etcd-config',
        'wait-for-own-name',
      ]);
      expect(log.lines.every((l) => !l.step || typeof l.durationMs === 'number')).toBe(true);
    });

    test('waits while an old instance still has the volume mounted, then proceeds with its data', async () => {
      const file = volumeFile('peer-2.img');
      const oldDir = join(dir, 'old-instance-data');
      const oldLoop = attach(file);
      sh('mkfs.ext4', ['-q', '-L', 'etcd-2', oldLoop]);
      mkdirSync(oldDir);
      sh('mount', [oldLoop, oldDir]);
      writeFileSync(join(oldDir, VOLUME_MARKER_FILE), JSON.stringify({ ...peer(2), createdAt: '2026-12-01T00:00:00.000Z' }));
      mkdirSync(join(oldDir, 'member', 'wal'), { recursive: true });
      writeFileSync(join(oldDir, 'member', 'wal', 'from-old-instance.wal'), 'kept');
      // The old instance lets go after a while, as a terminating instance does: unmounted and its loop device
      // freed by one command (umount -d), so the agent never sees an unmounted device that is about to vanish.
      const release = setTimeout(() => sh('umount', ['-d', oldDir]), 1500);
      const config = configFor(file, join(dir, 'data'));
      const log = memoryLogger();
      try {
        const report = await boot(config, { volumes: new LocalVolumeProvider(config), resolver: { resolve4: async () => ['10.99.0.12'] }, log });
        expect(report.formatted).toBe(false);
        expect(report.dataDir).toBe('member');
        expect(readFileSync(join(dir, 'data', 'member', 'wal', 'from-old-instance.wal'), 'utf8')).toBe('kept');
        expect(log.lines).toContainEqual(expect.objectContaining({ msg: 'waiting for volume', reason: expect.stringContaining(`mounted-at:${oldDir}`) }));
      } finally {
        clearTimeout(release);
      }
    });

    test('its name never resolving here fails the boot with the reason', async () => {
      const config = configFor(volumeFile('peer-2.img'), join(dir, 'data'));
      const boot$ = boot(config, { volumes: new LocalVolumeProvider(config), resolver: { resolve4: async () => ['10.99.0.5'] }, log: memoryLogger() });
      await expect(boot$).rejects.toThrow(AgentRefusal);
      await expect(boot$).rejects.toThrow("peer-2.sim.etcd.test still resolves to 10.99.0.5 instead of this instance's 10.99.0.12 after 3s; is the DNS updater running?");
    });
  });

  describe('the node-agent CLI', () => {
    const cli = (args: string[]) => spawnSync(process.execPath, [join(__dirname, '..', '..', 'bin', 'node-agent.js'), ...args], { encoding: 'utf8' });

    test('prepare-volume on an empty device formats, mounts and exits 0 with JSON step lines', () => {
      const loop = attach(volumeFile('cli.img'));
      const mountPoint = join(dir, 'cli-data');
      const r = cli(['prepare-volume', '--device', loop, '--mount-point', mountPoint, '--cluster', 'sim', '--peer-index', '5']);
      expect(r.status).toBe(0);
      const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
      expect(lines[lines.length - 1]).toMatchObject({ msg: 'volume ready', formatted: true, dataDir: 'fresh' });
      expect(mounted(mountPoint)).toBe(true);
    });

    test('prepare-volume on a device with another filesystem exits 3 (refused) and says why', () => {
      const loop = attach(volumeFile('cli-xfs.img', 300));
      sh('mkfs.xfs', ['-q', loop]);
      const r = cli(['prepare-volume', '--device', loop, '--mount-point', join(dir, 'cli-data'), '--cluster', 'sim', '--peer-index', '5']);
      expect(r.status).toBe(3);
      expect(r.stderr).toContain('holds a xfs filesystem, not ext4; not formatting a volume that holds data');
    });

    test('bad usage exits 2 with the usage text', () => {
      const r = cli(['prepare-volume', '--device']);
      expect(r.status).toBe(2);
      expect(r.stderr).toContain('--device needs a value');
      expect(r.stderr).toContain('usage:');
      expect(existsSync(join(dir, 'nothing'))).toBe(false);
    });
  });
});
