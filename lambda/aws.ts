/** AWS adapters of the DNS updater: thin translations between SDK v3 shapes and the pure decisions. */
import { AutoScalingClient, CompleteLifecycleActionCommand } from '@aws-sdk/client-auto-scaling';
import { DescribeInstancesCommand, DescribeInstancesCommandOutput, EC2Client, Filter } from '@aws-sdk/client-ec2';
import { ChangeResourceRecordSetsCommand, ListResourceRecordSetsCommand, Route53Client } from '@aws-sdk/client-route-53';
import { CLUSTER_TAG_KEY, normalizeDomain, peerIndexOfGroup } from '../contract/naming';
import { AWS_RETRY, RetryOptions, SDK_CLIENT_CONFIG, withRetry } from '../runtime/retry';
import { LifecycleAction } from './events';
import type { UpdaterPort } from './port';
import { ObservedInstance, ObservedRecord } from './reconcile';

/** Settings of {@link AwsUpdaterPort}. */
export interface AwsUpdaterSettings {
  readonly clusterName: string;
  readonly hostedZoneId: string;
  readonly retry?: RetryOptions;
}

/** {@link UpdaterPort} over EC2, Route 53 and Auto Scaling. */
export class AwsUpdaterPort implements UpdaterPort {
  constructor(
    private readonly settings: AwsUpdaterSettings,
    // One retry policy, ours (withRetry): the SDK's own retries would multiply it.
    private readonly ec2 = new EC2Client(SDK_CLIENT_CONFIG),
    private readonly route53 = new Route53Client(SDK_CLIENT_CONFIG),
    private readonly autoscaling = new AutoScalingClient(SDK_CLIENT_CONFIG),
  ) {}

  private retry<T>(operation: () => Promise<T>): Promise<T> {
    return withRetry(operation, this.settings.retry ?? AWS_RETRY);
  }

  async describePeerInstances(scope: { groupName: string } | { all: true }): Promise<ObservedInstance[]> {
    const filters: Filter[] = [
      { Name: 'instance-state-name', Values: ['pending', 'running'] },
      'groupName' in scope
        ? { Name: 'tag:aws:autoscaling:groupName', Values: [scope.groupName] }
        : { Name: `tag:${CLUSTER_TAG_KEY}`, Values: [this.settings.clusterName] },
    ];
    const observed: ObservedInstance[] = [];
    let nextToken: string | undefined;
    do {
      const page: DescribeInstancesCommandOutput = await this.retry(() =>
        this.ec2.send(new DescribeInstancesCommand({ Filters: filters, NextToken: nextToken })),
      );
      for (const reservation of page.Reservations ?? []) {
        for (const instance of reservation.Instances ?? []) {
          const group = instance.Tags?.find((t) => t.Key === 'aws:autoscaling:groupName')?.Value;
          const peerIndex = group === undefined ? undefined : peerIndexOfGroup(this.settings.clusterName, group);
          if (peerIndex === undefined || !instance.InstanceId) continue;
          observed.push({
            instanceId: instance.InstanceId,
            state: instance.State?.Name ?? 'unknown',
            privateIp: instance.PrivateIpAddress,
            launchTime: (instance.LaunchTime ?? new Date(0)).toISOString(),
            peerIndex,
          });
        }
      }
      nextToken = page.NextToken;
    } while (nextToken);
    return observed;
  }

  async readPeerRecords(fqdn?: string): Promise<Map<string, ObservedRecord>> {
    const records = new Map<string, ObservedRecord>();
    let start: { name?: string; type?: 'A' } = fqdn ? { name: fqdn, type: 'A' } : {};
    for (;;) {
      const page = await this.retry(() =>
        this.route53.send(
          new ListResourceRecordSetsCommand({
            HostedZoneId: this.settings.hostedZoneId,
            StartRecordName: start.name,
            StartRecordType: start.type,
            MaxItems: fqdn ? 1 : undefined,
          }),
        ),
      );
      for (const set of page.ResourceRecordSets ?? []) {
        if (set.Type !== 'A' || !set.Name) continue;
        records.set(normalizeDomain(set.Name), { values: (set.ResourceRecords ?? []).map((r) => r.Value ?? ''), ttl: set.TTL });
      }
      if (fqdn || !page.IsTruncated) return records;
      start = { name: page.NextRecordName, type: page.NextRecordType as 'A' | undefined };
    }
  }

  async upsertPeerRecords(records: { fqdn: string; ip: string }[], ttl: number, comment: string): Promise<void> {
    await this.retry(() =>
      this.route53.send(
        new ChangeResourceRecordSetsCommand({
          HostedZoneId: this.settings.hostedZoneId,
          ChangeBatch: {
            Comment: comment,
            Changes: records.map((r) => ({
              Action: 'UPSERT',
              ResourceRecordSet: { Name: r.fqdn, Type: 'A', TTL: ttl, ResourceRecords: [{ Value: r.ip }] },
            })),
          },
        }),
      ),
    );
  }

  async completeLifecycleAction(action: LifecycleAction): Promise<void> {
    await this.retry(() =>
      this.autoscaling.send(
        new CompleteLifecycleActionCommand({
          AutoScalingGroupName: action.groupName,
          LifecycleHookName: action.hookName,
          LifecycleActionToken: action.token,
          InstanceId: action.instanceId,
          LifecycleActionResult: 'CONTINUE',
        }),
      ),
    );
  }
}
