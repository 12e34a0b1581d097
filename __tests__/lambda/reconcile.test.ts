import { choosePeerInstance, decideLifecycleAction, decidePeerRecord, ObservedInstance, PeerChoice } from '../../lambda/reconcile';
import { classifyEvent } from '../../lambda/events';
import { launchLifecycleAction, launchSuccessful, scheduledEvent, terminateSuccessful } from '../fixtures/events';

const instance = (id: string, ip: string, launchTime: string, state = 'running', peerIndex = 3): ObservedInstance => ({
  instanceId: id,
  privateIp: ip,
  launchTime,
  state,
  peerIndex,
});

/** The chosen instance's id, or `none` / `ambiguous`. */
const chosen = (choice: PeerChoice): string => (choice.kind === 'chosen' ? choice.instance.instanceId : choice.kind);

describe('choosing the peer instance (pure)', () => {
  test('the newest live instance wins; dying ones never do', () => {
    const old = instance('i-old', '10.0.0.1', '2026-11-11T10:00:00Z');
    const fresh = instance('i-new', '10.0.0.2', '2026-11-11T11:00:00Z', 'pending');
    const dying = instance('i-dying', '10.0.0.3', '2026-11-11T12:00:00Z', 'shutting-down');
    expect(chosen(choosePeerInstance([old, fresh, dying]))).toBe('i-new');
    expect(chosen(choosePeerInstance([dying]))).toBe('none');
    // Without an IP yet it is still the peer (the record waits for it), never the older instance.
    expect(chosen(choosePeerInstance([instance('i-noip', '', '2026-11-11T12:00:00Z')]))).toBe('i-noip');
  });

  const a = instance('i-a', '10.0.0.1', '2026-11-11T10:00:00Z');
  const b = instance('i-b', '10.0.0.2', '2026-11-11T10:00:00Z');
  const older = instance('i-older', '10.0.0.9', '2026-11-11T09:00:00Z');
  test.each([
    ['a later launch wins, even without an IP', [a, instance('i-new', '', '2026-11-11T10:00:01Z', 'pending')], {}, 'i-new'],
    ['milliseconds count where known (the local cluster)', [instance('i-1', '10.0.0.1', '2026-11-11T10:00:00.900Z'), instance('i-2', '10.0.0.2', '2026-11-11T10:00:00.100Z')], {}, 'i-1'],
    ['no live instance', [instance('i-gone', '10.0.0.1', '2026-11-11T10:00:00Z', 'terminated')], {}, 'none'],
    ['nothing at all', [], {}, 'none'],
    ['a tie with nothing to tell them apart', [a, b], {}, 'ambiguous'],
    ['a tie: the instance whose launch hook is handled is the newer', [a, b], { launching: 'i-a' }, 'i-a'],
    ['a tie: the same with the other hook', [a, b], { launching: 'i-b' }, 'i-b'],
    ['a tie: the one the record names keeps it', [a, b], { recordValues: ['10.0.0.2'] }, 'i-b'],
    ['a tie: the hook outranks the record', [a, b], { launching: 'i-a', recordValues: ['10.0.0.2'] }, 'i-a'],
    ['an older launching instance does not break a newer tie', [a, b, older], { launching: 'i-older' }, 'ambiguous'],
    ['a dying instance is never in a tie', [a, { ...b, state: 'shutting-down' }], {}, 'i-a'],
  ] as const)('%s', (_, instances, hints, expected) => {
    expect(chosen(choosePeerInstance(instances, hints))).toBe(expected);
    // The order EC2 lists them in never matters.
    expect(chosen(choosePeerInstance([...instances].reverse(), hints))).toBe(expected);
  });
});

describe('deciding the record (pure)', () => {
  const live = [instance('i-new', '10.0.1.5', '2026-11-11T11:00:00Z')];
  test('upsert when the record holds another address or TTL, none when it is right', () => {
    expect(decidePeerRecord('prod.internal', 3, live, { values: ['192.0.2.1'], ttl: 10 }, 10)).toMatchObject({
      action: 'upsert',
      desired: '10.0.1.5',
      fqdn: 'peer-3.prod.internal',
    });
    expect(decidePeerRecord('prod.internal', 3, live, { values: ['10.0.1.5'], ttl: 60 }, 10).action).toBe('upsert');
    expect(decidePeerRecord('prod.internal', 3, live, { values: ['10.0.1.5'], ttl: 10 }, 10).action).toBe('none');
    expect(decidePeerRecord('prod.internal', 3, live, undefined, 10).action).toBe('upsert');
  });

  test('no live instance: the record is left alone, never deleted', () => {
    const decision = decidePeerRecord('prod.internal', 3, [], { values: ['10.0.1.5'], ttl: 10 }, 10);
    expect(decision.action).toBe('no-live-instance');
    expect(decision.desired).toBeUndefined();
  });

  test('the newest instance without an IP yet: the record is left alone, never pointed at the older one', () => {
    const instances = [instance('i-old', '10.0.1.4', '2026-11-11T10:00:00Z'), instance('i-new', '', '2026-11-11T11:00:00Z', 'pending')];
    expect(decidePeerRecord('prod.internal', 3, instances, { values: ['192.0.2.1'], ttl: 10 }, 10)).toEqual({
      peerIndex: 3,
      fqdn: 'peer-3.prod.internal',
      instanceId: 'i-new',
      current: ['192.0.2.1'],
      action: 'awaiting-ip',
    });
  });

  test('a tie that nothing breaks: the record is left alone and the candidates are named', () => {
    const tied = [instance('i-a', '10.0.1.4', '2026-11-11T10:00:00Z'), instance('i-b', '10.0.1.5', '2026-11-11T10:00:00Z')];
    expect(decidePeerRecord('prod.internal', 3, tied, { values: ['192.0.2.1'], ttl: 10 }, 10)).toMatchObject({ action: 'ambiguous', candidates: ['i-a', 'i-b'] });
    expect(decidePeerRecord('prod.internal', 3, tied, { values: ['10.0.1.5'], ttl: 10 }, 10)).toMatchObject({ action: 'none', instanceId: 'i-b' });
    expect(decidePeerRecord('prod.internal', 3, tied, { values: ['192.0.2.1'], ttl: 10 }, 10, 'i-a')).toMatchObject({ action: 'upsert', desired: '10.0.1.4' });
  });

  test("another peer's instances are not considered", () => {
    const other = [instance('i-other', '10.0.9.9', '2026-11-11T12:00:00Z', 'running', 4)];
    expect(decidePeerRecord('prod.internal', 3, other, undefined, 10).action).toBe('no-live-instance');
  });
});

