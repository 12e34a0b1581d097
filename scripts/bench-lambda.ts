/**
 * Benchmark of the DNS updater: bundle size (minified) with the SDK left to
 * the runtime vs. bundled, and AWS calls per event type. Prints figures; not a test.
 *   npm run bench:lambda
 */
import { mockClient } from 'aws-sdk-client-mock';
import { AutoScalingClient, CompleteLifecycleActionCommand } from '@aws-sdk/client-auto-scaling';
import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { ChangeResourceRecordSetsCommand, ListResourceRecordSetsCommand, Route53Client } from '@aws-sdk/client-route-53';
import { join } from 'path';
import { bundleEntry } from '../runtime/bundle';
import { LAMBDA_BUNDLE_OPTIONS } from '../constructs/cluster-function';
import { AwsUpdaterPort } from '../lambda/aws';
import { handleEvent } from '../lambda/index';
import { jsonLogger } from '../runtime/log';
import { launchLifecycleAction, launchSuccessful, scheduledEvent, terminateSuccessful } from '../__tests__/fixtures/events';

async function main() {
  const entry = join(__dirname, '..', 'lambda', 'index');
  const shipped = bundleEntry(entry, LAMBDA_BUNDLE_OPTIONS);
  const full = bundleEntry(entry, { ...LAMBDA_BUNDLE_OPTIONS, external: [] });
  const kb = (b: number) => `${(b / 1024).toFixed(1)} KB`;
  console.log('DNS updater bundle (esbuild, minified)');
  console.log(`  shipped (SDK v3 from the nodejs22.x runtime): ${kb(shipped.bytes)}  target <= 350 KB: ${shipped.bytes <= 350 * 1024 ? 'met' : 'MISSED'}`);
  console.log(`  with the SDK bundled in:                      ${kb(full.bytes)}  (${(full.bytes / shipped.bytes).toFixed(0)}x)`);

  const ec2 = mockClient(EC2Client);
  const route53 = mockClient(Route53Client);
  const autoscaling = mockClient(AutoScalingClient);
  const settings = { clusterName: 'prod', domain: 'prod.etcd.internal', peerCount: 9, hostedZoneId: 'Z1', recordTtl: 10 };
  const instance = (i: number, ip: string) => ({
    Instances: [
      {
        InstanceId: `i-${i}`,
        PrivateIpAddress: ip,
        LaunchTime: new Date(),
        State: { Name: 'running' as const },
        Tags: [{ Key: 'aws:autoscaling:groupName', Value: `prod-peer-${i}` }],
      },
    ],
  });
  const cases: [string, unknown, boolean][] = [
    ['launch, record stale', launchSuccessful('prod-peer-4', 'i-4'), true],
    ['launch, record right', launchSuccessful('prod-peer-4', 'i-4'), false],
    ['lifecycle action', launchLifecycleAction('prod-peer-4', 'i-4'), true],
    ['late terminate', terminateSuccessful('prod-peer-4', 'i-old'), false],
    ['scheduled, 9 peers, 2 stale', scheduledEvent(), true],
    ['malformed event', { nonsense: true }, false],
  ];
  console.log('\nAWS calls per event (target: <= 1 describe, 1 read, 1 change, + lifecycle completion)');
  console.log('  event                          describe  read  change  complete');
  const silent = jsonLogger({}, () => undefined);
  for (const [name, event, stale] of cases) {
    ec2.reset();
    route53.reset();
    autoscaling.reset();
    ec2.on(DescribeInstancesCommand).resolves({ Reservations: Array.from({ length: 9 }, (_, i) => instance(i, `10.0.0.${i + 10}`)).filter((_, i) => name.startsWith('scheduled') || i === 4) });
    const records = Array.from({ length: 9 }, (_, i) => ({
      Name: `peer-${i}.prod.etcd.internal.`,
      Type: 'A' as const,
      TTL: 10,
      ResourceRecords: [{ Value: stale && (i === 4 || i === 7) ? '192.0.2.1' : `10.0.0.${i + 10}` }],
    }));
    route53.on(ListResourceRecordSetsCommand).resolves({ ResourceRecordSets: name.startsWith('scheduled') ? records : [records[4]], IsTruncated: false, MaxItems: 1 });
    route53.on(ChangeResourceRecordSetsCommand).resolves({});
    autoscaling.on(CompleteLifecycleActionCommand).resolves({});
    await handleEvent(event, settings, new AwsUpdaterPort({ clusterName: 'prod', hostedZoneId: 'Z1' }), silent);
    const counts = [
      ec2.commandCalls(DescribeInstancesCommand).length,
      route53.commandCalls(ListResourceRecordSetsCommand).length,
      route53.commandCalls(ChangeResourceRecordSetsCommand).length,
      autoscaling.commandCalls(CompleteLifecycleActionCommand).length,
    ];
    console.log(`  ${name.padEnd(30)} ${counts.map((c, i) => String(c).padStart([8, 6, 8, 10][i])).join('')}`);
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
