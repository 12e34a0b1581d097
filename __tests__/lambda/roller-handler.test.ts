import { mockClient } from 'aws-sdk-client-mock';
import { AutoScalingClient, DescribeAutoScalingGroupsCommand, TerminateInstanceInAutoScalingGroupCommand } from '@aws-sdk/client-auto-scaling';
import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { memoryLogger } from '../../runtime/log';
import { handleRoll, ROLLER_STOPPED_METRIC } from '../../lambda/roller-handler';
import { AwsRollerPort } from '../../lambda/roller-aws';
import type { RollerPort } from '../../lambda/port';
import type { RollPeer } from '../../lambda/roller';
import type { PeerStatus } from '../../contract/peer-status';
import { rollerSettingsFromEnv, rollerSettingsToEnv, RollerSettings } from '../../contract/roller-settings';

const NOW = 50_000_000;
const settings: RollerSettings = { clusterName: 'prod', peerCount: 3, backupBucket: 'prod-backups', targetVersion: '3.5.33', replaceDeadlineSeconds: 1200 };
const status = (peer: number, over: Partial<PeerStatus> = {}): PeerStatus => ({ peer, instanceId: `i-${peer}`, healthy: true, role: peer === 0 ? 'leader' : 'follower', revision: 9, etcdVersion: '3.5.33', at: NOW - 10_000, ...over });
const instance = (peer: number, upToDate: boolean): NonNullable<RollPeer['instance']> => ({ id: `i-${peer}`, lifecycleState: 'InService', healthy: true, upToDate, launchedAt: NOW - 3_600_000 });

function fakePort(instances: Map<number, RollPeer['instance']>, statuses: PeerStatus[]): RollerPort & { replaced: string[] } {
  const replaced: string[] = [];
  return {
    replaced,
    describePeerInstances: async () => instances,
    readPeerStatuses: async () => statuses,
    newestSnapshotAt: async () => NOW - 60_000,
    replace: async (_peer, id) => void replaced.push(id),
  };
}

describe('the roller handler', () => {
  test('replaces the out-of-date follower, logs the decision with a zero stop figure', async () => {
    const port = fakePort(new Map([[0, instance(0, false)], [1, instance(1, true)], [2, instance(2, false)]]), [status(0), status(1), status(2)]);
    const log = memoryLogger();
    expect(await handleRoll(settings, port, log, () => NOW)).toMatchObject({ action: 'replace', peer: 2 });
    expect(port.replaced).toEqual(['i-2']);
    expect(log.lines).toContainEqual(expect.objectContaining({ msg: 'roll', action: 'replace', [ROLLER_STOPPED_METRIC]: 1 - 1, ClusterName: 'prod' }));
  });
  test('a stop replaces nothing and raises the stop metric in an error line naming the peer', async () => {
    const port = fakePort(new Map([[0, instance(0, false)], [1, instance(1, true)], [2, instance(2, false)]]), [status(0), status(1, { healthy: false }), status(2)]);
    const log = memoryLogger();
    expect(await handleRoll(settings, port, log, () => NOW)).toMatchObject({ action: 'stop', peer: 1 });
    expect(port.replaced).toEqual([]);
    const line = log.lines.find((l) => l.msg === 'roll')!;
    expect(line).toMatchObject({ level: 'error', [ROLLER_STOPPED_METRIC]: 1, reason: expect.stringContaining('peer-1 is not healthy 1200 s after its launch') });
    expect((line._aws as { CloudWatchMetrics: { Namespace: string }[] }).CloudWatchMetrics[0].Namespace).toBe('EtcdCluster');
  });
  test('a group without a status or instance is waited for', async () => {
    const port = fakePort(new Map([[0, instance(0, false)], [1, instance(1, false)]]), [status(0), status(1)]);
    expect(await handleRoll(settings, port, memoryLogger(), () => NOW)).toEqual({ action: 'wait', reason: 'peer-2: its group has no instance' });
  });
  test('settings go through the environment and back; a bad version names the variable', () => {
    expect(rollerSettingsFromEnv(rollerSettingsToEnv(settings))).toEqual(settings);
    expect(() => rollerSettingsFromEnv({ ...rollerSettingsToEnv(settings), TARGET_ETCD_VERSION: 'v3.5' })).toThrow('TARGET_ETCD_VERSION must look like 3.5.33');
  });
});

