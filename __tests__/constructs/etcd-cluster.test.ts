import { spawnSync } from 'child_process';
import { join } from 'path';
import { App, Testing } from 'cdktf';
import { EtcdStack } from '../../main';
import { DEFAULT_ZONES, policyStatements, synthCluster, SynthesizedStack } from '../helpers/synth';
import { peerFqdn } from '../../contract/naming';
import { PLACEHOLDER_ADDRESS } from '../../contract/naming';

/** The zone an Auto Scaling group's single subnet lies in. */
function zoneOfGroup(stack: SynthesizedStack, group: Record<string, any>): string {
  expect(group.vpc_zone_identifier).toHaveLength(1);
  const ref: string = group.vpc_zone_identifier[0];
  if (!ref.startsWith('${')) {
    // An existing subnet: its zone is what the plan-time postcondition on its data source demands.
    const data = Object.values(stack.json.data.aws_subnet as Record<string, any>).find((s) => s.id === ref);
    return /^\$\{\(self\.availability_zone == "([^"]+)"\)\}$/.exec(data.lifecycle.postcondition[0].condition)![1];
  }
  return stack.deref(ref).availability_zone;
}

function checkTopology(stack: SynthesizedStack, size: number, zones: string[]) {
  const groups = stack.resources('aws_autoscaling_group');
  const volumes = stack.resources('aws_ebs_volume');
  expect(Object.keys(groups)).toHaveLength(size);
  expect(Object.keys(volumes)).toHaveLength(size);
  for (let i = 0; i < size; i++) {
    const group = stack.byPath('aws_autoscaling_group', `peer-${i}/group`);
    expect(group.name).toBe(`test-peer-${i}`);
    expect([group.min_size, group.max_size, group.desired_capacity]).toEqual([1, 1, 1]);
    expect(zoneOfGroup(stack, group)).toBe(zones[i % zones.length]);
    const volume = stack.byPath('aws_ebs_volume', `peer-${i}/volume`);
    expect(volume.availability_zone).toBe(zones[i % zones.length]);
    expect(volume.tags).toMatchObject({ 'etcd-cluster:name': 'test', 'etcd-cluster:peer-index': String(i) });
  }
}

