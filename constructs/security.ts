import { Construct } from 'constructs';
import { DataAwsPartition } from '@cdktf/provider-aws/lib/data-aws-partition';
import { IamInstanceProfile } from '@cdktf/provider-aws/lib/iam-instance-profile';
import { IamRole } from '@cdktf/provider-aws/lib/iam-role';
import { IamPolicy } from '@cdktf/provider-aws/lib/iam-policy';
import { IamRolePolicy } from '@cdktf/provider-aws/lib/iam-role-policy';
import { IamRolePolicyAttachment } from '@cdktf/provider-aws/lib/iam-role-policy-attachment';
import { SecretsmanagerSecret } from '@cdktf/provider-aws/lib/secretsmanager-secret';
import { SecurityGroup } from '@cdktf/provider-aws/lib/security-group';
import { VpcSecurityGroupEgressRule } from '@cdktf/provider-aws/lib/vpc-security-group-egress-rule';
import { VpcSecurityGroupIngressRule } from '@cdktf/provider-aws/lib/vpc-security-group-ingress-rule';
import { parseCidr } from './network';
import {
  BACKUP_KEYS,
  CLUSTER_TAG_KEY,
  ETCD_CLIENT_PORT,
  ETCD_PEER_PORT,
  FORMATTED_TAG_KEY,
  PEER_INDEX_TAG_KEY,
  autoScalingGroupNamePattern,
  peerIndices,
  peerName,
  peerTags,
} from '../contract/naming';

/** Props of {@link EtcdSecurity}. */
export interface EtcdSecurityProps {
  /** Name of the cluster, in names and tags. */
  readonly clusterName: string;
  /** Number of peers: each gets its own instance role and profile, allowed to attach only its own volume. */
  readonly peerCount: number;
  /** VPC of the peers' security group. */
  readonly vpcId: string;
  /**
   * IPv4 CIDR blocks allowed to reach the client port (2379), e.g. the Kubernetes control plane's subnets.
   * Each must lie in a private range (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 100.64.0.0/10)
   * unless `allowPublicClientCidrs` is set; blocks that together cover every address are always refused.
   * @default [] - only the peers themselves
   */
  readonly clientCidrBlocks?: string[];
  /**
   * Accept client CIDR blocks outside the private ranges (e.g. the public addresses of clients in another network).
   * @default false
   */
  readonly allowPublicClientCidrs?: boolean;
  /**
   * Security groups allowed to reach the client port (2379).
   * @default [] - only the peers themselves
   */
  readonly clientSecurityGroupIds?: string[];
  /** Bucket ARN and the key prefixes the instances may read (agent bundle, etcd mirror). */
  readonly artifactBucketArn: string;
  /** The cluster's KMS key (volumes, CA secret). */
  readonly kmsKeyArn: string;
  /**
   * The key of the data volumes, when it is not the cluster's key: the peers may use it to attach them.
   * @default - `kmsKeyArn`
   */
  readonly volumeKmsKeyArn?: string;
  /** The backup bucket's ARN: peers may write, read and list only snapshots and their volume reports in it. */
  readonly backupBucketArn?: string;
  /** Create the CA secret and let the peers read it and write its first version. */
  readonly tls: boolean;
  /**
   * Limit egress to the VPC (interface endpoints, DNS) and S3 (agent, packages, etcd mirror).
   * @default - HTTPS, HTTP and DNS to anywhere, through the NAT gateways
   */
  readonly airGapped?: { readonly vpcCidr: string; readonly s3PrefixListId: string };
}

/**
 * Who may talk to the peers and what the peers may do: one security group
 * (2380 only between peers, 2379 from peers and configured clients) and the
 * instance roles the node agents use: one per peer, each allowed to attach
 * and detach only its own volume (the peer-index tag), everything else they
 * may do in one policy shared by all.
 */
