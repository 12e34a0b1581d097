/** AWS adapter of the roller: Auto Scaling and EC2 for the instances, S3 for the peers' statuses and the snapshots. */
import { AutoScalingClient, DescribeAutoScalingGroupsCommand, TerminateInstanceInAutoScalingGroupCommand } from '@aws-sdk/client-auto-scaling';
import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { autoScalingGroupName, BACKUP_KEYS, peerIndexOfGroup, peerIndices } from '../contract/naming';
import { parsePeerStatus, PEER_STATUS_PREFIX, PeerStatus, peerIndexOfStatusKey } from '../contract/peer-status';
import type { RollerSettings } from '../contract/roller-settings';
import { AWS_RETRY, RetryOptions, SDK_CLIENT_CONFIG, withRetry } from '../runtime/retry';
import type { RollerPort } from './port';
import type { RollPeer } from './roller';

/** {@link RollerPort} over Auto Scaling, EC2 and S3. */
export class AwsRollerPort implements RollerPort {
  constructor(
    private readonly settings: RollerSettings & { readonly retry?: RetryOptions },
    private readonly autoscaling = new AutoScalingClient(SDK_CLIENT_CONFIG),
    private readonly ec2 = new EC2Client(SDK_CLIENT_CONFIG),
    private readonly s3 = new S3Client(SDK_CLIENT_CONFIG),
  ) {}

  private retry<T>(operation: () => Promise<T>): Promise<T> {
    return withRetry(operation, this.settings.retry ?? AWS_RETRY);
  }

  async describePeerInstances(): Promise<Map<number, RollPeer['instance']>> {
    const names = peerIndices(this.settings.peerCount).map((i) => autoScalingGroupName(this.settings.clusterName, i));
    const found = new Map<number, { id: string; lifecycleState: string; healthy: boolean; upToDate: boolean }>();
    // DescribeAutoScalingGroups takes up to 100 names per call.
    for (let i = 0; i < names.length; i += 100) {
      let token: string | undefined;
      do {
        const page = await this.retry(() => this.autoscaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: names.slice(i, i + 100), NextToken: token })));
        for (const group of page.AutoScalingGroups ?? []) {
          const peer = peerIndexOfGroup(this.settings.clusterName, group.AutoScalingGroupName ?? '');
          if (peer === undefined) continue;
          const current = group.LaunchTemplate?.Version;
          // The instance that serves, not one on its way out.
          const instance = (group.Instances ?? []).find((x) => !/^(Terminat|Detach)/.test(x.LifecycleState ?? '')) ?? group.Instances?.[0];
          if (!instance?.InstanceId) continue;
          found.set(peer, {
            id: instance.InstanceId,
            lifecycleState: instance.LifecycleState ?? 'unknown',
            healthy: instance.HealthStatus === 'Healthy',
            upToDate: instance.LaunchTemplate?.Version !== undefined && instance.LaunchTemplate.Version === current,
          });
        }
        token = page.NextToken;
      } while (token);
    }
    const launchedAt = await this.launchTimes([...found.values()].map((x) => x.id));
    // An instance EC2 does not show yet was launched moments ago (its API is eventually consistent): counting it
    // from now keeps it from looking overdue, which a launch time of 0 (1970) made it, and stopped the roll.
    const now = Date.now();
    return new Map([...found].map(([peer, x]) => [peer, { ...x, launchedAt: launchedAt.get(x.id) ?? now }]));
  }

  private async launchTimes(instanceIds: string[]): Promise<Map<string, number>> {
    const times = new Map<string, number>();
    if (!instanceIds.length) return times;
    let token: string | undefined;
    do {
      // A filter, not InstanceIds: an id EC2 does not know yet is left out instead of failing the whole call.
      const page = await this.retry(() => this.ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: 'instance-id', Values: instanceIds }], NextToken: token })));
      for (const r of page.Reservations ?? []) for (const x of r.Instances ?? []) if (x.InstanceId && x.LaunchTime) times.set(x.InstanceId, x.LaunchTime.getTime());
      token = page.NextToken;
    } while (token);
    return times;
  }

  async readPeerStatuses(): Promise<PeerStatus[]> {
    const statuses: PeerStatus[] = [];
    for (const { key } of await this.list(PEER_STATUS_PREFIX)) {
      if (peerIndexOfStatusKey(key) === undefined) continue;
      const object = await this.retry(() => this.s3.send(new GetObjectCommand({ Bucket: this.settings.backupBucket, Key: key })));
      const text = object.Body ? await object.Body.transformToString() : '';
      // The time of the version read (S3's clock), never the peer's.
      const status = object.LastModified ? parsePeerStatus(text, object.LastModified.getTime()) : undefined;
      if (status && status.peer === peerIndexOfStatusKey(key)) statuses.push(status);
    }
    return statuses;
  }

  async newestSnapshotAt(): Promise<number | undefined> {
    const times = (await this.list(BACKUP_KEYS.frequent)).filter((o) => o.key.endsWith('.db')).map((o) => o.at);
    return times.length ? Math.max(...times) : undefined;
  }

  async replace(_peer: number, instanceId: string): Promise<void> {
    // The group keeps its size: it launches the replacement once the old instance (and its hand-off) is gone.
    await this.retry(() => this.autoscaling.send(new TerminateInstanceInAutoScalingGroupCommand({ InstanceId: instanceId, ShouldDecrementDesiredCapacity: false })));
  }

  private async list(prefix: string): Promise<{ key: string; at: number }[]> {
    const found: { key: string; at: number }[] = [];
    let token: string | undefined;
    do {
      const page = await this.retry(() => this.s3.send(new ListObjectsV2Command({ Bucket: this.settings.backupBucket, Prefix: prefix, ContinuationToken: token })));
      for (const o of page.Contents ?? []) if (o.Key && o.LastModified) found.push({ key: o.Key, at: o.LastModified.getTime() });
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return found;
  }
}