describe('the roller on AWS (mocked SDK)', () => {
  const autoscaling = mockClient(AutoScalingClient);
  const ec2 = mockClient(EC2Client);
  const s3 = mockClient(S3Client);
  beforeEach(() => {
    autoscaling.reset();
    ec2.reset();
    s3.reset();
  });
  const port = () => new AwsRollerPort({ ...settings, retry: { attempts: 2, baseDelayMs: 1, maxDelayMs: 1 } }, new AutoScalingClient({}), new EC2Client({}), new S3Client({}));
  /** The SDK's response body, as far as the adapter reads it. */
  const body = (text: string) => ({ transformToString: async () => text });

  test("each peer's serving instance, whether it runs the group's current template version, and its launch time", async () => {
    autoscaling.on(DescribeAutoScalingGroupsCommand).resolves({
      AutoScalingGroups: [
        { AutoScalingGroupName: 'prod-peer-0', LaunchTemplate: { Version: '4' }, Instances: [{ InstanceId: 'i-0', LifecycleState: 'InService', HealthStatus: 'Healthy', LaunchTemplate: { Version: '3' } }] } as never,
        { AutoScalingGroupName: 'prod-peer-1', LaunchTemplate: { Version: '4' }, Instances: [{ InstanceId: 'i-old', LifecycleState: 'Terminating:Wait', HealthStatus: 'Healthy', LaunchTemplate: { Version: '3' } }, { InstanceId: 'i-1', LifecycleState: 'Pending', HealthStatus: 'Healthy', LaunchTemplate: { Version: '4' } }] } as never,
        { AutoScalingGroupName: 'prod-peer-2', LaunchTemplate: { Version: '4' }, Instances: [] } as never,
      ],
    });
    ec2.on(DescribeInstancesCommand).resolves({ Reservations: [{ Instances: [{ InstanceId: 'i-0', LaunchTime: new Date(1000) }, { InstanceId: 'i-1', LaunchTime: new Date(2000) }] }] });
    const found = await port().describePeerInstances();
    expect(autoscaling.commandCalls(DescribeAutoScalingGroupsCommand)[0].args[0].input.AutoScalingGroupNames).toEqual(['prod-peer-0', 'prod-peer-1', 'prod-peer-2']);
    expect([...found]).toEqual([
      [0, { id: 'i-0', lifecycleState: 'InService', healthy: true, upToDate: false, launchedAt: 1000 }],
      [1, { id: 'i-1', lifecycleState: 'Pending', healthy: true, upToDate: true, launchedAt: 2000 }],
    ]);
  });

  test('an instance EC2 does not show yet counts as launched now, so it is waited for, not overdue; unknown ids never fail the call', async () => {
    autoscaling.on(DescribeAutoScalingGroupsCommand).resolves({
      AutoScalingGroups: [
        { AutoScalingGroupName: 'prod-peer-0', LaunchTemplate: { Version: '4' }, Instances: [{ InstanceId: 'i-0', LifecycleState: 'InService', HealthStatus: 'Healthy', LaunchTemplate: { Version: '4' } }] } as never,
        { AutoScalingGroupName: 'prod-peer-1', LaunchTemplate: { Version: '4' }, Instances: [{ InstanceId: 'i-new', LifecycleState: 'Pending', HealthStatus: 'Healthy', LaunchTemplate: { Version: '4' } }] } as never,
      ],
    });
    const launched = Date.now() - 60_000;
    // With InstanceIds EC2 answers InvalidInstanceID.NotFound for the whole call; with a filter it leaves i-new out.
    ec2.on(DescribeInstancesCommand, { InstanceIds: ['i-0', 'i-new'] }).rejects(Object.assign(new Error("The instance ID 'i-new' does not exist"), { name: 'InvalidInstanceID.NotFound' }));
    ec2.on(DescribeInstancesCommand, { Filters: [{ Name: 'instance-id', Values: ['i-0', 'i-new'] }] }).resolves({ Reservations: [{ Instances: [{ InstanceId: 'i-0', LaunchTime: new Date(launched) }] }] });
    const before = Date.now();
    const found = await port().describePeerInstances();
    expect(found.get(0)!.launchedAt).toBe(launched);
    expect(found.get(1)!.launchedAt).toBeGreaterThanOrEqual(before);
    s3.on(ListObjectsV2Command).resolves({ Contents: [] });
    const decision = await handleRoll({ ...settings, peerCount: 2 }, port(), memoryLogger());
    expect(decision).toMatchObject({ action: 'wait' });
  });

  test("statuses are read with S3's time; malformed ones and other keys are left out", async () => {
    s3.on(ListObjectsV2Command, { Prefix: 'peers/status/' }).resolves({ Contents: [{ Key: 'peers/status/peer-0.json', LastModified: new Date(5000) }, { Key: 'peers/status/peer-1.json', LastModified: new Date(5000) }, { Key: 'peers/status/notes.txt', LastModified: new Date(5000) }] });
    s3.on(GetObjectCommand, { Key: 'peers/status/peer-0.json' }).resolves({ Body: body(JSON.stringify({ ...status(0), at: undefined })) as never, LastModified: new Date(7000) });
    s3.on(GetObjectCommand, { Key: 'peers/status/peer-1.json' }).resolves({ Body: body('{"peer":1}') as never, LastModified: new Date(7000) });
    expect(await port().readPeerStatuses()).toEqual([{ ...status(0), at: 7000 }]);
    expect(s3.commandCalls(GetObjectCommand)).toHaveLength(2);
  });

  test('the newest snapshot is the newest frequent one; none is undefined', async () => {
    s3.on(ListObjectsV2Command, { Prefix: 'snapshots/frequent/' }).resolvesOnce({ Contents: [{ Key: 'snapshots/frequent/a-rev1.db', LastModified: new Date(1) }, { Key: 'snapshots/frequent/b-rev2.db', LastModified: new Date(9) }] }).resolves({});
    expect(await port().newestSnapshotAt()).toBe(9);
    expect(await port().newestSnapshotAt()).toBeUndefined();
  });

  test('a replacement terminates the instance in its group, keeping the group at one', async () => {
    autoscaling.on(TerminateInstanceInAutoScalingGroupCommand).resolves({});
    await port().replace(2, 'i-2');
    expect(autoscaling.commandCalls(TerminateInstanceInAutoScalingGroupCommand)[0].args[0].input).toEqual({ InstanceId: 'i-2', ShouldDecrementDesiredCapacity: false });
  });
});
