import { mockClient } from 'aws-sdk-client-mock';
import { AutoScalingClient, CompleteLifecycleActionCommand } from '@aws-sdk/client-auto-scaling';
import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import {
  ChangeResourceRecordSetsCommand,
  ListResourceRecordSetsCommand,
  PriorRequestNotComplete,
  Route53Client,
  ThrottlingException,
} from '@aws-sdk/client-route-53';
import { AutoScalingServiceException } from '@aws-sdk/client-auto-scaling';
import { AwsUpdaterPort } from '../../lambda/aws';
import { FakeHostedZone } from '../helpers/route53-zone';
import { handleEvent, UpdaterSettings } from '../../lambda/index';
import { updaterSettingsFromEnv as settingsFromEnv } from '../../contract/updater-settings';
import { memoryLogger } from '../../runtime/log';
import { launchLifecycleAction, launchSuccessful, scheduledEvent, terminateSuccessful } from '../fixtures/events';

const ec2 = mockClient(EC2Client);
const route53 = mockClient(Route53Client);
const autoscaling = mockClient(AutoScalingClient);

const settings: UpdaterSettings = { clusterName: 'prod', domain: 'prod.etcd.internal', peerCount: 9, hostedZoneId: 'Z0123456789', recordTtl: 10 };
const noWait = { attempts: 4, baseDelayMs: 1, maxDelayMs: 1, sleep: async () => undefined };

function port() {
  return new AwsUpdaterPort({ clusterName: 'prod', hostedZoneId: 'Z0123456789', retry: noWait });
}

/** A DescribeInstances reservation as EC2 returns it for an Auto Scaling instance. */
function reservation(instanceId: string, ip: string, peer: number, launched: string, state = 'running') {
  return {
    Instances: [
      {
        InstanceId: instanceId,
        PrivateIpAddress: ip,
        LaunchTime: new Date(launched),
        State: { Name: state as 'running', Code: 16 },
        Tags: [
          { Key: 'aws:autoscaling:groupName', Value: `prod-peer-${peer}` },
          { Key: 'etcd-cluster:name', Value: 'prod' },
        ],
      },
    ],
  };
}

function aRecord(peer: number, ip: string, ttl = 10) {
  return { Name: `peer-${peer}.prod.etcd.internal.`, Type: 'A' as const, TTL: ttl, ResourceRecords: [{ Value: ip }] };
}

beforeEach(() => {
  ec2.reset();
  route53.reset();
  autoscaling.reset();
  route53.on(ChangeResourceRecordSetsCommand).resolves({ ChangeInfo: { Id: 'C1', Status: 'PENDING', SubmittedAt: new Date() } });
  autoscaling.on(CompleteLifecycleActionCommand).resolves({});
});

