/**
 * The volume-identity tables of the README, row by row: the blank check's
 * read plan and verdict, the marker file, and whose volume a filesystem is.
 */
import { VOLUME_MARKER_FILE } from '../../contract/naming';
import {
  BLANK_CHECK,
  blankReadPlan,
  decideBlank,
  decideFormatRecord,
  decideVolumeIdentity,
  FoundIdentity,
  MarkerRead,
  parseVolumeMarker,
  renderVolumeMarker,
  VolumeOwner,
} from '../../node-agent/volume-identity';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const total = (plan: { length: number }[]) => plan.reduce((n, r) => n + r.length, 0);

describe('blank check: what is read', () => {
  test('up to 1 GiB: every byte', () => {
    expect(blankReadPlan(64 * MiB)).toEqual([{ offset: 0, length: 64 * MiB }]);
    expect(blankReadPlan(GiB)).toEqual([{ offset: 0, length: GiB }]);
  });

  test('above 1 GiB: the first and last 8 MiB and 1 MiB at every 128 MiB boundary (20 GiB: 175 MiB)', () => {
    const plan = blankReadPlan(20 * GiB);
    expect(plan[0]).toEqual({ offset: 0, length: 8 * MiB });
    expect(plan[1]).toEqual({ offset: 128 * MiB, length: MiB });
    expect(plan[plan.length - 1]).toEqual({ offset: 20 * GiB - 8 * MiB, length: 8 * MiB });
    expect(plan).toHaveLength(1 + 159 + 1);
    expect(total(plan)).toBe(175 * MiB);
    // Sorted, disjoint, inside the device.
    plan.slice(1).forEach((r, n) => expect(r.offset).toBeGreaterThanOrEqual(plan[n].offset + plan[n].length));
  });

  test('ranges that touch are merged and none reaches past the end', () => {
    const size = GiB + 3 * MiB; // the sample at 1 GiB overlaps the tail
    const plan = blankReadPlan(size);
    expect(plan[plan.length - 1]).toEqual({ offset: size - 8 * MiB, length: 8 * MiB });
    expect(plan.every((r) => r.offset + r.length <= size)).toBe(true);
    expect(plan.map((r) => r.offset / MiB)).toEqual([0, 128, 256, 384, 512, 640, 768, 896, (size - 8 * MiB) / MiB]);
  });

  test('a size that is not a positive whole number reads nothing (and decideBlank refuses it)', () => {
    expect(blankReadPlan(0)).toEqual([]);
    expect(blankReadPlan(-1)).toEqual([]);
    expect(BLANK_CHECK.fullReadUpToBytes).toBe(GiB);
  });
});

describe('blank check: the verdict', () => {
  const read = { sizeBytes: 64 * MiB, plannedBytes: 64 * MiB, bytesRead: 64 * MiB };
  test.each([
    ['every byte of the plan read, all zero', read, 'format', undefined],
    ['a byte that is not zero', { ...read, firstNonZeroOffset: 1_048_576 }, 'refuse', '/dev/loop7 has no filesystem signature but is not blank (byte 1048576 is not zero)'],
    ['fewer bytes read than planned', { ...read, bytesRead: 4096 }, 'refuse', '/dev/loop7: read 4096 of the 67108864 bytes the blank check needs'],
    ['a device of size 0', { sizeBytes: 0, plannedBytes: 0, bytesRead: 0 }, 'refuse', '/dev/loop7 reports a size of 0 bytes'],
  ])('%s → %s', (_row, found, action, reason) => {
    const step = decideBlank(found, '/dev/loop7');
    expect(step).toEqual(reason ? { action, reason: expect.stringContaining(reason) } : { action });
  });
});

describe('blank check: a volume recorded as formatted', () => {
  test('never recorded: may go on to the blank check', () => {
    expect(decideFormatRecord(undefined, '/dev/nvme1n1', 'the tag etcd-cluster:formatted-at on vol-1')).toEqual({ action: 'format' });
  });
  test('recorded: refused whatever its bytes read, naming when and the record', () => {
    expect(decideFormatRecord('2026-12-01T00:00:00.000Z', '/dev/nvme1n1', 'the tag etcd-cluster:formatted-at on vol-1')).toEqual({
      action: 'refuse',
      reason: expect.stringContaining(
        '/dev/nvme1n1 has no filesystem, but the agent created one on this volume at 2026-12-01T00:00:00.000Z (the tag etcd-cluster:formatted-at on vol-1): its filesystem was wiped or damaged; not formatting it',
      ),
    });
  });
});

