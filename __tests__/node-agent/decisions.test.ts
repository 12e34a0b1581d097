import {
  choosePeerVolume,
  classifyDataDir,
  decideAttachStep,
  decideFilesystem,
  decideMount,
  parseBlkidProbe,
  parseMountInfo,
  VolumeView,
} from '../../node-agent/decisions';

const want = { clusterName: 'prod', peerIndex: 3, zone: 'us-east-1a' };
const vol = (over: Partial<VolumeView> = {}): VolumeView => ({ volumeId: 'vol-1', zone: 'us-east-1a', state: 'available', attachments: [], ...over });

describe('which volume is this peer\'s', () => {
  test('exactly one in this zone', () => {
    expect(choosePeerVolume([vol()], want)).toEqual({ ok: true, volume: vol() });
  });
  test('none: names the tags', () => {
    expect(choosePeerVolume([], want)).toEqual({
      ok: false,
      reason: 'no volume tagged etcd-cluster:name=prod, etcd-cluster:peer-index=3 exists; the stack creates one per peer: check the cluster name and the peer index',
    });
  });
  test('several: names them all', () => {
    const r = choosePeerVolume([vol(), vol({ volumeId: 'vol-2', zone: 'us-east-1b' })], want);
    expect(r).toEqual({ ok: false, reason: expect.stringContaining('2 volumes are tagged etcd-cluster:name=prod, etcd-cluster:peer-index=3 (vol-1 in us-east-1a, vol-2 in us-east-1b)') });
  });
  test('another zone: names both zones', () => {
    expect(choosePeerVolume([vol({ zone: 'us-east-1c' })], want)).toEqual({
      ok: false,
      reason: expect.stringContaining('is in us-east-1c but this instance is in us-east-1a'),
    });
  });
  test('deleted volumes do not count', () => {
    expect(choosePeerVolume([vol(), vol({ volumeId: 'vol-old', state: 'deleting' })], want)).toMatchObject({ ok: true });
  });
});

describe('attach step', () => {
  const base = { selfId: 'i-self', heldForSeconds: 0, graceSeconds: 300 };
  test('free volume: attach; attached here (reboot): done; attaching here: wait', () => {
    expect(decideAttachStep({ ...base, volume: vol() }).action).toBe('attach');
    expect(decideAttachStep({ ...base, volume: vol({ state: 'in-use', attachments: [{ instanceId: 'i-self', state: 'attached' }] }) }).action).toBe('done');
    expect(decideAttachStep({ ...base, volume: vol({ state: 'in-use', attachments: [{ instanceId: 'i-self', state: 'attaching' }] }) }).action).toBe('wait');
  });

  test.each(['error', 'deleting', 'deleted'])('a volume that is %s is never waited for: fail at once', (state) => {
    expect(decideAttachStep({ ...base, volume: vol({ state }) })).toEqual({ action: 'fail', reason: expect.stringContaining(`is ${state}; EC2 cannot attach it`) });
  });

  const held = vol({ state: 'in-use', attachments: [{ instanceId: 'i-old', state: 'attached' }] });
  test.each([
    ['shutting-down', true, 10_000, 'wait'],
    ['terminated', false, 10_000, 'wait'],
    ['gone', false, 10_000, 'wait'],
    ['running', true, 10_000, 'wait'],
    ['stopped', true, 10_000, 'wait'],
    ['running', false, 10, 'wait'],
    ['running', false, 301, 'force-detach'],
    ['stopped', false, 301, 'force-detach'],
  ])('holder %s, in the peer group: %s, held %ss → %s', (state, inPeerGroup, heldForSeconds, action) => {
    const step = decideAttachStep({ ...base, volume: held, owner: { instanceId: 'i-old', state, inPeerGroup }, heldForSeconds });
    expect(step.action).toBe(action);
  });

  test('never steals from a live peer, however long it waits', () => {
    const step = decideAttachStep({ ...base, volume: held, owner: { instanceId: 'i-old', state: 'running', inPeerGroup: true }, heldForSeconds: 1e9 });
    expect(step).toEqual({ action: 'wait', reason: expect.stringContaining('still in this peer\'s group; never taken from a live peer') });
  });

  test('detaching or not yet looked up: wait', () => {
    expect(decideAttachStep({ ...base, volume: vol({ state: 'in-use', attachments: [{ instanceId: 'i-old', state: 'detaching' }] }) }).action).toBe('wait');
    expect(decideAttachStep({ ...base, volume: held }).action).toBe('wait');
  });
});

