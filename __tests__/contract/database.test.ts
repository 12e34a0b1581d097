import { buildAgentConfig, parseAgentConfig } from '../../contract/agent-config';
import { defaultQuotaFor, ETCD_DEFAULT_QUOTA_BYTES, isRetentionDuration, largestQuotaFor } from '../../contract/database';
import { resolveDatabaseOptions } from '../../constructs/database';
import { databaseConfigLines, renderEtcdConfig } from '../../node-agent/etcd-config';

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;

describe('the quota a volume holds', () => {
  test.each([
    // volume → largest quota (the database twice, after the WAL's 512 MiB and the filesystem's 7 %), default (capped at 8 GiB)
    [1 * GiB, 220 * MiB, 220 * MiB],
    [4 * GiB, 1648 * MiB, 1648 * MiB],
    [20 * GiB, 9267 * MiB, 8 * GiB],
    [100 * GiB, 47360 * MiB, 8 * GiB],
    [512 * MiB, 0, 0],
  ])('a volume of %d bytes holds at most %d, and gets %d by default', (volume, largest, byDefault) => {
    expect(largestQuotaFor(volume)).toBe(largest);
    expect(defaultQuotaFor(volume)).toBe(byDefault);
  });

  test('a quota that fits leaves room for a second copy, the WAL and the filesystem', () => {
    for (const volume of [1, 7, 20, 64].map((g) => g * GiB)) {
      const quota = largestQuotaFor(volume);
      expect(2 * quota + 512 * MiB).toBeLessThanOrEqual(volume * 0.93);
    }
  });

  test('the construct derives the quota from volume.sizeGiB unless it is given', () => {
    expect(resolveDatabaseOptions({}, 20).settings.quotaBackendBytes).toBe(8 * GiB);
    expect(resolveDatabaseOptions({}, 2).settings.quotaBackendBytes).toBe(696 * MiB);
    expect(resolveDatabaseOptions({ quotaBackendBytes: 4 * GiB }, 20).settings.quotaBackendBytes).toBe(4 * GiB);
  });

  test.each([
    ['1h', true],
    ['30m', true],
    ['1h30m', true],
    ['90s', true],
    ['0h', false],
    ['1', false],
    ['1d', false],
    ['', false],
    ['1 h', false],
  ])('periodic retention %j accepted: %s', (text, ok) => {
    expect(isRetentionDuration(text)).toBe(ok);
  });
});

describe('the database settings in the agent config and etcd config', () => {
  const valid = { mode: 'aws', clusterName: 'prod', domain: 'prod.internal', peerIndex: 0, peerCount: 3, dataDir: '/d', clusterToken: 't' };

  test("a config without them gets etcd's own quota, kube-apiserver compaction and the default thresholds", () => {
    expect(parseAgentConfig(valid).database).toEqual({
      quotaBackendBytes: ETCD_DEFAULT_QUOTA_BYTES,
      compaction: { mode: 'kube-apiserver' },
      defragment: { minFreeableBytes: 64 * MiB, minFreeableShare: 0.25 },
    });
  });

  test('the factory and the parser agree', () => {
    const built = buildAgentConfig({ mode: 'aws', clusterName: 'prod', domain: 'prod.internal', peerIndex: 0, peerCount: 3, tls: false, dataDir: '/d', database: { quotaBackendBytes: 32 * MiB, defragment: { minFreeableBytes: 1, minFreeableShare: 0.1 } } });
    expect(parseAgentConfig(JSON.parse(JSON.stringify(built))).database).toEqual(built.database);
  });

  test.each([
    [{ quotaBackendBytes: 1.5 }, '"database.quotaBackendBytes" must be a whole number of bytes of at least 16777216'],
    [{ compaction: { mode: 'periodic' } }, '"database.compaction.retention" must be a duration'],
    [{ defragment: { minFreeableShare: -0.1 } }, '"database.defragment.minFreeableShare" must be a share'],
  ])('%j is refused', (database, message) => {
    expect(() => parseAgentConfig({ ...valid, database }, 'config.json')).toThrow(`config.json: ${message}`);
  });

  test.each([
    [{ mode: 'kube-apiserver' }, ['quota-backend-bytes: 33554432']],
    [{ mode: 'periodic', retention: '1h' }, ['quota-backend-bytes: 33554432', 'auto-compaction-mode: periodic', 'auto-compaction-retention: "1h"']],
    [{ mode: 'revision', retention: 1000 }, ['quota-backend-bytes: 33554432', 'auto-compaction-mode: revision', 'auto-compaction-retention: "1000"']],
  ] as const)('compaction %j → %j', (compaction, lines) => {
    expect(databaseConfigLines({ quotaBackendBytes: 32 * MiB, compaction, defragment: { minFreeableBytes: 0, minFreeableShare: 0 } })).toEqual(lines);
  });

  test("etcd's config carries the quota of the agent config", () => {
    const yaml = renderEtcdConfig(parseAgentConfig({ ...valid, database: { quotaBackendBytes: 8 * GiB } }));
    expect(yaml).toContain('\nquota-backend-bytes: 8589934592\n');
    expect(yaml).not.toContain('auto-compaction');
  });
});
