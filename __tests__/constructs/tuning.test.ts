import { synthCluster } from '../helpers/synth';

// Options of the inner constructs, reachable from EtcdClusterProps (issue #13, item 7).
describe('srvRecordTtl, logRetentionDays, launchHookTimeoutSeconds and healthCheckGracePeriodSeconds', () => {
  test('defaults: SRV 60 s, logs 30 days, launch hook 300 s, grace 600 s', () => {
    const stack = synthCluster();
    const srv = Object.values(stack.resources('aws_route53_record')).filter((r) => r.type === 'SRV');
    expect(srv.length).toBeGreaterThan(0);
    for (const r of srv) expect(r.ttl).toBe(60);
    for (const g of Object.values(stack.resources('aws_cloudwatch_log_group'))) expect(g.retention_in_days).toBe(30);
    const groups = Object.values(stack.resources('aws_autoscaling_group'));
    for (const g of groups) {
      expect(g.health_check_grace_period).toBe(600);
      expect(g.initial_lifecycle_hook.find((h: any) => h.lifecycle_transition === 'autoscaling:EC2_INSTANCE_LAUNCHING').heartbeat_timeout).toBe(300);
    }
  });

  test('each reaches its resources', () => {
    const stack = synthCluster({ srvRecordTtl: 300, logRetentionDays: 90, launchHookTimeoutSeconds: 600, healthCheckGracePeriodSeconds: 900 });
    for (const r of Object.values(stack.resources('aws_route53_record')).filter((r) => r.type === 'SRV')) expect(r.ttl).toBe(300);
    const logGroups = Object.values(stack.resources('aws_cloudwatch_log_group'));
    expect(logGroups.map((g) => g.name)).toEqual(expect.arrayContaining(['/aws/lambda/test-etcd-dns-updater']));
    for (const g of logGroups) expect(g.retention_in_days).toBe(90);
    for (const g of Object.values(stack.resources('aws_autoscaling_group'))) {
      expect(g.health_check_grace_period).toBe(900);
      expect(g.initial_lifecycle_hook.find((h: any) => h.lifecycle_transition === 'autoscaling:EC2_INSTANCE_LAUNCHING').heartbeat_timeout).toBe(600);
    }
  });

  test.each([
    [{ srvRecordTtl: 0 }, 'srvRecordTtl must be a whole number of seconds from 1 to 86400, got 0'],
    [{ logRetentionDays: 10 }, "logRetentionDays must be one of CloudWatch Logs' retention periods (1, 3, 5, 7, 14, 30"],
    [{ launchHookTimeoutSeconds: 10 }, "launchHookTimeoutSeconds must be a whole number from 30 to 7200 (Auto Scaling's heartbeat limits), got 10"],
    [{ launchHookTimeoutSeconds: 7201 }, 'launchHookTimeoutSeconds must be a whole number from 30 to 7200'],
    [{ healthCheckGracePeriodSeconds: -1 }, 'healthCheckGracePeriodSeconds must be a whole number of seconds, 0 or more, got -1'],
    [{ healthCheckGracePeriodSeconds: 1.5 }, 'healthCheckGracePeriodSeconds must be a whole number of seconds'],
  ])('refuses %j naming the prop', (props, message) => {
    expect(() => synthCluster(props)).toThrow(message);
  });
});
