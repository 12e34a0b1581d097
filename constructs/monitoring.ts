import { Construct } from 'constructs';
import { Token } from 'cdktf';
import { CloudwatchDashboard } from '@cdktf/provider-aws/lib/cloudwatch-dashboard';
import { CloudwatchMetricAlarm } from '@cdktf/provider-aws/lib/cloudwatch-metric-alarm';
import { currentRegionName } from './terraform-strings';
import { IamRolePolicy } from '@cdktf/provider-aws/lib/iam-role-policy';
import { SnsTopic } from '@cdktf/provider-aws/lib/sns-topic';
import { METRIC_DIMENSIONS, METRIC_NAMESPACE, METRICS, MetricKey } from '../contract/metrics';
import { peerName } from '../contract/naming';

/** Alarm thresholds. Every alarm notifies the alarm topic when it fires and when it clears. */
export interface MonitoringThresholds {
  /**
   * Alarm when any member's database uses this share of its quota, in percent (NOSPACE refuses writes at 100).
   * @default 80
   */
  readonly quotaUsedPercent?: number;
  /**
   * Alarm when a member's WAL fsync p99 stays above this many milliseconds for 5 minutes (etcd's guidance: under 10 ms).
   * @default 10
   */
  readonly walFsyncP99Ms?: number;
  /**
   * Alarm when a peer's certificate expires in fewer days than this.
   * @default 7
   */
  readonly certificateDaysLeft?: number;
  /**
   * Alarm when the newest snapshot is older than this many seconds.
   * @default - two backup intervals
   */
  readonly snapshotAgeSeconds?: number;
  /**
   * Alarm when no snapshot younger than this many seconds has been proven restorable (restored and served by a
   * throwaway etcd).
   * @default 86400 (a day)
   */
  readonly verifiedRestoreAgeSeconds?: number;
}

/** Metrics, alarms and the dashboard. */
export interface MonitoringOptions {
  /**
   * Create the alarms and the dashboard (the peers publish their metrics either way).
   * @default true
   */
  readonly enabled?: boolean;
  /**
   * SNS topic that alarms notify.
   * @default - a topic created for the cluster, encrypted with the cluster key
   */
  readonly alarmTopicArn?: string;
  /** Thresholds; see {@link MonitoringThresholds} for defaults. */
  readonly thresholds?: MonitoringThresholds;
  /**
   * Create a CloudWatch dashboard of the cluster.
   * @default true
   */
  readonly dashboard?: boolean;
}

/** Props of {@link EtcdMonitoring}. */
export interface EtcdMonitoringProps extends MonitoringOptions {
  /** Name of the cluster, in alarm and dashboard names. */
  readonly clusterName: string;
  /** The cluster key: the created topic is encrypted with it. */
  readonly kmsKeyArn: string;
  /** Names of the peers' instance roles: they may publish metrics in the cluster's namespace only. */
  readonly instanceRoleNames: string[];
  /** The DNS updater's function name: its errors are alarmed on. */
  readonly dnsUpdaterFunctionName: string;
  /** Minutes between snapshots; without it (backups off) there is no snapshot-age alarm. */
  readonly snapshotIntervalMinutes?: number;
}

/** One alarm of the stack: what it watches and when it fires. */
interface AlarmSpec {
  readonly id: string;
  readonly metric: MetricKey;
  readonly statistic: 'Maximum' | 'Minimum' | 'Sum';
  readonly comparison: 'GreaterThanOrEqualToThreshold' | 'GreaterThanThreshold' | 'LessThanThreshold' | 'LessThanOrEqualToThreshold';
  readonly threshold: number;
  readonly periodSeconds: number;
  readonly evaluationPeriods: number;
  /** Silence is itself a failure for the figures a healthy cluster always publishes. */
  readonly missing: 'breaching' | 'notBreaching';
  readonly description: string;
}

/**
 * What tells a human that something went wrong: the peers' permission to
 * publish metrics in namespace `EtcdCluster`, one alarm per failure mode,
 * an SNS topic they notify, and a dashboard of the cluster at a glance.
 */
export class EtcdMonitoring extends Construct {
  /** ARN of the topic the alarms notify. */
  public readonly alarmTopicArn: string;
  /** The alarms, by id. */
  public readonly alarms: Record<string, CloudwatchMetricAlarm> = {};
  /** The dashboard, unless turned off. */
  public readonly dashboard?: CloudwatchDashboard;