describe('the marker file', () => {
  const owner: VolumeOwner = { clusterName: 'prod', clusterToken: 'prod-etcd', peerIndex: 3 };
  test('round trip', () => {
    const text = renderVolumeMarker(owner, new Date('2026-12-04T02:00:00Z'));
    expect(text.endsWith('\n')).toBe(true);
    expect(parseVolumeMarker(text)).toEqual({ kind: 'marker', marker: { ...owner, createdAt: '2026-12-04T02:00:00.000Z' } });
  });
  test.each([
    ['not JSON', 'garbage', `${VOLUME_MARKER_FILE} is not JSON`],
    ['not an object', '42', `${VOLUME_MARKER_FILE} is not a JSON object`],
    ['null', 'null', `${VOLUME_MARKER_FILE} is not a JSON object`],
    ['fields missing', '{"clusterName":"prod","peerIndex":-1}', `${VOLUME_MARKER_FILE} lacks clusterToken, createdAt, peerIndex`],
    ['empty (a torn write)', '', `${VOLUME_MARKER_FILE} is not JSON`],
  ])('%s: invalid, never absent', (_what, text, problem) => {
    expect(parseVolumeMarker(text)).toEqual({ kind: 'invalid', problem: expect.stringContaining(problem) });
  });
});

describe('whose volume', () => {
  const want: VolumeOwner = { clusterName: 'prod', clusterToken: 'prod-etcd', peerIndex: 3 };
  const marker = (over: Partial<VolumeOwner> = {}): MarkerRead => ({ kind: 'marker', marker: { ...want, createdAt: '2026-12-01T00:00:00.000Z', ...over } });
  const absent: MarkerRead = { kind: 'absent' };
  const me = 'peer 3 of cluster prod (token prod-etcd)';
  test.each<[string, FoundIdentity, string, string | undefined]>([
    ['marker of this cluster and peer, label etcd-3', { label: 'etcd-3', marker: marker() }, 'accept', undefined],
    ['no marker, label etcd-3 (a volume from before markers)', { label: 'etcd-3', marker: absent }, 'adopt', undefined],
    ['marker of another cluster', { label: 'etcd-3', marker: marker({ clusterName: 'staging', clusterToken: 'staging-etcd' }) }, 'refuse',
      'belongs to another cluster: its marker says peer 3 of cluster staging (token staging-etcd), created 2026-12-01T00:00:00.000Z, but this is ' + me],
    ['marker of a cluster of the same name with another token', { label: 'etcd-3', marker: marker({ clusterToken: 'prod-etcd-old' }) }, 'refuse',
      'belongs to another cluster: its marker says peer 3 of cluster prod (token prod-etcd-old)'],
    ['marker of another peer of this cluster', { label: 'etcd-4', marker: marker({ peerIndex: 4 }) }, 'refuse',
      'belongs to another peer: its marker says peer 4 of cluster prod (token prod-etcd), created 2026-12-01T00:00:00.000Z, but this is ' + me],
    ['unreadable marker', { label: 'etcd-3', marker: { kind: 'invalid', problem: 'x is not JSON' } }, 'refuse', 'has a marker this agent cannot read (x is not JSON)'],
    ['no marker, label etcd-4', { label: 'etcd-4', marker: absent }, 'refuse', "is labelled etcd-4: peer 4's volume, not etcd-3, but this is " + me],
    ['marker of this peer, label etcd-4', { label: 'etcd-4', marker: marker() }, 'refuse', "is labelled etcd-4: peer 4's volume"],
    ['no marker, another label', { label: 'backups', marker: absent }, 'refuse', 'is labelled "backups", not etcd-3'],
    ['no marker, no label', { marker: absent }, 'refuse', 'has no filesystem label, not etcd-3'],
  ])('%s → %s', (_row, found, action, reason) => {
    const step = decideVolumeIdentity(found, want, '/dev/nvme1n1');
    if (!reason) {
      expect(step).toEqual({ action });
      return;
    }
    expect(step).toEqual({ action, reason: expect.stringContaining(`/dev/nvme1n1 ${reason}`) });
    expect(step).toEqual({ action, reason: expect.stringContaining('not using it and leaving it untouched') });
  });
});
