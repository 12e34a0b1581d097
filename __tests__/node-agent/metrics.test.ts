import {
  daysLeft,
  dimensionSets,
  embeddedMetricDocument,
  histogramDelta,
  histogramQuantileMs,
  memberListsAgree,
  parseHistogram,
  parseSample,
  quorumMargin,
  quotaUsedPercent,
} from '../../node-agent/metrics';

// Lines as etcd 3.4/3.5 expose them on /metrics.
const METRICS_TEXT = `# HELP etcd_disk_wal_fsync_duration_seconds The latency distributions of fsync called by WAL.
# TYPE etcd_disk_wal_fsync_duration_seconds histogram
etcd_disk_wal_fsync_duration_seconds_bucket{le="0.001"} 50
etcd_disk_wal_fsync_duration_seconds_bucket{le="0.002"} 80
etcd_disk_wal_fsync_duration_seconds_bucket{le="0.004"} 95
etcd_disk_wal_fsync_duration_seconds_bucket{le="0.008"} 99
etcd_disk_wal_fsync_duration_seconds_bucket{le="0.016"} 100
etcd_disk_wal_fsync_duration_seconds_bucket{le="+Inf"} 100
etcd_disk_wal_fsync_duration_seconds_sum 0.2
etcd_disk_wal_fsync_duration_seconds_count 100
etcd_server_quota_backend_bytes 2.147483648e+09
etcd_server_leader_changes_seen_total 3
etcd_mvcc_db_total_size_in_bytes 2.097152e+07
`;

describe('histograms from etcd /metrics', () => {
  const h = parseHistogram(METRICS_TEXT, 'etcd_disk_wal_fsync_duration_seconds')!;

  test('parses buckets, +Inf and count; absent histograms are undefined', () => {
    expect(h.count).toBe(100);
    expect(h.buckets.map((b) => b.le)).toEqual([0.001, 0.002, 0.004, 0.008, 0.016, Infinity]);
    expect(parseHistogram(METRICS_TEXT, 'etcd_disk_backend_commit_duration_seconds')).toBeUndefined();
  });

  test('quantiles interpolate inside the bucket, like histogram_quantile', () => {
    expect(histogramQuantileMs(h, 0.5)).toBeCloseTo(1, 6); // rank 50 = top of the first bucket
    expect(histogramQuantileMs(h, 0.99)).toBeCloseTo(8, 6); // rank 99 = top of the 8 ms bucket
    expect(histogramQuantileMs(h, 0.65)).toBeCloseTo(1.5, 6); // half-way through 1..2 ms
    expect(histogramQuantileMs({ count: 0, buckets: [] }, 0.99)).toBeUndefined();
  });

  test('a quantile in the +Inf bucket answers the last finite bound', () => {
    const slow = { count: 10, buckets: [{ le: 0.5, count: 1 }, { le: Infinity, count: 10 }] };
    expect(histogramQuantileMs(slow, 0.99)).toBe(500);
  });

  test('the delta between scrapes speaks of the last interval; a restart starts over', () => {
    // Ten new observations, all slower than 16 ms: the interval's p99 is in the +Inf bucket, the lifetime p99 is not.
    const scrapeTwo = { count: 110, buckets: [...h.buckets.filter((b) => b.le !== Infinity), { le: Infinity, count: 110 }] };
    const delta = histogramDelta(h, scrapeTwo);
    expect(delta.count).toBe(10);
    expect(histogramQuantileMs(delta, 0.99)).toBe(16);
    expect(histogramQuantileMs(scrapeTwo, 0.5)).toBeLessThan(2);
    expect(histogramDelta(scrapeTwo, h)).toBe(h); // counts went down: etcd restarted
    expect(histogramDelta(undefined, h)).toBe(h);
  });

  test('plain samples, in exponent notation too', () => {
    expect(parseSample(METRICS_TEXT, 'etcd_server_quota_backend_bytes')).toBe(2147483648);
    expect(parseSample(METRICS_TEXT, 'etcd_server_leader_changes_seen_total')).toBe(3);
    expect(parseSample(METRICS_TEXT, 'etcd_server_has_leader')).toBeUndefined();
  });
});

describe('cluster figures', () => {
  const m = (healthy: boolean, isLearner = false, id = Math.random().toString(16)) => ({ id, healthy, isLearner });

  test.each([
    // healthy voters, voters, learners → margin
    [9, 9, 0, 4],
    [5, 9, 0, 0], // a zone and a node down: one more failure loses quorum
    [4, 9, 0, -1],
    [3, 3, 0, 1],
    [5, 5, 1, 2], // a learner does not vote and does not count
  ])('%i healthy of %i voters (+%i learners) → margin %i', (healthy, voters, learners, margin) => {
    const members = [
      ...Array.from({ length: voters }, (_, i) => m(i < healthy)),
      ...Array.from({ length: learners }, () => m(true, true)),
    ];
    expect(quorumMargin(members)).toBe(margin);
  });

  test('member lists agree only on the same cluster id and the same members, in any order', () => {
    const a = { clusterId: 'c1', memberIds: ['1', '2', '3'] };
    expect(memberListsAgree([a, { clusterId: 'c1', memberIds: ['3', '1', '2'] }])).toBe(true);
    expect(memberListsAgree([a, { clusterId: 'c1', memberIds: ['1', '2'] }])).toBe(false);
    expect(memberListsAgree([a, { clusterId: 'c2', memberIds: ['1', '2', '3'] }])).toBe(false);
    expect(memberListsAgree([])).toBe(false);
  });

  test('quota share and certificate days', () => {
    expect(quotaUsedPercent(20_971_520, 2_147_483_648)).toBe(1);
    expect(quotaUsedPercent(1, 0)).toBeUndefined();
    expect(daysLeft(new Date('2026-12-01T00:00:00Z'), new Date('2026-11-25T12:00:00Z'))).toBe(5);
    expect(daysLeft(new Date('2026-11-24T00:00:00Z'), new Date('2026-11-25T00:00:00Z'))).toBe(-1);
  });
});

describe('publishing', () => {
  test('per-peer metrics go under the cluster and the peer; cluster metrics under the cluster only', () => {
    expect(dimensionSets('dbSizeBytes', 'prod', 3)).toEqual([{ ClusterName: 'prod' }, { ClusterName: 'prod', Peer: 'peer-3' }]);
    expect(dimensionSets('quorumMargin', 'prod', 3)).toEqual([{ ClusterName: 'prod' }]);
  });

  test('the embedded-metric document names every finite value with its unit, in namespace EtcdCluster', () => {
    const doc = embeddedMetricDocument('prod', 2, { quorumMargin: 4, walFsyncP99Ms: 1.5, dbQuotaUsedPercent: NaN }, 1_700_000_000_000) as any;
    expect(doc._aws.CloudWatchMetrics[0].Namespace).toBe('EtcdCluster');
    expect(doc._aws.CloudWatchMetrics[0].Metrics).toEqual([
      { Name: 'QuorumMargin', Unit: 'Count' },
      { Name: 'WalFsyncP99Ms', Unit: 'Milliseconds' },
    ]);
    expect(doc).toMatchObject({ ClusterName: 'prod', Peer: 'peer-2', QuorumMargin: 4, WalFsyncP99Ms: 1.5 });
    expect(doc.DbQuotaUsedPercent).toBeUndefined();
  });
});
