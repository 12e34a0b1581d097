/**
 * Security policy over the synthesized stack: one rule per requirement, each
 * shown to pass on the stack as built and to catch a stack broken on purpose.
 */
import { TerraformResource } from 'cdktf';
import { IamRolePolicy } from '@cdktf/provider-aws/lib/iam-role-policy';
import { VpcSecurityGroupIngressRule } from '@cdktf/provider-aws/lib/vpc-security-group-ingress-rule';
import { EtcdStack } from '../../main';
import { agentUnit } from '../../constructs/user-data';
import { ownVolumeStatement } from '../../constructs/security';
import { synthCluster, SynthesizedStack } from '../helpers/synth';
import { decodeUserData, RULES } from './rules';

const child = (scope: { node: { findChild(id: string): unknown } }, id: string) => scope.node.findChild(id) as TerraformResource;

describe('security policy of the synthesized stack', () => {
  let good: SynthesizedStack;
  beforeAll(() => {
    good = synthCluster({ size: 3, tolerate: 'zone' });
  });

  test.each(Object.keys(RULES))('%s holds for the stack as built', (rule) => {
    expect(RULES[rule as keyof typeof RULES](good.json)).toEqual([]);
  });

  const broken: [keyof typeof RULES, string, (stack: EtcdStack) => void, RegExp][] = [
    [
      'eachPeerAttachesOnlyItsOwnVolume',
      "peer 1's role allowed peer 2's volume",
      (s) => new IamRolePolicy(s, 'neighbour', { role: s.cluster.security.instanceRoles[1].id, policy: JSON.stringify({ Version: '2012-10-17', Statement: [ownVolumeStatement('aws', 'test', 2)] }) }),
      /aws_launch_template\.etcd_peer-1_launch-template_\w+ \(peer 1\) may attach or detach volumes other than its own through aws_iam_role_policy\.neighbour/,
    ],
    [
      'eachPeerAttachesOnlyItsOwnVolume',
      'attach by the cluster tag alone (one role for all peers, as before)',
      (s) =>
        new IamRolePolicy(s, 'cluster-wide', {
          role: s.cluster.security.instanceRoles[0].id,
          policy: JSON.stringify({
            Version: '2012-10-17',
            Statement: [{ Sid: 'AttachOnlyThisClustersVolumes', Effect: 'Allow', Action: ['ec2:AttachVolume', 'ec2:DetachVolume'], Resource: 'arn:aws:ec2:*:*:volume/*', Condition: { StringEquals: { 'aws:ResourceTag/etcd-cluster:name': 'test' } } }],
          }),
        }),
      /\(peer 0\) may attach or detach volumes other than its own through aws_iam_role_policy\.cluster-wide \(AttachOnlyThisClustersVolumes/,
    ],
    [
      'eachPeerAttachesOnlyItsOwnVolume',
      "peer 2's instances launched with peer 0's profile",
      (s) => s.cluster.peers[2].launchTemplate.addOverride('iam_instance_profile.arn', s.cluster.security.instanceProfiles[0].arn),
      /\(peer 2\) may attach or detach volumes other than its own through aws_iam_role_policy\.etcd_security_peer-0-own-volume_\w+ \(AttachOnlyOwnVolume/,
    ],
    [
      'eachPeerAttachesOnlyItsOwnVolume',
      'any tag key on its own volume (it could rewrite its peer index)',
      (s) =>
        new IamRolePolicy(s, 'any-tag', {
          role: s.cluster.security.instanceRoles[2].id,
          policy: JSON.stringify({ Version: '2012-10-17', Statement: [{ Sid: 'AnyTag', Effect: 'Allow', Action: 'ec2:CreateTags', Resource: 'arn:aws:ec2:*:*:volume/*', Condition: { StringEquals: { 'aws:ResourceTag/etcd-cluster:name': 'test', 'aws:ResourceTag/etcd-cluster:peer-index': '2' } } }] }),
        }),
      /\(peer 2\) may set tag keys other than etcd-cluster:formatted-at through aws_iam_role_policy\.any-tag \(AnyTag\)/,
    ],
    [
      'eachPeerAttachesOnlyItsOwnVolume',
      'ec2:* in the shared policy',
      (s) => s.cluster.security.sharedPolicy.addOverride('policy', JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'ec2:*', Resource: 'arn:aws:ec2:*:*:volume/*' }] })),
      /\(peer 0\) may attach or detach volumes other than its own through aws_iam_policy\.etcd_security_peer-policy_\w+ \(a statement: "no condition"\)/,
    ],
    ['ebsEncryptedWithKms', 'an unencrypted volume', (s) => s.cluster.peers[1].volume.addOverride('encrypted', false), /aws_ebs_volume\.etcd_peer-1_volume_\w+ is not encrypted/],
    ['ebsEncryptedWithKms', 'a volume on the default key', (s) => s.cluster.peers[0].volume.addOverride('kms_key_id', null), /has no customer-managed kms_key_id/],
    ['imdsV2Required', 'IMDSv1 allowed', (s) => s.cluster.peers[2].launchTemplate.addOverride('metadata_options.http_tokens', 'optional'), /does not require IMDSv2 tokens/],
    ['imdsV2Required', 'a hop limit of 2', (s) => s.cluster.peers[2].launchTemplate.addOverride('metadata_options.http_put_response_hop_limit', 2), /hop limit other than 1/],
    [
      'noPublicIps',
      'a public IP on the peers',
      (s) => s.cluster.peers[0].launchTemplate.addOverride('network_interfaces', [{ device_index: 0, associate_public_ip_address: 'true', security_groups: [s.cluster.security.peerSecurityGroup.id] }]),
      /may associate a public IP/,
    ],
    [
      'noWorldIngress',
      'the client port opened to the world',
      (s) =>
        new VpcSecurityGroupIngressRule(s, 'oops', { securityGroupId: s.cluster.security.peerSecurityGroup.id, cidrIpv4: '0.0.0.0/0', ipProtocol: 'tcp', fromPort: 2379, toPort: 2379 }),
      /aws_vpc_security_group_ingress_rule\.oops allows the world/,
    ],
    [
      'noWorldIngress',
      'the client port opened to the world in two halves',
      (s) =>
        ['0.0.0.0/1', '128.0.0.0/1'].forEach(
          (cidrIpv4, n) =>
            new VpcSecurityGroupIngressRule(s, `half-${n}`, { securityGroupId: s.cluster.security.peerSecurityGroup.id, cidrIpv4, ipProtocol: 'tcp', fromPort: 2379, toPort: 2379 }),
        ),
      /ingress rules of \$\{aws_security_group\.[\w-]+\.id\} together allow the world \(0\.0\.0\.0\/1, 128\.0\.0\.0\/1\)/,
    ],
    [
      'noWildcardOnWrites',
      'attach on any volume',
      (s) =>
        new IamRolePolicy(s, 'too-broad', {
          role: s.cluster.security.instanceRoles[0].id,
          policy: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['ec2:AttachVolume', 'ec2:DescribeVolumes'], Resource: '*' }] }),
        }),
      /aws_iam_role_policy\.too-broad allows ec2:AttachVolume on "\*"/,
    ],
    [
      'noWildcardOnWrites',
      'metrics into any namespace',
      (s) =>
        new IamRolePolicy(s, 'any-namespace', {
          role: s.cluster.security.instanceRoles[0].id,
          policy: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'cloudwatch:PutMetricData', Resource: '*' }] }),
        }),
      /aws_iam_role_policy\.any-namespace allows cloudwatch:PutMetricData on "\*"/,
    ],
    ['bucketsPrivateAndTlsOnly', 'a public policy allowed', (s) => child(s.cluster.artifacts.store, 'public-access-block').addOverride('block_public_policy', false), /does not block all public access/],
    [
      'bucketsPrivateAndTlsOnly',
      'no TLS-only statement',
      (s) => child(s.cluster.artifacts.store, 'tls-only').addOverride('policy', JSON.stringify({ Version: '2012-10-17', Statement: [] })),
      /does not deny requests without TLS/,
    ],
    ['logGroupsRetainedAndEncrypted', 'logs kept forever', (s) => child(s.cluster.dnsUpdater, 'logs').addOverride('retention_in_days', 0), /keeps logs forever/],
    ['logGroupsRetainedAndEncrypted', 'logs on the default key', (s) => child(s.cluster.dnsUpdater, 'logs').addOverride('kms_key_id', null), /not encrypted with a customer-managed key/],
  ];

  test.each(broken)('%s catches %s', (rule, _what, breakIt, message) => {
    const stack = synthCluster({ size: 3, tolerate: 'zone' }, breakIt);
    const violations = RULES[rule](stack.json);
    expect(violations).toEqual(expect.arrayContaining([expect.stringMatching(message)]));
  });

  test('etcdTlsConfigured catches a cluster built with tls: false', () => {
    const violations = RULES.etcdTlsConfigured(synthCluster({ size: 3, tolerate: 'zone', tls: false }).json);
    expect(violations).toHaveLength(3 * 2);
    expect(violations[0]).toMatch(/etcd does not require client certificates on both ports|etcd serves plain http/);
  });

  test('by default every peer installs an etcd 3.5 patch at or above 3.5.26 (the lowest etcd allows upgrading to 3.6 from)', () => {
    for (const lt of Object.values(good.resources('aws_launch_template'))) {
      const [, minor, patch] = /^ETCD_VERSION=3\.(\d+)\.(\d+)$/m.exec(decodeUserData(lt.user_data))!.map(Number);
      expect(minor).toBe(5);
      expect(patch).toBeGreaterThanOrEqual(26);
    }
  });

  test('the user data Terraform receives decodes to exactly the script the construct wrote', () => {
    const lt = good.byPath('aws_launch_template', 'peer-1/launch-template');
    const script = decodeUserData(lt.user_data);
    expect(script).toContain(agentUnit().trimEnd());
    expect(script).toContain(`(cd "$WORK" && awk -v f="$TARBALL" '$2 == f' SHA256SUMS | sha256sum -c -)`);
    expect(script).toMatch(/aws s3 cp "s3:\/\/<ref:aws_s3_bucket\.[\w-]+\.bucket>\/<ref:aws_s3_object\.[\w-]+\.key>" /);
    expect(script).toMatch(/"secretId": "<ref:aws_secretsmanager_secret\.[\w-]+\.arn>"/);
    expect(script).toContain('"peerIndex": 1,');
  });
});
