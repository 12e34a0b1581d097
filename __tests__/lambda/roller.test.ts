import { decideRoll, DEFAULT_ROLL_POLICY, minorOf, RollPeer } from '../../lambda/roller';
import type { PeerStatus } from '../../contract/peer-status';

const NOW = 10_000_000;
const T = '3.5.16';

/** A healthy, caught-up, up-to-date peer on `version`; `over` changes what a row needs. */
function peer(index: number, over: { instance?: Partial<NonNullable<RollPeer['instance']>> | null; status?: Partial<PeerStatus> | null } = {}): RollPeer {
  const id = `i-${index}`;
  const instance = over.instance === null ? undefined : { id, lifecycleState: 'InService', healthy: true, upToDate: true, launchedAt: NOW - 3_600_000, ...over.instance };
  const status: PeerStatus | undefined =
    over.status === null ? undefined : { peer: index, instanceId: instance?.id ?? id, healthy: true, role: index === 0 ? 'leader' : 'follower', revision: 500, etcdVersion: T, at: NOW - 30_000, ...over.status };
  return { index, instance, status };
}
const old = (index: number, extra: { status?: Partial<PeerStatus> } = {}) => peer(index, { instance: { upToDate: false }, status: { etcdVersion: '3.4.23', ...extra.status } });
const roll = (peers: RollPeer[], more: { targetVersion?: string; newestSnapshotAt?: number } = {}) =>
  decideRoll({ peers, targetVersion: T, now: NOW, newestSnapshotAt: NOW - 60_000, ...more });

