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
import { AwsUpdaterPort } from '../../lambda/aws';
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
  test('launch: reads the group once, the record once, and UPSERTs exactly the new address', async () => {
    ec2.on(DescribeInstancesCommand).resolves({ Reservations: [reservation('i-new', '10.40.16.7', 4, '2026-11-11T21:31:13Z')] });
    route53.on(ListResourceRecordSetsCommand).resolves({ ResourceRecordSets: [aRecord(4, '192.0.2.1')], IsTruncated: false, MaxItems: 1 });

    const log = memoryLogger();
    await handleEvent(launchSuccessful('prod-peer-4', 'i-new'), settings, port(), log);

    expect(ec2.commandCalls(DescribeInstancesCommand)[0].args[0].input).toEqual({
      Filters: [
        { Name: 'instance-state-name', Values: ['pending', 'running'] },
        { Name: 'tag:aws:autoscaling:groupName', Values: ['prod-peer-4'] },
      ],
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
          Changes: [
            {
              Action: 'UPSERT',
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
    expect(change.ChangeBatch!.Changes![0].ResourceRecordSet!.ResourceRecords).toEqual([{ Value: '10.40.16.7' }]);
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
      const log = memoryLogger();
      const result = await handleEvent(launchLifecycleAction('prod-peer-8', 'i-older'), settings, port(), log);
      expect(result.lifecycleCompleted).toBe(false);
      expect(autoscaling.commandCalls(CompleteLifecycleActionCommand)).toHaveLength(0);
      expect(log.lines).toContainEqual(expect.objectContaining({ msg: 'lifecycle action left to time out', reason: 'a newer instance i-new is the peer' }));
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
    expect(changes[0].args[0].input.ChangeBatch!.Changes!.map((c) => [c.ResourceRecordSet!.Name, c.ResourceRecordSet!.ResourceRecords![0].Value])).toEqual([
      ['peer-2.prod.etcd.internal', '10.40.0.12'],
      ['peer-7.prod.etcd.internal', '10.40.0.17'],
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
});