describe('DNS updater against the AWS SDK (mocked)', () => {
  test('launch: reads the record once, the group once, and swaps in exactly the new address', async () => {
    ec2.on(DescribeInstancesCommand).resolves({ Reservations: [reservation('i-new', '10.40.16.7', 4, '2026-11-11T21:31:13Z')] });
    route53.on(ListResourceRecordSetsCommand).resolves({ ResourceRecordSets: [aRecord(4, '192.0.2.1')], IsTruncated: false, MaxItems: 1 });

    const log = memoryLogger();
    await handleEvent(launchSuccessful('prod-peer-4', 'i-new'), settings, port(), log);

    // Every state: a dying or terminated instance tells a hook that is no longer needed from a new one.
    expect(ec2.commandCalls(DescribeInstancesCommand)[0].args[0].input).toEqual({
      Filters: [{ Name: 'tag:aws:autoscaling:groupName', Values: ['prod-peer-4'] }],
      NextToken: undefined,
    });
    expect(route53.commandCalls(ListResourceRecordSetsCommand)[0].args[0].input).toEqual({
      HostedZoneId: 'Z0123456789',
      StartRecordName: 'peer-4.prod.etcd.internal',
      StartRecordType: 'A',
      MaxItems: 1,
    });
    expect(route53.commandCalls(ChangeResourceRecordSetsCommand).map((c) => c.args[0].input)).toEqual([
      {
        HostedZoneId: 'Z0123456789',
        ChangeBatch: {
          Comment: 'etcd dns updater: EC2 Instance Launch Successful',
          // A compare-and-swap: the DELETE names the record exactly as read, so the batch fails if it changed since.
          Changes: [
            {
              Action: 'DELETE',
              ResourceRecordSet: { Name: 'peer-4.prod.etcd.internal', Type: 'A', TTL: 10, ResourceRecords: [{ Value: '192.0.2.1' }] },
            },
            {
              Action: 'CREATE',
              ResourceRecordSet: { Name: 'peer-4.prod.etcd.internal', Type: 'A', TTL: 10, ResourceRecords: [{ Value: '10.40.16.7' }] },
            },
          ],
        },
      },
    ]);
    expect(log.lines).toContainEqual(
      expect.objectContaining({ msg: 'peer record', peer: 4, current: ['192.0.2.1'], desired: '10.40.16.7', action: 'upsert', changed: true }),
    );
    // Cost per event: one describe, one read, one change.
    expect([ec2.calls().length, route53.calls().length, autoscaling.calls().length]).toEqual([1, 2, 0]);
  });

  test('no change when the record is already right', async () => {
    ec2.on(DescribeInstancesCommand).resolves({ Reservations: [reservation('i-new', '10.40.16.7', 4, '2026-11-11T21:31:13Z')] });
    route53.on(ListResourceRecordSetsCommand).resolves({ ResourceRecordSets: [aRecord(4, '10.40.16.7')], IsTruncated: false, MaxItems: 1 });
    const log = memoryLogger();
    await handleEvent(launchSuccessful('prod-peer-4', 'i-new'), settings, port(), log);
    expect(route53.commandCalls(ChangeResourceRecordSetsCommand)).toHaveLength(0);
    expect(log.lines).toContainEqual(expect.objectContaining({ msg: 'peer record', peer: 4, action: 'none', changed: false }));
  });

  test('a late terminate of the old instance after the new one launched keeps the new address', async () => {
    // EC2 no longer lists the terminated instance as live; the replacement is running.
    ec2.on(DescribeInstancesCommand).resolves({ Reservations: [reservation('i-new', '10.40.16.7', 4, '2026-11-11T21:31:13Z')] });
    route53.on(ListResourceRecordSetsCommand).resolves({ ResourceRecordSets: [aRecord(4, '10.40.16.7')], IsTruncated: false, MaxItems: 1 });
    await handleEvent(terminateSuccessful('prod-peer-4', 'i-old'), settings, port(), memoryLogger());
    expect(route53.commandCalls(ChangeResourceRecordSetsCommand)).toHaveLength(0);
  });

  test('a terminate while the old instance is still shutting down never points the name at it', async () => {
    ec2.on(DescribeInstancesCommand).resolves({
      Reservations: [
        reservation('i-old', '10.40.16.3', 4, '2026-11-10T08:00:00Z', 'shutting-down'),
        reservation('i-new', '10.40.16.7', 4, '2026-11-11T21:31:13Z', 'pending'),
      ],
    });
    route53.on(ListResourceRecordSetsCommand).resolves({ ResourceRecordSets: [aRecord(4, '10.40.16.3')], IsTruncated: false, MaxItems: 1 });
    await handleEvent(terminateSuccessful('prod-peer-4', 'i-old'), settings, port(), memoryLogger());
    const change = route53.commandCalls(ChangeResourceRecordSetsCommand)[0].args[0].input;
    expect(change.ChangeBatch!.Changes!.find((c) => c.Action === 'CREATE')!.ResourceRecordSet!.ResourceRecords).toEqual([{ Value: '10.40.16.7' }]);
  });

  test('a group with no live instance leaves the record in place (SRV targets must keep resolving)', async () => {
    ec2.on(DescribeInstancesCommand).resolves({ Reservations: [] });
    route53.on(ListResourceRecordSetsCommand).resolves({ ResourceRecordSets: [aRecord(4, '10.40.16.3')], IsTruncated: false, MaxItems: 1 });
    const log = memoryLogger();
    await handleEvent(terminateSuccessful('prod-peer-4', 'i-old'), settings, port(), log);
    expect(route53.commandCalls(ChangeResourceRecordSetsCommand)).toHaveLength(0);
    expect(log.lines).toContainEqual(expect.objectContaining({ peer: 4, action: 'no-live-instance' }));
  });

  test('PriorRequestNotComplete and throttling are retried with backoff until the change goes through', async () => {
    ec2
      .on(DescribeInstancesCommand)
      .rejectsOnce(Object.assign(new Error('Rate exceeded'), { name: 'RequestLimitExceeded', $metadata: { httpStatusCode: 503 } }))
      .resolves({ Reservations: [reservation('i-new', '10.40.16.7', 4, '2026-11-11T21:31:13Z')] });
    route53.on(ListResourceRecordSetsCommand).resolves({ ResourceRecordSets: [aRecord(4, '192.0.2.1')], IsTruncated: false, MaxItems: 1 });
    route53
      .on(ChangeResourceRecordSetsCommand)
      .rejectsOnce(new PriorRequestNotComplete({ message: 'The request was rejected because Route 53 was still processing a prior request.', $metadata: {} }))
      .rejectsOnce(new ThrottlingException({ message: 'Rate exceeded', $metadata: {} }))
      .resolves({ ChangeInfo: { Id: 'C1', Status: 'PENDING', SubmittedAt: new Date() } });

    await handleEvent(launchSuccessful('prod-peer-4', 'i-new'), settings, port(), memoryLogger());
    expect(ec2.commandCalls(DescribeInstancesCommand)).toHaveLength(2);
    expect(route53.commandCalls(ChangeResourceRecordSetsCommand)).toHaveLength(3);
  });

  test('a non-retryable error is not retried and fails the invocation', async () => {
    ec2.on(DescribeInstancesCommand).resolves({ Reservations: [reservation('i-new', '10.40.16.7', 4, '2026-11-11T21:31:13Z')] });
    route53.on(ListResourceRecordSetsCommand).resolves({ ResourceRecordSets: [], IsTruncated: false, MaxItems: 1 });
    route53.on(ChangeResourceRecordSetsCommand).rejects(Object.assign(new Error('not authorized'), { name: 'AccessDenied' }));
    await expect(handleEvent(launchSuccessful('prod-peer-4', 'i-new'), settings, port(), memoryLogger())).rejects.toThrow('not authorized');
    expect(route53.commandCalls(ChangeResourceRecordSetsCommand)).toHaveLength(1);
  });

  test('malformed or foreign events are logged and ignored without any AWS call', async () => {
    const log = memoryLogger();
    await expect(handleEvent({ hello: 'world' }, settings, port(), log)).resolves.toMatchObject({ trigger: 'ignore' });
    await expect(handleEvent(launchSuccessful('someone-else', 'i-1'), settings, port(), log)).resolves.toMatchObject({ trigger: 'ignore' });
    expect(ec2.calls().length + route53.calls().length + autoscaling.calls().length).toBe(0);
    expect(log.lines.map((l) => [l.level, l.msg, l.reason])).toEqual([
      ['warn', 'event ignored', 'unexpected source undefined'],
      ['warn', 'event ignored', 'group someone-else is not a peer group of prod'],
    ]);
  });

  describe('launch lifecycle action', () => {
    beforeEach(() => {
      ec2.on(DescribeInstancesCommand).resolves({ Reservations: [reservation('i-new', '10.40.32.9', 8, '2026-11-11T21:31:13Z', 'running')] });
      route53.on(ListResourceRecordSetsCommand).resolves({ ResourceRecordSets: [aRecord(8, '10.40.32.2')], IsTruncated: false, MaxItems: 1 });
    });

    test('completed with CONTINUE only after the record write succeeded', async () => {
      const order: string[] = [];
      route53.on(ChangeResourceRecordSetsCommand).callsFake(async () => {
        order.push('change');
        return { ChangeInfo: { Id: 'C1', Status: 'PENDING', SubmittedAt: new Date() } };
      });
      autoscaling.on(CompleteLifecycleActionCommand).callsFake(async () => {
        order.push('complete');
        return {};
      });
      const result = await handleEvent(launchLifecycleAction('prod-peer-8', 'i-new', 'token-1'), settings, port(), memoryLogger());
      expect(order).toEqual(['change', 'complete']);
      expect(result.lifecycleCompleted).toBe(true);
      expect(autoscaling.commandCalls(CompleteLifecycleActionCommand)[0].args[0].input).toEqual({
        AutoScalingGroupName: 'prod-peer-8',
        LifecycleHookName: 'etcd-peer-dns-ready',
        LifecycleActionToken: 'token-1',
        InstanceId: 'i-new',
        LifecycleActionResult: 'CONTINUE',
      });
    });

    test('not completed when the write fails: the hook times out and the group goes on', async () => {
      route53.on(ChangeResourceRecordSetsCommand).rejects(Object.assign(new Error('denied'), { name: 'AccessDenied' }));
      await expect(handleEvent(launchLifecycleAction('prod-peer-8', 'i-new'), settings, port(), memoryLogger())).rejects.toThrow('denied');
      expect(autoscaling.commandCalls(CompleteLifecycleActionCommand)).toHaveLength(0);
    });

    test('not completed, and retried, while EC2 does not list the launching instance yet', async () => {
      ec2.on(DescribeInstancesCommand).resolves({ Reservations: [] });
      await expect(handleEvent(launchLifecycleAction('prod-peer-8', 'i-new'), settings, port(), memoryLogger())).rejects.toThrow(
        'launching instance i-new is not visible in EC2 yet',
      );
      expect(autoscaling.commandCalls(CompleteLifecycleActionCommand)).toHaveLength(0);
    });

    test('a stale hook of an instance that is no longer the peer is left to time out', async () => {
      // EC2 lists the hook's instance, launched before the peer. (An instance EC2 does not list may be brand new: see below.)
      ec2.on(DescribeInstancesCommand).resolves({
        Reservations: [reservation('i-older', '10.40.32.5', 8, '2026-11-11T20:00:00Z'), reservation('i-new', '10.40.32.9', 8, '2026-11-11T21:31:13Z')],
      });
      const log = memoryLogger();
      const result = await handleEvent(launchLifecycleAction('prod-peer-8', 'i-older'), settings, port(), log);
      expect(result.lifecycleCompleted).toBe(false);
      expect(autoscaling.commandCalls(CompleteLifecycleActionCommand)).toHaveLength(0);
      expect(log.lines).toContainEqual(expect.objectContaining({ msg: 'lifecycle action left to time out', reason: 'a newer instance i-new is the peer' }));
    });

    test('a second delivery of the same event finds the action completed: success, no second write', async () => {
      const zone = new FakeHostedZone(route53, { 'peer-8.prod.etcd.internal': '10.40.32.2' });
      autoscaling
        .on(CompleteLifecycleActionCommand)
        .resolvesOnce({})
        .rejects(
          new AutoScalingServiceException({
            name: 'ValidationError',
            $fault: 'client',
            message: 'No active Lifecycle Action found with instance ID i-new',
            $metadata: { httpStatusCode: 400 },
          }),
        );
      const event = launchLifecycleAction('prod-peer-8', 'i-new', 'token-1');
      const first = await handleEvent(event, settings, port(), memoryLogger());
      const log = memoryLogger();
      const second = await handleEvent(event, settings, port(), log);

      expect([first.lifecycle, second.lifecycle]).toEqual(['complete', 'already-completed']);
      expect(zone.valuesOf('peer-8.prod.etcd.internal')).toEqual(['10.40.32.9']);
      expect(route53.commandCalls(ChangeResourceRecordSetsCommand)).toHaveLength(1);
      expect(autoscaling.commandCalls(CompleteLifecycleActionCommand)).toHaveLength(2);
      expect(log.lines.filter((l) => l.level === 'error')).toEqual([]);
      expect(log.lines).toContainEqual(expect.objectContaining({ msg: 'lifecycle action already completed', instanceId: 'i-new' }));
    });

    test('an action Auto Scaling no longer knows by its token is not needed either; any other ValidationError fails', async () => {
      const validation = (message: string) =>
        new AutoScalingServiceException({ name: 'ValidationError', $fault: 'client', message, $metadata: { httpStatusCode: 400 } });
      autoscaling.on(CompleteLifecycleActionCommand).rejectsOnce(validation('No active Lifecycle Action found with token token-1'));
      await expect(handleEvent(launchLifecycleAction('prod-peer-8', 'i-new'), settings, port(), memoryLogger())).resolves.toMatchObject({
        lifecycle: 'already-completed',
        lifecycleCompleted: false,
      });
      autoscaling.on(CompleteLifecycleActionCommand).rejects(validation('Unable to find lifecycle hook etcd-peer-dns-ready'));
      await expect(handleEvent(launchLifecycleAction('prod-peer-8', 'i-new'), settings, port(), memoryLogger())).rejects.toThrow(
        'Unable to find lifecycle hook',
      );
    });

    test('a delivery for an instance that is already gone is not needed: no completion, no error', async () => {
      ec2.on(DescribeInstancesCommand).resolves({
        Reservations: [reservation('i-gone', '10.40.32.5', 8, '2026-11-11T21:00:00Z', 'terminated'), reservation('i-new', '10.40.32.9', 8, '2026-11-11T21:31:13Z')],
      });
      const log = memoryLogger();
      const result = await handleEvent(launchLifecycleAction('prod-peer-8', 'i-gone'), settings, port(), log);
      expect(result.lifecycle).toBe('not-needed');
      expect(autoscaling.commandCalls(CompleteLifecycleActionCommand)).toHaveLength(0);
      expect(log.lines).toContainEqual(expect.objectContaining({ msg: 'lifecycle action not needed', reason: 'instance i-gone is terminated' }));
    });

    test('throttling of the completion is retried', async () => {
      autoscaling
        .on(CompleteLifecycleActionCommand)
        .rejectsOnce(new AutoScalingServiceException({ name: 'Throttling', $fault: 'client', message: 'Rate exceeded', $metadata: { httpStatusCode: 400 } }))
        .resolves({});
      await expect(handleEvent(launchLifecycleAction('prod-peer-8', 'i-new'), settings, port(), memoryLogger())).resolves.toMatchObject({
        lifecycleCompleted: true,
      });
      expect(autoscaling.commandCalls(CompleteLifecycleActionCommand)).toHaveLength(2);
    });

    test('the new instance without an IP yet and the old one running: retried, never "a newer instance" naming the old one', async () => {
      const withoutIp = reservation('i-new', '', 8, '2026-11-11T21:31:13Z', 'pending');
      delete (withoutIp.Instances[0] as { PrivateIpAddress?: string }).PrivateIpAddress;
      ec2.on(DescribeInstancesCommand).resolves({ Reservations: [reservation('i-old', '10.40.32.2', 8, '2026-11-10T08:00:00Z'), withoutIp] });
      const log = memoryLogger();
      await expect(handleEvent(launchLifecycleAction('prod-peer-8', 'i-new'), settings, port(), log)).rejects.toThrow(
        'peer 8: launching instance i-new has no private IP yet; retrying',
      );
      expect(route53.commandCalls(ChangeResourceRecordSetsCommand)).toHaveLength(0);
      expect(autoscaling.commandCalls(CompleteLifecycleActionCommand)).toHaveLength(0);
      expect(log.lines).toContainEqual(expect.objectContaining({ msg: 'peer record', peer: 8, instanceId: 'i-new', action: 'awaiting-ip' }));
    });

    test('the new instance not listed yet and the old one running: retried, never "a newer instance" naming the old one', async () => {
      ec2.on(DescribeInstancesCommand).resolves({ Reservations: [reservation('i-old', '10.40.32.2', 8, '2026-11-10T08:00:00Z')] });
      const log = memoryLogger();
      await expect(handleEvent(launchLifecycleAction('prod-peer-8', 'i-new'), settings, port(), log)).rejects.toThrow(
        'launching instance i-new is not visible in EC2 yet',
      );
      expect(log.lines.filter((l) => l.msg === 'lifecycle action left to time out')).toEqual([]);
    });

    test('launched in the same second as a running instance: the launching one is the peer, whatever the ids', async () => {
      for (const [launching, other] of [
        ['i-0aaa', 'i-0fff'],
        ['i-0fff', 'i-0aaa'],
      ]) {
        ec2.on(DescribeInstancesCommand).resolves({
          Reservations: [reservation(other, '10.40.32.2', 8, '2026-11-11T21:31:13Z'), reservation(launching, '10.40.32.9', 8, '2026-11-11T21:31:13Z', 'pending')],
        });
        const result = await handleEvent(launchLifecycleAction('prod-peer-8', launching), settings, port(), memoryLogger());
        expect(result).toMatchObject({ lifecycleCompleted: true, decisions: [{ instanceId: launching, desired: '10.40.32.9' }] });
      }
    });
  });

  test('scheduled reconcile: one describe, one zone read, one batch with only the records that are wrong', async () => {
    const reservations = Array.from({ length: 9 }, (_, i) => reservation(`i-${i}`, `10.40.0.${10 + i}`, i, '2026-11-11T21:00:00Z'));
    ec2.on(DescribeInstancesCommand).resolves({ Reservations: reservations });
    const records = Array.from({ length: 9 }, (_, i) => aRecord(i, `10.40.0.${10 + i}`));
    records[2] = aRecord(2, '192.0.2.1');
    records[7] = aRecord(7, '10.40.0.99');
    route53.on(ListResourceRecordSetsCommand).resolves({
      ResourceRecordSets: [{ Name: 'prod.etcd.internal.', Type: 'SOA', TTL: 900, ResourceRecords: [{ Value: 'x' }] }, ...records],
      IsTruncated: false,
      MaxItems: 300,
    });
    const log = memoryLogger();
    const result = await handleEvent(scheduledEvent(), settings, port(), log);
    expect(ec2.commandCalls(DescribeInstancesCommand)[0].args[0].input.Filters).toContainEqual({ Name: 'tag:etcd-cluster:name', Values: ['prod'] });
    expect(route53.commandCalls(ListResourceRecordSetsCommand)).toHaveLength(1);
    const changes = route53.commandCalls(ChangeResourceRecordSetsCommand);
    expect(changes).toHaveLength(1);
    expect(changes[0].args[0].input.ChangeBatch!.Changes!.map((c) => [c.Action, c.ResourceRecordSet!.Name, c.ResourceRecordSet!.ResourceRecords![0].Value])).toEqual([
      ['DELETE', 'peer-2.prod.etcd.internal', '192.0.2.1'],
      ['CREATE', 'peer-2.prod.etcd.internal', '10.40.0.12'],
      ['DELETE', 'peer-7.prod.etcd.internal', '10.40.0.99'],
      ['CREATE', 'peer-7.prod.etcd.internal', '10.40.0.17'],
    ]);
    expect(result.decisions).toHaveLength(9);
    expect(log.lines.filter((l) => l.msg === 'peer record')).toHaveLength(9);
  });

  test('scheduled reconcile follows Route 53 pagination', async () => {
    ec2.on(DescribeInstancesCommand).resolves({ Reservations: [reservation('i-0', '10.40.0.10', 0, '2026-11-11T21:00:00Z')] });
    route53
      .on(ListResourceRecordSetsCommand)
      .resolvesOnce({ ResourceRecordSets: [], IsTruncated: true, NextRecordName: 'peer-0.prod.etcd.internal.', NextRecordType: 'A', MaxItems: 300 })
      .resolvesOnce({ ResourceRecordSets: [aRecord(0, '10.40.0.10')], IsTruncated: false, MaxItems: 300 });
    await handleEvent(scheduledEvent(), { ...settings, peerCount: 1 }, port(), memoryLogger());
    expect(route53.commandCalls(ListResourceRecordSetsCommand)[1].args[0].input).toMatchObject({
      StartRecordName: 'peer-0.prod.etcd.internal.',
      StartRecordType: 'A',
    });
    expect(route53.commandCalls(ChangeResourceRecordSetsCommand)).toHaveLength(0);
  });

  test('settings come from the environment the construct sets, with clear errors', () => {
    expect(settingsFromEnv({ CLUSTER_NAME: 'prod', DOMAIN: 'd.internal', PEER_COUNT: '9', HOSTED_ZONE_ID: 'Z1', RECORD_TTL: '5' })).toEqual({
      clusterName: 'prod',
      domain: 'd.internal',
      peerCount: 9,
      hostedZoneId: 'Z1',
      recordTtl: 5,
    });
    expect(() => settingsFromEnv({ CLUSTER_NAME: 'prod', DOMAIN: 'd', PEER_COUNT: '9' })).toThrow('environment variable HOSTED_ZONE_ID is not set');
  });
  test('events for a group beyond the cluster (peer-9 of 9 peers) are ignored without any AWS call', async () => {
    const log = memoryLogger();
    await expect(handleEvent(launchLifecycleAction('prod-peer-9', 'i-9'), settings, port(), log)).resolves.toMatchObject({ trigger: 'ignore' });
    await expect(handleEvent(launchSuccessful('prod-peer-10', 'i-10'), settings, port(), log)).resolves.toMatchObject({ trigger: 'ignore' });
    expect(ec2.calls().length + route53.calls().length + autoscaling.calls().length).toBe(0);
    expect(log.lines.map((l) => l.reason)).toEqual([
      "group prod-peer-9 is beyond the cluster's 9 peers (peer-0 to peer-8)",
      "group prod-peer-10 is beyond the cluster's 9 peers (peer-0 to peer-8)",
    ]);
  });
});