describe('blkid -p', () => {
  test('exit 2 with no output: no signature at all', () => {
    expect(parseBlkidProbe(2, '')).toEqual({ kind: 'empty' });
  });
  test('a filesystem', () => {
    expect(parseBlkidProbe(0, 'DEVNAME=/dev/loop0\nLABEL=etcd-0\nUUID=6791\nVERSION=1.0\nBLOCK_SIZE=1024\nTYPE=ext4\nUSAGE=filesystem\n')).toEqual({
      kind: 'filesystem',
      type: 'ext4',
      label: 'etcd-0',
      uuid: '6791',
    });
  });
  test('a partition table', () => {
    expect(parseBlkidProbe(0, 'DEVNAME=/dev/loop0\nPTUUID=abc\nPTTYPE=gpt\n')).toEqual({ kind: 'partition-table', type: 'gpt' });
  });
  test('raid or crypto members are not filesystems', () => {
    expect(parseBlkidProbe(0, 'TYPE=crypto_LUKS\nUSAGE=crypto\n')).toEqual({ kind: 'other', type: 'crypto_LUKS', usage: 'crypto' });
  });
  test('ambivalent or failed probes are errors, never "empty"', () => {
    expect(parseBlkidProbe(8, '', 'ambivalent result')).toMatchObject({ kind: 'error', message: expect.stringContaining('ambivalent') });
    expect(parseBlkidProbe(4, '', 'usage')).toMatchObject({ kind: 'error' });
    expect(parseBlkidProbe(2, 'TYPE=ext4')).toMatchObject({ kind: 'error' });
  });
});

describe('format or keep', () => {
  test('formats only a device with no signature', () => {
    expect(decideFilesystem({ kind: 'empty' }, 'ext4', '/dev/x')).toEqual({ action: 'format' });
    expect(decideFilesystem({ kind: 'filesystem', type: 'ext4' }, 'ext4', '/dev/x')).toEqual({ action: 'keep' });
  });
  test.each([
    [{ kind: 'filesystem' as const, type: 'xfs' }, '/dev/x holds a xfs filesystem, not ext4; not formatting a volume that holds data'],
    [{ kind: 'partition-table' as const, type: 'dos' }, '/dev/x holds a dos partition table; not formatting a volume that holds data'],
    [{ kind: 'other' as const, type: 'linux_raid_member', usage: 'raid' }, '/dev/x holds a linux_raid_member signature (raid); not formatting it'],
    [{ kind: 'error' as const, message: 'I/O error' }, 'cannot tell whether /dev/x is empty (I/O error); not formatting it'],
  ])('refuses %j', (probe, reason) => {
    const step = decideFilesystem(probe, 'ext4', '/dev/x');
    expect(step.action).toBe('refuse');
    expect((step as { reason: string }).reason).toContain(reason);
  });
});

describe('mount table', () => {
  const info = [
    '22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw',
    '41 22 7:0 / /var/lib/etcd rw,noatime shared:30 - ext4 /dev/loop0 rw',
    '42 22 7:1 / /mnt/with\\040space rw - ext4 /dev/loop1 rw',
  ].join('\n');
  const entries = parseMountInfo(info);
  test('parses mount points, sources and device numbers', () => {
    expect(entries[1]).toEqual({ deviceNumber: '7:0', mountPoint: '/var/lib/etcd', fsType: 'ext4', source: '/dev/loop0' });
    expect(entries[2].mountPoint).toBe('/mnt/with space');
  });
  test('mount, already mounted, or refuse', () => {
    expect(decideMount(entries, { path: '/dev/loop0', deviceNumber: '7:0' }, '/var/lib/etcd')).toEqual({ action: 'already-mounted' });
    expect(decideMount(entries, { path: '/dev/loop5', deviceNumber: '7:5' }, '/srv/etcd')).toEqual({ action: 'mount' });
    expect(decideMount(entries, { path: '/dev/loop5', deviceNumber: '7:5' }, '/var/lib/etcd')).toEqual({
      action: 'refuse',
      reason: '/var/lib/etcd already has /dev/loop0 (ext4) mounted on it, not /dev/loop5; unmount it first',
    });
    expect(decideMount(entries, { path: '/dev/loop1', deviceNumber: '7:1' }, '/srv/etcd')).toMatchObject({ action: 'refuse' });
  });
});

describe('data dir state', () => {
  test.each([
    [['lost+found'], undefined, 'fresh'],
    [[], undefined, 'fresh'],
    [['lost+found', 'member'], ['snap', 'wal'], 'member'],
    [['member'], [], 'unexpected'],
    [['lost+found', 'backup.tar'], undefined, 'unexpected'],
    // An interrupted restore: still fresh (the next boot restores again); completed but not yet cleaned: member.
    [['lost+found', '.etcd-restore'], undefined, 'fresh'],
    [['lost+found', '.etcd-restore', 'member'], ['snap', 'wal'], 'member'],
    // The volume's identity marker is the agent's, not foreign data.
    [['lost+found', 'etcd-volume-identity.json'], undefined, 'fresh'],
    [['etcd-volume-identity.json', 'lost+found', 'member'], ['wal'], 'member'],
  ])('%j / %j → %s', (top, member, state) => {
    expect(classifyDataDir(top, member)).toBe(state);
  });
});
