import { Construct } from 'constructs';
import { S3Bucket } from '@cdktf/provider-aws/lib/s3-bucket';
import { S3BucketLifecycleConfiguration } from '@cdktf/provider-aws/lib/s3-bucket-lifecycle-configuration';
import { BACKUP_KEYS } from '../contract/naming';
import { PrivateBucket } from './private-bucket';

/** Options of the cluster's snapshots. */
export interface BackupOptions {
  /**
   * Take snapshots at all.
   * @default true
   */
  readonly enabled?: boolean;
  /**
   * Minutes between snapshots (taken by the leader only).
   * @default 15
   */
  readonly intervalMinutes?: number;
  /**
   * Days every snapshot (`snapshots/frequent/`) is kept.
   * @default 1
   */
  readonly frequentRetentionDays?: number;
  /**
   * Days the last snapshot of each day (`snapshots/daily/`) is kept.
   * @default 30
   */
  readonly dailyRetentionDays?: number;
}

/** Props of {@link EtcdBackups}. */
export interface EtcdBackupsProps extends BackupOptions {
  /** Name of the cluster, in the bucket's name and tags. */
  readonly clusterName: string;
  /** KMS key encrypting the snapshots. */
  readonly kmsKeyArn: string;
}

/**
 * Where snapshots go: a private, encrypted, versioned bucket whose lifecycle
 * keeps every snapshot for a day and the last one of each day for a month.
 */
export class EtcdBackups extends Construct {
  /** The snapshot bucket. */
  public readonly bucket: S3Bucket;
  /** The bucket with its access block, encryption, versioning and TLS-only policy. */
  public readonly store: PrivateBucket;
  /** Minutes between snapshots. */
  public readonly intervalMinutes: number;

  constructor(scope: Construct, id: string, props: EtcdBackupsProps) {
    super(scope, id);
    const interval = props.intervalMinutes ?? 15;
    const frequent = props.frequentRetentionDays ?? 1;
    const daily = props.dailyRetentionDays ?? 30;
    if (!Number.isInteger(interval) || interval < 5 || interval > 1440) {
      throw new Error(`backup.intervalMinutes must be a whole number of minutes from 5 to 1440, got ${interval}`);
    }
    for (const [name, days] of [
      ['backup.frequentRetentionDays', frequent],
      ['backup.dailyRetentionDays', daily],
    ] as const) {
      if (!Number.isInteger(days) || days < 1 || days > 3650) throw new Error(`${name} must be a whole number of days from 1 to 3650, got ${days}`);
    }
    this.intervalMinutes = interval;
    this.store = new PrivateBucket(this, 'store', { clusterName: props.clusterName, purpose: 'backups', kmsKeyArn: props.kmsKeyArn });
    this.bucket = this.store.bucket;
    new S3BucketLifecycleConfiguration(this, 'retention', {
      bucket: this.bucket.id,
      rule: [
        {
          id: 'frequent-snapshots',
          status: 'Enabled',
          filter: [{ prefix: BACKUP_KEYS.frequent }],
          expiration: [{ days: frequent }],
          noncurrentVersionExpiration: [{ noncurrentDays: 1 }],
        },
        {
          id: 'daily-snapshots',
          status: 'Enabled',
          filter: [{ prefix: BACKUP_KEYS.daily }],
          expiration: [{ days: daily }],
          // Each run overwrites the day's object; the day's earlier versions go after two days.
          noncurrentVersionExpiration: [{ noncurrentDays: 2 }],
        },
        { id: 'abort-incomplete-uploads', status: 'Enabled', filter: [{ prefix: '' }], abortIncompleteMultipartUpload: [{ daysAfterInitiation: 1 }] },
      ],
    });
  }
}
