import { policyStatements, synthCluster, SynthesizedStack } from '../helpers/synth';

const rollerOf = (stack: SynthesizedStack) => Object.values(stack.resources('aws_lambda_function')).find((f) => f.function_name === 'test-etcd-roller');

describe('roller construct', () => {
  let stack: SynthesizedStack;
  beforeAll(() => {
    stack = synthCluster();
  });

  test('a scheduled Lambda of its own, one invocation at a time, so two runs never replace two peers', () => {
    const fn = rollerOf(stack)!;
    expect(fn).toMatchObject({ runtime: 'nodejs22.x', handler: 'index.handler', reserved_concurrent_executions: 1 });
    const rule = Object.values(stack.resources('aws_cloudwatch_event_rule')).find((r) => r.name === 'test-etcd-roller')!;
    expect(rule.schedule_expression).toBe('rate(2 minutes)');
  });

  test("may terminate instances only in the cluster's own groups, named one by one, and read only the peers' statuses", () => {
    const policy = Object.values(stack.resources('aws_iam_role_policy')).find((p) => p.name === 'etcd-roller')!;
    const statements = policyStatements(policy.policy);
    const terminate = statements.find((s) => [s.Action].flat().includes('autoscaling:TerminateInstanceInAutoScalingGroup'))!;
    expect(terminate.Resource).toEqual(Array.from({ length: 9 }, (_, i) => expect.stringMatching(new RegExp(`autoScalingGroupName/test-peer-${i}$`))));
    const get = statements.find((s) => [s.Action].flat().includes('s3:GetObject'))!;
    expect(get.Resource).toMatch(/\/peers\/status\/\*$/);
    // No other role can terminate a peer: the DNS updater runs on every event and keeps a role that cannot.
    const others = Object.values(stack.resources('aws_iam_role_policy')).filter((p) => p.name !== 'etcd-roller').flatMap((p) => policyStatements(p.policy));
    expect(others.filter((s) => [s.Action].flat().some((a: string) => /Terminate/.test(a)))).toEqual([]);
  });

  test('no roller without backups (nowhere for the statuses) or when switched off; asking for one without backups is refused', () => {
    expect(rollerOf(synthCluster({ backup: { enabled: false } }))).toBeUndefined();
    expect(rollerOf(synthCluster({ rolling: { enabled: false } }))).toBeUndefined();
    expect(() => synthCluster({ backup: { enabled: false }, rolling: { enabled: true } })).toThrow('rolling.enabled needs backups');
  });

  test('options are checked, naming the prop', () => {
    expect(() => synthCluster({ rolling: { everyMinutes: 0 } })).toThrow('rolling.everyMinutes must be a whole number from 1 to 60, got 0');
    expect(() => synthCluster({ rolling: { replaceDeadlineSeconds: 60 } })).toThrow('rolling.replaceDeadlineSeconds must be a whole number from 300 to 86400');
    expect(() => synthCluster({ rolling: { generation: -1 } })).toThrow('rolling.generation must be a whole number of 0 or more');
  });

  test('rolling on demand: a generation above 0 is an instance tag in every launch template (a new template version); 0 adds nothing', () => {
    const tagsOf = (s: SynthesizedStack) => Object.values(s.resources('aws_launch_template')).map((lt) => lt.tag_specifications.find((t: { resource_type: string }) => t.resource_type === 'instance').tags);
    for (const tags of tagsOf(synthCluster({ rolling: { generation: 2 } }))) expect(tags['etcd-cluster:roll-generation']).toBe('2');
    for (const tags of tagsOf(stack)) expect(tags['etcd-cluster:roll-generation']).toBeUndefined();
  });
});
