import { Testing } from 'cdktf';
import { EtcdStack } from '../../main';
import { EtcdClusterProps } from '../../constructs';
import { DEFAULT_ZONES } from '../helpers/synth';

/** Constructs a stack (no synth): validation must fail in the constructor. */
function build(props: Partial<EtcdClusterProps>) {
  return () => new EtcdStack(Testing.app(), 'etcd', { region: 'us-east-1', clusterName: 'test', zones: DEFAULT_ZONES, ...props } as any);
}

describe('validation names the prop and the fix', () => {
  test.each([
    [{ size: 8 }, 'size 8 is even: an even cluster tolerates no more failures than size 7 but needs one more vote; use 7 or 9'],
    [{ size: 1 }, 'size must be a whole number of at least 3 peers (got 1)'],
    [{ size: 2.5 }, 'size must be a whole number of at least 3 peers (got 2.5)'],
    [{ zones: ['us-east-1a', 'us-east-1b'] }, 'zones lists 2 zone(s); at least 3 are needed so the cluster survives the loss of one zone'],
    [{ zones: ['us-east-1a', 'us-east-1a', 'us-east-1b'] }, 'zones lists a zone twice'],
    [{ size: 3, zones: ['a', 'b', 'c', 'd'] }, 'zones has 4 zones for 3 peers'],
    [{ domain: 'not a domain' }, 'domain "not a domain" is not a valid DNS name'],
    [{ domain: 'single' }, 'domain "single" is not a valid DNS name'],
    [{ domain: '-bad.internal' }, 'domain "-bad.internal" is not a valid DNS name'],
    [{ domain: `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(60)}` }, 'is too long'],
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
    [{ reconcileEveryMinutes: 0 }, 'dnsUpdater.reconcileEveryMinutes must be a whole number of minutes from 1 to 60, got 0'],
    [{ peerRecordTtl: 3600 }, 'dns.peerRecordTtl must be a whole number of seconds from 1 to 300'],
    [{ etcd: { version: 'v3.5.17' } }, 'etcd.version must look like 3.5.17 (no leading v), got "v3.5.17"'],
    [{ etcd: { sha256: 'abc' } }, 'etcd.sha256 must be 64 lower-case hex characters'],
    [{ etcd: { baseUrl: 'http://mirror/etcd' } }, 'etcd.baseUrl must be an https:// or s3:// URL'],
    [{ dataDir: 'var/lib/etcd' }, 'dataDir must be an absolute path such as /var/lib/etcd, got "var/lib/etcd"'],
    [{ backup: { intervalMinutes: 1 } }, 'backup.intervalMinutes must be a whole number of minutes from 5 to 1440, got 1'],
    [{ backup: { dailyRetentionDays: 0 } }, 'backup.dailyRetentionDays must be a whole number of days from 1 to 3650, got 0'],
    [{ certificateLifetimeHours: 1 }, 'certificateLifetimeHours must be a whole number of hours from 24 to 8760'],
  ])('%j', (props, message) => {
    expect(build(props as Partial<EtcdClusterProps>)).toThrow(message);
  });

  test('a layout that cannot survive a zone loss is refused with the arithmetic', () => {
    const { validateSizeAndZones } = jest.requireActual('../../contract/topology');
    // Every odd size >= 3 over >= 3 zones survives a zone; the arithmetic check guards the invariant itself.
    expect(() => validateSizeAndZones(9, ['a', 'b', 'c'])).not.toThrow();
    const { zoneLossProblem } = jest.requireActual('../../contract/topology');
    expect(zoneLossProblem(5, 2)).toBe('5 peers over 2 zones put 3 peers in the fullest zone; losing it leaves 2, fewer than the quorum of 3');
  });
});
