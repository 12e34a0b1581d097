import { Construct } from 'constructs';
import { ITerraformDependable } from 'cdktf';
import { CloudwatchEventRule } from '@cdktf/provider-aws/lib/cloudwatch-event-rule';
import { DataAwsPartition } from '@cdktf/provider-aws/lib/data-aws-partition';
import { LambdaFunction } from '@cdktf/provider-aws/lib/lambda-function';
import { join } from 'path';
import { Bundle } from '../runtime/bundle';
import { clusterFunction, invokeOnRule, rateEveryMinutes } from './cluster-function';
import { AUTO_SCALING_SOURCE, SUBSCRIBED_DETAIL_TYPES } from '../contract/events';
import { autoScalingGroupName, peerIndices } from '../contract/naming';
import { DEFAULT_RECORD_TTL, updaterSettingsToEnv } from '../contract/updater-settings';

/** Props of {@link EtcdDnsUpdater}. */
export interface EtcdDnsUpdaterProps {
  /** Name of the cluster; the function is `<clusterName>-etcd-dns-updater`. */
  readonly clusterName: string;
  /** The cluster's private domain. */
  readonly domain: string;
  /** Number of peers (records `peer-0` to `peer-<peerCount-1>`). */
  readonly peerCount: number;
  /** Id of the private hosted zone holding the records. */
  readonly hostedZoneId: string;
  /** ARN of the hosted zone, for the IAM scope. */
  readonly hostedZoneArn: string;
  /**
   * TTL the updater writes on `peer-N` records, in seconds.
   * @default 10
   */
  readonly recordTtl?: number;
  /**
   * How often every peer is reconciled even without events, in minutes, so a missed event heals by itself.
   * @default 2
   */
  readonly reconcileEveryMinutes?: number;
  /**
   * Reserve one concurrent execution so invocations never overlap. Turn off only in an account whose Lambda
   * concurrency quota is too small to reserve any (AWS keeps 100 unreserved): the record writes stay
   * conditional, which alone refuses a write decided on a view another write has since changed.
   * @default true
   */
  readonly oneInvocationAtATime?: boolean;
  /**
   * Days the Lambda's logs are kept: one of CloudWatch Logs' retention periods (1, 3, 5, 7, 14, 30, 60, 90, …).
   * @default 30
   */
  readonly logRetentionDays?: number;
  /**
   * KMS key for the log group and the function's environment.
   * @default - AWS managed keys
   */
  readonly kmsKeyArn?: string;
}

/**
 * The DNS updater: a Lambda that points `peer-N.<domain>` at peer N's live
 * instance, triggered by this cluster's Auto Scaling events only and by a
 * schedule, with an IAM role scoped to this hosted zone and these groups.
 */
export class EtcdDnsUpdater extends Construct {
  /** The updater Lambda. */
  public readonly function: LambdaFunction;
  /** The EventBridge rule for the cluster groups' launch and terminate events. */
  public readonly eventRule: CloudwatchEventRule;
  /** The schedule on which the updater reconciles every record. */
  public readonly scheduleRule: CloudwatchEventRule;
  /** The bundled handler as built at synth time. */
  public readonly bundle: Bundle;
  /** Everything that must exist before a peer group launches, so its first events are not lost. */
  public readonly wiring: ITerraformDependable[] = [];

  constructor(scope: Construct, id: string, props: EtcdDnsUpdaterProps) {
    super(scope, id);
    const schedule = rateEveryMinutes('reconcileEveryMinutes', props.reconcileEveryMinutes ?? 2);
    const ttl = props.recordTtl ?? DEFAULT_RECORD_TTL;
    const functionName = `${props.clusterName}-etcd-dns-updater`;
    const groupNames = peerIndices(props.peerCount).map((i) => autoScalingGroupName(props.clusterName, i));
    const partition = new DataAwsPartition(this, 'partition').partition;

    // One invocation at a time: a reconcile and a launch hook never overlap, so a write decided on an older
    // view cannot land after a newer one (the writes are also conditional; see the README).
    const { function: fn, bundle } = clusterFunction(this, {
      functionName,
      description: `Points peer-N.${props.domain} at peer N's live instance`,
      entry: join(__dirname, '..', 'lambda', 'index'),
      roleNamePrefix: `${props.clusterName}-etcd-dns-`,
      roleDescription: `DNS updater of etcd cluster ${props.clusterName}`,
      policyName: 'etcd-dns-updater',
      statements: [
        { Sid: 'PeerRecordsOfThisZoneOnly', Effect: 'Allow', Action: ['route53:ChangeResourceRecordSets', 'route53:ListResourceRecordSets'], Resource: props.hostedZoneArn },
        // DescribeInstances cannot be scoped to resources; it is read-only.
        { Sid: 'FindPeerInstances', Effect: 'Allow', Action: ['ec2:DescribeInstances'], Resource: '*' },
        {
          Sid: 'CompleteThisClustersLaunchHooks',
          Effect: 'Allow',
          Action: ['autoscaling:CompleteLifecycleAction'],
          // The groups by name, not `<cluster>-peer-*`, which would also match groups beyond the cluster.
          Resource: groupNames.map((name) => `arn:${partition}:autoscaling:*:*:autoScalingGroup:*:autoScalingGroupName/${name}`),
        },
        ...(props.kmsKeyArn ? [{ Sid: 'DecryptOwnEnvironment', Effect: 'Allow', Action: ['kms:Decrypt'], Resource: props.kmsKeyArn }] : []),
      ],
      environment: updaterSettingsToEnv({
        clusterName: props.clusterName,
        domain: props.domain,
        peerCount: props.peerCount,
        hostedZoneId: props.hostedZoneId,
        recordTtl: ttl,
      }),
      oneInvocationAtATime: props.oneInvocationAtATime !== false,
      logRetentionDays: props.logRetentionDays,
      kmsKeyArn: props.kmsKeyArn,
    });
    this.function = fn;
    this.bundle = bundle;

    this.eventRule = new CloudwatchEventRule(this, 'group-events', {
      name: `${props.clusterName}-etcd-peer-events`,
      description: `Auto Scaling events of the etcd peer groups of ${props.clusterName}`,
      eventPattern: JSON.stringify({
        source: [AUTO_SCALING_SOURCE],
        'detail-type': [...SUBSCRIBED_DETAIL_TYPES],
        detail: { AutoScalingGroupName: groupNames },
      }),
    });
    this.scheduleRule = new CloudwatchEventRule(this, 'reconcile-schedule', {
      name: `${props.clusterName}-etcd-dns-reconcile`,
      description: `Reconciles every peer-N record of ${props.clusterName}`,
      scheduleExpression: schedule,
    });
    for (const [ruleId, rule] of [
      ['group-events', this.eventRule],
      ['reconcile-schedule', this.scheduleRule],
    ] as const) {
      const [target, permission] = invokeOnRule(this, ruleId, this.function, rule);
      this.wiring.push(rule, target, permission);
    }
    this.wiring.push(this.function);
  }
}
