import { maxAckGap, median } from '../../simulation/scenarios';
import { renderSvg, renderTable, figures } from '../../simulation/report';
import { prefixEnd } from '../../simulation/etcd-client';

const result = {
  scenario: 'zone-and-node' as const,
  peers: 9,
  zones: 3,
  acked: 838,
  failed: 0,
  lost: 0,
  maxUnavailableSeconds: 0.88,
  recoverySeconds: 6.45,
  agentMsMedian: 790,
  etcdVersion: '3.4.23',
  readFailures: 0,
  bootstrapSeconds: 6.8,
  healthyAfterLastEtcdStartSeconds: 1.45,
  memberIdsUnchanged: true,
  memberIdsChanged: [],
  membersBefore: {},
  membersAfter: {},
  replacements: [],
  lostKeys: [],
  verifiedMembers: 9,
  unreadMembers: [],
  snapshot: { taken: 1, skipped: 8, members: 9, revision: 900 },
  timeline: {
    startedAt: 1000,
    load: [
      { at: 1500, kind: 'ack' as const },
      { at: 2600, kind: 'retry' as const },
      { at: 3200, kind: 'ack' as const },
    ],
    healthy: [
      { at: 1000, healthy: 9 },
      { at: 2500, healthy: 5 },
      { at: 3500, healthy: 9 },
    ],
    marks: [{ at: 2000, what: 'kill <zone 0>' }],
  },
};

describe('simulation report', () => {
  test('the longest time without an acknowledged write', () => {
    expect(maxAckGap(result.timeline.load, 1000, 4000)).toBe(1700);
    expect(maxAckGap([], 0, 500)).toBe(500);
  });

  test('median', () => {
    expect(median([])).toBe(0);
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 2, 3])).toBe(3);
  });

  test('JSON figures carry the documented keys and no raw timeline', () => {
    const f = figures(result) as Record<string, unknown>;
    for (const key of ['scenario', 'peers', 'zones', 'acked', 'failed', 'lost', 'maxUnavailableSeconds', 'recoverySeconds', 'agentMsMedian', 'etcdVersion']) {
      expect(f).toHaveProperty(key);
    }
    expect(f).not.toHaveProperty('timeline');
  });

  test('table and picture', () => {
    const table = renderTable([result]);
    expect(table).toContain('| lost writes');
    expect(table).toContain('zone-and-node (9/3)');
    const svg = renderSvg(result);
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('kill &lt;zone 0&gt;');
  });

  test('the recovery point appears only when a run restored from a snapshot', () => {
    expect(renderTable([result])).not.toContain('recovery point');
    const restored = { ...result, scenario: 'volumes-lost' as const, recoveryPoint: { snapshotRevision: 788, secondsFromSnapshotToLoss: 2, writesAfterSnapshot: 314, lostAfterSnapshot: 314, restoredPeers: 9 } };
    const table = renderTable([result, restored]);
    expect(table).toMatch(/\| restored from snapshot at revision +\| +– \| +788 \(9 peers\) \|/);
    expect(table).toMatch(/\| recovery point: writes after it, gone +\| +– \| +314 of 314 in 2\.0 s \|/);
    expect(figures(restored)).toHaveProperty('recoveryPoint.writesAfterSnapshot', 314);
  });

  test('labels of marks close in time do not overprint each other', () => {
    const close = { ...result, timeline: { ...result.timeline, marks: [{ at: 2000, what: 'snapshot at revision 677' }, { at: 2100, what: 'every instance dies with its volume' }, { at: 3900, what: 'all healthy' }] } };
    const ys = [...renderSvg(close).matchAll(/<text x="[\d.]+" y="([\d.]+)" font-size="10" text-anchor="middle">(snapshot|every|all healthy)/g)].map((m) => Number(m[1]));
    expect(ys).toHaveLength(3);
    expect(ys[0]).not.toBe(ys[1]);
  });

  test('prefix range end', () => {
    expect(prefixEnd('/sim/')).toBe('/sim0');
  });
});
