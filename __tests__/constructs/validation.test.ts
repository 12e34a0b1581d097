import { Testing } from 'cdktf';
import { EtcdStack } from '../../main';
import { EtcdClusterProps } from '../../constructs';
import { DEFAULT_ZONES } from '../helpers/synth';

/** Constructs a stack (no synth): validation must fail in the constructor. */
function build(props: Partial<EtcdClusterProps>) {
  return () => new EtcdStack(Testing.app(), 'etcd', { region: 'us-east-1', clusterName: 'test', zones: DEFAULT_ZONES, ...props } as any);
}

/** The message the constructor refuses `props` with; `undefined` when it accepts them. */
function refusal(props: Partial<EtcdClusterProps>): string | undefined {
  try {
    build(props)();
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const ZONES_5 = ['us-east-1a', 'us-east-1b', 'us-east-1c', 'us-east-1d', 'us-east-1e'];

describe('validation names the prop and the fix', () => {
  test.each([
    [{ size: 8 }, 'size 8 is even: an even cluster tolerates no more failures than size 7 but needs one more vote; use 7 or 9'],
    [{ size: 1 }, 'size must be a whole number of at least 3 peers (got 1)'],
    [{ size: 2.5 }, 'size must be a whole number of at least 3 peers (got 2.5)'],
    [{ zones: ['us-east-1a', 'us-east-1b'] }, 'zones lists 2 zone(s); at least 3 are needed so the cluster survives the loss of one zone'],
    [{ zones: ['us-east-1a', 'us-east-1a', 'us-east-1b'] }, 'zones lists a zone twice'],
    [{ size: 3, zones: ['a', 'b', 'c', 'd'] }, 'zones has 4 zones for 3 peers: 1 of them would hold no peer (peer i sits in zone i mod 4); pass at most 3 zones'],
    [{ size: 5 }, "5 peers over 3 zones survive a zone but not a zone plus a node: 5 − 2 − 1 = 2 < quorum 3; use 9 over 3 zones or 5 over 5 zones, or set tolerate: 'zone'"],
    [{ size: 3 }, "3 peers over 3 zones survive a zone but not a zone plus a node: 3 − 1 − 1 = 1 < quorum 2; use 9 over 3 zones, or set tolerate: 'zone'"],
    [{ size: 7, tolerate: 'zone-and-node' }, "7 peers over 3 zones survive a zone but not a zone plus a node: 7 − 3 − 1 = 3 < quorum 4; use 9 over 3 zones or 7 over 4 zones, or set tolerate: 'zone'"],
    [{ tolerate: 'node' }, `tolerate must be one of 'zone-and-node', 'zone', got "node"`],
    [{ domain: 'not a domain' }, 'domain "not a domain" is not a valid DNS name'],
    [{ domain: 'single' }, 'domain "single" is not a valid DNS name'],
    [{ domain: '-bad.internal' }, 'domain "-bad.internal" is not a valid DNS name'],
    [{ domain: `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(60)}` }, `domain "${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(60)}" is too long`],
    [{ clusterName: 'Bad_Name' }, 'clusterName "Bad_Name" is invalid'],
    [{ volume: { sizeGiB: 0 } }, 'volume.sizeGiB must be a whole number from 1 to 65536 GiB (gp3), got 0'],
    [{ volume: { sizeGiB: 70000 } }, 'volume.sizeGiB must be a whole number from 1 to 65536 GiB (gp3), got 70000'],
    [{ volume: { iops: 2000 } }, 'volume.iops must be a whole number from 3000 to 80000 (gp3), got 2000'],
    [{ volume: { iops: 90000 } }, 'volume.iops must be a whole number from 3000 to 80000 (gp3), got 90000'],
    [{ volume: { sizeGiB: 10, iops: 6000 } }, 'volume.iops 6000 exceeds gp3\'s 500 IOPS per GiB for 10 GiB (at most 5000): raise volume.sizeGiB to at least 12'],
    [{ volume: { throughputMiBps: 100 } }, 'volume.throughputMiBps must be a whole number from 125 to 2000 MiB/s (gp3), got 100'],
    [{ volume: { throughputMiBps: 1000 } }, 'volume.throughputMiBps 1000 exceeds gp3\'s 0.25 MiB/s per IOPS at 3000 IOPS: raise volume.iops to at least 4000'],
    [{ network: { vpcId: 'vpc-1', subnetIds: ['subnet-a', 'subnet-b'] } }, 'network.subnetIds has 2 subnets for 3 zones: pass exactly one subnet per zone, in the order of zones'],
    [{ network: { vpcId: 'vpc-1' } }, 'network.vpcId was given without network.subnetIds'],
    [{ network: { subnetIds: ['s-1', 's-2', 's-3'] } }, 'network.subnetIds was given without network.vpcId'],
    [{ network: { vpcId: 'vpc-1', subnetIds: ['s-1', 's-1', 's-3'] } }, 'network.subnetIds lists a subnet twice'],
    [{ network: { cidrBlock: '10.0.0.0/24' } }, 'network.cidrBlock 10.0.0.0/24 is too small'],
    [{ network: { cidrBlock: '10.0.0/16' } }, 'network.cidrBlock must be an IPv4 CIDR like 10.40.0.0/16, got "10.0.0/16"'],
    [{ clientCidrBlocks: ['0.0.0.0/0'] }, 'clientCidrBlocks contains 0.0.0.0/0'],
    [{ clientCidrBlocks: ['0.0.0.0/0'], allowPublicClientCidrs: true }, 'clientCidrBlocks contains 0.0.0.0/0'],
    [{ clientCidrBlocks: ['10.0.0.0/33'] }, 'clientCidrBlocks[0] must be an IPv4 CIDR like 10.40.0.0/16, got "10.0.0.0/33"'],
    [{ clientCidrBlocks: ['10.1.0.0/16', 'not-a-cidr'] }, 'clientCidrBlocks[1] must be an IPv4 CIDR like 10.40.0.0/16, got "not-a-cidr"'],
    [{ clientCidrBlocks: ['fd00:10::/64'] }, 'clientCidrBlocks[0] fd00:10::/64 is IPv6: the peers have IPv4 addresses only'],
    [{ clientCidrBlocks: ['10.1.2.3/16'] }, 'clientCidrBlocks[0] 10.1.2.3/16 has bits set beyond its /16 prefix: use 10.1.0.0/16'],
    [{ clientCidrBlocks: ['0.0.0.0/1', '128.0.0.0/1'] }, 'clientCidrBlocks together cover every IPv4 address (0.0.0.0/1, 128.0.0.0/1)'],
    [{ clientCidrBlocks: ['128.0.0.0/1', '10.0.0.0/8', '0.0.0.0/1'], allowPublicClientCidrs: true }, 'clientCidrBlocks together cover every IPv4 address'],
    [
      { clientCidrBlocks: ['10.1.0.0/16', '8.8.8.0/24', '172.0.0.0/11'] },
      'clientCidrBlocks[1] 8.8.8.0/24, clientCidrBlocks[2] 172.0.0.0/11 reach beyond the private ranges (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 100.64.0.0/10): ' +
        'list the private subnets of your clients, or set allowPublicClientCidrs: true',
    ],
    [{ reconcileEveryMinutes: 0 }, 'reconcileEveryMinutes must be a whole number of minutes from 1 to 60, got 0'],
    [{ peerRecordTtl: 3600 }, 'peerRecordTtl must be a whole number of seconds from 1 to 300'],
    [
      { network: { internetEgress: false } },
      "network.internetEgress: false leaves the peers no way to the default etcd download (GitHub releases): put the release under etcd/ in the artifact bucket and set etcd.baseUrl: 's3://<artifact_bucket>/etcd', " +
        'or bake etcd into the image and set etcd.preinstalled: true, or let the peers out with network.internetEgress: true',
    ],
    [{ network: { vpcId: 'vpc-1', subnetIds: ['s-1', 's-2', 's-3'], internetEgress: false } }, 'network.internetEgress: false leaves the peers no way to the default etcd download'],
    [{ network: { vpcId: 'vpc-1', subnetIds: ['s-1', 's-2', 's-3'], cidrBlock: '10.0.0.0/16' } }, 'network.cidrBlock applies only to a created VPC'],
    [{ volume: { kmsKeyArn: 'alias/etcd' } }, 'volume.kmsKeyArn must be a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/UUID), got "alias/etcd"'],
    [{ etcd: { version: 'v3.5.17' } }, 'etcd.version must look like 3.5.33 (no leading v), got "v3.5.17"'],
    [{ etcd: { sha256: 'abc' } }, 'etcd.sha256 must be 64 lower-case hex characters'],
    [{ etcd: { baseUrl: 'http://mirror/etcd' } }, 'etcd.baseUrl must be an https:// or s3:// URL'],
    [{ dataDir: 'var/lib/etcd' }, 'dataDir must be an absolute path other than /, such as /var/lib/etcd, got "var/lib/etcd"'],
    [{ dataDir: '/var/lib/etcd/' }, 'dataDir must be written as the mount table writes it'],
    [{ backup: { intervalMinutes: 1 } }, 'backup.intervalMinutes must be a whole number of minutes from 5 to 1440, got 1'],
    [{ backup: { dailyRetentionDays: 0 } }, 'backup.dailyRetentionDays must be a whole number of days from 1 to 3650, got 0'],
    [{ certificateLifetimeHours: 1 }, 'certificateLifetimeHours must be a whole number of hours from 24 to 8760'],
    [
      { database: { quotaBackendBytes: 10 * 1024 ** 3 } },
      'database.quotaBackendBytes 10737418240 (10 GiB) does not fit volume.sizeGiB 20: the volume must hold the database twice (a defragmentation, ' +
        "a snapshot from the leader and a restore each write a whole copy beside it), the WAL (512 MiB) and the filesystem's 7 %, so at most 9717153792 (9.05 GiB) fits 20 GiB. " +
        'Raise volume.sizeGiB to at least 23 or lower database.quotaBackendBytes (etcd suggests at most 8 GiB)',
    ],
    [{ volume: { sizeGiB: 1 }, database: { quotaBackendBytes: 256 * 1024 ** 2 } }, 'database.quotaBackendBytes 268435456 (256 MiB) does not fit volume.sizeGiB 1:'],
    [{ database: { quotaBackendBytes: 8 } }, 'database.quotaBackendBytes must be a whole number of bytes of at least 16777216 (16 MiB), got 8; e.g. 4 GiB is 4294967296'],
    [{ database: { compaction: { mode: 'auto' } } }, "database.compaction.mode must be 'kube-apiserver', 'periodic' or 'revision', got \"auto\""],
    [{ database: { compaction: { mode: 'periodic', retention: '1 hour' } } }, "database.compaction.retention must be a duration such as '1h' or '30m' for mode 'periodic', got \"1 hour\""],
    [{ database: { compaction: { mode: 'periodic', retention: '0h' } } }, "database.compaction.retention must be a duration such as '1h' or '30m'"],
    [{ database: { compaction: { mode: 'revision', retention: 0 } } }, "database.compaction.retention must be a whole number of revisions of at least 1 for mode 'revision', got 0"],
    [{ database: { defragment: { minFreeableShare: 1 } } }, 'database.defragment.minFreeableShare must be a share from 0 up to (not including) 1, got 1'],
    [{ database: { defragment: { minFreeableBytes: -1 } } }, 'database.defragment.minFreeableBytes must be a whole number of bytes, 0 or more, got -1'],
    [{ database: { maintenanceEveryMinutes: 0 } }, 'database.maintenanceEveryMinutes must be a whole number of minutes from 1 to 60'],
  ])('%j', (props, message) => {
    // The message starts with the prop as the user writes it.
    expect(refusal(props as Partial<EtcdClusterProps>)).toMatch(new RegExp(`^${escape(message)}`));
  });
});

describe('what is accepted', () => {
  // Each pair: the same props, refused without the part that makes them acceptable.
  test.each([
    ['5 peers over 3 zones, asked for a zone only', { size: 5, tolerate: 'zone' }, { size: 5 }],
    ['3 peers over 3 zones, asked for a zone only', { size: 3, tolerate: 'zone' }, { size: 3 }],
    ['5 peers over 5 zones, by default', { size: 5, zones: ZONES_5 }, { size: 5, zones: ZONES_5.slice(0, 4) }],
    ['public client CIDRs, when asked for', { clientCidrBlocks: ['10.1.0.0/16', '203.0.113.0/24'], allowPublicClientCidrs: true }, { clientCidrBlocks: ['10.1.0.0/16', '203.0.113.0/24'] }],
    ['an air-gapped VPC with etcd from the artifact bucket', { network: { internetEgress: false }, etcd: { baseUrl: 's3://artifacts/etcd' } }, { network: { internetEgress: false } }],
    ['an air-gapped VPC with etcd in the image', { network: { internetEgress: false }, etcd: { preinstalled: true } }, { network: { internetEgress: false } }],
    ['a quota the volume holds twice over', { volume: { sizeGiB: 23 }, database: { quotaBackendBytes: 10 * 1024 ** 3 } }, { database: { quotaBackendBytes: 10 * 1024 ** 3 } }],
    ["etcd's periodic compaction", { database: { compaction: { mode: 'periodic', retention: '1h30m' } } }, { database: { compaction: { mode: 'periodic', retention: '90 minutes' } } }],
    [
      'an existing VPC with restricted egress',
      { network: { vpcId: 'vpc-1', subnetIds: ['s-1', 's-2', 's-3'], internetEgress: false }, etcd: { preinstalled: true } },
      { network: { vpcId: 'vpc-1', subnetIds: ['s-1', 's-2', 's-3'], internetEgress: false } },
    ],
  ] as [string, Partial<EtcdClusterProps>, Partial<EtcdClusterProps>][])('%s', (_what, accepted, refused) => {
    expect(refusal(accepted)).toBeUndefined();
    expect(refusal(refused)).toEqual(expect.any(String));
  });

  test.each([['10.0.0.0/8'], ['172.31.0.0/16'], ['192.168.10.0/24'], ['100.64.0.0/10'], ['10.20.30.40/32']])('the private client CIDR %s', (cidr) => {
    expect(refusal({ clientCidrBlocks: [cidr] })).toBeUndefined();
  });
});