export class EtcdSecurity extends Construct {
  /** The peers' security group. */
  public readonly peerSecurityGroup: SecurityGroup;
  /** Peer i's instance profile, at index i: its launch template uses it. */
  public readonly instanceProfiles: IamInstanceProfile[];
  /** Peer i's instance role, at index i. */
  public readonly instanceRoles: IamRole[];
  /** What every peer may do besides touching its own volume, attached to every peer's role. */
  public readonly sharedPolicy: IamPolicy;
  /** The secret holding the cluster CA (certificate and key, JSON), when TLS is on. */
  public readonly caSecret?: SecretsmanagerSecret;

  constructor(scope: Construct, id: string, props: EtcdSecurityProps) {
    super(scope, id);
    const clientCidrs = props.clientCidrBlocks ?? [];
    validateClientCidrs(clientCidrs, props.allowPublicClientCidrs ?? false);

    this.peerSecurityGroup = new SecurityGroup(this, 'peers', {
      name: `${props.clusterName}-etcd-peers`,
      description: `etcd peers of ${props.clusterName}: 2380 between peers, 2379 from peers and clients`,
      vpcId: props.vpcId,
      tags: { Name: `${props.clusterName}-etcd-peers`, [CLUSTER_TAG_KEY]: props.clusterName },
    });
    const sg = this.peerSecurityGroup.id;
    new VpcSecurityGroupIngressRule(this, 'peer-port-from-peers', {
      securityGroupId: sg,
      referencedSecurityGroupId: sg,
      ipProtocol: 'tcp',
      fromPort: ETCD_PEER_PORT,
      toPort: ETCD_PEER_PORT,
      description: 'etcd raft traffic between peers',
    });
    new VpcSecurityGroupIngressRule(this, 'client-port-from-peers', {
      securityGroupId: sg,
      referencedSecurityGroupId: sg,
      ipProtocol: 'tcp',
      fromPort: ETCD_CLIENT_PORT,
      toPort: ETCD_CLIENT_PORT,
      description: 'etcd clients on the peers (health checks, etcdctl)',
    });
    clientCidrs.forEach(
      (cidr, n) =>
        new VpcSecurityGroupIngressRule(this, `client-port-from-cidr-${n}`, {
          securityGroupId: sg,
          cidrIpv4: cidr,
          ipProtocol: 'tcp',
          fromPort: ETCD_CLIENT_PORT,
          toPort: ETCD_CLIENT_PORT,
          description: `etcd clients from ${cidr}`,
        }),
    );
    (props.clientSecurityGroupIds ?? []).forEach(
      (groupId, n) =>
        new VpcSecurityGroupIngressRule(this, `client-port-from-group-${n}`, {
          securityGroupId: sg,
          referencedSecurityGroupId: groupId,
          ipProtocol: 'tcp',
          fromPort: ETCD_CLIENT_PORT,
          toPort: ETCD_CLIENT_PORT,
          description: 'etcd clients from a client security group',
        }),
    );
    new VpcSecurityGroupEgressRule(this, 'egress-peers', {
      securityGroupId: sg,
      referencedSecurityGroupId: sg,
      ipProtocol: 'tcp',
      fromPort: ETCD_CLIENT_PORT,
      toPort: ETCD_PEER_PORT,
      description: 'etcd peer and client traffic to the other peers',
    });
    const gapped = props.airGapped;
    // Air-gapped: AWS APIs through interface endpoints in the VPC, files from S3 through its gateway; nothing else leaves.
    const outbound: [string, number, 'tcp' | 'udp', { cidrIpv4?: string; prefixListId?: string }, string][] = gapped
      ? [
          ['egress-https-vpc', 443, 'tcp', { cidrIpv4: gapped.vpcCidr }, 'AWS APIs through the interface endpoints'],
          ['egress-https-s3', 443, 'tcp', { prefixListId: gapped.s3PrefixListId }, 'S3 through the gateway endpoint (agent, packages, etcd mirror)'],
          ['egress-dns', 53, 'udp', { cidrIpv4: gapped.vpcCidr }, 'DNS (the VPC resolver)'],
        ]
      : [
          ['egress-https', 443, 'tcp', { cidrIpv4: '0.0.0.0/0' }, 'AWS APIs, S3 and package repositories over HTTPS'],
          ['egress-http', 80, 'tcp', { cidrIpv4: '0.0.0.0/0' }, 'Amazon Linux package mirrors answer on HTTP'],
          ['egress-dns', 53, 'udp', { cidrIpv4: '0.0.0.0/0' }, 'DNS (the VPC resolver)'],
        ];
    for (const [ruleId, port, protocol, target, description] of outbound) {
      new VpcSecurityGroupEgressRule(this, ruleId, { securityGroupId: sg, ipProtocol: protocol, fromPort: port, toPort: port, description, ...target });
    }

    const partition = new DataAwsPartition(this, 'partition');
    const p = partition.partition;
    // The volumes' own key, when one is given, joins the cluster key: attaching a volume needs its key.
    const keys = props.volumeKmsKeyArn && props.volumeKmsKeyArn !== props.kmsKeyArn ? [props.kmsKeyArn, props.volumeKmsKeyArn] : props.kmsKeyArn;
    if (props.tls) {
      // Created without a value: the first peer to boot generates the CA and writes it; the key never passes through Terraform state.
      this.caSecret = new SecretsmanagerSecret(this, 'ca', {
        name: `${props.clusterName}/etcd/cluster-ca`,
        description: `CA of etcd cluster ${props.clusterName}: certificate and private key, written once by the first peer`,
        kmsKeyId: props.kmsKeyArn,
        recoveryWindowInDays: 30,
        tags: { [CLUSTER_TAG_KEY]: props.clusterName },
      });
    }
    const caStatements = this.caSecret
      ? [
          {
            Sid: 'ReadAndInitializeThisClustersCa',
            Effect: 'Allow',
            Action: ['secretsmanager:GetSecretValue', 'secretsmanager:PutSecretValue'],
            Resource: this.caSecret.arn,
          },
        ]
      : [];
    this.sharedPolicy = new IamPolicy(this, 'peer-policy', {
      namePrefix: `${props.clusterName}-etcd-peers-`,
      description: `What every etcd peer of ${props.clusterName} may do; each peer's own volume is in its role's own policy`,
      policy: JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          {
            Sid: 'ReadVolumesAndInstances',
            Effect: 'Allow',
            // Describe calls cannot be scoped to resources; they are read-only.
            Action: ['ec2:DescribeVolumes', 'ec2:DescribeInstances', 'autoscaling:DescribeAutoScalingInstances'],
            Resource: '*',
          },
          {
            // Health: a failed agent marks its instance unhealthy. Lifecycle: the hand-off completes its terminate hook.
            Sid: 'ReportOwnHealthAndHandOff',
            Effect: 'Allow',
            Action: ['autoscaling:SetInstanceHealth', 'autoscaling:CompleteLifecycleAction'],
            Resource: `arn:${p}:autoscaling:*:*:autoScalingGroup:*:autoScalingGroupName/${autoScalingGroupNamePattern(props.clusterName)}`,
          },
          {
            Sid: 'ReadArtifacts',
            Effect: 'Allow',
            Action: ['s3:GetObject'],
            Resource: [`${props.artifactBucketArn}/node-agent/*`, `${props.artifactBucketArn}/etcd/*`],
          },
          ...caStatements,
          ...(props.backupBucketArn ? backupStatements(props.backupBucketArn) : []),
          {
            Sid: 'UseClusterKeyForVolumesSecretAndArtifacts',
            Effect: 'Allow',
            Action: ['kms:Decrypt', 'kms:DescribeKey', 'kms:GenerateDataKey', 'kms:GenerateDataKeyWithoutPlaintext', 'kms:ReEncryptFrom', 'kms:ReEncryptTo'],
            Resource: keys,
          },
          {
            // Attaching a volume encrypted with a customer key lets EC2 create a grant on the instance's behalf.
            Sid: 'GrantForAttachedVolumes',
            Effect: 'Allow',
            Action: ['kms:CreateGrant'],
            Resource: keys,
            Condition: { Bool: { 'kms:GrantIsForAWSResource': 'true' } },
          },
        ],
      }),
    });
    this.instanceRoles = [];
    this.instanceProfiles = [];
    for (const i of peerIndices(props.peerCount)) {
      const name = peerName(i);
      // IAM name prefixes hold 38 characters; the tags carry the whole cluster name.
      const prefix = `${props.clusterName.slice(0, 20)}-${name}-etcd-`;
      const role = new IamRole(this, `${name}-role`, {
        namePrefix: prefix,
        description: `etcd ${name} of ${props.clusterName}: its own volume, and what every peer may do`,
        assumeRolePolicy: JSON.stringify({
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' }],
        }),
        tags: peerTags(props.clusterName, i),
      });
      new IamRolePolicy(this, `${name}-own-volume`, {
        name: 'etcd-own-volume',
        role: role.id,
        policy: JSON.stringify({ Version: '2012-10-17', Statement: ownVolumeStatements(p, props.clusterName, i) }),
      });
      new IamRolePolicyAttachment(this, `${name}-shared-policy`, { role: role.name, policyArn: this.sharedPolicy.arn });
      this.instanceRoles.push(role);
      this.instanceProfiles.push(new IamInstanceProfile(this, `${name}-profile`, { namePrefix: prefix, role: role.name }));
    }
  }
}

