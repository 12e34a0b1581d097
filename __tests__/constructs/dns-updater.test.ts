import { policyStatements, synthCluster, SynthesizedStack } from '../helpers/synth';

describe('DNS updater construct', () => {
  let stack: SynthesizedStack;
  beforeAll(() => {
    stack = synthCluster();
  });

  test('one invocation at a time (reserved concurrency 1), so a reconcile and a launch hook never overlap', () => {
    const functions = Object.values(stack.resources('aws_lambda_function')).filter((f) => f.function_name === 'test-etcd-dns-updater');
    expect(functions).toHaveLength(1);
    expect(functions[0].reserved_concurrent_executions).toBe(1);
  });

  test('an account too small to reserve concurrency can opt out; the writes stay conditional', () => {
    const fn = Object.values(synthCluster({ dnsUpdaterOneInvocationAtATime: false }).resources('aws_lambda_function')).find((f) => f.function_name === 'test-etcd-dns-updater')!;
    expect(fn.reserved_concurrent_executions).toBeUndefined();
  });

  test("completes only the cluster's own groups' hooks, named one by one (no pattern that matches peer-9 of 9)", () => {
    const policy = Object.values(stack.resources('aws_iam_role_policy')).find((p) => p.name === 'etcd-dns-updater')!;
    const complete = policyStatements(policy.policy).find((s) => [s.Action].flat().includes('autoscaling:CompleteLifecycleAction'))!;
    expect(complete.Resource).toEqual(
      Array.from({ length: 9 }, (_, i) => expect.stringMatching(new RegExp(`^arn:\\$\\{data\\.aws_partition\\.[\\w-]+\\.partition\\}:autoscaling:\\*:\\*:autoScalingGroup:\\*:autoScalingGroupName/test-peer-${i}$`))),
    );
  });
});