describe('deciding a launch hook (pure)', () => {
  const old = instance('i-old', '10.0.1.4', '2026-11-11T10:00:00Z');
  const fresh = instance('i-new', '10.0.1.7', '2026-11-11T11:00:00Z', 'pending');
  test.each([
    ['not listed by EC2 yet, an older instance running', [old], { action: 'retry', reason: 'launching instance i-new is not visible in EC2 yet' }],
    ['listed without an IP yet, an older instance running', [old, { ...fresh, privateIp: undefined }], { action: 'retry', reason: 'launching instance i-new has no private IP yet' }],
    ['the peer, with its IP', [old, fresh], { action: 'complete' }],
    ['the peer, tied on launch time with another', [{ ...old, launchTime: fresh.launchTime }, fresh], { action: 'complete' }],
    ['shutting down (a late or second delivery)', [{ ...fresh, state: 'shutting-down' }], { action: 'not-needed', reason: 'instance i-new is shutting-down' }],
    ['terminated', [{ ...fresh, state: 'terminated' }], { action: 'not-needed', reason: 'instance i-new is terminated' }],
    [
      'an instance launched later is the peer',
      [fresh, instance('i-newer', '10.0.1.9', '2026-11-11T12:00:00Z')],
      { action: 'leave', reason: 'a newer instance i-newer is the peer' },
    ],
    [
      'two instances launched later tie',
      [fresh, instance('i-x', '10.0.1.8', '2026-11-11T12:00:00Z'), instance('i-y', '10.0.1.9', '2026-11-11T12:00:00Z')],
      { action: 'leave', reason: 'a newer instance i-x or i-y is the peer' },
    ],
  ] as const)('hook of i-new: %s', (_, instances, expected) => {
    const record = decidePeerRecord('prod.internal', 3, instances, { values: ['10.0.1.4'], ttl: 10 }, 10, 'i-new');
    expect(decideLifecycleAction('i-new', instances, record)).toEqual(expected);
  });
});

describe('classifying events', () => {
  test('documented event shapes', () => {
    expect(classifyEvent(launchSuccessful('prod-peer-3', 'i-1'), 'prod', 9)).toMatchObject({ kind: 'peer', peerIndex: 3 });
    expect(classifyEvent(terminateSuccessful('prod-peer-0', 'i-1'), 'prod', 9)).toMatchObject({ kind: 'peer', peerIndex: 0 });
    expect(classifyEvent(launchLifecycleAction('prod-peer-8', 'i-9', 'tok'), 'prod', 9)).toEqual({
      kind: 'peer',
      peerIndex: 8,
      groupName: 'prod-peer-8',
      detailType: 'EC2 Instance-launch Lifecycle Action',
      lifecycleAction: { groupName: 'prod-peer-8', hookName: 'etcd-peer-dns-ready', token: 'tok', instanceId: 'i-9' },
    });
    expect(classifyEvent(scheduledEvent(), 'prod', 9)).toEqual({ kind: 'all', reason: 'scheduled reconcile' });
  });

  test.each([
    [null, 'event is not an object'],
    ['text', 'event is not an object'],
    [{ source: 'aws.ec2' }, 'unexpected source "aws.ec2"'],
    [{ source: 'aws.autoscaling', 'detail-type': 'Something Else' }, 'unhandled detail-type "Something Else"'],
    [{ source: 'aws.autoscaling', 'detail-type': 'EC2 Instance Launch Successful', detail: {} }, 'detail.AutoScalingGroupName missing'],
    [launchSuccessful('other-peer-3', 'i-1'), 'group other-peer-3 is not a peer group of prod'],
    [{ ...launchLifecycleAction('prod-peer-1', 'i-1'), detail: { AutoScalingGroupName: 'prod-peer-1' } }, 'lifecycle action without token, hook name or instance id'],
    [{ ...launchLifecycleAction('prod-peer-1', 'i-1'), detail: { AutoScalingGroupName: 'prod-peer-1', Event: 'autoscaling:TEST_NOTIFICATION' } }, 'lifecycle hook test notification'],
    [launchSuccessful('prod-peer-9', 'i-1'), "group prod-peer-9 is beyond the cluster's 9 peers (peer-0 to peer-8)"],
    [launchLifecycleAction('prod-peer-10', 'i-1'), "group prod-peer-10 is beyond the cluster's 9 peers (peer-0 to peer-8)"],
  ])('ignores %j', (event, reason) => {
    expect(classifyEvent(event, 'prod', 9)).toEqual({ kind: 'ignore', reason });
  });
});