/**
 * Attach and detach on the volumes and instances tagged with this cluster and
 * this peer only. AttachVolume and DetachVolume authorize the volume and the
 * instance alike, and both carry the peer's tags: a peer can neither take
 * another peer's volume nor put its own on another peer's instance.
 */
export function ownVolumeStatement(partition: string, clusterName: string, peerIndex: number): object {
  return {
    Sid: 'AttachOnlyOwnVolume',
    Effect: 'Allow',
    Action: ['ec2:AttachVolume', 'ec2:DetachVolume'],
    Resource: [`arn:${partition}:ec2:*:*:volume/*`, `arn:${partition}:ec2:*:*:instance/*`],
    Condition: { StringEquals: ownTags(clusterName, peerIndex) },
  };
}

/**
 * Peer i's own rights: attach and detach its volume, and record on it, in the
 * `etcd-cluster:formatted-at` tag and no other key, that its filesystem was created.
 */
function ownVolumeStatements(partition: string, clusterName: string, peerIndex: number): object[] {
  return [
    ownVolumeStatement(partition, clusterName, peerIndex),
    {
      Sid: 'RecordOwnVolumeFormatted',
      Effect: 'Allow',
      Action: ['ec2:CreateTags'],
      Resource: `arn:${partition}:ec2:*:*:volume/*`,
      Condition: { StringEquals: ownTags(clusterName, peerIndex), 'ForAllValues:StringEquals': { 'aws:TagKeys': [FORMATTED_TAG_KEY] } },
    },
  ];
}