  constructor(scope: Construct, id: string, props: EtcdMonitoringProps) {
    super(scope, id);
    const t = props.thresholds ?? {};
    const quota = t.quotaUsedPercent ?? 80;
    const fsync = t.walFsyncP99Ms ?? 10;
    const certDays = t.certificateDaysLeft ?? 7;
    const verifiedAge = t.verifiedRestoreAgeSeconds ?? 86_400;
    const snapshotAge = t.snapshotAgeSeconds ?? (props.snapshotIntervalMinutes ? 2 * props.snapshotIntervalMinutes * 60 : undefined);
    if (!(quota > 0 && quota < 100)) throw new Error(`monitoring.thresholds.quotaUsedPercent must be between 0 and 100 (NOSPACE comes at 100), got ${quota}`);
    if (!(fsync > 0)) throw new Error(`monitoring.thresholds.walFsyncP99Ms must be a positive number of milliseconds, got ${fsync}`);
    if (!Number.isInteger(certDays) || certDays < 1) throw new Error(`monitoring.thresholds.certificateDaysLeft must be a whole number of days >= 1, got ${certDays}`);
    if (snapshotAge !== undefined && !(snapshotAge >= 60)) {
      throw new Error(`monitoring.thresholds.snapshotAgeSeconds must be at least 60, got ${snapshotAge}`);
    }
    if (!(verifiedAge >= 3600)) throw new Error(`monitoring.thresholds.verifiedRestoreAgeSeconds must be at least 3600 (one peer verifies each hour), got ${verifiedAge}`);
    if (props.alarmTopicArn !== undefined && !Token.isUnresolved(props.alarmTopicArn) && !/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]+(\.fifo)?$/.test(props.alarmTopicArn)) {
      throw new Error(`monitoring.alarmTopicArn must be an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME), got "${props.alarmTopicArn}"`);
    }

