import { ClusterView, decideStart, formationMemberId, MemberEntry, parseInitialCluster, parseMemberList } from '../../node-agent/membership';
import { renderEtcdConfig } from '../../node-agent/etcd-config';
import { parseAgentConfig } from '../../contract/agent-config';

const self = { name: 'peer-4', index: 4, peerCount: 9, peerUrl: 'https://peer-4.sim.etcd.test:2380', clusterToken: 'sim-etcd' };
const member = (name: string, id: string, status = 'started', isLearner = false): MemberEntry => ({ id, status, name, peerUrls: [`https://${name || 'peer-4'}.sim.etcd.test:2380`], isLearner });
const others = [member('peer-0', 'ad31481863f05b56'), member('peer-1', '7ec56a60fe30e3e9')];
const answered = (healthy: boolean, members: MemberEntry[]): ClusterView => ({ kind: 'answered', healthy, members });

describe('how etcd starts (decision table)', () => {
  test('a data dir holding a member starts on its data, whatever the cluster says', () => {
    expect(decideStart('member', { kind: 'no-answer' }, self)).toEqual({ action: 'start-existing-data' });
    expect(decideStart('member', answered(false, others), self)).toEqual({ action: 'start-existing-data' });
  });

  test('a data dir with foreign files is refused', () => {
    expect(decideStart('unexpected', { kind: 'no-answer' }, self).action).toBe('refuse');
  });

  test('fresh and nobody answers, without backups: the first formation', () => {
    expect(decideStart('fresh', { kind: 'no-answer' }, self).action).toBe('bootstrap');
  });

  test('fresh and nobody answers, with backups: the recovery table decides', () => {
    const S = { key: 'snapshots/frequent/a-rev9.db', at: 1000 };
    const allFresh = Array.from({ length: 9 }, (_, peer) => ({ peer, state: 'fresh' as const, at: 2000 }));
    expect(decideStart('fresh', { kind: 'no-answer' }, self, { reports: [] }).action).toBe('bootstrap');
    expect(decideStart('fresh', { kind: 'no-answer' }, self, { newestSnapshot: S, reports: allFresh })).toMatchObject({ action: 'restore', snapshot: S });
    expect(decideStart('fresh', { kind: 'no-answer' }, self, { newestSnapshot: S, reports: [] }).action).toBe('wait');
  });

  test('fresh and listed as never started with the formation id: joins the formation under way', () => {
    const formation = member('', formationMemberId([self.peerUrl], self.clusterToken), 'unstarted');
    expect(decideStart('fresh', answered(true, [...others, formation]), self).action).toBe('bootstrap');
    expect(decideStart('fresh', answered(false, [...others, formation]), self).action).toBe('bootstrap');
  });

  test('listed as never started in a cluster restored from a snapshot: never bootstraps empty', () => {
    const S = { key: 'snapshots/frequent/a-rev9.db', at: 1000 };
    const formation = member('', formationMemberId([self.peerUrl], self.clusterToken), 'unstarted');
    // The others restored S and this peer has not reported since: it restores S too, as they did.
    const restoring = Array.from({ length: 9 }, (_, peer) => ({ peer, state: 'member' as const, at: 3000, restoredFrom: S.key }));
    expect(decideStart('fresh', answered(true, [...others, formation]), self, { newestSnapshot: S, reports: restoring })).toMatchObject({ action: 'restore', snapshot: S });
    // The restored cluster has taken a newer snapshot since: S is no longer what it holds, so the member is replaced.
    const S2 = { key: 'snapshots/frequent/b-rev90.db', at: 5000 };
    expect(decideStart('fresh', answered(true, [...others, formation]), self, { newestSnapshot: S2, reports: restoring })).toMatchObject({
      action: 'rejoin',
      removeMemberId: formation.id,
      reason: expect.stringContaining('an empty member would never receive the restored data'),
    });
    expect(decideStart('fresh', answered(false, [...others, formation]), self, { newestSnapshot: S2, reports: restoring }).action).toBe('wait');
    // A first formation (nobody restored anything) still bootstraps, with or without snapshots.
    const formed = restoring.map(({ restoredFrom, ...r }) => r);
    expect(decideStart('fresh', answered(true, [...others, formation]), self, { newestSnapshot: S2, reports: formed }).action).toBe('bootstrap');
  });

  test('fresh, and the live cluster knows this peer as started: the stale member is replaced', () => {
    expect(decideStart('fresh', answered(true, [...others, member('peer-4', '6fc85d70cd40b991')]), self)).toEqual({
      action: 'rejoin',
      removeMemberId: '6fc85d70cd40b991',
      reason: "peer-4's volume is empty but member 6fc85d70cd40b991 ran with it before: replacing that member",
    });
  });

  test('fresh, and the live cluster does not list this peer (removed, never added): added', () => {
    expect(decideStart('fresh', answered(true, others), self)).toEqual({ action: 'rejoin', reason: 'peer-4 is not a member of the live cluster: adding it' });
  });

  test('fresh, added by a boot that died before etcd ran: starts as that member with state existing', () => {
    const added = member('', '1a2b3c4d5e6f7081', 'unstarted', true);
    expect(decideStart('fresh', answered(true, [...others, added]), self)).toEqual({
      action: 'start-added',
      learner: true,
      initialCluster: 'peer-0=https://peer-0.sim.etcd.test:2380,peer-1=https://peer-1.sim.etcd.test:2380,peer-4=https://peer-4.sim.etcd.test:2380',
      reason: 'peer-4 was added as member 1a2b3c4d5e6f7081 but never started: starting as that member',
    });
  });

  test('fresh without quorum: never guesses, waits', () => {
    expect(decideStart('fresh', answered(false, [...others, member('peer-4', '6fc85d70cd40b991')]), self).action).toBe('wait');
    expect(decideStart('fresh', answered(false, others), self).action).toBe('wait');
  });

  test('fresh without quorum while the others start on a restored snapshot: restores the same one', () => {
    const S = { key: 'snapshots/frequent/a-rev9.db', at: 1000 };
    const restoring = Array.from({ length: 9 }, (_, peer) => (peer < 3 ? { peer, state: 'member' as const, at: 3000, restoredFrom: S.key } : { peer, state: 'fresh' as const, at: 2000 }));
    expect(decideStart('fresh', answered(false, others), self, { newestSnapshot: S, reports: restoring })).toMatchObject({ action: 'restore', snapshot: S });
    // With data beside it, the same view only waits.
    const withData = restoring.map((r) => (r.peer === 0 ? { peer: 0, state: 'member' as const, at: 3000 } : r));
    const plan = decideStart('fresh', answered(false, others), self, { newestSnapshot: S, reports: withData });
    expect(plan.action).toBe('wait');
    expect(plan).toMatchObject({ reason: expect.stringContaining('peer-0 holds data newer than snapshot') });
  });

  test('a live quorum always wins over a restore', () => {
    const S = { key: 'snapshots/frequent/a-rev9.db', at: 1000 };
    const allFresh = Array.from({ length: 9 }, (_, peer) => ({ peer, state: 'fresh' as const, at: 2000 }));
    expect(decideStart('fresh', answered(true, others), self, { newestSnapshot: S, reports: allFresh }).action).toBe('rejoin');
  });
});

