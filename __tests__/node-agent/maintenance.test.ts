import type { DatabaseSettings } from '../../contract/database';
import { buildAgentConfig } from '../../contract/agent-config';
import { clusterUnfit, decideMaintenance, defragOrder, defragWanted, MemberDb, nospaceCompaction, nospaceVerdict, planNospace } from '../../node-agent/maintenance';

const MiB = 1024 * 1024;
const settings: DatabaseSettings = {
  quotaBackendBytes: 1000 * MiB,
  compaction: { mode: 'kube-apiserver' },
  defragment: { minFreeableBytes: 64 * MiB, minFreeableShare: 0.25 },
};
/** A healthy voting member: `db` and `inUse` in MiB. */
const member = (name: string, db: number, inUse: number, extra: Partial<MemberDb> = {}): MemberDb => ({
  name,
  isLeader: false,
  isLearner: false,
  healthy: true,
  dbSize: db * MiB,
  dbSizeInUse: inUse * MiB,
  ...extra,
});
const leader = (name: string, db: number, inUse: number, extra: Partial<MemberDb> = {}) => member(name, db, inUse, { isLeader: true, ...extra });

describe('is one member worth defragmenting (outside NOSPACE)', () => {
  test.each([
    // database MiB, in use MiB → wanted, reason
    [400, 300, true, 'peer-1: 100.0 MiB (25 %) freeable'],
    [400, 350, false, 'peer-1: 50.0 MiB freeable, below minFreeableBytes (64.0 MiB)'],
    [600, 500, false, 'peer-1: 17 % of the database freeable, below minFreeableShare (25 %)'],
    [850, 780, true, 'peer-1: 70.0 MiB freeable and the database at 85 % of the quota'], // near the quota: the share does not matter
    [850, 800, false, 'peer-1: 50.0 MiB freeable, below minFreeableBytes (64.0 MiB)'], // …but the bytes still do
    [100, 0, true, 'peer-1: 100.0 MiB (100 %) freeable'],
  ])('%d MiB, %d MiB in use → %s', (db, inUse, wanted, reason) => {
    expect(defragWanted(member('peer-1', db, inUse), settings.defragment, settings.quotaBackendBytes)).toEqual({ wanted, reason });
  });

  test('a member without a status is not defragmented', () => {
    expect(defragWanted({ ...member('peer-1', 1, 1), dbSize: undefined }, settings.defragment, settings.quotaBackendBytes)).toEqual({ wanted: false, reason: 'peer-1 gave no database size' });
  });
});

describe('is the cluster fit for one member to pause', () => {
  test.each([
    ['every member healthy, one leader', [leader('peer-0', 1, 1), member('peer-1', 1, 1), member('peer-2', 1, 1)], undefined],
    ['a member down', [leader('peer-0', 1, 1), member('peer-1', 1, 1, { healthy: false }), member('peer-2', 1, 1)], 'not every member is healthy (peer-1)'],
    ['a learner', [leader('peer-0', 1, 1), member('peer-1', 1, 1, { isLearner: true }), member('peer-2', 1, 1)], 'a member is rejoining as a learner (peer-1)'],
    ['a member without status', [leader('peer-0', 1, 1), { ...member('peer-1', 1, 1), dbSize: undefined }], 'no endpoint status from peer-1'],
    ['no leader', [member('peer-0', 1, 1), member('peer-1', 1, 1)], 'the members name no single leader'],
  ] as [string, MemberDb[], string | undefined][])('%s → %s', (_, members, reason) => {
    expect(clusterUnfit({ members, nospace: false })).toBe(reason);
  });
});

