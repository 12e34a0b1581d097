/**
 * The roller's settings and the one mapping to and from its Lambda's
 * environment: the construct writes it with {@link rollerSettingsToEnv}, the
 * function reads it with {@link rollerSettingsFromEnv}.
 */

/** What the roller needs to know about its cluster. */
export interface RollerSettings {
  readonly clusterName: string;
  readonly peerCount: number;
  /** The backup bucket: the peers' statuses (`peers/status/`) and the snapshots. */
  readonly backupBucket: string;
  /** The etcd version the launch templates install, e.g. `3.5.33`. */
  readonly targetVersion: string;
  /** A replaced peer must be healthy within this many seconds of its launch, or the roller stops. */
  readonly replaceDeadlineSeconds: number;
}

/** The environment variable that carries each setting. */
export const ROLLER_ENV: { readonly [K in keyof RollerSettings]: string } = {
  clusterName: 'CLUSTER_NAME',
  peerCount: 'PEER_COUNT',
  backupBucket: 'BACKUP_BUCKET',
  targetVersion: 'TARGET_ETCD_VERSION',
  replaceDeadlineSeconds: 'REPLACE_DEADLINE_SECONDS',
};

/** The Lambda's environment variables for `settings` (values may be Terraform tokens). */
export function rollerSettingsToEnv(settings: RollerSettings): Record<string, string> {
  return Object.fromEntries(Object.entries(ROLLER_ENV).map(([key, name]) => [name, String(settings[key as keyof RollerSettings])]));
}

/** Reads settings from the environment; the error names the variable and what sets it. */
export function rollerSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): RollerSettings {
  const need = (name: string): string => {
    const value = env[name];
    if (!value) throw new Error(`environment variable ${name} is not set; the EtcdRoller construct sets it`);
    return value;
  };
  const positive = (name: string): number => {
    const n = Number(need(name));
    if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, got ${env[name]}`);
    return n;
  };
  const targetVersion = need(ROLLER_ENV.targetVersion);
  if (!/^\d+\.\d+\.\d+$/.test(targetVersion)) throw new Error(`${ROLLER_ENV.targetVersion} must look like 3.5.33, got ${targetVersion}`);
  return {
    clusterName: need(ROLLER_ENV.clusterName),
    peerCount: positive(ROLLER_ENV.peerCount),
    backupBucket: need(ROLLER_ENV.backupBucket),
    targetVersion,
    replaceDeadlineSeconds: positive(ROLLER_ENV.replaceDeadlineSeconds),
  };
}
