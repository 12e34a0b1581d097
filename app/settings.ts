/**
 * The default app's settings: each from an environment variable, else a cdktf
 * context key (cdktf.json's `context`), else its default. The defaults are the
 * default cluster (9 peers over 3 zones of us-east-1, local state).
 *
 * Pure: `readAppSettings(env, context)` parses and checks the form of each
 * value and names the variable in every error; the construct then checks the
 * values themselves (an even size, too few zones, …) and names the prop.
 */
import type { EtcdClusterProps } from '../constructs';
import { Tolerance, TOLERANCES } from '../contract/topology';

/** Where Terraform keeps the default app's state. */
export type BackendSettings =
  | {
      readonly kind: 'local';
      /** Relative to the stack's directory (`cdktf.out/stacks/etcd`): `../../../terraform.etcd.tfstate` is beside `cdktf.out`. */
      readonly path: string;
    }
  | {
      readonly kind: 's3';
      /** Unset: a partial backend, completed by `terraform init -backend-config=bucket=…`. */
      readonly bucket?: string;
      readonly key?: string;
      readonly region?: string;
      /** DynamoDB table for locking. */
      readonly dynamodbTable?: string;
      /** S3-native locking (Terraform >= 1.10). */
      readonly useLockfile?: boolean;
    };

/** Everything the default app needs. */
export interface AppSettings {
  readonly stack: EtcdClusterProps & { region: string };
  readonly backend: BackendSettings;
}

/** One setting: its environment variable and context key. */
export interface SettingSource {
  readonly env: string;
  readonly context: string;
}

/** Every setting the default app reads, by prop. The README lists the same table. */
export const APP_SETTINGS = {
  region: { env: 'ETCD_REGION', context: 'region' },
  zones: { env: 'ETCD_ZONES', context: 'zones' },
  clusterName: { env: 'ETCD_CLUSTER_NAME', context: 'clusterName' },
  size: { env: 'ETCD_SIZE', context: 'size' },
  tolerate: { env: 'ETCD_TOLERATE', context: 'tolerate' },
  domain: { env: 'ETCD_DOMAIN', context: 'domain' },
  vpcId: { env: 'ETCD_VPC_ID', context: 'vpcId' },
  subnetIds: { env: 'ETCD_SUBNET_IDS', context: 'subnetIds' },
  instanceType: { env: 'ETCD_INSTANCE_TYPE', context: 'instanceType' },
  clientCidrBlocks: { env: 'ETCD_CLIENT_CIDRS', context: 'clientCidrBlocks' },
  clientSecurityGroupIds: { env: 'ETCD_CLIENT_SECURITY_GROUP_IDS', context: 'clientSecurityGroupIds' },
  backend: { env: 'ETCD_BACKEND', context: 'backend' },
  stateBucket: { env: 'ETCD_STATE_BUCKET', context: 'stateBucket' },
  stateKey: { env: 'ETCD_STATE_KEY', context: 'stateKey' },
  stateRegion: { env: 'ETCD_STATE_REGION', context: 'stateRegion' },
  stateLockTable: { env: 'ETCD_STATE_LOCK_TABLE', context: 'stateLockTable' },
  stateLockfile: { env: 'ETCD_STATE_LOCKFILE', context: 'stateLockfile' },
} as const satisfies Record<string, SettingSource>;

type Name = keyof typeof APP_SETTINGS;

export const DEFAULT_REGION = 'us-east-1';
export const DEFAULT_CLUSTER_NAME = 'etcd-main';
const DEFAULT_SIZE = 9;
/** Beside `cdktf.out`, seen from `cdktf.out/stacks/etcd` where Terraform runs; git-ignored (`*.tfstate`). */
export const DEFAULT_LOCAL_STATE = '../../../terraform.etcd.tfstate';