const ownTags = (clusterName: string, peerIndex: number) => ({
  [`aws:ResourceTag/${CLUSTER_TAG_KEY}`]: clusterName,
  [`aws:ResourceTag/${PEER_INDEX_TAG_KEY}`]: String(peerIndex),
});

/**
 * Snapshots and peers' volume reports: written and read under their two
 * prefixes only (a restore reads both), listed under the same prefixes;
 * a failed snapshot upload may abort its parts; nothing may be deleted (versioning and the lifecycle rules expire them).
 */
function backupStatements(bucketArn: string): object[] {
  const objects = [`${bucketArn}/${BACKUP_KEYS.snapshots}*`, `${bucketArn}/${BACKUP_KEYS.peerReports}*`];
  return [
    { Sid: 'WriteSnapshotsAndPeerReports', Effect: 'Allow', Action: ['s3:PutObject'], Resource: objects },
    // A failed multipart upload of a snapshot removes its own parts; only incomplete uploads, never an object.
    { Sid: 'AbortOwnSnapshotUploads', Effect: 'Allow', Action: ['s3:AbortMultipartUpload'], Resource: `${bucketArn}/${BACKUP_KEYS.snapshots}*` },
    { Sid: 'ReadSnapshotsAndPeerReportsForRestore', Effect: 'Allow', Action: ['s3:GetObject'], Resource: objects },
    {
      Sid: 'ListSnapshotsAndPeerReports',
      Effect: 'Allow',
      Action: ['s3:ListBucket'],
      Resource: bucketArn,
      Condition: { StringLike: { 's3:prefix': [`${BACKUP_KEYS.snapshots}*`, `${BACKUP_KEYS.peerReports}*`] } },
    },
  ];
}