    // PutMetricData has no resource ARNs: the namespace condition is its only scope.
    const publish = JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'PublishOwnNamespaceOnly',
          Effect: 'Allow',
          Action: 'cloudwatch:PutMetricData',
          Resource: '*',
          Condition: { StringEquals: { 'cloudwatch:namespace': METRIC_NAMESPACE } },
        },
      ],
    });
    props.instanceRoleNames.forEach((role, i) => new IamRolePolicy(this, `${peerName(i)}-publish-metrics`, { name: 'etcd-publish-metrics', role, policy: publish }));
    if (props.enabled === false) {
      this.alarmTopicArn = props.alarmTopicArn ?? '';
      return;
    }

    this.alarmTopicArn =
      props.alarmTopicArn ??
      new SnsTopic(this, 'alarm-topic', { name: `${props.clusterName}-etcd-alarms`, kmsMasterKeyId: props.kmsKeyArn }).arn;

    const specs: AlarmSpec[] = [
      { id: 'quorum-margin', metric: 'quorumMargin', statistic: 'Maximum', comparison: 'LessThanOrEqualToThreshold', threshold: 0, periodSeconds: 60, evaluationPeriods: 2, missing: 'breaching', description: 'No peer sees a quorum margin above 0: one more failure (or none) loses quorum' },
      { id: 'nospace', metric: 'nospaceAlarm', statistic: 'Maximum', comparison: 'GreaterThanOrEqualToThreshold', threshold: 1, periodSeconds: 60, evaluationPeriods: 1, missing: 'notBreaching', description: 'etcd raised NOSPACE: writes are refused' },
      { id: 'quota-used', metric: 'dbQuotaUsedPercent', statistic: 'Maximum', comparison: 'GreaterThanOrEqualToThreshold', threshold: quota, periodSeconds: 300, evaluationPeriods: 1, missing: 'notBreaching', description: `A member's database uses ${quota}% or more of its quota` },
      { id: 'wal-fsync', metric: 'walFsyncP99Ms', statistic: 'Maximum', comparison: 'GreaterThanThreshold', threshold: fsync, periodSeconds: 60, evaluationPeriods: 5, missing: 'notBreaching', description: `A member's WAL fsync p99 stayed above ${fsync} ms for 5 minutes: its disk is too slow for etcd` },
      { id: 'certificate-days', metric: 'certificateDaysLeft', statistic: 'Minimum', comparison: 'LessThanThreshold', threshold: certDays, periodSeconds: 3600, evaluationPeriods: 1, missing: 'notBreaching', description: `A peer certificate expires in fewer than ${certDays} days: renewal is failing` },
      { id: 'member-lists', metric: 'memberListAgrees', statistic: 'Minimum', comparison: 'LessThanThreshold', threshold: 1, periodSeconds: 60, evaluationPeriods: 3, missing: 'notBreaching', description: 'Members disagree about the member list or cluster id' },
      { id: 'roller-stopped', metric: 'rollerStopped', statistic: 'Maximum', comparison: 'GreaterThanOrEqualToThreshold', threshold: 1, periodSeconds: 300, evaluationPeriods: 1, missing: 'notBreaching', description: 'The roller stopped: a replaced peer did not come back healthy, or the target version skips or lowers a minor (its log says which and why)' },
      { id: 'agent-boot', metric: 'agentBootFailures', statistic: 'Sum', comparison: 'GreaterThanOrEqualToThreshold', threshold: 1, periodSeconds: 300, evaluationPeriods: 1, missing: 'notBreaching', description: 'A node agent boot failed: that peer stays down until its group replaces it' },
    ];
    if (snapshotAge !== undefined) {
      // One peer verifies each hour; a 3-hour period never lacks a figure while verification runs.
      specs.push(
        { id: 'verified-restore-age', metric: 'verifiedRestoreAgeSeconds', statistic: 'Minimum', comparison: 'GreaterThanThreshold', threshold: verifiedAge, periodSeconds: 10_800, evaluationPeriods: 1, missing: 'breaching', description: `No snapshot younger than ${verifiedAge} s has been proven restorable` },
        { id: 'backup-verify', metric: 'backupVerifyFailures', statistic: 'Maximum', comparison: 'GreaterThanOrEqualToThreshold', threshold: 1, periodSeconds: 3600, evaluationPeriods: 1, missing: 'notBreaching', description: 'The newest snapshot could not be restored and served: it is corrupt or incomplete' },
      );
      specs.push({ id: 'snapshot-age', metric: 'snapshotAgeSeconds', statistic: 'Minimum', comparison: 'GreaterThanThreshold', threshold: snapshotAge, periodSeconds: 300, evaluationPeriods: 1, missing: 'breaching', description: `The newest snapshot is older than ${snapshotAge} s: backups are failing` });
    }
    const cluster = { [METRIC_DIMENSIONS.cluster]: props.clusterName };
    for (const spec of specs) {
      this.alarms[spec.id] = new CloudwatchMetricAlarm(this, spec.id, {
        alarmName: `${props.clusterName}-etcd-${spec.id}`,
        alarmDescription: spec.description,
        namespace: METRIC_NAMESPACE,
        metricName: METRICS[spec.metric].name,
        dimensions: cluster,
        statistic: spec.statistic,
        comparisonOperator: spec.comparison,
        threshold: spec.threshold,
        period: spec.periodSeconds,
        evaluationPeriods: spec.evaluationPeriods,
        treatMissingData: spec.missing,
        alarmActions: [this.alarmTopicArn],
        okActions: [this.alarmTopicArn],
      });
    }
    this.alarms['dns-updater-errors'] = new CloudwatchMetricAlarm(this, 'dns-updater-errors', {
      alarmName: `${props.clusterName}-etcd-dns-updater-errors`,
      // Sustained failure only: a launch whose new instance has no IP yet fails an invocation on purpose, to be retried.
      alarmDescription: 'The DNS updater failed in each of the last 15 minutes: peer-N records may point at dead instances',
      namespace: 'AWS/Lambda',
      metricName: 'Errors',
      dimensions: { FunctionName: props.dnsUpdaterFunctionName },
      statistic: 'Sum',
      comparisonOperator: 'GreaterThanOrEqualToThreshold',
      threshold: 1,
      period: 300,
      evaluationPeriods: 3,
      datapointsToAlarm: 3,
      treatMissingData: 'notBreaching',
      alarmActions: [this.alarmTopicArn],
      okActions: [this.alarmTopicArn],
    });

    if (props.dashboard !== false) {
      const region = currentRegionName(this);
      const series = (key: MetricKey, stat: string) => [METRIC_NAMESPACE, METRICS[key].name, METRIC_DIMENSIONS.cluster, props.clusterName, { stat, label: `${METRICS[key].name} (${stat})` }];
      const widget = (title: string, metrics: unknown[][], x: number, y: number, annotations?: unknown) => ({
        type: 'metric',
        x,
        y,
        width: 12,
        height: 6,
        properties: { title, region, period: 60, view: 'timeSeries', metrics, ...(annotations ? { annotations } : {}) },
      });
      this.dashboard = new CloudwatchDashboard(this, 'dashboard', {
        dashboardName: `${props.clusterName}-etcd`,
        dashboardBody: JSON.stringify({
          widgets: [
            widget('Members and quorum margin', [series('membersHealthy', 'Maximum'), series('quorumMargin', 'Maximum')], 0, 0, { horizontal: [{ value: 0, label: 'no margin left' }] }),
            widget('Disk latency, p99 (ms)', [series('walFsyncP99Ms', 'Maximum'), series('backendCommitP99Ms', 'Maximum')], 12, 0, { horizontal: [{ value: fsync, label: 'alarm' }] }),
            widget('Database against quota (%)', [series('dbQuotaUsedPercent', 'Maximum'), series('nospaceAlarm', 'Maximum')], 0, 6, { horizontal: [{ value: quota, label: 'alarm' }] }),
            widget('Backups and verified restores (age, s)', [series('snapshotAgeSeconds', 'Minimum'), series('verifiedRestoreAgeSeconds', 'Minimum'), series('backupVerifyFailures', 'Maximum')], 12, 6),
            widget('Certificates (days left) and leader changes', [series('certificateDaysLeft', 'Minimum'), series('leaderChanges', 'Maximum')], 0, 12),
          ],
        }),
      });
    }
  }
}
