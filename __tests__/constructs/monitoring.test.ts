import { Testing } from 'cdktf';
import { EtcdMonitoring } from '../../constructs/monitoring';
import { synthCluster, policyStatements } from '../helpers/synth';

describe('monitoring', () => {
  const stack = synthCluster();
  const alarms = Object.values(stack.resources('aws_cloudwatch_metric_alarm'));
  const byMetric = (name: string) => alarms.filter((a) => a.metric_name === name);

  test.each([
    ['QuorumMargin', 'LessThanOrEqualToThreshold', 0, 'Maximum', 'breaching'],
    ['NospaceAlarm', 'GreaterThanOrEqualToThreshold', 1, 'Maximum', 'notBreaching'],
    ['DbQuotaUsedPercent', 'GreaterThanOrEqualToThreshold', 80, 'Maximum', 'notBreaching'],
    ['WalFsyncP99Ms', 'GreaterThanThreshold', 10, 'Maximum', 'notBreaching'],
    ['SnapshotAgeSeconds', 'GreaterThanThreshold', 1800, 'Minimum', 'breaching'],
    ['CertificateDaysLeft', 'LessThanThreshold', 7, 'Minimum', 'notBreaching'],
    ['MemberListAgrees', 'LessThanThreshold', 1, 'Minimum', 'notBreaching'],
    ['AgentBootFailures', 'GreaterThanOrEqualToThreshold', 1, 'Sum', 'notBreaching'],
    ['VerifiedRestoreAgeSeconds', 'GreaterThanThreshold', 86400, 'Minimum', 'breaching'],
    ['BackupVerifyFailures', 'GreaterThanOrEqualToThreshold', 1, 'Maximum', 'notBreaching'],
    ['RollerStopped', 'GreaterThanOrEqualToThreshold', 1, 'Maximum', 'notBreaching'],
  ])('%s alarms (%s %d, %s) in namespace EtcdCluster and notifies the topic', (metric, comparison, threshold, statistic, missing) => {
    const [alarm] = byMetric(metric);
    expect(byMetric(metric)).toHaveLength(1);
    expect(alarm).toMatchObject({ namespace: 'EtcdCluster', comparison_operator: comparison, threshold, statistic, treat_missing_data: missing });
    expect(alarm.dimensions).toEqual({ ClusterName: 'test' });
    expect(alarm.alarm_actions).toHaveLength(1);
    expect(stack.deref(alarm.alarm_actions[0])).toMatchObject({ name: 'test-etcd-alarms' });
    expect(alarm.ok_actions).toEqual(alarm.alarm_actions);
  });

  test("the DNS updater's errors alarm on the function's own Lambda metric", () => {
    const [alarm] = byMetric('Errors');
    // Failing in three 5-minute periods in a row: the brief retry of a launch without an IP does not page anyone.
    expect(alarm).toMatchObject({ namespace: 'AWS/Lambda', threshold: 1, statistic: 'Sum', period: 300, evaluation_periods: 3, datapoints_to_alarm: 3 });
    expect(alarm.dimensions.FunctionName).toMatch(/aws_lambda_function\./);
  });

  test('the created topic is encrypted with the cluster key, which lets CloudWatch alarms use it', () => {
    const topic = Object.values(stack.resources('aws_sns_topic'))[0];
    expect(topic.kms_master_key_id).toMatch(/aws_kms_key\./);
    const key = Object.values(stack.resources('aws_kms_key'))[0];
    const statement = JSON.parse(key.policy).Statement.find((s: any) => s.Sid === 'CloudWatchAlarmsOfThisAccount');
    expect(statement).toMatchObject({ Principal: { Service: 'cloudwatch.amazonaws.com' }, Action: ['kms:Decrypt', 'kms:GenerateDataKey*'] });
  });

  test('the peers may publish metrics only in namespace EtcdCluster', () => {
    const policy = Object.values(stack.resources('aws_iam_role_policy')).find((p) => p.name === 'etcd-publish-metrics')!;
    expect(policyStatements(policy.policy)).toEqual([
      expect.objectContaining({ Action: 'cloudwatch:PutMetricData', Condition: { StringEquals: { 'cloudwatch:namespace': 'EtcdCluster' } } }),
    ]);
  });

  test('a dashboard shows members and margin, latency, database against quota, backups and certificates', () => {
    const dashboards = Object.values(stack.resources('aws_cloudwatch_dashboard'));
    expect(dashboards).toHaveLength(1);
    const body = JSON.parse(dashboards[0].dashboard_body);
    const named = body.widgets.flatMap((w: any) => w.properties.metrics.map((m: any[]) => m[1]));
    expect(named).toEqual(
      expect.arrayContaining(['QuorumMargin', 'MembersHealthy', 'WalFsyncP99Ms', 'BackendCommitP99Ms', 'DbQuotaUsedPercent', 'SnapshotAgeSeconds', 'VerifiedRestoreAgeSeconds', 'CertificateDaysLeft']),
    );
  });

  test('a given topic is used instead of a created one; thresholds are props', () => {
    const s = synthCluster({
      monitoring: { alarmTopicArn: 'arn:aws:sns:us-east-1:123456789012:pager', thresholds: { quotaUsedPercent: 70, walFsyncP99Ms: 25 } },
    });
    expect(Object.keys(s.resources('aws_sns_topic'))).toHaveLength(0);
    const alarms2 = Object.values(s.resources('aws_cloudwatch_metric_alarm'));
    expect(alarms2.every((a) => a.alarm_actions[0] === 'arn:aws:sns:us-east-1:123456789012:pager')).toBe(true);
    expect(alarms2.find((a) => a.metric_name === 'DbQuotaUsedPercent')!.threshold).toBe(70);
    expect(alarms2.find((a) => a.metric_name === 'WalFsyncP99Ms')!.threshold).toBe(25);
  });

  test('without backups there is no snapshot-age alarm; disabled, only the publishing right stays', () => {
    const withoutBackups = Object.values(synthCluster({ backup: { enabled: false } }).resources('aws_cloudwatch_metric_alarm')).map((a) => a.metric_name);
    expect(withoutBackups).not.toContain('SnapshotAgeSeconds');
    expect(withoutBackups).not.toContain('VerifiedRestoreAgeSeconds');
    const off = synthCluster({ monitoring: { enabled: false } });
    expect(Object.keys(off.resources('aws_cloudwatch_metric_alarm'))).toHaveLength(0);
    expect(Object.keys(off.resources('aws_cloudwatch_dashboard'))).toHaveLength(0);
    expect(Object.values(off.resources('aws_iam_role_policy')).some((p) => p.name === 'etcd-publish-metrics')).toBe(true);
  });

  test.each([
    [{ thresholds: { quotaUsedPercent: 100 } }, 'monitoring.thresholds.quotaUsedPercent must be between 0 and 100'],
    [{ thresholds: { walFsyncP99Ms: 0 } }, 'monitoring.thresholds.walFsyncP99Ms must be a positive number'],
    [{ thresholds: { certificateDaysLeft: 0.5 } }, 'monitoring.thresholds.certificateDaysLeft must be a whole number'],
    [{ thresholds: { snapshotAgeSeconds: 5 } }, 'monitoring.thresholds.snapshotAgeSeconds must be at least 60'],
    [{ alarmTopicArn: 'pager' }, 'monitoring.alarmTopicArn must be an SNS topic ARN'],
    [{ thresholds: { verifiedRestoreAgeSeconds: 600 } }, 'monitoring.thresholds.verifiedRestoreAgeSeconds must be at least 3600'],
  ])('bad input %j is refused naming the prop', (options, message) => {
    const build = () =>
      Testing.synthScope((s) => {
        new EtcdMonitoring(s, 'm', { clusterName: 'c', kmsKeyArn: 'k', instanceRoleNames: ['r'], dnsUpdaterFunctionName: 'f', snapshotIntervalMinutes: 15, ...options });
      });
    expect(build).toThrow(message);
  });
});