describe('default cluster: 9 peers over 3 zones', () => {
  let stack: SynthesizedStack;
  beforeAll(() => {
    stack = synthCluster();
  });

  test('9 groups of capacity 1, peer i in the subnet of zone i % 3, volume i beside it', () => {
    checkTopology(stack, 9, DEFAULT_ZONES);
  });

  test('logical ids name the peer', () => {
    const ids = Object.keys(stack.resources('aws_autoscaling_group'));
    for (let i = 0; i < 9; i++) expect(ids.some((id) => id.startsWith(`etcd_peer-${i}_group_`))).toBe(true);
  });

  test('volumes are gp3, encrypted and protected from destroy', () => {
    for (const volume of Object.values(stack.resources('aws_ebs_volume'))) {
      expect(volume).toMatchObject({ type: 'gp3', size: 20, iops: 3000, throughput: 125, encrypted: true });
      expect(volume.lifecycle).toEqual({ prevent_destroy: true });
    }
  });

  test('SRV records list exactly the 9 peer FQDNs with the right ports; with TLS (the default) only the -ssl names', () => {
    const records = Object.values(stack.resources('aws_route53_record'));
    const srv = (name: string) => records.find((r) => r.type === 'SRV' && r.name === name)!;
    expect(records.filter((r) => r.type === 'SRV').map((r) => r.name).sort()).toEqual([
      '_etcd-client-ssl._tcp.test.etcd.internal',
      '_etcd-server-ssl._tcp.test.etcd.internal',
    ]);
    const fqdns = Array.from({ length: 9 }, (_, i) => `${peerFqdn('test.etcd.internal', i)}.`);
    const server = srv('_etcd-server-ssl._tcp.test.etcd.internal');
    const client = srv('_etcd-client-ssl._tcp.test.etcd.internal');
    expect(server.records.map((v: string) => v.split(' '))).toEqual(fqdns.map((f) => ['0', '0', '2380', f]));
    expect(client.records.map((v: string) => v.split(' '))).toEqual(fqdns.map((f) => ['0', '0', '2379', f]));
    expect(server.ttl).toBeLessThanOrEqual(60);
  });

  test('one placeholder A record per peer, which Terraform never takes back from the DNS updater', () => {
    const a = Object.values(stack.resources('aws_route53_record')).filter((r) => r.type === 'A');
    expect(a.map((r) => r.name).sort()).toEqual(Array.from({ length: 9 }, (_, i) => peerFqdn('test.etcd.internal', i)).sort());
    for (const record of a) {
      expect(record.records).toEqual([PLACEHOLDER_ADDRESS]);
      expect(record.lifecycle.ignore_changes).toEqual(expect.arrayContaining(['records']));
      expect(record.ttl).toBe(10);
    }
  });

  test('the private zone is associated with the VPC', () => {
    const zone = Object.values(stack.resources('aws_route53_zone'))[0];
    expect(zone.name).toBe('test.etcd.internal');
    expect(zone.vpc).toEqual([{ vpc_id: expect.stringMatching(/^\$\{aws_vpc\./) }]);
  });

  test('the EventBridge pattern names exactly the cluster groups', () => {
    const rules = Object.values(stack.resources('aws_cloudwatch_event_rule'));
    const patterned = rules.filter((r) => r.event_pattern);
    expect(patterned).toHaveLength(1);
    const pattern = JSON.parse(patterned[0].event_pattern);
    expect(pattern.source).toEqual(['aws.autoscaling']);
    expect(pattern.detail.AutoScalingGroupName).toEqual(Array.from({ length: 9 }, (_, i) => `test-peer-${i}`));
    expect(pattern['detail-type']).toContain('EC2 Instance-launch Lifecycle Action');
    const schedule = rules.find((r) => r.schedule_expression);
    expect(schedule!.schedule_expression).toBe('rate(2 minutes)');
  });

  test('every group has a launch and a terminate lifecycle hook, and waits for the updater wiring', () => {
    for (const group of Object.values(stack.resources('aws_autoscaling_group'))) {
      expect(group.initial_lifecycle_hook).toEqual([
        expect.objectContaining({ lifecycle_transition: 'autoscaling:EC2_INSTANCE_LAUNCHING', name: 'etcd-peer-dns-ready', default_result: 'CONTINUE' }),
        { lifecycle_transition: 'autoscaling:EC2_INSTANCE_TERMINATING', name: 'etcd-peer-hand-off', default_result: 'CONTINUE', heartbeat_timeout: 180 },
      ]);
      expect(group.instance_maintenance_policy).toEqual({ min_healthy_percentage: 0, max_healthy_percentage: 100 });
      expect(group.depends_on).toEqual(expect.arrayContaining([expect.stringMatching(/^aws_lambda_permission\./)]));
    }
  });

  test('no group has an instance refresh: it would replace peers by percentage, not one at a time by quorum', () => {
    const groups = Object.values(stack.resources('aws_autoscaling_group'));
    expect(groups).toHaveLength(9);
    for (const group of groups) expect(group.instance_refresh).toBeUndefined();
  });

  test('the hand-off timeout is a prop of the cluster, checked against Auto Scaling\'s limits', () => {
    const tuned = synthCluster({ handOffTimeoutSeconds: 600 });
    for (const group of Object.values(tuned.resources('aws_autoscaling_group'))) {
      expect(group.initial_lifecycle_hook[1]).toMatchObject({ name: 'etcd-peer-hand-off', heartbeat_timeout: 600 });
    }
    // The agent's own budget for the hand-off sits inside the hook: 600 s less the 20 s kept to complete it.
    expect(tuned.byPath('aws_launch_template', 'peer-0/launch-template').user_data).toContain('\\"handOffSeconds\\": 580');
    expect(stack.byPath('aws_launch_template', 'peer-0/launch-template').user_data).toContain('\\"handOffSeconds\\": 160');
    expect(() => synthCluster({ handOffTimeoutSeconds: 10 })).toThrow('handOffTimeoutSeconds must be a whole number from 30 to 7200');
  });

  test('the Lambda is bundled as an asset with its environment', () => {
    const fn = Object.values(stack.resources('aws_lambda_function')).find((f) => f.function_name === 'test-etcd-dns-updater')!;
    expect(fn.filename).toMatch(/^assets\/.+\.zip$/);
    expect(fn.handler).toBe('index.handler');
    expect(fn.runtime).toBe('nodejs22.x');
    expect(fn.environment.variables).toMatchObject({ CLUSTER_NAME: 'test', DOMAIN: 'test.etcd.internal', PEER_COUNT: '9', RECORD_TTL: '10' });
  });

  test('IAM: no wildcard resource on attach/detach or Route 53 changes; each peer has its own role, allowed only its own volume by tag', () => {
    const policies = [...Object.values(stack.resources('aws_iam_role_policy')), ...Object.values(stack.resources('aws_iam_policy'))].flatMap((p) => policyStatements(p.policy));
    const writes = ['ec2:AttachVolume', 'ec2:DetachVolume', 'route53:ChangeResourceRecordSets', 'autoscaling:CompleteLifecycleAction', 'autoscaling:SetInstanceHealth'];
    for (const statement of policies) {
      const actions: string[] = [statement.Action].flat();
      if (actions.some((a) => writes.includes(a))) {
        expect([statement.Resource].flat()).not.toContain('*');
      }
    }
    // One role and one instance profile per peer; peer N's launch template runs with peer N's profile.
    const roles = stack.resources('aws_iam_role');
    const peerRoles = Object.entries(roles).filter(([, r]) => r.assume_role_policy.includes('ec2.amazonaws.com'));
    expect(peerRoles).toHaveLength(9);
    for (let i = 0; i < 9; i++) {
      const lt = stack.byPath('aws_launch_template', `peer-${i}/launch-template`);
      const profile = stack.deref(lt.iam_instance_profile.arn);
      const roleName = /aws_iam_role\.([\w-]+)\./.exec(profile.role)![1];
      expect(roles[roleName].tags).toEqual({ 'etcd-cluster:name': 'test', 'etcd-cluster:peer-index': String(i) });
      const own = Object.values(stack.resources('aws_iam_role_policy')).filter((p) => p.role.includes(`aws_iam_role.${roleName}.`));
      const attach = own.flatMap((p) => policyStatements(p.policy)).filter((s) => [s.Action].flat().includes('ec2:AttachVolume'));
      expect(attach).toEqual([
        {
          Sid: 'AttachOnlyOwnVolume',
          Effect: 'Allow',
          Action: ['ec2:AttachVolume', 'ec2:DetachVolume'],
          Resource: [expect.stringMatching(/:ec2:\*:\*:volume\/\*$/), expect.stringMatching(/:ec2:\*:\*:instance\/\*$/)],
          Condition: { StringEquals: { 'aws:ResourceTag/etcd-cluster:name': 'test', 'aws:ResourceTag/etcd-cluster:peer-index': String(i) } },
        },
      ]);
      // Everything else comes from the one shared policy.
      const attached = Object.values(stack.resources('aws_iam_role_policy_attachment')).filter((a) => a.role.includes(`aws_iam_role.${roleName}.`));
      expect(attached.map((a) => a.policy_arn)).toEqual([expect.stringMatching(/^\$\{aws_iam_policy\.etcd_security_peer-policy_\w+\.arn\}$/)]);
    }
    expect(Object.values(stack.resources('aws_iam_policy')).flatMap((p) => policyStatements(p.policy)).some((s) => [s.Action].flat().includes('ec2:AttachVolume'))).toBe(false);
    const change = policies.find((s) => [s.Action].flat().includes('route53:ChangeResourceRecordSets'))!;
    expect(change.Resource).toMatch(/^\$\{aws_route53_zone\..+\.arn\}$/);
  });

  test('instances: IMDSv2 required, no public IP, user data carries the identity', () => {
    for (let i = 0; i < 9; i++) {
      const lt = stack.byPath('aws_launch_template', `peer-${i}/launch-template`);
      expect(lt.metadata_options).toMatchObject({ http_tokens: 'required', http_put_response_hop_limit: 1 });
      expect(lt.network_interfaces[0].associate_public_ip_address).toBe('false');
      expect(lt.user_data).toMatch(/^\$\{base64encode\(join\(/);
      expect(lt.user_data).toContain(`\\"peerIndex\\": ${i},`);
      expect(lt.user_data).toContain('aws_s3_bucket.');
    }
  });

  test('security group: 2380 only from the peers, nothing from the world', () => {
    const ingress = Object.values(stack.resources('aws_vpc_security_group_ingress_rule'));
    expect(ingress.map((r) => [r.from_port, r.to_port]).sort()).toEqual([
      [2379, 2379],
      [2380, 2380],
    ]);
    for (const rule of ingress) {
      expect(rule.referenced_security_group_id).toBe(rule.security_group_id);
      expect(rule.cidr_ipv4).toBeUndefined();
    }
  });

  test('network: a private subnet per zone, an S3 gateway endpoint, no public IPs', () => {
    const subnets = Object.values(stack.resources('aws_subnet'));
    expect(subnets.filter((s) => s.tags.Name.includes('private')).map((s) => [s.availability_zone, s.cidr_block])).toEqual([
      ['us-east-1a', '10.40.0.0/20'],
      ['us-east-1b', '10.40.16.0/20'],
      ['us-east-1c', '10.40.32.0/20'],
    ]);
    for (const subnet of subnets) expect(subnet.map_public_ip_on_launch).toBe(false);
    const endpoints = Object.values(stack.resources('aws_vpc_endpoint'));
    expect(endpoints.find((e) => e.vpc_endpoint_type === 'Gateway')!.service_name).toMatch(/\.s3$/);
  });

  test('artifact bucket: private, encrypted, versioned, TLS only; the agent object is content-addressed', () => {
    expect(Object.values(stack.resources('aws_s3_bucket_public_access_block'))[0]).toMatchObject({
      block_public_acls: true,
      block_public_policy: true,
      ignore_public_acls: true,
      restrict_public_buckets: true,
    });
    const sse = Object.values(stack.resources('aws_s3_bucket_server_side_encryption_configuration'))[0];
    expect(sse.rule[0].apply_server_side_encryption_by_default.sse_algorithm).toBe('aws:kms');
    const deny = policyStatements(Object.values(stack.resources('aws_s3_bucket_policy'))[0].policy)[0];
    expect(deny).toMatchObject({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } });
    const agent = Object.values(stack.resources('aws_s3_object'))[0];
    expect(agent.key).toMatch(/^node-agent\/[0-9a-f]{64}\.js$/);
    expect(agent.source).toMatch(/^assets\//);
  });

  test('outputs name the zone, SRV names, peers, endpoints, groups and volumes', () => {
    expect(Object.keys(stack.json.output).sort()).toEqual(
      [
        'etcd_alarm_topic_arn',
        'etcd_artifact_bucket',
        'etcd_backup_bucket',
        'etcd_autoscaling_group_names',
        'etcd_client_endpoints',
        'etcd_domain',
        'etcd_hosted_zone_id',
        'etcd_ca_secret_arn',
        'etcd_kms_key_arn',
        'etcd_peer_names',
        'etcd_srv_names',
        'etcd_tolerates',
        'etcd_volume_ids',
        // what a user wires next (outputs.test.ts)
        'etcd_etcd_servers',
        'etcd_vpc_id',
        'etcd_subnet_ids',
        'etcd_peer_security_group_id',
        'etcd_dns_updater_function_name',
      ].sort(),
    );
    expect(stack.json.output.etcd_client_endpoints.value[8]).toBe('https://peer-8.test.etcd.internal:2379');
    expect(stack.json.output.etcd_tolerates.value).toBe(
      '9 peers over 3 zones survive a zone (9 − 3 = 6 ≥ quorum 5), a zone plus a node (9 − 3 − 1 = 5 ≥ quorum 5), any two nodes (9 − 2 = 7 ≥ quorum 5); ' +
        'not two zones (9 − 3 − 3 = 3 < quorum 5)',
    );
  });

  test('npm run synth prints what each cluster tolerates', () => {
    const app = Testing.app() as App;
    new EtcdStack(app, 'etcd', { region: 'us-east-1', clusterName: 'test', zones: DEFAULT_ZONES });
    const outdir = Testing.fullSynth(app.node.children[0] as EtcdStack);
    const printed = spawnSync(process.execPath, [join(__dirname, '..', '..', 'scripts', 'print-synth-location.js'), outdir], { encoding: 'utf8' });
    expect(printed.status).toBe(0);
    expect(printed.stdout).toContain('  etcd_tolerates: 9 peers over 3 zones survive a zone (9 − 3 = 6 ≥ quorum 5), a zone plus a node (9 − 3 − 1 = 5 ≥ quorum 5)');
  });

  test('default image: Amazon Linux 2023 for the architecture from its public SSM parameter', () => {
    const param = Object.values(stack.json.data.aws_ssm_parameter)[0] as Record<string, string>;
    expect(param.name).toBe('/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64');
  });
});

describe('snapshots', () => {
  test('a private bucket whose lifecycle keeps every snapshot a day and the daily ones a month; peers may write and read only under snapshots/ and peers/, and delete nothing', () => {
    const stack = synthCluster({ size: 3, tolerate: 'zone' });
    const lifecycle = Object.values(stack.resources('aws_s3_bucket_lifecycle_configuration'))[0];
    expect(lifecycle.rule.map((r: any) => [r.id, r.filter[0].prefix, r.expiration?.[0]?.days])).toEqual([
      ['frequent-snapshots', 'snapshots/frequent/', 1],
      ['daily-snapshots', 'snapshots/daily/', 30],
      ['abort-incomplete-uploads', '', undefined],
    ]);
    const backupBucket = stack.deref(lifecycle.bucket.replace('.id}', '.arn}'));
    expect(backupBucket.bucket_prefix).toBe('test-etcd-backups-');
    const bucketName = /aws_s3_bucket\.([\w-]+)\./.exec(lifecycle.bucket)![1];
    const versioning = Object.values(stack.resources('aws_s3_bucket_versioning')).find((v) => v.bucket.includes(bucketName))!;
    expect(versioning.versioning_configuration.status).toBe('Enabled');
    const sse = Object.values(stack.resources('aws_s3_bucket_server_side_encryption_configuration')).find((v) => v.bucket.includes(bucketName))!;
    expect(sse.rule[0].apply_server_side_encryption_by_default.kms_master_key_id).toMatch(/aws_kms_key/);
    // The peers' policies; the roller only reads (its own test checks what).
    const policies = [...Object.values(stack.resources('aws_iam_role_policy')), ...Object.values(stack.resources('aws_iam_policy'))];
    const onBucket = (p: Record<string, any>) => policyStatements(p.policy).filter((st) => [st.Resource].flat().some((r: string) => r.includes(bucketName)));
    const roller = policies.filter((p) => p.name === 'etcd-roller').flatMap(onBucket);
    expect(roller.flatMap((st) => st.Action).sort()).toEqual(['s3:GetObject', 's3:ListBucket']);
    const writes = policies.filter((p) => p.name !== 'etcd-roller').flatMap(onBucket);
    const bucketArn = `\${aws_s3_bucket.${bucketName}.arn}`;
    const objects = [`${bucketArn}/snapshots/*`, `${bucketArn}/peers/*`];
    expect(writes).toEqual([
      { Sid: 'WriteSnapshotsAndPeerReports', Effect: 'Allow', Action: ['s3:PutObject'], Resource: objects },
      { Sid: 'AbortOwnSnapshotUploads', Effect: 'Allow', Action: ['s3:AbortMultipartUpload'], Resource: `${bucketArn}/snapshots/*` },
      { Sid: 'ReadSnapshotsAndPeerReportsForRestore', Effect: 'Allow', Action: ['s3:GetObject'], Resource: objects },
      { Sid: 'ListSnapshotsAndPeerReports', Effect: 'Allow', Action: ['s3:ListBucket'], Resource: bucketArn, Condition: { StringLike: { 's3:prefix': ['snapshots/*', 'peers/*'] } } },
    ]);
    // Nothing may delete a snapshot or a report: versioning and the lifecycle rules are the only way objects go.
    expect(writes.flatMap((st) => st.Action)).not.toContain('s3:DeleteObject');
    const userData = stack.byPath('aws_launch_template', 'peer-0/launch-template').user_data;
    expect(userData).toContain('OnUnitActiveSec=15min');
    // The agent's config names the region from the provider's region data source.
    expect(userData).toMatch(/\\"region\\": \\"", data\.aws_region\.[\w-]+\.id, "\\"/);
    expect(userData).toMatch(/export AWS_DEFAULT_REGION=", data\.aws_region\.[\w-]+\.id/);
    // The first snapshot soon after boot keeps short the window in which a lost cluster looks like a forming one.
    expect(userData).toContain('OnBootSec=2min');
    expect(userData).toContain('snapshot --config /etc/etcd-node-agent/config.json');
  });

  test('can be turned off, and its options are checked', () => {
    const stack = synthCluster({ size: 3, tolerate: 'zone', backup: { enabled: false } });
    expect(stack.resources('aws_s3_bucket_lifecycle_configuration')).toEqual({});
    expect(stack.byPath('aws_launch_template', 'peer-0/launch-template').user_data).not.toContain('etcd-snapshot.timer');
  });
});

describe('other sizes and networks', () => {
  test('tls: false publishes the plain SRV names and no CA secret', () => {
    const stack = synthCluster({ size: 3, tolerate: 'zone', tls: false });
    const srv = Object.values(stack.resources('aws_route53_record')).filter((r) => r.type === 'SRV').map((r) => r.name).sort();
    expect(srv).toEqual(['_etcd-client._tcp.test.etcd.internal', '_etcd-server._tcp.test.etcd.internal']);
    expect(stack.resources('aws_secretsmanager_secret')).toEqual({});
    expect(stack.json.output.etcd_client_endpoints.value[0]).toBe('http://peer-0.test.etcd.internal:2379');
  });

  test('5 peers over 5 zones, by default: they survive a zone plus a node', () => {
    const zones = ['eu-west-1a', 'eu-west-1b', 'eu-west-1c', 'eu-west-1d', 'eu-west-1e'];
    const stack = synthCluster({ size: 5, zones });
    checkTopology(stack, 5, zones);
    expect(stack.json.output.etcd_tolerates.value).toContain('a zone plus a node (5 − 1 − 1 = 3 ≥ quorum 3)');
  });

  test('3 peers over 3 zones', () => {
    checkTopology(synthCluster({ size: 3, tolerate: 'zone' }), 3, DEFAULT_ZONES);
  });

  test("5 peers over 3 zones, with tolerate: 'zone': the output says they do not survive a zone plus a node", () => {
    const stack = synthCluster({ size: 5, tolerate: 'zone' });
    checkTopology(stack, 5, DEFAULT_ZONES);
    expect(stack.json.output.etcd_tolerates.value).toBe(
      '5 peers over 3 zones survive a zone (5 − 2 = 3 ≥ quorum 3), any two nodes (5 − 2 = 3 ≥ quorum 3); not a zone plus a node (5 − 2 − 1 = 2 < quorum 3), two zones (5 − 2 − 2 = 1 < quorum 3)',
    );
  });

  test('existing VPC: no network created, subnets checked against their zones at plan time', () => {
    const stack = synthCluster({ network: { vpcId: 'vpc-123', subnetIds: ['subnet-a', 'subnet-b', 'subnet-c'] } });
    expect(stack.resources('aws_vpc')).toEqual({});
    expect(stack.resources('aws_subnet')).toEqual({});
    const dataSubnets = Object.values(stack.json.data.aws_subnet) as Record<string, any>[];
    expect(dataSubnets.map((s) => s.id)).toEqual(['subnet-a', 'subnet-b', 'subnet-c']);
    // Rendered by cdktf's Op.eq and TerraformSelf, which quote the literal.
    expect(dataSubnets[1].lifecycle.postcondition[0].condition).toBe('${(self.availability_zone == "us-east-1b")}');
    // A subnet of another VPC fails the plan, naming both props.
    expect(dataSubnets.map((s) => s.lifecycle.postcondition[1])).toEqual(
      [0, 1, 2].map((z) => ({
        condition: '${(self.vpc_id == "vpc-123")}',
        error_message: `network.subnetIds[${z}] must be a subnet of network.vpcId (vpc-123); the private hosted zone and the security group live in that VPC.`,
      })),
    );
    // Without restricted egress nothing else is looked up, and the peers may leave the VPC as before.
    expect(stack.json.data.aws_vpc_endpoint).toBeUndefined();
    expect(Object.values(stack.resources('aws_vpc_security_group_egress_rule')).filter((r) => r.cidr_ipv4 === '0.0.0.0/0')).toHaveLength(3);
    checkTopology(stack, 9, DEFAULT_ZONES);
    expect(Object.values(stack.resources('aws_route53_zone'))[0].vpc).toEqual([{ vpc_id: 'vpc-123' }]);
  });

  /** Every egress rule of the peers' group as [port, protocol, destination]. */
  const egressOf = (stack: SynthesizedStack) =>
    Object.values(stack.resources('aws_vpc_security_group_egress_rule'))
      .map((r) => [r.from_port, r.ip_protocol, r.cidr_ipv4 ?? r.prefix_list_id ?? (r.referenced_security_group_id === r.security_group_id ? 'peers' : r.referenced_security_group_id)])
      .sort((a, b) => String(a).localeCompare(String(b)));

  // Without internet egress the default GitHub download is refused (see validation); etcd comes from the artifact bucket here.
  test('air-gapped VPC: no internet gateway, interface endpoints, egress only to the VPC and S3', () => {
    const stack = synthCluster({ network: { internetEgress: false }, etcd: { baseUrl: 's3://artifacts/etcd' } });
    expect(stack.resources('aws_internet_gateway')).toEqual({});
    expect(stack.resources('aws_nat_gateway')).toEqual({});
    const services = Object.values(stack.resources('aws_vpc_endpoint')).map((e) => e.service_name.split('.').pop());
    expect(services.sort()).toEqual(['autoscaling', 'ec2', 's3', 'secretsmanager']);
    expect(egressOf(stack)).toEqual([
      [2379, 'tcp', 'peers'],
      [443, 'tcp', expect.stringMatching(/^\$\{aws_vpc_endpoint\..+\.prefix_list_id\}$/)],
      [443, 'tcp', '10.40.0.0/16'],
      [53, 'udp', '10.40.0.0/16'],
    ]);
  });

  test('existing VPC with restricted egress: the same rules, to the VPC CIDR and S3 prefix list looked up at plan time', () => {
    const stack = synthCluster({ network: { vpcId: 'vpc-123', subnetIds: ['subnet-a', 'subnet-b', 'subnet-c'], internetEgress: false }, etcd: { preinstalled: true } });
    expect(stack.resources('aws_vpc')).toEqual({});
    expect(stack.resources('aws_vpc_endpoint')).toEqual({});
    const vpc = Object.entries(stack.json.data.aws_vpc as Record<string, any>);
    expect(vpc.map(([, v]) => v.id)).toEqual(['vpc-123']);
    const endpoints = Object.entries(stack.json.data.aws_vpc_endpoint as Record<string, any>);
    expect(endpoints.map(([, e]) => [e.service_name.replace(/^.*\}\./, ''), e.vpc_id, e.filter[0].values[0]]).sort()).toEqual([
      ['autoscaling', 'vpc-123', 'Interface'],
      ['ec2', 'vpc-123', 'Interface'],
      ['s3', 'vpc-123', 'Gateway'],
      ['secretsmanager', 'vpc-123', 'Interface'],
    ]);
    for (const [, e] of endpoints) {
      expect(e.service_name).toMatch(/^com\.amazonaws\.\$\{data\.aws_region\.[\w-]+\.id\}\.\w+$/);
      expect(e.lifecycle.postcondition[0].error_message).toContain('network.internetEgress: false in network.vpcId needs an available');
    }
    const [s3Name] = endpoints.find(([, e]) => e.service_name.endsWith('.s3'))!;
    expect(egressOf(stack)).toEqual([
      [2379, 'tcp', 'peers'],
      [443, 'tcp', `\${data.aws_vpc_endpoint.${s3Name}.prefix_list_id}`],
      [443, 'tcp', `\${data.aws_vpc.${vpc[0][0]}.cidr_block}`],
      [53, 'udp', `\${data.aws_vpc.${vpc[0][0]}.cidr_block}`],
    ]);
  });

  test('volume.kmsKeyArn encrypts the volumes, and the peers may use that key to attach them', () => {
    const volumeKey = 'arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555';
    const stack = synthCluster({ size: 3, tolerate: 'zone', volume: { kmsKeyArn: volumeKey } });
    for (const v of Object.values(stack.resources('aws_ebs_volume'))) expect(v.kms_key_id).toBe(volumeKey);
    const statements = [...Object.values(stack.resources('aws_iam_role_policy')), ...Object.values(stack.resources('aws_iam_policy'))].flatMap((p) => policyStatements(p.policy));
    const grant = statements.find((st) => st.Sid === 'GrantForAttachedVolumes')!;
    expect(grant.Resource).toEqual([expect.stringMatching(/^\$\{aws_kms_key\./), volumeKey]);
    expect(statements.find((st) => st.Sid === 'UseClusterKeyForVolumesSecretAndArtifacts')!.Resource).toEqual(grant.Resource);
    // Everything else stays on the cluster key.
    const secret = Object.values(stack.resources('aws_secretsmanager_secret'))[0];
    expect(secret.kms_key_id).toMatch(/^\$\{aws_kms_key\./);
  });

  test('without volume.kmsKeyArn the volumes use the cluster key', () => {
    const stack = synthCluster({ size: 3, tolerate: 'zone' });
    for (const v of Object.values(stack.resources('aws_ebs_volume'))) expect(v.kms_key_id).toMatch(/^\$\{aws_kms_key\.[\w-]+\.arn\}$/);
  });

  test('volumes can be released on destroy when asked', () => {
    const stack = synthCluster({ size: 3, tolerate: 'zone', volume: { retainOnDestroy: false, sizeGiB: 100, iops: 6000, throughputMiBps: 500 } });
    for (const v of Object.values(stack.resources('aws_ebs_volume'))) {
      expect(v.lifecycle).toEqual({ prevent_destroy: false });
      expect(v).toMatchObject({ size: 100, iops: 6000, throughput: 500 });
    }
  });

  test('Graviton instance types get the arm64 image', () => {
    const stack = synthCluster({ size: 3, tolerate: 'zone', instanceType: 'm7g.large' });
    const param = Object.values(stack.json.data.aws_ssm_parameter)[0] as Record<string, string>;
    expect(param.name).toMatch(/arm64$/);
  });
});