/** Bad settings, all of them at once, each naming its variable. */
export class AppSettingsError extends Error {
  constructor(public readonly problems: string[]) {
    super(`The default app's settings are not usable:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'AppSettingsError';
  }
}

/** How a setting is named in messages: its variable, and its context key. */
function settingName(name: Name): string {
  const s = APP_SETTINGS[name];
  return `${s.env} (or context "${s.context}")`;
}

/** Parses the settings from `env` and `context` (cdktf's `node.tryGetContext`), env first. */
export function readAppSettings(env: Record<string, string | undefined>, context: (key: string) => unknown = () => undefined): AppSettings {
  const problems: string[] = [];
  const raw = (name: Name): unknown => {
    const fromEnv = env[APP_SETTINGS[name].env];
    if (fromEnv !== undefined && fromEnv.trim() !== '') return fromEnv.trim();
    return context(APP_SETTINGS[name].context);
  };
  const text = (name: Name, pattern?: RegExp, form?: string): string | undefined => {
    const value = raw(name);
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'string' || (pattern && !pattern.test(value))) {
      problems.push(`${settingName(name)} must be ${form ?? 'a string'}, got ${JSON.stringify(value)}`);
      return undefined;
    }
    return value;
  };
  const list = (name: Name, pattern: RegExp, form: string): string[] | undefined => {
    const value = raw(name);
    if (value === undefined || value === null) return undefined;
    const items = typeof value === 'string' ? value.split(',').map((s) => s.trim()) : value;
    if (!Array.isArray(items) || items.length === 0 || !items.every((i) => typeof i === 'string' && pattern.test(i))) {
      problems.push(`${settingName(name)} must be a comma-separated list of ${form}, got ${JSON.stringify(value)}`);
      return undefined;
    }
    return items as string[];
  };

  const region = text('region', /^[a-z]{2}(-[a-z]+)+-\d+$/, 'an AWS region name such as us-east-1') ?? DEFAULT_REGION;
  // Without zones, the region's a, b and c (every commercial region has at least three).
  const zones = list('zones', /^[a-z]{2}(-[a-z]+)+-\d+[a-z]$/, 'availability zone names such as us-east-1a') ?? ['a', 'b', 'c'].map((z) => `${region}${z}`);
  const foreign = zones.filter((zone) => !(zone.startsWith(region) && zone.length === region.length + 1));
  if (foreign.length > 0) {
    // Caught here, the error names the settings; at apply AWS would only call the zone invalid.
    problems.push(`${settingName('zones')} must be zones of ${settingName('region')} (${region}), got ${foreign.join(', ')}: set ${settingName('region')} to their region, or name zones such as ${region}a`);
  }
  const clusterName = text('clusterName') ?? DEFAULT_CLUSTER_NAME;
  let size: number = DEFAULT_SIZE;
  const sizeRaw = raw('size');
  if (sizeRaw !== undefined && sizeRaw !== null) {
    const n = typeof sizeRaw === 'number' ? sizeRaw : typeof sizeRaw === 'string' && /^\d+$/.test(sizeRaw) ? Number(sizeRaw) : NaN;
    if (!Number.isInteger(n)) problems.push(`${settingName('size')} must be a whole number of peers such as 9, got ${JSON.stringify(sizeRaw)}`);
    else size = n;
  }
  const tolerate = text('tolerate', new RegExp(`^(${TOLERANCES.join('|')})$`), `one of ${TOLERANCES.join(', ')}`) as Tolerance | undefined;
  const domain = text('domain');
  const vpcId = text('vpcId', /^vpc-[0-9a-f]+$/, 'a VPC id such as vpc-0123abcd');
  const subnetIds = list('subnetIds', /^subnet-[0-9a-f]+$/, 'subnet ids such as subnet-0123abcd');
  if ((vpcId === undefined) !== (subnetIds === undefined) && !problems.some((p) => p.includes('VPC_ID') || p.includes('SUBNET_IDS'))) {
    problems.push(`${settingName('vpcId')} and ${settingName('subnetIds')} go together: set both to use your VPC, or neither to create one`);
  }
  const instanceType = text('instanceType', /^[a-z0-9-]+\.[a-z0-9]+$/, 'an instance type such as m6i.large');
  const clientCidrBlocks = list('clientCidrBlocks', /^[0-9./]+$/, 'CIDR blocks such as 10.0.0.0/16');
  const clientSecurityGroupIds = list('clientSecurityGroupIds', /^sg-[0-9a-f]+$/, 'security group ids such as sg-0123abcd');
  const backend = readBackend(text, raw, problems, region, clusterName);

  if (problems.length) throw new AppSettingsError(problems);
  return {
    stack: {
      region,
      zones,
      clusterName,
      size,
      ...(tolerate !== undefined ? { tolerate } : {}),
      ...(domain !== undefined ? { domain } : {}),
      ...(vpcId !== undefined && subnetIds !== undefined ? { network: { vpcId, subnetIds } } : {}),
      ...(instanceType !== undefined ? { instanceType } : {}),
      ...(clientCidrBlocks !== undefined ? { clientCidrBlocks } : {}),
      ...(clientSecurityGroupIds !== undefined ? { clientSecurityGroupIds } : {}),
    },
    backend,
  };
}

function readBackend(
  text: (name: Name, pattern?: RegExp, form?: string) => string | undefined,
  raw: (name: Name) => unknown,
  problems: string[],
  region: string,
  clusterName: string,
): BackendSettings {
  const kind = text('backend', /^(local|s3)$/, '"local" or "s3"') ?? 'local';
  const s3Only = (['stateBucket', 'stateKey', 'stateRegion', 'stateLockTable', 'stateLockfile'] as const).filter((n) => raw(n) !== undefined && raw(n) !== null);
  if (kind === 'local') {
    if (s3Only.length) problems.push(`${s3Only.map(settingName).join(', ')} apply to the S3 backend: set ${settingName('backend')} to s3`);
    return { kind: 'local', path: DEFAULT_LOCAL_STATE };
  }
  const bucket = text('stateBucket', /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'an S3 bucket name');
  const key = text('stateKey') ?? (bucket ? `etcd/${clusterName}.tfstate` : undefined);
  const stateRegion = text('stateRegion', /^[a-z]{2}(-[a-z]+)+-\d+$/, 'an AWS region name') ?? (bucket ? region : undefined);
  const dynamodbTable = text('stateLockTable');
  const lockfileRaw = raw('stateLockfile');
  let useLockfile: boolean | undefined;
  if (lockfileRaw !== undefined && lockfileRaw !== null) {
    if (lockfileRaw === true || lockfileRaw === 'true') useLockfile = true;
    else if (lockfileRaw === false || lockfileRaw === 'false') useLockfile = false;
    else problems.push(`${settingName('stateLockfile')} must be true or false, got ${JSON.stringify(lockfileRaw)}`);
  }
  return {
    kind: 's3',
    ...(bucket !== undefined ? { bucket } : {}),
    ...(key !== undefined ? { key } : {}),
    ...(stateRegion !== undefined ? { region: stateRegion } : {}),
    ...(dynamodbTable !== undefined ? { dynamodbTable } : {}),
    ...(useLockfile !== undefined ? { useLockfile } : {}),
  };
}

/** Props the default app sets from a setting, as construct errors name them. */
const PROP_OF_SETTING: Array<[Name, RegExp]> = [
  ['region', /\bregion\b/],
  ['zones', /\bzones\b/],
  ['clusterName', /\bclusterName\b/],
  ['size', /\bsize\b/],
  ['tolerate', /\btolerate\b/],
  ['domain', /\bdomain\b/],
  ['vpcId', /\bnetwork\.vpcId\b/],
  ['subnetIds', /\bnetwork\.subnetIds\b/],
  ['instanceType', /\binstanceType\b/],
  ['clientCidrBlocks', /\bclientCidrBlocks\b/],
  ['clientSecurityGroupIds', /\bclientSecurityGroupIds\b/],
];

/**
 * A construct's error (which names the prop) with the setting each prop it names comes from in the default app,
 * e.g. "size must be odd …" gains "In the default app, size is ETCD_SIZE (or context "size")".
 */
export function explainPropError(message: string): string {
  const named = PROP_OF_SETTING.filter(([, pattern]) => pattern.test(message)).map(([name]) => `${name === 'vpcId' || name === 'subnetIds' ? `network.${name}` : name} is ${settingName(name)}`);
  return named.length ? `${message}\nIn the default app, ${named.join('; ')}.` : message;
}
