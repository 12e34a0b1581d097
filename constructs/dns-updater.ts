import { Construct } from 'constructs';
import { validateLogRetentionDays } from './log-retention';
import { AssetType, ITerraformDependable, TerraformAsset } from 'cdktf';
import { CloudwatchEventRule } from '@cdktf/provider-aws/lib/cloudwatch-event-rule';
import { CloudwatchEventTarget } from '@cdktf/provider-aws/lib/cloudwatch-event-target';
import { CloudwatchLogGroup } from '@cdktf/provider-aws/lib/cloudwatch-log-group';
import { DataAwsPartition } from '@cdktf/provider-aws/lib/data-aws-partition';
import { IamRole } from '@cdktf/provider-aws/lib/iam-role';
import { IamRolePolicy } from '@cdktf/provider-aws/lib/iam-role-policy';
import { LambdaFunction } from '@cdktf/provider-aws/lib/lambda-function';
import { LambdaPermission } from '@cdktf/provider-aws/lib/lambda-permission';
import { join } from 'path';
import { Bundle, bundleEntry } from '../runtime/bundle';
import { AUTO_SCALING_SOURCE, SUBSCRIBED_DETAIL_TYPES } from '../contract/events';
import { autoScalingGroupName, peerIndices } from '../contract/naming';
import { DEFAULT_RECORD_TTL, updaterSettingsToEnv } from '../contract/updater-settings';

/**
 * How the handler is bundled. The nodejs22.x runtime ships AWS SDK v3, so the
 * SDK stays out of the bundle: 1.6 MB fully bundled (mostly EC2's schema)
 * against a few KB (`npm run bench:lambda` prints both).
 */
export const LAMBDA_BUNDLE_OPTIONS = { fileName: 'index.js', target: 'node22', external: ['@aws-sdk/*'] };

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
    const every = props.reconcileEveryMinutes ?? 2;
    if (!Number.isInteger(every) || every < 1 || every > 60) {
      throw new Error(`reconcileEveryMinutes must be a whole number of minutes from 1 to 60, got ${every}`);
    }
    const ttl = props.recordTtl ?? DEFAULT_RECORD_TTL;
    const functionName = `${props.clusterName}-etcd-dns-updater`;
    const groupNames = peerIndices(props.peerCount).map((i) => autoScalingGroupName(props.clusterName, i));
    const partition = new DataAwsPartition(this, 'partition').partition;

    this.bundle = bundleEntry(join(__dirname, '..', 'lambda', 'index'), LAMBDA_BUNDLE_OPTIONS);
    const asset = new TerraformAsset(this, 'code', { path: this.bundle.directory, type: AssetType.ARCHIVE });

    const logGroup = new CloudwatchLogGroup(this, 'logs', {
      name: `/aws/lambda/${functionName}`,
      retentionInDays: validateLogRetentionDays(props.logRetentionDays ?? 30),
      kmsKeyId: props.kmsKeyArn,
    });

    const role = new IamRole(this, 'role', {
      namePrefix: `${props.clusterName}-etcd-dns-`,
      description: `DNS updater of etcd cluster ${props.clusterName}`,
      assumeRolePolicy: JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }],
      }),
    });
    new IamRolePolicy(this, 'policy', {
      name: 'etcd-dns-updater',
      role: role.id,
      policy: JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          {
            Sid: 'PeerRecordsOfThisZoneOnly',
            Effect: 'Allow',
            Action: ['route53:ChangeResourceRecordSets', 'route53:ListResourceRecordSets'],
            Resource: props.hostedZoneArn,
          },
          {
            Sid: 'FindPeerInstances',
            Effect: 'Allow',
            // DescribeInstances cannot be scoped to resources; it is read-only.
            Action: ['ec2:DescribeInstances'],
            Resource: '*',
          },
          {
            Sid: 'CompleteThisClustersLaunchHooks',
            Effect: 'Allow',
            Action: ['autoscaling:CompleteLifecycleAction'],
            // The groups by name, not `<cluster>-peer-*`, which would also match groups beyond the cluster.
            Resource: groupNames.map((name) => `arn:${partition}:autoscaling:*:*:autoScalingGroup:*:autoScalingGroupName/${name}`),
          },
          ...(props.kmsKeyArn
            ? [{ Sid: 'DecryptOwnEnvironment', Effect: 'Allow', Action: ['kms:Decrypt'], Resource: props.kmsKeyArn }]
            : []),
          {
            Sid: 'OwnLogs',
            Effect: 'Allow',
            Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
            Resource: `${logGroup.arn}:*`,
          },
        ],
      }),
    });

    this.function = new LambdaFunction(this, 'function', {
      functionName,
      description: `Points peer-N.${props.domain} at peer N's live instance`,
      role: role.arn,
      runtime: 'nodejs22.x',
      handler: 'index.handler',
      filename: asset.path,
      sourceCodeHash: this.bundle.sha256,
      memorySize: 256,
      timeout: 60,
      // One invocation at a time: a reconcile and a launch hook never overlap, so a write decided on an older
      // view cannot land after a newer one (the writes are also conditional; see the README).
      reservedConcurrentExecutions: props.oneInvocationAtATime === false ? undefined : 1,
      kmsKeyArn: props.kmsKeyArn,
      environment: {
        variables: updaterSettingsToEnv({
          clusterName: props.clusterName,
          domain: props.domain,
          peerCount: props.peerCount,
          hostedZoneId: props.hostedZoneId,
          recordTtl: ttl,
        }),
      },
      loggingConfig: { logFormat: 'JSON', logGroup: logGroup.name },
      dependsOn: [logGroup],
    });

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
      scheduleExpression: every === 1 ? 'rate(1 minute)' : `rate(${every} minutes)`,
    });
    for (const [ruleId, rule] of [
      ['group-events', this.eventRule],
      ['reconcile-schedule', this.scheduleRule],
    ] as const) {
      const target = new CloudwatchEventTarget(this, `${ruleId}-target`, { rule: rule.name, arn: this.function.arn });
      const permission = new LambdaPermission(this, `${ruleId}-permission`, {
        statementId: `allow-${ruleId}`,
        action: 'lambda:InvokeFunction',
        functionName: this.function.functionName,
        principal: 'events.amazonaws.com',
        sourceArn: rule.arn,
      });
      this.wiring.push(rule, target, permission);
    }
    this.wiring.push(this.function);
  }
}
