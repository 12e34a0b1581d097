import { Construct } from 'constructs';
import { CloudwatchEventRule } from '@cdktf/provider-aws/lib/cloudwatch-event-rule';
import { DataAwsPartition } from '@cdktf/provider-aws/lib/data-aws-partition';
import { LambdaFunction } from '@cdktf/provider-aws/lib/lambda-function';
import { join } from 'path';
import { Bundle } from '../runtime/bundle';
import { autoScalingGroupName, BACKUP_KEYS, peerIndices } from '../contract/naming';
import { PEER_STATUS_PREFIX } from '../contract/peer-status';
import { rollerSettingsToEnv } from '../contract/roller-settings';
import { clusterFunction, invokeOnRule, rateEveryMinutes } from './cluster-function';

/** How the cluster rolls a launch template change out (the roller). */
export interface RollingOptions {
  /**
   * Run the roller: replace out-of-date peers one at a time, the leader last, only while every member is a
   * healthy caught-up voter. Needs backups (the peers publish their status in the backup bucket).
   * @default true when backups are on
   */
  readonly enabled?: boolean;
  /**
   * Minutes between roller runs; each run replaces at most one peer.
   * @default 2
   */
  readonly everyMinutes?: number;
  /**
   * Seconds a replaced peer has, from its launch, to come back as a healthy caught-up voter before the roller
   * stops (and says why: a log line and the `RollerStopped` metric).
   * @default 1200
   */
  readonly replaceDeadlineSeconds?: number;
  /**
   * Raise to roll every peer on demand (e.g. to rotate instances): it is an instance tag in every launch
   * template, so a new value leaves every instance out of date.
   * @default 0
   */
  readonly generation?: number;
}

/** Props of {@link EtcdRoller}. */
export interface EtcdRollerProps extends Omit<RollingOptions, 'enabled' | 'generation'> {
  /** Name of the cluster, in names and tags. */
  readonly clusterName: string;
  /** Number of peers. */
  readonly peerCount: number;
  /** The snapshot bucket, where the peers publish their status (`peers/status/`). */
  readonly backupBucketName: string;
  /** ARN of that bucket. */
  readonly backupBucketArn: string;
  /** The etcd version the launch templates install. */
  readonly targetVersion: string;
  /**
   * Reserve one concurrent execution so two runs never replace two peers.
   * @default true
   */
  readonly oneInvocationAtATime?: boolean;
  /** KMS key of the bucket objects, the environment and the logs. */
  readonly kmsKeyArn: string;
  /**
   * Days the roller's logs are kept.
   * @default 30
   */
  readonly logRetentionDays?: number;
}

/** Checks the rolling options; errors name the prop. */
export function validateRollingOptions(options: RollingOptions = {}): void {
  const every = options.everyMinutes ?? 2;
  if (!Number.isInteger(every) || every < 1 || every > 60) throw new Error(`rolling.everyMinutes must be a whole number from 1 to 60, got ${every}`);
  const deadline = options.replaceDeadlineSeconds ?? 1200;
  if (!Number.isInteger(deadline) || deadline < 300 || deadline > 86400) {
    throw new Error(`rolling.replaceDeadlineSeconds must be a whole number from 300 to 86400 (a replacement boots in minutes), got ${deadline}`);
  }
  const generation = options.generation ?? 0;
  if (!Number.isInteger(generation) || generation < 0) throw new Error(`rolling.generation must be a whole number of 0 or more, got ${generation}`);
}

/**
 * The roller: a scheduled Lambda, apart from the DNS updater. It is the one
 * part of the stack that may terminate peer instances, so it gets a role of
 * its own (terminate in these groups, read the peers' statuses), a switch of
 * its own and its own schedule, and the DNS updater, which runs on every
 * event, keeps a role that cannot terminate anything.
 */
export class EtcdRoller extends Construct {
  /** The roller Lambda. */
  public readonly function: LambdaFunction;
  /** The schedule on which the roller looks for the next peer to replace. */
  public readonly scheduleRule: CloudwatchEventRule;
  /** The roller's bundled code. */
  public readonly bundle: Bundle;

  constructor(scope: Construct, id: string, props: EtcdRollerProps) {
    super(scope, id);
    validateRollingOptions(props);
    const functionName = `${props.clusterName}-etcd-roller`;
    const groupNames = peerIndices(props.peerCount).map((i) => autoScalingGroupName(props.clusterName, i));
    const partition = new DataAwsPartition(this, 'partition').partition;
    const { function: fn, bundle } = clusterFunction(this, {
      functionName,
      description: `Replaces out-of-date etcd peers of ${props.clusterName} one at a time, the leader last`,
      entry: join(__dirname, '..', 'lambda', 'roller-handler'),
      roleNamePrefix: `${props.clusterName}-etcd-roller-`,
      roleDescription: `Roller of etcd cluster ${props.clusterName}: replaces one out-of-date peer at a time`,
      policyName: 'etcd-roller',
      statements: [
        // Describe calls cannot be scoped to resources; they are read-only.
        { Sid: 'ReadGroupsAndInstances', Effect: 'Allow', Action: ['autoscaling:DescribeAutoScalingGroups', 'ec2:DescribeInstances'], Resource: '*' },
        {
          Sid: 'ReplaceOnlyThisClustersPeers',
          Effect: 'Allow',
          Action: ['autoscaling:TerminateInstanceInAutoScalingGroup'],
          Resource: groupNames.map((name) => `arn:${partition}:autoscaling:*:*:autoScalingGroup:*:autoScalingGroupName/${name}`),
        },
        { Sid: 'ReadPeerStatuses', Effect: 'Allow', Action: ['s3:GetObject'], Resource: `${props.backupBucketArn}/${PEER_STATUS_PREFIX}*` },
        {
          Sid: 'ListPeerStatusesAndSnapshots',
          Effect: 'Allow',
          Action: ['s3:ListBucket'],
          Resource: props.backupBucketArn,
          Condition: { StringLike: { 's3:prefix': [`${PEER_STATUS_PREFIX}*`, `${BACKUP_KEYS.frequent}*`] } },
        },
        { Sid: 'DecryptStatusesAndEnvironment', Effect: 'Allow', Action: ['kms:Decrypt'], Resource: props.kmsKeyArn },
      ],
      environment: rollerSettingsToEnv({
        clusterName: props.clusterName,
        peerCount: props.peerCount,
        backupBucket: props.backupBucketName,
        targetVersion: props.targetVersion,
        replaceDeadlineSeconds: props.replaceDeadlineSeconds ?? 1200,
      }),
      // Two overlapping runs could each see a healthy cluster and replace a peer each: two down.
      oneInvocationAtATime: props.oneInvocationAtATime !== false,
      logRetentionDays: props.logRetentionDays,
      kmsKeyArn: props.kmsKeyArn,
    });
    this.function = fn;
    this.bundle = bundle;
    this.scheduleRule = new CloudwatchEventRule(this, 'schedule', {
      name: `${props.clusterName}-etcd-roller`,
      description: `Runs the etcd roller of ${props.clusterName}`,
      scheduleExpression: rateEveryMinutes('rolling.everyMinutes', props.everyMinutes ?? 2),
    });
    invokeOnRule(this, 'schedule', this.function, this.scheduleRule);
  }
}
