/**
 * The node agent's configuration: the hand-off from synth time to boot time.
 * Built by {@link buildAgentConfig} (the construct into user data, the local
 * cluster into a file), read back by {@link parseAgentConfig} in the agent.
 */
import { clusterToken, normalizeDomain } from './naming';
import { DATABASE_DEFAULTS, DatabaseSettings, ETCD_DEFAULT_QUOTA_BYTES, parseDatabaseSettings } from './database';

/** Where the agent finds its volume and identity. */
export type AgentMode = 'aws' | 'local';

/** Bounded waits of the boot sequence, in seconds. */
export interface AgentDeadlines {
  /** Attach (including waiting for a dying instance to release the volume). */
  readonly attachSeconds: number;
  /** How long a still-running previous owner may keep the volume before it is force-detached (only if it left the peer's group). */
  readonly forceDetachGraceSeconds: number;
  /** Waiting for the block device node to appear. */
  readonly deviceSeconds: number;
  /** Waiting for `peer-N.<domain>` to resolve to this instance. */
  readonly dnsSeconds: number;
  /** A fresh volume waiting until the cluster's state decides how etcd starts (quorum, or every peer's report for a restore). */
  readonly decideSeconds: number;
  /**
   * The whole planned hand-off, from `Terminated` to the lifecycle action's completion: within the terminate
   * hook's timeout ({@link handOffBudgetSeconds}), so the agent, not the timeout, ends it.
   */
  readonly handOffSeconds: number;
}

/** How long the terminate hook holds an instance by default (`handOffTimeoutSeconds`). */
export const DEFAULT_HAND_OFF_TIMEOUT_SECONDS = 180;

/** Time kept back from the hook's timeout for completing the lifecycle action itself. */
const HAND_OFF_COMPLETION_MARGIN_SECONDS = 20;

/** The hand-off's own budget for a terminate hook of `hookTimeoutSeconds`: the timeout less a margin to complete it. */
export function handOffBudgetSeconds(hookTimeoutSeconds: number): number {
  return Math.max(hookTimeoutSeconds - HAND_OFF_COMPLETION_MARGIN_SECONDS, hookTimeoutSeconds / 2);
}

/** Everything `node-agent boot` needs to become peer N. */
export interface AgentConfig {
  readonly mode: AgentMode;
  /**
   * AWS mode: the region of the cluster. The AWS SDK for JavaScript does not
   * read it from instance metadata, so the construct writes it here.
   */
  readonly region?: string;
  readonly clusterName: string;
  readonly domain: string;
  readonly peerIndex: number;
  readonly peerCount: number;
  /** TLS for peers and clients (SRV names switch to `-ssl`). */
  readonly tls: boolean;
  /** Mount point of the peer's volume, and etcd's data dir. */
  readonly dataDir: string;
  /** Filesystem created on an empty volume, and the only one accepted on a used one. */
  readonly fsType: 'ext4' | 'xfs';
  /** User that owns the data dir and runs etcd. */
  readonly etcdUser: string;
  /** Where the agent writes etcd's configuration file. */
  readonly etcdConfigFile: string;
  /** With TLS: directory the agent writes ca.crt, peer.crt/key and server.crt/key into. */
  readonly pkiDir: string;
  /** With TLS: where the cluster CA lives (a Secrets Manager secret on AWS, a directory locally). */
  readonly ca?: { readonly secretId?: string; readonly dir?: string };
  /** Lifetime of the certificates issued at each boot and renewal. */
  readonly certLifetimeHours: number;
  /** Where `node-agent snapshot` uploads snapshots: an S3 bucket on AWS, a directory locally. */
  readonly backup?: { readonly bucket?: string; readonly dir?: string };
  /** Shared by all peers of one cluster; guards against joining a foreign cluster. */
  readonly clusterToken: string;
  /** etcd's quota and compaction (written into its config), and when the maintenance timer defragments. */
  readonly database: DatabaseSettings;
  readonly deadlines: AgentDeadlines;
  /** Local mode only: the file that plays the EBS volume, and this host's IP. */
  readonly local?: {
    readonly volumeFile: string;
    readonly ipAddress: string;
    /** Name of this instance in logs; defaults to the host name. */
    readonly instanceId?: string;
    /** DNS servers to resolve the peer's own name with; defaults to the system resolver. */
    readonly dnsServers?: string[];
    /** Network namespace whose resolv.conf etcdctl must use (the local cluster). */
    readonly netns?: string;
  };
}