/** EC2 as a list the test changes; DescribeInstances filters it by group tag as EC2 does. */
function ec2World(reservations: ReturnType<typeof reservation>[]) {
  const world = { reservations, beforeAnswer: undefined as undefined | ((scope: string) => Promise<void>) };
  ec2.on(DescribeInstancesCommand).callsFake(async (input) => {
    const group = input.Filters?.find((f: { Name?: string }) => f.Name === 'tag:aws:autoscaling:groupName')?.Values?.[0];
    const answer = { Reservations: world.reservations.filter((r) => !group || r.Instances[0].Tags[0].Value === group) };
    await world.beforeAnswer?.(group ?? 'all');
    return answer;
  });
  return world;
}

const fqdn = (peer: number) => `peer-${peer}.prod.etcd.internal`;
/** Peers 0..8 running at 10.40.0.1x, except those in `except`. */
const cluster = (except: number[]) =>
  Array.from({ length: 9 }, (_, i) => i)
    .filter((i) => !except.includes(i))
    .map((i) => reservation(`i-${i}`, `10.40.0.${10 + i}`, i, '2026-11-11T20:00:00Z'));
const rightRecords = () => Object.fromEntries(Array.from({ length: 9 }, (_, i) => [fqdn(i), `10.40.0.${10 + i}`]));

