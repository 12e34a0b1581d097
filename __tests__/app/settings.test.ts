import { AppSettingsError, DEFAULT_LOCAL_STATE, explainPropError, readAppSettings } from '../../app/settings';

const context = (values: Record<string, unknown>) => (key: string) => values[key];

function problems(env: Record<string, string>, ctx: Record<string, unknown> = {}): string[] {
  try {
    readAppSettings(env, context(ctx));
  } catch (error) {
    expect(error).toBeInstanceOf(AppSettingsError);
    return (error as AppSettingsError).problems;
  }
  throw new Error('expected the settings to be refused');
}

describe('the default app reads its settings from ETCD_* variables, else cdktf context, else defaults', () => {
  test('nothing set: the default cluster (9 peers over us-east-1a, b, c) with local state beside cdktf.out', () => {
    expect(readAppSettings({})).toEqual({
      stack: { region: 'us-east-1', zones: ['us-east-1a', 'us-east-1b', 'us-east-1c'], clusterName: 'etcd-main', size: 9 },
      backend: { kind: 'local', path: DEFAULT_LOCAL_STATE },
    });
    expect(DEFAULT_LOCAL_STATE).toBe('../../../terraform.etcd.tfstate');
  });

  test.each([
    ['a region alone brings its a, b and c zones', { ETCD_REGION: 'eu-west-1' }, { region: 'eu-west-1', zones: ['eu-west-1a', 'eu-west-1b', 'eu-west-1c'] }],
    ['zones as a comma-separated list, spaces allowed', { ETCD_ZONES: 'us-east-1a, us-east-1b,us-east-1c,us-east-1d,us-east-1e' }, { zones: ['us-east-1a', 'us-east-1b', 'us-east-1c', 'us-east-1d', 'us-east-1e'] }],
    ['size and name', { ETCD_SIZE: '5', ETCD_CLUSTER_NAME: 'prod' }, { size: 5, clusterName: 'prod' }],
    ['a smaller tolerance, asked for by name', { ETCD_SIZE: '3', ETCD_TOLERATE: 'zone' }, { size: 3, tolerate: 'zone' }],
    ['an existing VPC', { ETCD_VPC_ID: 'vpc-0a1b', ETCD_SUBNET_IDS: 'subnet-01,subnet-02,subnet-03' }, { network: { vpcId: 'vpc-0a1b', subnetIds: ['subnet-01', 'subnet-02', 'subnet-03'] } }],
    ['domain, instance type, clients', { ETCD_DOMAIN: 'etcd.internal', ETCD_INSTANCE_TYPE: 'm6g.large', ETCD_CLIENT_CIDRS: '10.0.0.0/16', ETCD_CLIENT_SECURITY_GROUP_IDS: 'sg-01,sg-02' }, { domain: 'etcd.internal', instanceType: 'm6g.large', clientCidrBlocks: ['10.0.0.0/16'], clientSecurityGroupIds: ['sg-01', 'sg-02'] }],
    ['an empty variable counts as unset', { ETCD_SIZE: '', ETCD_REGION: ' ' }, { size: 9, region: 'us-east-1' }],
  ])('%s', (_name, env, expected) => {
    expect(readAppSettings(env).stack).toMatchObject(expected);
  });

  test('cdktf context (cdktf.json "context") gives values, lists as arrays or strings; the variable wins over it', () => {
    const fromContext = readAppSettings({}, context({ region: 'eu-central-1', zones: ['eu-central-1a', 'eu-central-1b', 'eu-central-1c'], size: 3, subnetIds: 'subnet-1,subnet-2,subnet-3', vpcId: 'vpc-1' }));
    expect(fromContext.stack).toMatchObject({ region: 'eu-central-1', size: 3, network: { vpcId: 'vpc-1', subnetIds: ['subnet-1', 'subnet-2', 'subnet-3'] } });
    expect(readAppSettings({ ETCD_SIZE: '7' }, context({ size: 3 })).stack.size).toBe(7);
  });

  test.each([
    [{ ETCD_SIZE: 'nine' }, 'ETCD_SIZE (or context "size") must be a whole number of peers such as 9, got "nine"'],
    [{ ETCD_SIZE: '5.5' }, 'ETCD_SIZE (or context "size") must be a whole number'],
    [{ ETCD_REGION: 'US East' }, 'ETCD_REGION (or context "region") must be an AWS region name such as us-east-1'],
    [{ ETCD_ZONES: 'eu-west-1a,eu-west-1b,eu-west-1c' }, 'ETCD_ZONES (or context "zones") must be zones of ETCD_REGION (or context "region") (us-east-1), got eu-west-1a, eu-west-1b, eu-west-1c: set ETCD_REGION'],
    [{ ETCD_REGION: 'eu-west-1', ETCD_ZONES: 'eu-west-1a,us-east-1b,eu-west-1c' }, 'must be zones of ETCD_REGION (or context "region") (eu-west-1), got us-east-1b'],
    [{ ETCD_ZONES: 'us-east-1a,,us-east-1b' }, 'ETCD_ZONES (or context "zones") must be a comma-separated list of availability zone names'],
    [{ ETCD_VPC_ID: 'vpc-01' }, 'ETCD_VPC_ID (or context "vpcId") and ETCD_SUBNET_IDS (or context "subnetIds") go together'],
    [{ ETCD_SUBNET_IDS: 'subnet-1,subnet-2,subnet-3' }, 'go together: set both to use your VPC, or neither to create one'],
    [{ ETCD_VPC_ID: 'my-vpc', ETCD_SUBNET_IDS: 'subnet-1' }, 'ETCD_VPC_ID (or context "vpcId") must be a VPC id such as vpc-0123abcd, got "my-vpc"'],
    [{ ETCD_CLIENT_SECURITY_GROUP_IDS: 'apiservers' }, 'ETCD_CLIENT_SECURITY_GROUP_IDS (or context "clientSecurityGroupIds") must be a comma-separated list of security group ids'],
    [{ ETCD_TOLERATE: 'none' }, 'ETCD_TOLERATE (or context "tolerate") must be one of zone-and-node, zone, got "none"'],
    [{ ETCD_BACKEND: 'consul' }, 'ETCD_BACKEND (or context "backend") must be "local" or "s3", got "consul"'],
    [{ ETCD_STATE_BUCKET: 'state' }, 'ETCD_STATE_BUCKET (or context "stateBucket") apply to the S3 backend: set ETCD_BACKEND (or context "backend") to s3'],
    [{ ETCD_BACKEND: 's3', ETCD_STATE_LOCKFILE: 'yes' }, 'ETCD_STATE_LOCKFILE (or context "stateLockfile") must be true or false, got "yes"'],
    [{ ETCD_BACKEND: 's3', ETCD_STATE_BUCKET: 'State_Bucket' }, 'ETCD_STATE_BUCKET (or context "stateBucket") must be an S3 bucket name'],
  ])('refuses %j naming the variable', (env, message) => {
    expect(problems(env).join('\n')).toContain(message);
  });

  test('every problem is reported at once, each naming its variable', () => {
    expect(problems({ ETCD_SIZE: 'x', ETCD_REGION: 'X', ETCD_BACKEND: 'nfs' })).toHaveLength(3);
    expect(problems({}, { size: 'many' })).toEqual(['ETCD_SIZE (or context "size") must be a whole number of peers such as 9, got "many"']);
  });

  test.each([
    ['a full S3 backend: key from the cluster name, region from the cluster region unless given', { ETCD_BACKEND: 's3', ETCD_STATE_BUCKET: 'tf-state', ETCD_CLUSTER_NAME: 'prod', ETCD_REGION: 'eu-west-1', ETCD_STATE_LOCK_TABLE: 'tf-locks' }, { kind: 's3', bucket: 'tf-state', key: 'etcd/prod.tfstate', region: 'eu-west-1', dynamodbTable: 'tf-locks' }],
    ['S3-native locking and an explicit key and region', { ETCD_BACKEND: 's3', ETCD_STATE_BUCKET: 'tf-state', ETCD_STATE_KEY: 'a/b.tfstate', ETCD_STATE_REGION: 'us-west-2', ETCD_STATE_LOCKFILE: 'true' }, { kind: 's3', bucket: 'tf-state', key: 'a/b.tfstate', region: 'us-west-2', useLockfile: true }],
    ['a partial S3 backend, completed at terraform init -backend-config', { ETCD_BACKEND: 's3' }, { kind: 's3' }],
  ])('%s', (_name, env, expected) => {
    expect(readAppSettings(env).backend).toEqual(expected);
  });

  test('a construct error gains the variable of each prop it names', () => {
    expect(explainPropError('size 8 is even: use 7 or 9')).toBe('size 8 is even: use 7 or 9\nIn the default app, size is ETCD_SIZE (or context "size").');
    expect(explainPropError('network.subnetIds must hold one subnet per zone (zones has 3)')).toContain('zones is ETCD_ZONES (or context "zones"); network.subnetIds is ETCD_SUBNET_IDS (or context "subnetIds")');
    expect(explainPropError('volume.iops must be at most 16000')).toBe('volume.iops must be at most 16000');
  });
});