describe('etcd facts the table relies on', () => {
  test('formation member ids are sha1(peer URLs + token), as etcd 3.4 assigned them in a local run', () => {
    expect(formationMemberId(['https://peer-4.sim.etcd.test:2380'], 'sim-etcd')).toBe('6fc85d70cd40b991');
    expect(formationMemberId(['https://peer-1.sim.etcd.test:2380'], 'sim-etcd')).toBe('7ec56a60fe30e3e9');
  });

  test('etcdctl output parsing', () => {
    expect(parseMemberList('7ec56a60fe30e3e9, started, peer-1, https://peer-1.sim.etcd.test:2380, https://peer-1.sim.etcd.test:2379, false\n1a2b, unstarted, , https://peer-4.sim.etcd.test:2380, , true\n')).toEqual([
      { id: '7ec56a60fe30e3e9', status: 'started', name: 'peer-1', peerUrls: ['https://peer-1.sim.etcd.test:2380'], isLearner: false },
      { id: '1a2b', status: 'unstarted', name: '', peerUrls: ['https://peer-4.sim.etcd.test:2380'], isLearner: true },
    ]);
    expect(() => parseMemberList('garbage line')).toThrow('unexpected etcdctl member list line');
    expect(parseInitialCluster('Member 1a2b added to cluster 3c4d\n\nETCD_NAME="peer-4"\nETCD_INITIAL_CLUSTER="peer-0=https://a:2380,peer-4=https://b:2380"\nETCD_INITIAL_CLUSTER_STATE="existing"\n')).toBe(
      'peer-0=https://a:2380,peer-4=https://b:2380',
    );
  });

  test('joining renders state existing with the given members and no DNS discovery', () => {
    const c = parseAgentConfig({ mode: 'aws', clusterName: 'sim', domain: 'sim.etcd.test', peerIndex: 4, peerCount: 9, dataDir: '/d', clusterToken: 'sim-etcd' });
    const yaml = renderEtcdConfig(c, '0.0.0.0', { initialCluster: 'peer-0=https://a:2380' });
    expect(yaml).toContain('initial-cluster: peer-0=https://a:2380\n');
    expect(yaml).toContain('initial-cluster-state: existing\n');
    expect(yaml).not.toContain('discovery-srv');
  });
});
