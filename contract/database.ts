/**
 * etcd's database on a peer's volume: how large it may grow (the backend
 * quota, past which etcd raises NOSPACE and refuses writes), who compacts its
 * history, and when a member is worth defragmenting. Synth time derives the
 * quota from the volume size and validates a given one; the agent writes the
 * quota and the compaction policy into etcd's config and its maintenance
 * timer reads the thresholds. The local cluster builds the same settings.
 */

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/**
 * Who compacts the key history:
 * - `kube-apiserver`: the API server compacts every 5 minutes, to the revision of 5 minutes before (its
 *   `--etcd-compaction-interval`); etcd's own auto-compaction stays off, and the agent never compacts,
 *   since compacting ahead of the API server would send its watch caches into relists.
 * - `periodic`: etcd keeps `retention` of history (a Go duration such as `1h` or `30m`) and compacts the rest.
 * - `revision`: etcd keeps the last `retention` revisions (checked every 5 minutes) and compacts the rest.
 */
export type CompactionPolicy =
  | { readonly mode: 'kube-apiserver' }
  | { readonly mode: 'periodic'; readonly retention: string }
  | { readonly mode: 'revision'; readonly retention: number };

/** When a member's database is worth defragmenting: both must hold (freeable = database size minus size in use). */
export interface DefragThresholds {
  /** At least this many bytes freeable. */
  readonly minFreeableBytes: number;
  /** At least this share of the database (0..1) freeable. */
  readonly minFreeableShare: number;
}

/** The database settings every peer of a cluster shares. */
export interface DatabaseSettings {
  /** etcd's `quota-backend-bytes`: past it, etcd raises NOSPACE and refuses writes. */
  readonly quotaBackendBytes: number;
  readonly compaction: CompactionPolicy;
  readonly defragment: DefragThresholds;
}

/** etcd's own suggested ceiling for the quota; larger databases make defragmentation, snapshots and restores slow. */
export const ETCD_SUGGESTED_MAX_QUOTA_BYTES = 8 * GiB;
/** etcd's default quota, which a config without one gets (as etcd would). */
export const ETCD_DEFAULT_QUOTA_BYTES = 2 * GiB;
/** The smallest quota accepted: anything less is almost surely a unit mistake. */
export const MIN_QUOTA_BYTES = 16 * MiB;
/** What the volume holds besides the database and its copy: the WAL (5 files of 64 MiB kept, one more preallocated) and raft snapshots. */
export const VOLUME_RESERVED_BYTES = 512 * MiB;
/** What the filesystem keeps for itself: ext4 reserves 5 % for root (etcd does not run as root), and its metadata. */
export const FILESYSTEM_OVERHEAD_SHARE = 0.07;
/**
 * At or above this share of the quota, a database is defragmented as soon as
 * `minFreeableBytes` can be won, whatever its share (it is close to NOSPACE);
 * the same 80 % as the DbQuotaUsedPercent alarm. After a NOSPACE recovery, a
 * database still at or above {@link NOSPACE_DISARM_BELOW_SHARE} of the quota
 * keeps the alarm: disarming it would only let it be raised again at once.
 */
export const NEAR_QUOTA_SHARE = 0.8;
export const NOSPACE_DISARM_BELOW_SHARE = 0.9;

/** Defaults of the database settings; the quota's default depends on the volume ({@link defaultQuotaFor}). */
export const DATABASE_DEFAULTS = {
  compaction: { mode: 'kube-apiserver' } as CompactionPolicy,
  defragment: { minFreeableBytes: 64 * MiB, minFreeableShare: 0.25 } as DefragThresholds,
} as const;

/**
 * The largest quota a volume of `volumeBytes` holds: the database at its quota
 * plus one whole copy of it (a defragmentation writes the new file beside the
 * old one; a follower that fell behind receives the leader's database beside
 * its own; a restore unpacks beside the downloaded snapshot), after the
 * filesystem's share and the WAL. Whole MiB; 0 when nothing fits.
 */
export function largestQuotaFor(volumeBytes: number): number {
  const usable = volumeBytes * (1 - FILESYSTEM_OVERHEAD_SHARE) - VOLUME_RESERVED_BYTES;
  return Math.max(0, Math.floor(usable / 2 / MiB) * MiB);
}

