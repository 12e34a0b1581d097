/**
 * The `database` props of an etcd cluster: the backend quota (derived from the
 * volume size unless given), who compacts the history, and when the peers'
 * maintenance timer defragments. Validated here, against the volume size.
 */
import { Token } from 'cdktf';
import {
  CompactionPolicy,
  DATABASE_DEFAULTS,
  DatabaseSettings,
  databaseSettingsProblem,
  defaultQuotaFor,
  ETCD_SUGGESTED_MAX_QUOTA_BYTES,
  FILESYSTEM_OVERHEAD_SHARE,
  formatBytes,
  largestQuotaFor,
  VOLUME_RESERVED_BYTES,
} from '../contract/database';

const GiB = 1024 ** 3;

/** etcd's database: quota, compaction, defragmentation. */
export interface DatabaseOptions {
  /**
   * etcd's `quota-backend-bytes`: past it etcd raises NOSPACE and refuses writes until the database is
   * compacted, defragmented and the alarm disarmed (the maintenance timer does that by itself, see the README).
   * It must fit the volume twice (a defragmentation, a snapshot from the leader and a restore each write a
   * whole copy beside the database), after the WAL (512 MiB) and the filesystem's 7 %.
   * @default - the largest that fits `volume.sizeGiB`, capped at etcd's suggested 8 GiB (8 GiB on the default 20 GiB volume; 220 MiB on 1 GiB)
   */
  readonly quotaBackendBytes?: number;
  /**
   * Who compacts the key history. `{ mode: 'kube-apiserver' }` when the API server is the only client: it
   * compacts every 5 minutes itself, and etcd's auto-compaction stays off. For any other client pick etcd's own:
   * `{ mode: 'periodic', retention: '1h' }` keeps that much history (a client's watches may lag that long), or
   * `{ mode: 'revision', retention: 10000 }` keeps that many revisions (history bounded by writes, not time).
   * Under `periodic` and `revision`, a NOSPACE recovery also compacts to the current revision.
   * @default { mode: 'kube-apiserver' }
   */
  readonly compaction?: CompactionPolicy;
  /**
   * When a member is defragmented by the maintenance timer: its database must have at least `minFreeableBytes`
   * (default 64 MiB) and at least `minFreeableShare` of its size (default 0.25) freeable (database size minus
   * size in use); at 80 % of the quota, `minFreeableBytes` alone suffices. One member of the cluster at a time.
   * @default { minFreeableBytes: 67108864, minFreeableShare: 0.25 }
   */
  readonly defragment?: { readonly minFreeableBytes?: number; readonly minFreeableShare?: number };
  /**
   * Minutes between maintenance runs on every peer (defragmentation, NOSPACE recovery). A NOSPACE alarm is
   * acted on at the next run.
   * @default 1
   */
  readonly maintenanceEveryMinutes?: number;
}

/** The resolved database props: what the agents get, and the timer's period. */
export interface ResolvedDatabase {
  readonly settings: DatabaseSettings;
  readonly maintenanceEveryMinutes: number;
}

/** The smallest whole GiB volume that holds `quota`. */
function volumeGiBFor(quota: number): number {
  return Math.ceil((2 * quota + VOLUME_RESERVED_BYTES) / (1 - FILESYSTEM_OVERHEAD_SHARE) / GiB);
}

/** Applies defaults and checks the props against the volume; errors name the props and the fix. */
export function resolveDatabaseOptions(options: DatabaseOptions = {}, volumeSizeGiB: number): ResolvedDatabase {
  const volumeBytes = volumeSizeGiB * GiB;
  const quota = options.quotaBackendBytes ?? defaultQuotaFor(volumeBytes);
  const settings: DatabaseSettings = {
    quotaBackendBytes: quota,
    compaction: options.compaction ?? DATABASE_DEFAULTS.compaction,
    defragment: { ...DATABASE_DEFAULTS.defragment, ...options.defragment },
  };
  const unresolved = Token.isUnresolved(quota) || Token.isUnresolved((settings.compaction as { retention?: unknown }).retention);
  if (!unresolved) {
    const problem = databaseSettingsProblem(settings, 'database.');
    if (problem) throw new Error(problem);
    const largest = largestQuotaFor(volumeBytes);
    if (quota > largest) {
      throw new Error(
        `database.quotaBackendBytes ${quota} (${formatBytes(quota)}) does not fit volume.sizeGiB ${volumeSizeGiB}: the volume must hold the database ` +
          `twice (a defragmentation, a snapshot from the leader and a restore each write a whole copy beside it), the WAL (512 MiB) and the ` +
          `filesystem's 7 %, so at most ${largest} (${formatBytes(largest)}) fits ${volumeSizeGiB} GiB. ` +
          `Raise volume.sizeGiB to at least ${volumeGiBFor(quota)} or lower database.quotaBackendBytes` +
          (quota > ETCD_SUGGESTED_MAX_QUOTA_BYTES ? ` (etcd suggests at most ${formatBytes(ETCD_SUGGESTED_MAX_QUOTA_BYTES)})` : ''),
      );
    }
  }
  const every = options.maintenanceEveryMinutes ?? 1;
  if (!Number.isInteger(every) || every < 1 || every > 60) {
    throw new Error(`database.maintenanceEveryMinutes must be a whole number of minutes from 1 to 60 (NOSPACE is acted on at the next run), got ${every}`);
  }
  return { settings, maintenanceEveryMinutes: every };
}