describe('what this peer does on a run', () => {
  const fragmentedFollower = [leader('peer-0', 400, 300), member('peer-1', 400, 300), member('peer-2', 100, 99)];
  test.each([
    // alarm, members, this peer → decision
    [false, fragmentedFollower, 'peer-1', { kind: 'defragment', member: 'peer-1', reason: 'peer-1: 100.0 MiB (25 %) freeable' }],
    [false, fragmentedFollower, 'peer-2', { kind: 'skip', reason: 'peer-2: 1.0 MiB freeable, below minFreeableBytes (64.0 MiB)' }],
    [false, fragmentedFollower, 'peer-0', { kind: 'skip', reason: 'followers first: peer-1 before the leader' }],
    [false, [leader('peer-0', 400, 300), member('peer-1', 100, 99)], 'peer-0', { kind: 'defragment', member: 'peer-0', reason: 'peer-0: 100.0 MiB (25 %) freeable' }],
    [false, [leader('peer-0', 400, 300), member('peer-1', 400, 300, { healthy: false })], 'peer-0', { kind: 'skip', reason: 'not every member is healthy (peer-1)' }],
    [false, fragmentedFollower, 'peer-7', { kind: 'skip', reason: 'peer-7 is not in the member list' }],
    [true, fragmentedFollower, 'peer-0', { kind: 'recover-nospace', reason: 'NOSPACE raised and this peer is the leader' }],
    [true, fragmentedFollower, 'peer-1', { kind: 'skip', reason: "NOSPACE raised: the leader's agent recovers" }],
    [true, [leader('peer-0', 1, 1), member('peer-1', 1, 1, { healthy: false })], 'peer-0', { kind: 'skip', reason: 'NOSPACE raised, but not every member is healthy (peer-1): recovery waits until every member is healthy' }],
  ] as [boolean, MemberDb[], string, object][])('alarm %s, %j, %s', (nospace, members, self, decision) => {
    expect(decideMaintenance({ members, nospace }, self, settings)).toEqual(decision);
  });

  test('another alarm (CORRUPT) stops every run, NOSPACE or not: a disarm would clear it too', () => {
    for (const nospace of [false, true]) {
      expect(decideMaintenance({ members: fragmentedFollower, nospace, otherAlarms: ['CORRUPT'] }, 'peer-0', settings)).toEqual({
        kind: 'skip',
        reason: 'alarm CORRUPT raised: that needs a human, and a disarm would clear it too',
      });
    }
  });
});