/** The quota a volume gets by default: the largest it holds, capped at etcd's suggested 8 GiB. */
export function defaultQuotaFor(volumeBytes: number): number {
  return Math.min(ETCD_SUGGESTED_MAX_QUOTA_BYTES, largestQuotaFor(volumeBytes));
}

/** Bytes in a human's unit, for messages: `8 GiB`, `220 MiB`. */
export function formatBytes(bytes: number): string {
  if (bytes >= GiB && bytes % GiB === 0) return `${bytes / GiB} GiB`;
  if (bytes >= GiB) return `${(bytes / GiB).toFixed(2)} GiB`;
  return `${Math.round(bytes / MiB)} MiB`;
}

/** A Go duration etcd's periodic compaction accepts, such as `1h`, `30m` or `1h30m`, greater than zero. */
export function isRetentionDuration(text: string): boolean {
  return /^(\d+h)?(\d+m)?(\d+s)?$/.test(text) && text !== '' && /[1-9]/.test(text);
}

/**
 * Why `settings` is not a valid set (field names as `prefix` + the field), or
 * `undefined`. Shared by the agent's config parser and the construct's checks.
 */
export function databaseSettingsProblem(settings: DatabaseSettings, prefix = 'database.'): string | undefined {
  const q = settings.quotaBackendBytes;
  if (!Number.isInteger(q) || q < MIN_QUOTA_BYTES) {
    return `${prefix}quotaBackendBytes must be a whole number of bytes of at least ${MIN_QUOTA_BYTES} (16 MiB), got ${q}; e.g. 4 GiB is ${4 * GiB}`;
  }
  const c = settings.compaction as { mode?: unknown; retention?: unknown };
  if (c?.mode === 'periodic') {
    if (typeof c.retention !== 'string' || !isRetentionDuration(c.retention)) {
      return `${prefix}compaction.retention must be a duration such as '1h' or '30m' for mode 'periodic', got ${JSON.stringify(c.retention)}`;
    }
  } else if (c?.mode === 'revision') {
    if (typeof c.retention !== 'number' || !Number.isInteger(c.retention) || c.retention < 1) {
      return `${prefix}compaction.retention must be a whole number of revisions of at least 1 for mode 'revision', got ${JSON.stringify(c.retention)}`;
    }
  } else if (c?.mode !== 'kube-apiserver') {
    return `${prefix}compaction.mode must be 'kube-apiserver', 'periodic' or 'revision', got ${JSON.stringify(c?.mode)}`;
  }
  const d = settings.defragment;
  if (!Number.isInteger(d?.minFreeableBytes) || d.minFreeableBytes < 0) {
    return `${prefix}defragment.minFreeableBytes must be a whole number of bytes, 0 or more, got ${d?.minFreeableBytes}`;
  }
  if (typeof d.minFreeableShare !== 'number' || !(d.minFreeableShare >= 0 && d.minFreeableShare < 1)) {
    return `${prefix}defragment.minFreeableShare must be a share from 0 up to (not including) 1, got ${d.minFreeableShare}`;
  }
  return undefined;
}

/** Reads the `database` section of an agent config: missing fields get their defaults (the quota etcd's own). */
export function parseDatabaseSettings(raw: unknown, source: string): DatabaseSettings {
  const r = (raw ?? {}) as Partial<Record<keyof DatabaseSettings, unknown>>;
  if (typeof r !== 'object') throw new Error(`${source}: "database" must be an object`);
  const settings: DatabaseSettings = {
    quotaBackendBytes: (r.quotaBackendBytes as number | undefined) ?? ETCD_DEFAULT_QUOTA_BYTES,
    compaction: (r.compaction as CompactionPolicy | undefined) ?? DATABASE_DEFAULTS.compaction,
    defragment: { ...DATABASE_DEFAULTS.defragment, ...((r.defragment as object | undefined) ?? {}) },
  };
  const problem = databaseSettingsProblem(settings, '"database.');
  if (problem) throw new Error(`${source}: ${problem.replace(/^("database\.[A-Za-z.]+)/, '$1"')}`);
  return settings;
}
