/**
 * The DNS updater's settings and the one mapping to and from the Lambda's
 * environment: the construct writes it with {@link updaterSettingsToEnv}, the
 * function reads it with {@link updaterSettingsFromEnv}.
 */

/** What the DNS updater needs to know about its cluster. */
export interface UpdaterSettings {
  readonly clusterName: string;
  readonly domain: string;
  readonly peerCount: number;
  readonly hostedZoneId: string;
  /** TTL of the `peer-N` A records, in seconds. */
  readonly recordTtl: number;
}

/** The environment variable that carries each setting. */
export const UPDATER_ENV: { readonly [K in keyof UpdaterSettings]: string } = {
  clusterName: 'CLUSTER_NAME',
  domain: 'DOMAIN',
  peerCount: 'PEER_COUNT',
  hostedZoneId: 'HOSTED_ZONE_ID',
  recordTtl: 'RECORD_TTL',
};

/** TTL used when the environment does not name one. */
export const DEFAULT_RECORD_TTL = 10;

/** The Lambda's environment variables for `settings` (values may be Terraform tokens). */
export function updaterSettingsToEnv(settings: UpdaterSettings): Record<string, string> {
  return {
    [UPDATER_ENV.clusterName]: settings.clusterName,
    [UPDATER_ENV.domain]: settings.domain,
    [UPDATER_ENV.peerCount]: String(settings.peerCount),
    [UPDATER_ENV.hostedZoneId]: settings.hostedZoneId,
    [UPDATER_ENV.recordTtl]: String(settings.recordTtl),
  };
}

/** Reads settings from the environment; the error names the variable and what sets it. */
export function updaterSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): UpdaterSettings {
  const need = (name: string): string => {
    const value = env[name];
    if (!value) throw new Error(`environment variable ${name} is not set; the EtcdDnsUpdater construct sets it`);
    return value;
  };
  const peerCount = Number(need(UPDATER_ENV.peerCount));
  const recordTtl = Number(env[UPDATER_ENV.recordTtl] ?? String(DEFAULT_RECORD_TTL));
  if (!Number.isInteger(peerCount) || peerCount < 1) {
    throw new Error(`${UPDATER_ENV.peerCount} must be a positive integer, got ${env[UPDATER_ENV.peerCount]}`);
  }
  if (!Number.isInteger(recordTtl) || recordTtl < 1) {
    throw new Error(`${UPDATER_ENV.recordTtl} must be a positive integer, got ${env[UPDATER_ENV.recordTtl]}`);
  }
  return {
    clusterName: need(UPDATER_ENV.clusterName),
    domain: need(UPDATER_ENV.domain),
    peerCount,
    hostedZoneId: need(UPDATER_ENV.hostedZoneId),
    recordTtl,
  };
}