/** Defaults for the waits; generous enough for a volume released by a terminating instance. */
export const DEFAULT_DEADLINES: AgentDeadlines = {
  attachSeconds: 600,
  forceDetachGraceSeconds: 300,
  deviceSeconds: 120,
  dnsSeconds: 300,
  decideSeconds: 600,
  handOffSeconds: handOffBudgetSeconds(DEFAULT_HAND_OFF_TIMEOUT_SECONDS),
};

/** What a config holds when a field is not given; one place for both the factory and the parser. */
export const AGENT_CONFIG_DEFAULTS = {
  fsType: 'ext4',
  etcdUser: 'etcd',
  etcdConfigFile: '/etc/etcd/etcd.conf.yml',
  pkiDir: '/etc/etcd/pki',
  certLifetimeHours: 720,
} as const;

/** What the caller of {@link buildAgentConfig} must say; everything else has a default. */
export type AgentConfigInput = Pick<AgentConfig, 'mode' | 'clusterName' | 'domain' | 'peerIndex' | 'peerCount' | 'tls' | 'dataDir'> &
  Partial<Omit<AgentConfig, 'deadlines' | 'database'>> & {
    readonly deadlines?: Partial<AgentDeadlines>;
    /** The construct derives the quota from the volume size; without one, etcd's own default. */
    readonly database?: Partial<DatabaseSettings>;
  };

/**
 * Why `path` cannot be a mount point or data dir, or undefined when it can: absolute, not `/`, and written the
 * way the mount table writes it (no trailing slash, `//`, `.` or `..`), so a check of "is it mounted there"
 * compares like with like. Otherwise a blank volume would be formatted and then found "mounted elsewhere".
 */
export function mountPathProblem(path: string): string | undefined {
  if (!path.startsWith('/') || path === '/') return `must be an absolute path other than /, such as /var/lib/etcd, got "${path}"`;
  if (!/^(\/[A-Za-z0-9._@+-]+)+$/.test(path) || path.split('/').some((part) => part === '.' || part === '..')) {
    return `must be written as the mount table writes it (letters, digits, . _ @ + - between single slashes, no trailing slash, no . or .. parts), such as /var/lib/etcd, got "${path}"`;
  }
  return undefined;
}

/**
 * The one factory of agent configs: the construct (AWS mode) and the local
 * cluster (local mode) both call it, so both get the same defaults and the
 * same cluster token.
 */
export function buildAgentConfig(input: AgentConfigInput): AgentConfig {
  return {
    ...AGENT_CONFIG_DEFAULTS,
    clusterToken: clusterToken(input.clusterName),
    ...input,
    database: {
      quotaBackendBytes: input.database?.quotaBackendBytes ?? ETCD_DEFAULT_QUOTA_BYTES,
      compaction: input.database?.compaction ?? DATABASE_DEFAULTS.compaction,
      defragment: { ...DATABASE_DEFAULTS.defragment, ...input.database?.defragment },
    },
    deadlines: { ...DEFAULT_DEADLINES, ...input.deadlines },
  };
}

function parseBackup(raw: unknown, source: string): AgentConfig['backup'] {
  if (raw === undefined) return undefined;
  const b = raw as { bucket?: unknown; dir?: unknown };
  if ((typeof b.bucket !== 'string' || !b.bucket) && (typeof b.dir !== 'string' || !b.dir)) {
    throw new Error(`${source}: "backup" needs "bucket" (S3) or "dir" (local)`);
  }
  return { bucket: typeof b.bucket === 'string' ? b.bucket : undefined, dir: typeof b.dir === 'string' ? b.dir : undefined };
}