describe('the NOSPACE steps', () => {
  test.each([
    [{ mode: 'kube-apiserver' }, false],
    [{ mode: 'periodic', retention: '1h' }, true],
    [{ mode: 'revision', retention: 1000 }, true],
  ] as const)('compaction %j: compact to the current revision first: %s', (policy, compact) => {
    expect(nospaceCompaction(policy).compact).toBe(compact);
  });

  test('followers by name, then the leader', () => {
    const order = defragOrder([member('peer-10', 1, 1), leader('peer-1', 1, 1), member('peer-2', 1, 1), member('peer-0', 1, 1)]).map((m) => m.name);
    expect(order).toEqual(['peer-0', 'peer-2', 'peer-10', 'peer-1']);
  });

  test.each([
    // members (database, in use) → plan
    ['all full of free pages', [leader('peer-0', 1000, 300), member('peer-1', 1000, 300), member('peer-2', 990, 300)], { kind: 'defragment', members: ['peer-1', 'peer-2', 'peer-0'] }],
    ['one with nothing to give back is left alone', [leader('peer-0', 1000, 300), member('peer-1', 300, 296)], { kind: 'defragment', members: ['peer-0'] }],
    ['the floor is 1 % of the quota when that is less than minFreeableBytes', [leader('peer-0', 800, 789), member('peer-1', 800, 600)], { kind: 'defragment', members: ['peer-1', 'peer-0'] }],
    ['nothing freeable, below the line: nothing to defragment (the verdict disarms)', [leader('peer-0', 500, 500)], { kind: 'defragment', members: [] }],
  ] as [string, MemberDb[], object][])('%s', (_, members, plan) => {
    expect(planNospace(members, settings)).toEqual(plan);
  });

  test('data in use at the quota: nobody is defragmented, the alarm stays, and the reason says what a human can do', () => {
    const members = [leader('peer-0', 1000, 950), member('peer-1', 1000, 920)];
    expect(planNospace(members, settings)).toEqual({
      kind: 'at-quota',
      reason:
        'the data in use on peer-0 is 95 % of the quota, at or above the 90 % a disarm needs: the alarm stays; delete data or raise database.quotaBackendBytes; ' +
        "the API server's next compaction may free more, and the next run looks again",
    });
    expect(planNospace(members, { ...settings, compaction: { mode: 'revision', retention: 10 } })).toMatchObject({ kind: 'at-quota', reason: expect.stringMatching(/quotaBackendBytes$/) });
  });

  test.each([
    [[leader('peer-0', 300, 300), member('peer-1', 899, 899)], { disarm: true, reason: 'every database is below 90 % of the quota' }],
    [[leader('peer-0', 300, 300), member('peer-1', 900, 300)], { disarm: false, reason: 'after defragmentation peer-1 at 90 % of the quota, not below 90 %: the alarm stays' }],
    [[leader('peer-0', 300, 300), { ...member('peer-1', 1, 1), dbSize: undefined }], { disarm: false, reason: 'after defragmentation peer-1 (no size) of the quota, not below 90 %: the alarm stays' }],
  ] as [MemberDb[], object][])('after defragmenting %j → %j', (members, verdict) => {
    expect(nospaceVerdict(members, settings.quotaBackendBytes)).toEqual(verdict);
  });

  test('an alarm raised during the recovery (CORRUPT) keeps NOSPACE, since a disarm clears every alarm', () => {
    const members = [leader('peer-0', 300, 300), member('peer-1', 299, 299)];
    expect(nospaceVerdict(members, settings.quotaBackendBytes, ['CORRUPT'])).toEqual({
      disarm: false,
      reason: 'alarm CORRUPT raised meanwhile: that needs a human, and a disarm would clear it too; NOSPACE stays',
    });
  });

  test('a recovery that won too little is not repeated on the next run', () => {
    // After a recovery whose defragmentation left peer-0 at 90 % (its data), the next run finds nothing freeable…
    const after = [leader('peer-0', 905, 897)];
    expect(nospaceVerdict(after, settings.quotaBackendBytes).disarm).toBe(false);
    // …so it defragments no member again, and the alarm stays.
    expect(planNospace(after, settings)).toEqual({ kind: 'defragment', members: [] });
  });
});

describe("the leader's NOSPACE recovery with a fake etcd", () => {
  test('an alarm raised while it defragments (CORRUPT) is never disarmed with NOSPACE', async () => {
    const { maintain } = await import('../../node-agent/maintain');
    const config = { ...buildAgentConfig({ mode: 'local', clusterName: 'c', domain: 'c.internal', peerIndex: 0, peerCount: 2, tls: false, dataDir: '/x' }), database: settings };
    const calls: string[] = [];
    let defragmented = 0;
    // Full before, small after each defragmentation; CORRUPT appears once the first member is done.
    const read = async () => ({
      members: [leader('peer-0', defragmented > 1 ? 300 : 950, 300), member('peer-1', defragmented > 0 ? 300 : 950, 300)],
      nospace: true,
      otherAlarms: defragmented > 0 ? ['CORRUPT'] : [],
      revision: 100,
    });
    const outcome = await maintain(config, {
      etcd: {
        read,
        tryLock: async () => ({ taken: false, holder: 'nobody' }),
        lockHolder: async () => undefined,
        compact: async () => void calls.push('compact'),
        defragment: async (name) => void (calls.push(`defragment ${name}`), defragmented++),
        disarmNospace: async () => void calls.push('disarm'),
      },
    });
    expect(calls).toEqual(['defragment peer-1', 'defragment peer-0']);
    expect(outcome).toMatchObject({ action: 'nospace-left', reason: expect.stringContaining('alarm CORRUPT raised meanwhile') });
  });
});
