/** AWS adapters of the DNS updater: thin translations between SDK v3 shapes and the pure decisions. */
import { AutoScalingClient, CompleteLifecycleActionCommand } from '@aws-sdk/client-auto-scaling';
import { DescribeInstancesCommand, DescribeInstancesCommandOutput, EC2Client, Filter } from '@aws-sdk/client-ec2';
import { Change, ChangeResourceRecordSetsCommand, ListResourceRecordSetsCommand, Route53Client } from '@aws-sdk/client-route-53';
import { CLUSTER_TAG_KEY, normalizeDomain, peerIndexOfGroup } from '../contract/naming';
import { AWS_RETRY, RetryOptions, SDK_CLIENT_CONFIG, withRetry } from '../runtime/retry';
import { LifecycleAction } from './events';
import { PeerRecordWrite, RecordChangeRejected, UpdaterPort } from './port';
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
    // Every state: a hook whose instance EC2 lists as shutting down or terminated is no longer needed,
    // while one EC2 does not list yet is new (EC2 keeps terminated instances listed for about an hour).
    const filters: Filter[] = [
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

  async writePeerRecords(writes: readonly PeerRecordWrite[], comment: string): Promise<void> {
    const record = (name: string, ttl: number | undefined, values: readonly string[]) => ({
      Name: name,
      Type: 'A' as const,
      TTL: ttl,
      ResourceRecords: values.map((Value) => ({ Value })),
    });
    // DELETE of the exact record read, then CREATE, in one batch: Route 53 applies a batch atomically and
    // refuses a DELETE that does not match the record as it is, so this is a compare-and-swap (UPSERT is blind).
    const changes: Change[] = writes.flatMap((w) => [
      ...(w.expected ? [{ Action: 'DELETE' as const, ResourceRecordSet: record(w.fqdn, w.expected.ttl, w.expected.values) }] : []),
      { Action: 'CREATE' as const, ResourceRecordSet: record(w.fqdn, w.ttl, [w.ip]) },
    ]);
    try {
      await this.retry(() =>
        this.route53.send(new ChangeResourceRecordSetsCommand({ HostedZoneId: this.settings.hostedZoneId, ChangeBatch: { Comment: comment, Changes: changes } })),
      );
    } catch (error) {
      const name = (error as { name?: string }).name;
      if (name === 'InvalidChangeBatch' || name === 'InvalidInput') {
        throw new RecordChangeRejected(`${name}: ${(error as Error).message}`, { cause: error });
      }
      throw error;
    }
  }

  async completeLifecycleAction(action: LifecycleAction): Promise<'completed' | 'not-needed'> {
    try {
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
      return 'completed';
    } catch (error) {
      // EventBridge delivers at least once: a second delivery finds the action completed by the first.
      if (isNoActiveLifecycleAction(error)) return 'not-needed';
      throw error;
    }
  }
}

/** Auto Scaling's answer for a lifecycle action that is no longer pending (by instance id or by token). */
function isNoActiveLifecycleAction(error: unknown): boolean {
  const e = error as { name?: string; message?: string };
  return e?.name === 'ValidationError' && /no active lifecycle action found/i.test(e.message ?? '');
}