/** Parses and validates a config document; the error names the field and the fix. */
export function parseAgentConfig(raw: unknown, source = 'config'): AgentConfig {
  if (typeof raw !== 'object' || raw === null) throw new Error(`${source}: expected a JSON object`);
  const c = raw as Record<string, unknown>;
  const str = (key: string): string => {
    const v = c[key];
    if (typeof v !== 'string' || v.length === 0) throw new Error(`${source}: "${key}" must be a non-empty string`);
    return v;
  };
  const int = (key: string, min: number): number => {
    const v = c[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new Error(`${source}: "${key}" must be an integer >= ${min}`);
    return v;
  };
  const mode = str('mode');
  if (mode !== 'aws' && mode !== 'local') throw new Error(`${source}: "mode" must be "aws" or "local", got "${mode}"`);
  const fsType = (c.fsType ?? AGENT_CONFIG_DEFAULTS.fsType) as string;
  if (fsType !== 'ext4' && fsType !== 'xfs') throw new Error(`${source}: "fsType" must be "ext4" or "xfs", got "${fsType}"`);
  const peerCount = int('peerCount', 1);
  const peerIndex = int('peerIndex', 0);
  if (peerIndex >= peerCount) throw new Error(`${source}: "peerIndex" ${peerIndex} is outside the cluster of ${peerCount} peers`);
  const dataDir = str('dataDir');
  const dataDirProblem = mountPathProblem(dataDir);
  if (dataDirProblem) throw new Error(`${source}: "dataDir" ${dataDirProblem}`);
  const deadlines = { ...DEFAULT_DEADLINES, ...((c.deadlines as object | undefined) ?? {}) } as AgentDeadlines;
  for (const [key, value] of Object.entries(deadlines)) {
    if (typeof value !== 'number' || !(value > 0)) throw new Error(`${source}: "deadlines.${key}" must be a positive number of seconds`);
  }
  let local: AgentConfig['local'];
  if (mode === 'local') {
    const l = c.local as Record<string, unknown> | undefined;
    if (!l || typeof l.volumeFile !== 'string' || typeof l.ipAddress !== 'string') {
      throw new Error(`${source}: local mode needs "local": { "volumeFile": PATH, "ipAddress": IP }`);
    }
    const dnsServers = Array.isArray(l.dnsServers) ? l.dnsServers.map(String) : undefined;
    local = {
      volumeFile: l.volumeFile,
      ipAddress: l.ipAddress,
      instanceId: typeof l.instanceId === 'string' ? l.instanceId : undefined,
      dnsServers,
      netns: typeof l.netns === 'string' ? l.netns : undefined,
    };
  }
  const tls = c.tls === true;
  const caRaw = c.ca as { secretId?: unknown; dir?: unknown } | undefined;
  const ca = caRaw ? { secretId: typeof caRaw.secretId === 'string' ? caRaw.secretId : undefined, dir: typeof caRaw.dir === 'string' ? caRaw.dir : undefined } : undefined;
  if (tls && !(mode === 'aws' ? ca?.secretId : ca?.dir)) {
    throw new Error(`${source}: TLS needs the cluster CA's location: "ca": { ${mode === 'aws' ? '"secretId": SECRET_ARN' : '"dir": PATH'} }`);
  }
  const certLifetimeHours = (c.certLifetimeHours as number | undefined) ?? AGENT_CONFIG_DEFAULTS.certLifetimeHours;
  if (typeof certLifetimeHours !== 'number' || !(certLifetimeHours >= 2)) throw new Error(`${source}: "certLifetimeHours" must be at least 2`);
  return {
    mode,
    region: typeof c.region === 'string' && c.region ? c.region : undefined,
    clusterName: str('clusterName'),
    domain: normalizeDomain(str('domain')),
    peerIndex,
    peerCount,
    tls,
    ca,
    certLifetimeHours,
    backup: parseBackup(c.backup, source),
    dataDir,
    fsType,
    etcdUser: (c.etcdUser as string | undefined) ?? AGENT_CONFIG_DEFAULTS.etcdUser,
    etcdConfigFile: (c.etcdConfigFile as string | undefined) ?? AGENT_CONFIG_DEFAULTS.etcdConfigFile,
    pkiDir: (c.pkiDir as string | undefined) ?? AGENT_CONFIG_DEFAULTS.pkiDir,
    clusterToken: str('clusterToken'),
    database: parseDatabaseSettings(c.database, source),
    deadlines,
    local,
  };
}
