import { maxAckGap, median } from '../../simulation/scenarios';
import { BUCKET_MS, bucketCounts, renderSvg, renderTable, figures, sampleSteps, stepPoints } from '../../simulation/report';
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
  metrics: {},
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

  test('the metrics the peers published: the end of every run, and during the failure where one was measured', () => {
    const metrics = { 'peer-0': { QuorumMargin: 4, WalFsyncP99Ms: 3.1 }, 'peer-1': { QuorumMargin: 3, WalFsyncP99Ms: 7.9 }, 'peer-2': {} };
    const ended = { ...result, metrics };
    const slow = { ...result, scenario: 'slow-disk' as const, metrics, metricsDuringFailure: { 'peer-0': { WalFsyncP99Ms: 2 }, 'peer-8': { WalFsyncP99Ms: 187.5 } } };
    expect(renderTable([ended])).toMatch(/\| quorum margin at the end, lowest +\| +3 \|/);
    expect(renderTable([ended])).toMatch(/\| WAL fsync p99 at the end, highest \(ms\) +\| +7\.9 \(peer-1\) \|/);
    expect(renderTable([ended])).not.toContain('during the failure');
    expect(renderTable([ended, slow])).toMatch(/\| WAL fsync p99 during the failure, highest \(ms\) +\| +– \| +187\.5 \(peer-8\) \|/);
    expect(renderTable([{ ...result, metrics: {} }])).toMatch(/\| quorum margin at the end, lowest +\| +– \|/);
    expect(figures(slow)).toHaveProperty(['metricsDuringFailure', 'peer-8', 'WalFsyncP99Ms'], 187.5);
  });

  test('labels of marks close in time do not overprint each other', () => {
    const close = { ...result, timeline: { ...result.timeline, marks: [{ at: 2000, what: 'snapshot at revision 677' }, { at: 2100, what: 'every instance dies with its volume' }, { at: 3900, what: 'all healthy' }] } };
    const ys = [...renderSvg(close).matchAll(/<text x="[\d.]+" y="([\d.]+)" font-size="10" text-anchor="middle">(snapshot|every|all healthy)/g)].map((m) => Number(m[1]));
    expect(ys).toHaveLength(3);
    expect(ys[0]).not.toBe(ys[1]);
  });

  test('buckets count whole buckets only, and steps hold each value over its own bucket', () => {
    expect(bucketCounts([1000, 1050, 1099, 1100, 1250, 1399], 1000, 1399, 100)).toEqual([3, 1, 1]);
    expect(stepPoints([3, 0], 100)).toEqual([[0, 3], [100, 3], [100, 0], [200, 0]]);
    expect(stepPoints([3, 3, 3, 0, 0, 2], 100)).toEqual([[0, 3], [300, 3], [300, 0], [500, 0], [500, 2], [600, 2]]);
    expect(sampleSteps([{ at: 1000, value: 9 }, { at: 1700, value: 5 }], 1000, 2000)).toEqual([[0, 9], [700, 9], [700, 5], [1000, 5]]);
  });

  describe('the picture agrees with the marks (steps of 100 ms, no line slopes into a later event)', () => {
    // Steady writes every 50 ms, none from the kill at 2.35 s until 3.45 s, retries only after the kill, health seen to drop at 2.5 s.
    const startedAt = 1000;
    const killAt = 3350;
    const resumeAt = 4450;
    const acks = Array.from({ length: 120 }, (_, i) => startedAt + i * 50).filter((at) => at < killAt || at >= resumeAt);
    const run = {
      ...result,
      timeline: {
        startedAt,
        load: [...acks.map((at) => ({ at, kind: 'ack' as const })), { at: 3400, kind: 'retry' as const }, { at: 3900, kind: 'write-failed' as const }].sort((a, b) => a.at - b.at),
        healthy: [{ at: 1000, healthy: 9 }, { at: 3500, healthy: 5 }, { at: 5000, healthy: 9 }],
        marks: [{ at: killAt, what: 'kill <zone 0>' }],
      },
    };
    const svg = renderSvg(run);
    const points = (stroke: string) => {
      const d = new RegExp(`<path d="([^"]*)" fill="none" stroke="${stroke}"`).exec(svg)![1];
      return [...d.matchAll(/[ML]([\d.]+),([\d.]+)/g)].map((m) => [Number(m[1]), Number(m[2])] as const);
    };
    /** The drawn line's height at pixel column `px` (interpolating, as an SVG path does). */
    const lineAt = (pts: (readonly [number, number])[], px: number) => {
      for (let i = 1; i < pts.length; i++) {
        const [x0, y0] = pts[i - 1];
        const [x1, y1] = pts[i];
        if (x0 <= px && px <= x1 && x1 > x0) return y0 + ((px - x0) / (x1 - x0)) * (y1 - y0);
      }
      throw new Error(`no segment at ${px}`);
    };
    const markX = Number(/<line x1="([\d.]+)"[^>]*stroke-dasharray/.exec(svg)![1]);
    // The lines start at the load's start: the kill's distance from it gives the scale.
    const pxPerMs = (markX - points('#2ca02c')[0][0]) / (killAt - startedAt);

    test('the acknowledged-writes line is at its steady level until the bucket of the kill, and at zero through the gap', () => {
      const acked = points('#2ca02c');
      const steady = lineAt(acked, markX - 1000 * pxPerMs);
      for (let ms = 50; ms <= 1000; ms += 50) expect(lineAt(acked, markX - (BUCKET_MS + ms) * pxPerMs)).toBeCloseTo(steady, 5);
      const zero = Math.max(...acked.map(([, y]) => y));
      for (let ms = BUCKET_MS; ms < resumeAt - killAt - BUCKET_MS; ms += 50) expect(lineAt(acked, markX + ms * pxPerMs)).toBeCloseTo(zero, 5);
    });

    test('no failed-attempt bar starts before the bucket of the kill', () => {
      // The bars of the chart (the legend's swatch has a whole-pixel width and no part in this).
      const bars = [...svg.matchAll(/<rect x="([\d.]+)" y="[\d.]+" width="\d+\.\d+" height="[\d.]+" fill="#d62728"/g)].map((m) => Number(m[1]));
      expect(bars).toHaveLength(2);
      for (const bar of bars) expect(bar).toBeGreaterThanOrEqual(markX - BUCKET_MS * pxPerMs);
    });

    test('the healthy line holds 9 until the sample that saw 5', () => {
      const health = points('#1f77b4');
      const nine = lineAt(health, markX - 1000 * pxPerMs);
      const drop = markX + (3500 - killAt) * pxPerMs;
      for (let px = health[0][0] + 1; px < drop - 0.5; px += 5) expect(lineAt(health, px)).toBeCloseTo(nine, 5);
      expect(lineAt(health, drop + 10)).toBeGreaterThan(nine);
    });
  });

  test('prefix range end', () => {
    expect(prefixEnd('/sim/')).toBe('/sim0');
  });
});