/** Where clients of etcd normally are: RFC 1918 and the shared address space (RFC 6598), both usable in a VPC. */
export const PRIVATE_RANGES = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10'] as const;

/** First and last address of an IPv4 CIDR, as unsigned numbers. */
function rangeOf(cidr: string, propName: string): { first: number; last: number } {
  const { address, length } = parseCidr(cidr, propName);
  const size = 2 ** (32 - length);
  const first = Math.floor(address / size) * size;
  if (first !== address) {
    const network = [24, 16, 8, 0].map((shift) => (first >>> shift) & 255).join('.');
    throw new Error(`${propName} ${cidr} has bits set beyond its /${length} prefix: use ${network}/${length}`);
  }
  return { first, last: first + size - 1 };
}

/**
 * Client CIDR blocks: IPv4 syntax, no host bits, inside the private ranges
 * unless `allowPublic`, and never the whole address space, alone or together.
 */
export function validateClientCidrs(cidrs: string[], allowPublic: boolean): void {
  const ranges = cidrs.map((raw, n) => {
    const name = `clientCidrBlocks[${n}]`;
    const cidr = String(raw).trim();
    if (cidr.includes(':')) {
      throw new Error(`${name} ${cidr} is IPv6: the peers have IPv4 addresses only and their security group rules are IPv4; list IPv4 CIDRs`);
    }
    const range = rangeOf(cidr, name);
    if (range.first === 0 && range.last === 2 ** 32 - 1) {
      throw new Error(`clientCidrBlocks contains ${cidr}: etcd holds every Kubernetes secret and must not be open to the world; list the subnets of your API servers instead`);
    }
    return { ...range, cidr, name };
  });
  // The world in pieces (0.0.0.0/1 + 128.0.0.0/1) is still the world.
  let reach = -1;
  for (const r of [...ranges].sort((a, b) => a.first - b.first)) if (r.first <= reach + 1) reach = Math.max(reach, r.last);
  if (ranges.length > 0 && reach === 2 ** 32 - 1) {
    throw new Error(
      `clientCidrBlocks together cover every IPv4 address (${ranges.map((r) => r.cidr).join(', ')}): etcd holds every Kubernetes secret and must not be open to the world; list the subnets of your API servers instead`,
    );
  }
  if (allowPublic) return;
  const privates = PRIVATE_RANGES.map((p) => rangeOf(p, 'private range'));
  const outside = ranges.filter((r) => !privates.some((p) => p.first <= r.first && r.last <= p.last));
  if (outside.length > 0) {
    throw new Error(
      `${outside.map((r) => `${r.name} ${r.cidr}`).join(', ')} reach${outside.length === 1 ? 'es' : ''} beyond the private ranges (${PRIVATE_RANGES.join(', ')}): ` +
        'list the private subnets of your clients, or set allowPublicClientCidrs: true if they really are public addresses',
    );
  }
}
