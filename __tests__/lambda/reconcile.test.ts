import { choosePeerInstance, decidePeerRecord, ObservedInstance } from '../../lambda/reconcile';
import { classifyEvent } from '../../lambda/events';
import { launchLifecycleAction, launchSuccessful, scheduledEvent, terminateSuccessful } from '../fixtures/events';

const instance = (id: string, ip: string, launchTime: string, state = 'running', peerIndex = 3): ObservedInstance => ({
  instanceId: id,
  privateIp: ip,
  launchTime,
  state,
  peerIndex,
});

describe('choosing the peer instance (pure)', () => {
  test('the newest live instance wins; dying ones never do', () => {
    const old = instance('i-old', '10.0.0.1', '2026-11-11T10:00:00Z');
    const fresh = instance('i-new', '10.0.0.2', '2026-11-11T11:00:00Z', 'pending');
    const dying = instance('i-dying', '10.0.0.3', '2026-11-11T12:00:00Z', 'shutting-down');
    expect(choosePeerInstance([old, fresh, dying])?.instanceId).toBe('i-new');
    expect(choosePeerInstance([dying])).toBeUndefined();
    expect(choosePeerInstance([instance('i-noip', '', '2026-11-11T12:00:00Z')])).toBeUndefined();
  });

  test('equal launch times break ties by instance id, so every invocation picks the same one', () => {
    const a = instance('i-a', '10.0.0.1', '2026-11-11T10:00:00Z');
    const b = instance('i-b', '10.0.0.2', '2026-11-11T10:00:00Z');
    expect(choosePeerInstance([a, b])?.instanceId).toBe(choosePeerInstance([b, a])?.instanceId);
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

  test("another peer's instances are not considered", () => {
    const other = [instance('i-other', '10.0.9.9', '2026-11-11T12:00:00Z', 'running', 4)];
    expect(decidePeerRecord('prod.internal', 3, other, undefined, 10).action).toBe('no-live-instance');
  });
});

describe('classifying events', () => {
  test('documented event shapes', () => {
    expect(classifyEvent(launchSuccessful('prod-peer-3', 'i-1'), 'prod')).toMatchObject({ kind: 'peer', peerIndex: 3 });
    expect(classifyEvent(terminateSuccessful('prod-peer-0', 'i-1'), 'prod')).toMatchObject({ kind: 'peer', peerIndex: 0 });
    expect(classifyEvent(launchLifecycleAction('prod-peer-8', 'i-9', 'tok'), 'prod')).toEqual({
      kind: 'peer',
      peerIndex: 8,
      groupName: 'prod-peer-8',
      detailType: 'EC2 Instance-launch Lifecycle Action',
      lifecycleAction: { groupName: 'prod-peer-8', hookName: 'etcd-peer-dns-ready', token: 'tok', instanceId: 'i-9' },
    });
    expect(classifyEvent(scheduledEvent(), 'prod')).toEqual({ kind: 'all', reason: 'scheduled reconcile' });
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
  ])('ignores %j', (event, reason) => {
    expect(classifyEvent(event, 'prod')).toEqual({ kind: 'ignore', reason });
  });
});