describe('the rolling table (README: Rolling a change), row by row', () => {
  test('row 1: a target that skips a minor (3.4 → 3.6) stops, naming the step to take first', () => {
    expect(roll([old(0), old(1), old(2)], { targetVersion: '3.6.1' })).toEqual({ action: 'stop', reason: expect.stringContaining('refusing to skip a minor version: the cluster runs 3.4, the target is 3.6.1; upgrade to 3.5 first') });
  });
  test('row 1: a target below a minor a member already runs stops (no downgrade)', () => {
    expect(roll([peer(0), old(1), peer(2)], { targetVersion: '3.4.23' })).toMatchObject({ action: 'stop', reason: expect.stringContaining('refusing to downgrade') });
  });
  test('row 4: every instance up to date and every member healthy: done', () => {
    expect(roll([peer(0), peer(1), peer(2)])).toMatchObject({ action: 'done' });
  });
  test('row 2: a replaced peer not healthy past the deadline after its launch stops, naming it and why', () => {
    const late = peer(1, { instance: { launchedAt: NOW - (DEFAULT_ROLL_POLICY.replaceDeadlineSeconds + 1) * 1000, id: 'i-new' }, status: { instanceId: 'i-1-old' } });
    expect(roll([old(0), late, old(2)])).toEqual({ action: 'stop', peer: 1, reason: 'peer-1 is not healthy 1200 s after its launch: no status from its instance i-new yet; nothing more is replaced' });
  });
  test.each<[string, RollPeer, string]>([
    ['the group has no instance', peer(1, { instance: null }), 'peer-1: its group has no instance'],
    ['its instance is not in service', peer(1, { instance: { lifecycleState: 'Pending', launchedAt: NOW - 5000 } }), 'peer-1: its instance i-1 is Pending'],
    ['Auto Scaling says unhealthy', peer(1, { instance: { healthy: false, launchedAt: NOW - 5000 } }), 'peer-1: its instance i-1 is unhealthy in Auto Scaling'],
    ['no status from the new instance yet', peer(1, { instance: { launchedAt: NOW - 60_000 }, status: { instanceId: 'i-gone' } }), 'peer-1: no status from its instance i-1 yet'],
    ['a stale status', old(1, { status: { at: NOW - 200_000 } }), 'peer-1: its status is 200 s old'],
    ['its etcd is unhealthy', old(1, { status: { healthy: false } }), 'peer-1: its etcd is unhealthy'],
    ['a learner', old(1, { status: { role: 'learner' } }), 'peer-1: it is a learner, not yet a voter'],
    ['revision lag beyond the limit', old(1, { status: { revision: 500 - 1001 } }), 'peer-1: it is 1001 revisions behind'],
  ])('row 3: wait while a peer is not a healthy caught-up voter: %s', (_, p, reason) => {
    expect(roll([old(0), p, old(2)])).toEqual({ action: 'wait', reason });
  });
  test('row 3: a lag within the limit does not hold the roll', () => {
    expect(roll([old(0), old(1, { status: { revision: -500 } }), old(2)], { newestSnapshotAt: NOW })).toMatchObject({ action: 'replace', peer: 1 });
  });
  test('row 5: the first peer onto a new minor waits for a fresh snapshot; a stale or missing one asks for one', () => {
    expect(roll([old(0), old(1), old(2)], { newestSnapshotAt: NOW - 901_000 })).toMatchObject({ action: 'snapshot-first', reason: expect.stringContaining('901 s old') });
    expect(decideRoll({ peers: [old(0), old(1), old(2)], targetVersion: T, now: NOW })).toMatchObject({ action: 'snapshot-first', reason: expect.stringContaining('newest: none') });
    expect(roll([old(0), old(1), old(2)], { newestSnapshotAt: NOW - 899_000 })).toMatchObject({ action: 'replace' });
  });
  test('row 5: once a peer runs the new minor, or for a patch or image change, no snapshot is asked for', () => {
    expect(roll([old(0), peer(1), old(2)], { newestSnapshotAt: undefined })).toMatchObject({ action: 'replace', peer: 2 });
    const imageChange = (i: number) => peer(i, { instance: { upToDate: false } });
    expect(roll([imageChange(0), imageChange(1)], { newestSnapshotAt: undefined })).toMatchObject({ action: 'replace', peer: 1 });
  });
  test('row 6: followers first by index, the leader last', () => {
    const leaderIs2 = [old(0, { status: { role: 'follower' } }), old(1), old(2, { status: { role: 'leader' } })];
    expect(roll(leaderIs2)).toEqual({ action: 'replace', peer: 0, instanceId: 'i-0', reason: expect.stringContaining('peer-0 (a follower)') });
    expect(roll([peer(0, { status: { role: 'follower' } }), peer(1), leaderIs2[2]])).toEqual({ action: 'replace', peer: 2, instanceId: 'i-2', reason: expect.stringContaining('peer-2 (the leader, last)') });
  });
  test('row 3: the last replacement still booting is not done: the roller waits for it', () => {
    expect(roll([peer(0), peer(1, { instance: null }), peer(2)])).toEqual({ action: 'wait', reason: 'peer-1: its group has no instance' });
    expect(roll([peer(0), peer(1, { instance: { lifecycleState: 'Pending', launchedAt: NOW - 5000 } }), peer(2)])).toEqual({ action: 'wait', reason: 'peer-1: its instance i-1 is Pending' });
  });
  test('a whole roll of three peers, stepped through: one replacement at a time, never two down, the leader last', () => {
    let peers = [old(0, { status: { role: 'leader' } }), old(1), old(2)];
    const replaced: number[] = [];
    for (let round = 0; round < 20; round++) {
      const d = roll(peers, { newestSnapshotAt: NOW });
      if (d.action === 'done') break;
      expect(d.action).toBe('replace');
      if (d.action !== 'replace') break;
      replaced.push(d.peer);
      // Terminated: while it is gone the roller waits.
      peers = peers.map((p) => (p.index === d.peer ? peer(d.peer, { instance: null, status: p.status }) : p));
      expect(roll(peers, { newestSnapshotAt: NOW }).action).toBe('wait');
      // Back on the new version, healthy; a leader hands over to peer 1 first.
      peers = peers.map((p) => (p.index === d.peer ? peer(d.peer, { status: { role: 'follower' } }) : p.index === 1 && d.peer === 0 ? { ...p, status: { ...p.status!, role: 'leader' as const } } : p));
    }
    expect(replaced).toEqual([1, 2, 0]);
  });
});

test('minor versions are read from full and short versions; anything else is an error', () => {
  expect(minorOf('3.4.23')).toEqual([3, 4]);
  expect(minorOf('3.5')).toEqual([3, 5]);
  expect(() => minorOf('v3.5.0')).toThrow('not an etcd version: "v3.5.0"');
});
