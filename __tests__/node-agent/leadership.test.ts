import { decideLeadership, LeadershipView, MemberStatus, memberIdHex, parseLeadershipView } from '../../node-agent/leadership';

const m = (name: string, over: Partial<MemberStatus> = {}): MemberStatus => ({ id: `${name.length}${name.slice(-1)}`, name, isLearner: false, healthy: true, appliedIndex: 100, ...over });
const self = m('peer-0');
const view = (members: MemberStatus[], leaderId: string | undefined = self.id, leaderIndex = 100): LeadershipView => ({ selfId: self.id, leaderId, leaderIndex, members: [self, ...members] });

describe('the leadership table (README: the planned hand-off), row by row', () => {
  test('not the leader: nothing to hand over', () => {
    expect(decideLeadership(view([m('peer-1')], m('peer-1').id))).toMatchObject({ action: 'none', reason: expect.stringContaining('follower') });
  });
  test('no leader known: nothing to hand over', () => {
    expect(decideLeadership({ ...view([m('peer-1')]), leaderId: undefined })).toMatchObject({ action: 'none', reason: expect.stringContaining('no leader') });
  });
  test('the leader with healthy caught-up voters: the most caught-up one', () => {
    const step = decideLeadership(view([m('peer-1', { appliedIndex: 98 }), m('peer-2', { appliedIndex: 100 })]));
    expect(step).toMatchObject({ action: 'move', to: { name: 'peer-2' } });
  });
  test('ties go to the lowest name, so every run chooses alike', () => {
    expect(decideLeadership(view([m('peer-2'), m('peer-1')]))).toMatchObject({ action: 'move', to: { name: 'peer-1' } });
  });
  test('never a learner, an unhealthy member, or one lagging beyond the limit', () => {
    const step = decideLeadership(view([m('peer-1', { isLearner: true, appliedIndex: 100 }), m('peer-2', { healthy: false }), m('peer-3', { appliedIndex: 40 }), m('peer-4', { appliedIndex: 60 })]), 50);
    expect(step).toMatchObject({ action: 'move', to: { name: 'peer-4' } });
  });
  test('the leader with no eligible voter: no-target, naming why each one is not', () => {
    const step = decideLeadership(view([m('peer-1', { isLearner: true }), m('peer-2', { healthy: false, appliedIndex: undefined }), m('peer-3', { appliedIndex: 10 })]), 50);
    expect(step).toEqual({ action: 'no-target', reason: expect.stringContaining('peer-1: learner, peer-2: unhealthy, peer-3: 90 entries behind') });
  });
  test('a member that did not answer has no applied index and is never chosen, even with the leader index unknown', () => {
    expect(decideLeadership({ selfId: self.id, leaderId: self.id, members: [self, m('peer-1', { appliedIndex: undefined })] }).action).toBe('no-target');
  });
});

describe('reading etcdctl', () => {
  test('member ids go to move-leader in hex, exactly, beyond 2^53', () => {
    expect(memberIdHex('13387593125553652827')).toBe('b9ca49046616445b');
    expect(memberIdHex('1696873935892686469')).toBe('178c81dab180a685');
    expect(() => memberIdHex('0x12')).toThrow('not a decimal number');
  });

  // Shapes of `etcdctl member list -w json` and `endpoint status --cluster -w json` of etcd 3.4 and 3.5 (ids past 2^53).
  const list = '{"header":{"cluster_id":17237436991929493444,"member_id":13387593125553652827,"raft_term":3},"members":[{"ID":13387593125553652827,"name":"peer-0","peerURLs":["http://a:2380"],"clientURLs":["http://a:2379"]},{"ID":1696873935892686469,"name":"peer-1","peerURLs":["http://b:2380"],"clientURLs":["http://b:2379"]},{"ID":42,"name":"peer-2","peerURLs":["http://c:2380"],"isLearner":true}]}';
  const status = '[{"Endpoint":"http://a:2379","Status":{"header":{"member_id":13387593125553652827},"leader":13387593125553652827,"raftIndex":120,"raftTerm":3,"raftAppliedIndex":120}},{"Endpoint":"http://b:2379","Status":{"header":{"member_id":1696873935892686469},"leader":13387593125553652827,"raftIndex":118,"raftAppliedIndex":117,"errors":["memberID:1 alarm:NOSPACE "]}}]';

  test('the view: self, leader, learners, members that answered and their applied index', () => {
    expect(parseLeadershipView(list, status)).toEqual({
      selfId: '13387593125553652827',
      leaderId: '13387593125553652827',
      leaderIndex: 120,
      members: [
        { id: '13387593125553652827', name: 'peer-0', isLearner: false, healthy: true, appliedIndex: 120 },
        { id: '1696873935892686469', name: 'peer-1', isLearner: false, healthy: false, appliedIndex: 117 },
        { id: '42', name: 'peer-2', isLearner: true, healthy: false, appliedIndex: undefined },
      ],
    });
  });
  test('no status output at all (every endpoint failed): every member unhealthy, no leader', () => {
    const v = parseLeadershipView(list, '');
    expect(v.leaderId).toBeUndefined();
    expect(v.members.every((x) => !x.healthy)).toBe(true);
  });
  test('a member list without the header is an error, not an empty cluster', () => {
    expect(() => parseLeadershipView('{"members":[]}', status)).toThrow('printed no header.member_id');
  });
});