describe('overlapping invocations: a stale write cannot undo a fresh one', () => {
  // Peer 4's record is wrong and i-old runs. A scheduled reconcile starts; peer 4 is replaced by i-new and its
  // launch hook is handled to the end; then the reconcile goes on. Whatever it saw, i-new's address must stay.
  test.each([
    ['after the reconcile read EC2', 'describe'],
    ['after the reconcile read everything, just before it writes', 'change'],
  ])('replacement and hook handled %s', async (_, at) => {
    const zone = new FakeHostedZone(route53, { ...rightRecords(), [fqdn(4)]: '192.0.2.1' });
    const world = ec2World([...cluster([4]), reservation('i-old', '10.40.16.3', 4, '2026-11-10T08:00:00Z')]);
    let replaced = false;
    const replaceAndHandleHook = async () => {
      replaced = true;
      world.reservations = [
        ...cluster([4]),
        reservation('i-old', '10.40.16.3', 4, '2026-11-10T08:00:00Z', 'terminated'),
        reservation('i-new', '10.40.16.7', 4, '2026-11-11T21:31:13Z', 'pending'),
      ];
      await handleEvent(launchLifecycleAction('prod-peer-4', 'i-new'), settings, port(), memoryLogger());
    };
    if (at === 'describe') world.beforeAnswer = async (scope) => (scope === 'all' && !replaced ? replaceAndHandleHook() : undefined);
    else zone.beforeChange = async (input) => (input.ChangeBatch!.Comment!.includes('scheduled') && !replaced ? replaceAndHandleHook() : undefined);

    const reconcile = await handleEvent(scheduledEvent(), settings, port(), memoryLogger()).then(
      () => 'resolved',
      (e: Error) => e.message,
    );
    expect(replaced).toBe(true);
    expect(zone.valuesOf(fqdn(4))).toEqual(['10.40.16.7']);
    expect(autoscaling.commandCalls(CompleteLifecycleActionCommand).map((c) => c.args[0].input.InstanceId)).toEqual(['i-new']);
    // The reconcile's write was refused (the record changed since it read it), so it fails and Lambda runs it
    // again; that run reads afresh and leaves the record as it is.
    expect(reconcile).toMatch(/^Route 53 refused the change of peer-4\.prod\.etcd\.internal \(InvalidChangeBatch: Tried to delete .* do not match the current values/);
    const changes = route53.commandCalls(ChangeResourceRecordSetsCommand).length;
    await expect(handleEvent(scheduledEvent(), settings, port(), memoryLogger())).resolves.toMatchObject({ trigger: 'all' });
    expect(route53.commandCalls(ChangeResourceRecordSetsCommand)).toHaveLength(changes);
    expect(zone.valuesOf(fqdn(4))).toEqual(['10.40.16.7']);
  });

  test('two invocations for the same peer in flight at once: one write lands, the other is refused and its retry changes nothing', async () => {
    const zone = new FakeHostedZone(route53, { [fqdn(4)]: '10.40.16.3' });
    const world = ec2World([reservation('i-old', '10.40.16.3', 4, '2026-11-10T08:00:00Z', 'terminated'), reservation('i-new', '10.40.16.7', 4, '2026-11-11T21:31:13Z')]);
    // Both have read EC2 before either writes.
    let arrived = 0;
    let release!: () => void;
    const bothRead = new Promise<void>((resolve) => (release = resolve));
    world.beforeAnswer = async () => {
      if (++arrived === 2) release();
      await bothRead;
    };
    const outcomes = await Promise.all(
      [launchLifecycleAction('prod-peer-4', 'i-new'), terminateSuccessful('prod-peer-4', 'i-old')].map((e) =>
        handleEvent(e, settings, port(), memoryLogger()).then(
          (r) => r.trigger,
          (e: Error) => e.message,
        ),
      ),
    );
    expect(zone.valuesOf(fqdn(4))).toEqual(['10.40.16.7']);
    expect(outcomes.filter((o) => o === 'peer')).toHaveLength(1);
    expect(outcomes.filter((o) => o.startsWith('Route 53 refused the change of peer-4'))).toHaveLength(1);
    world.beforeAnswer = undefined;
    // Lambda's retry of the refused one (the hook, or the terminate) finds the record right.
    const retried = await handleEvent(launchLifecycleAction('prod-peer-4', 'i-new'), settings, port(), memoryLogger());
    expect(retried.decisions[0].action).toBe('none');
    expect(route53.commandCalls(ChangeResourceRecordSetsCommand)).toHaveLength(2);
  });

  test('events of one replacement delivered in any order end with the new address and the hook completed', async () => {
    const events = [
      terminateSuccessful('prod-peer-4', 'i-old'),
      launchLifecycleAction('prod-peer-4', 'i-new'),
      launchSuccessful('prod-peer-4', 'i-new'),
      launchSuccessful('prod-peer-4', 'i-old'),
    ];
    const orders = [
      [0, 1, 2, 3],
      [3, 2, 1, 0],
      [1, 3, 0, 2],
      [2, 0, 3, 1],
    ];
    for (const order of orders) {
      route53.reset();
      autoscaling.reset();
      autoscaling.on(CompleteLifecycleActionCommand).resolves({});
      const zone = new FakeHostedZone(route53, { [fqdn(4)]: '10.40.16.3' });
      ec2World([reservation('i-old', '10.40.16.3', 4, '2026-11-10T08:00:00Z', 'shutting-down'), reservation('i-new', '10.40.16.7', 4, '2026-11-11T21:31:13Z')]);
      for (const i of order) await handleEvent(events[i], settings, port(), memoryLogger());
      expect(zone.valuesOf(fqdn(4))).toEqual(['10.40.16.7']);
      expect(route53.commandCalls(ChangeResourceRecordSetsCommand)).toHaveLength(1);
      expect(autoscaling.commandCalls(CompleteLifecycleActionCommand)).toHaveLength(1);
    }
  });
});

describe('a refused change batch', () => {
  test('falls back to one change per record: one bad record keeps no other wrong, and the invocation fails naming it', async () => {
    const zone = new FakeHostedZone(route53, { ...rightRecords(), [fqdn(2)]: '192.0.2.1', [fqdn(5)]: '192.0.2.1', [fqdn(7)]: '10.40.0.99' });
    zone.refused.set(fqdn(5), `RRSet with DNS name ${fqdn(5)}. is not permitted in zone prod.etcd.internal.`);
    ec2World(cluster([]));
    const log = memoryLogger();
    await expect(handleEvent(scheduledEvent(), settings, port(), log)).rejects.toThrow(
      /^Route 53 refused the change of peer-5\.prod\.etcd\.internal \(.*is not permitted in zone.*\); the other records were written/,
    );
    expect([2, 5, 7].map((i) => zone.valuesOf(fqdn(i)))).toEqual([['10.40.0.12'], ['192.0.2.1'], ['10.40.0.17']]);
    // One batch of three, then one change per record.
    expect(route53.commandCalls(ChangeResourceRecordSetsCommand).map((c) => c.args[0].input.ChangeBatch!.Changes!.length)).toEqual([6, 2, 2, 2]);
    expect(log.lines).toContainEqual(expect.objectContaining({ level: 'warn', msg: 'change batch refused; writing the records one by one', records: 3 }));
    expect(log.lines).toContainEqual(expect.objectContaining({ msg: 'peer record', peer: 5, changed: false, rejected: expect.stringContaining('not permitted') }));
    expect(log.lines).toContainEqual(expect.objectContaining({ msg: 'peer record', peer: 7, changed: true }));
  });

  test('an error that is not a refusal fails at once, without one change per record', async () => {
    new FakeHostedZone(route53, { ...rightRecords(), [fqdn(2)]: '192.0.2.1', [fqdn(7)]: '10.40.0.99' });
    route53.on(ChangeResourceRecordSetsCommand).rejects(Object.assign(new Error('not authorized'), { name: 'AccessDenied' }));
    ec2World(cluster([]));
    await expect(handleEvent(scheduledEvent(), settings, port(), memoryLogger())).rejects.toThrow('not authorized');
    expect(route53.commandCalls(ChangeResourceRecordSetsCommand)).toHaveLength(1);
  });

  test('a hook whose record change is refused is not completed', async () => {
    const zone = new FakeHostedZone(route53, { [fqdn(4)]: '192.0.2.1' });
    zone.refused.set(fqdn(4), 'refused for the test');
    ec2World([reservation('i-new', '10.40.16.7', 4, '2026-11-11T21:31:13Z')]);
    await expect(handleEvent(launchLifecycleAction('prod-peer-4', 'i-new'), settings, port(), memoryLogger())).rejects.toThrow('refused for the test');
    expect(autoscaling.commandCalls(CompleteLifecycleActionCommand)).toHaveLength(0);
  });
});

