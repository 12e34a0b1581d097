/**
 * Snapshots: every peer's timer runs `node-agent snapshot`; only the leader
 * takes one, so nine peers do not upload nine copies. The snapshot is
 * verified (`etcdctl snapshot status`) before it is uploaded with its
 * revision, member count and checksum as object metadata.
 */
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { createHash } from 'crypto';
import { createReadStream, promises as fs } from 'fs';
import { dirname, join } from 'path';
import { clientUrl, peerName } from '../constructs/naming';
import type { Logger } from '../runtime/log';
import { AWS_RETRY, withRetry } from '../runtime/retry';
import type { AgentConfig } from './config';
import { runEtcdctl } from './etcdctl';

/** Where snapshots go: S3 on AWS, a directory locally. */
export interface BackupStore {
  upload(key: string, file: string, metadata: Record<string, string>): Promise<void>;
}

/** What the agent asks etcd about its own member. */
export interface SnapshotPort {
  /** Whether this member is the leader right now. */
  isLeader(): Promise<boolean>;
  /** Saves a snapshot to `file`. */
  save(file: string): Promise<void>;
  /** Verifies a snapshot file and reads its figures. */
  status(file: string): Promise<{ hash: number; revision: number; totalKey: number; totalSize: number }>;
  memberCount(): Promise<number>;
}

/** The object keys of one snapshot: every run under `frequent/`, and the day's latest under `daily/`. */
export function snapshotKeys(now: Date, revision: number): { frequent: string; daily: string } {
  const stamp = now.toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/:/g, '-');
  return { frequent: `snapshots/frequent/${stamp}-rev${revision}.db`, daily: `snapshots/daily/${now.toISOString().slice(0, 10)}.db` };
}

/** The result of one snapshot run. */
export type SnapshotOutcome =
  | { readonly taken: false; readonly reason: string }
  | { readonly taken: true; readonly keys: string[]; readonly revision: number; readonly members: number; readonly sha256: string; readonly bytes: number };

/** Takes, verifies and uploads a snapshot if this member is the leader. */
export async function takeSnapshot(
  config: AgentConfig,
  deps: { etcd: SnapshotPort; store: BackupStore; log: Logger; now?: () => Date; workDir?: string },
): Promise<SnapshotOutcome> {
  if (!(await deps.etcd.isLeader())) {
    deps.log.info('snapshot skipped', { peer: peerName(config.peerIndex), reason: 'not the leader' });
    return { taken: false, reason: 'not the leader' };
  }
  const workDir = deps.workDir ?? '/var/tmp';
  await fs.mkdir(workDir, { recursive: true });
  const file = join(workDir, `etcd-snapshot-${process.pid}.db`);
  try {
    await deps.etcd.save(file);
    const status = await deps.etcd.status(file);
    const members = await deps.etcd.memberCount();
    const content = await fs.readFile(file);
    const sha256 = createHash('sha256').update(content).digest('hex');
    const keys = snapshotKeys((deps.now ?? (() => new Date()))(), status.revision);
    const metadata = {
      revision: String(status.revision),
      members: String(members),
      sha256,
      'etcd-hash': String(status.hash),
      'total-keys': String(status.totalKey),
      'taken-by': peerName(config.peerIndex),
    };
    for (const key of [keys.frequent, keys.daily]) await deps.store.upload(key, file, metadata);
    const outcome: SnapshotOutcome = { taken: true, keys: [keys.frequent, keys.daily], revision: status.revision, members, sha256, bytes: content.length };
    deps.log.info('snapshot uploaded', { peer: peerName(config.peerIndex), ...outcome });
    return outcome;
  } finally {
    await fs.rm(file, { force: true });
  }
}

/** {@link SnapshotPort} through etcdctl against this peer's own client URL. */
export class EtcdctlSnapshots implements SnapshotPort {
  constructor(
    private readonly config: AgentConfig,
    private readonly prefix: string[] = [],
    private readonly endpoint = clientUrl(config.domain, config.peerIndex, config.tls),
  ) {}

  private async etcdctl(args: string[]): Promise<string> {
    const r = await runEtcdctl(this.config, this.prefix, { endpoint: this.endpoint }, args, { dial: '3s' });
    if (r.code !== 0) throw new Error(`etcdctl ${args.join(' ')} failed: ${(r.stderr || r.stdout).trim().split('\n').pop()}`);
    return r.stdout;
  }

  async isLeader(): Promise<boolean> {
    // -w simple: endpoint, id, version, db size, is leader, is learner, raft term, raft index, applied index, errors
    const fields = (await this.etcdctl(['endpoint', 'status', '-w', 'simple'])).trim().split(', ');
    return fields[4] === 'true';
  }

  async save(file: string): Promise<void> {
    await this.etcdctl(['snapshot', 'save', file]);
  }

  async status(file: string) {
    const s = JSON.parse(await this.etcdctl(['snapshot', 'status', file, '-w', 'json']));
    return { hash: Number(s.hash), revision: Number(s.revision), totalKey: Number(s.totalKey), totalSize: Number(s.totalSize) };
  }

  async memberCount(): Promise<number> {
    return (await this.etcdctl(['member', 'list', '-w', 'simple'])).trim().split('\n').filter(Boolean).length;
  }
}

/** Snapshots in an S3 bucket (server-side encryption is the bucket's default: the cluster key). */
export class S3BackupStore implements BackupStore {
  constructor(
    private readonly bucket: string,
    private readonly client = new S3Client({ maxAttempts: 1 }),
  ) {}

  async upload(key: string, file: string, metadata: Record<string, string>): Promise<void> {
    const bytes = (await fs.stat(file)).size;
    await withRetry(
      () => this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: createReadStream(file), ContentLength: bytes, Metadata: metadata })),
      AWS_RETRY,
    );
  }
}

/** Snapshots in a directory (local mode): the file, and its metadata beside it as JSON. */
export class DirectoryBackupStore implements BackupStore {
  constructor(private readonly dir: string) {}

  async upload(key: string, file: string, metadata: Record<string, string>): Promise<void> {
    const target = join(this.dir, key);
    await fs.mkdir(dirname(target), { recursive: true });
    await fs.copyFile(file, `${target}.tmp`);
    await fs.rename(`${target}.tmp`, target);
    await fs.writeFile(`${target}.json`, JSON.stringify(metadata, null, 2));
  }
}
