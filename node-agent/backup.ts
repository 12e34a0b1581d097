/**
 * Snapshots: every peer's timer runs `node-agent snapshot`; only the leader
 * takes one, so nine peers do not upload nine copies. The snapshot is
 * verified (`etcdutl snapshot status`; `etcdctl` on etcd 3.4) before it is uploaded with its
 * revision, member count and checksum as object metadata. The two stores
 * (S3, a local directory) also keep the peers' volume reports a restore reads.
 */
import { AbortMultipartUploadCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { createReadStream, createWriteStream, promises as fs } from 'fs';
import { dirname, join } from 'path';
import type { Readable } from 'stream';
import { pipeline } from 'stream/promises';
import { BACKUP_KEYS, clientUrl, peerIndexOfReportKey, peerName, peerReportKey } from '../contract/naming';
import type { Logger } from '../runtime/log';
import { AWS_RETRY, SDK_CLIENT_CONFIG, withRetry } from '../runtime/retry';
import type { AgentConfig } from '../contract/agent-config';
import { classifyDataDir } from './decisions';
import { runChecked, sha256OfFile } from './system';
import { findEtcdutl, runEtcdctl } from './etcdctl';
import { parseEtcdJson } from './metrics-collect';
import type { BackupStore, SnapshotPort } from './ports';
import type { PeerReport, PeerReportBody, SnapshotRef } from './recovery';

/** Reads a report body; anything else is no report (a peer that said nothing readable may hold data). */
export function parsePeerReportBody(text: string): PeerReportBody | undefined {
  try {
    const body = JSON.parse(text) as { state?: unknown; restoredFrom?: unknown };
    if (body.state !== 'fresh' && body.state !== 'member') return undefined;
    return { state: body.state, ...(typeof body.restoredFrom === 'string' ? { restoredFrom: body.restoredFrom } : {}) };
  } catch {
    return undefined;
  }
}

/** The object keys of one snapshot: every run under `frequent/`, and the day's latest under `daily/`. */
export function snapshotKeys(now: Date, revision: number): { frequent: string; daily: string } {
  const stamp = now.toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/:/g, '-');
  return { frequent: `${BACKUP_KEYS.frequent}${stamp}-rev${revision}.db`, daily: `${BACKUP_KEYS.daily}${now.toISOString().slice(0, 10)}.db` };
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
    const sha256 = await sha256OfFile(file);
    const bytes = (await fs.stat(file)).size;
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
    const outcome: SnapshotOutcome = { taken: true, keys: [keys.frequent, keys.daily], revision: status.revision, members, sha256, bytes };
    deps.log.info('snapshot uploaded', { peer: peerName(config.peerIndex), ...outcome });
    return outcome;
  } finally {
    await fs.rm(file, { force: true });
  }
}

/**
 * Re-reports `member` for a data dir that holds one (the snapshot timer runs
 * this on every peer), so a report of an empty volume from before the last
 * snapshot never stands for a peer that has data now.
 */
export async function refreshPeerReport(config: AgentConfig, store: BackupStore, log: Logger): Promise<boolean> {
  const top = await fs.readdir(config.dataDir).catch(() => [] as string[]);
  const member = top.includes('member') ? await fs.readdir(join(config.dataDir, 'member')).catch(() => undefined) : undefined;
  if (classifyDataDir(top, member) !== 'member') {
    log.warn('peer report not refreshed: the data dir holds no member', { dataDir: config.dataDir });
    return false;
  }
  const restoredFrom = (await store.readPeerReports()).find((r) => r.peer === config.peerIndex)?.restoredFrom;
  await store.putPeerReport(config.peerIndex, { state: 'member', ...(restoredFrom ? { restoredFrom } : {}) });
  return true;
}

/**
 * Whether the member that answered `etcdctl endpoint status -w json` is the
 * leader: its `header.member_id` equals `leader`. Compared as digit strings
 * ({@link parseEtcdJson}), since the 64-bit ids lose precision as JavaScript numbers; the
 * JSON keeps its fields across versions, where the simple output's columns
 * move (3.6 adds columns before "is leader").
 */
export function isLeaderInEndpointStatus(json: string): boolean {
  let status: { header?: { member_id?: string }; leader?: string } | undefined;
  try {
    status = (parseEtcdJson(json) as { Status?: typeof status }[])[0]?.Status;
  } catch {
    status = undefined;
  }
  const member = status?.header?.member_id;
  const leader = status?.leader;
  if (!member || !leader) throw new Error(`etcdctl endpoint status printed no member_id and leader: ${json.trim().slice(0, 200)}`);
  return member === leader;
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
    return isLeaderInEndpointStatus(await this.etcdctl(['endpoint', 'status', '-w', 'json']));
  }

  async save(file: string): Promise<void> {
    await this.etcdctl(['snapshot', 'save', file]);
  }

  async status(file: string) {
    // Offline: etcdutl where it exists (3.5 deprecates `etcdctl snapshot status`, 3.6 removes it), etcdctl on 3.4.
    const etcdutl = await findEtcdutl();
    const args = ['snapshot', 'status', file, '-w', 'json'];
    const s = JSON.parse(etcdutl ? await runChecked(etcdutl, args) : await this.etcdctl(args));
    return { hash: Number(s.hash), revision: Number(s.revision), totalKey: Number(s.totalKey), totalSize: Number(s.totalSize) };
  }

  async memberCount(): Promise<number> {
    return (await this.etcdctl(['member', 'list', '-w', 'simple'])).trim().split('\n').filter(Boolean).length;
  }
}

/**
 * Part size of snapshot uploads: S3 takes at most 10,000 parts, so 16 MiB parts
 * carry up to 156 GiB, far past etcd's 8 GiB quota ceiling; one PutObject stops at 5 GB.
 */
export const SNAPSHOT_PART_BYTES = 16 * 1024 * 1024;

/** Snapshots in an S3 bucket (server-side encryption is the bucket's default: the cluster key). */
export class S3BackupStore implements BackupStore {
  constructor(
    private readonly bucket: string,
    private readonly client = new S3Client(SDK_CLIENT_CONFIG),
    private readonly partBytes = SNAPSHOT_PART_BYTES,
  ) {}

  /**
   * A multipart upload (one PutObject below one part); the metadata goes on the
   * object either way. A failed attempt aborts its parts and starts again with a
   * fresh stream, so a retry never uploads half a file. The abort is ours, not
   * lib-storage's: its own abort rethrows an abort failure in place of the
   * part's error, so a refused abort would turn a retryable 503 into a final 403.
   */
  async upload(key: string, file: string, metadata: Record<string, string>): Promise<void> {
    await withRetry(async () => {
      const upload = new Upload({
        client: this.client,
        params: { Bucket: this.bucket, Key: key, Body: createReadStream(file), Metadata: metadata },
        partSize: this.partBytes,
        queueSize: 4,
        leavePartsOnError: true,
      });
      try {
        await upload.done();
      } catch (error) {
        if (upload.uploadId) {
          // Best effort: the bucket's lifecycle rule removes what an abort leaves after a day.
          await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: upload.uploadId })).catch(() => undefined);
        }
        throw error;
      }
    }, AWS_RETRY);
  }

  async listSnapshots(): Promise<SnapshotRef[]> {
    return (await this.list(BACKUP_KEYS.snapshots)).filter((o) => o.key.endsWith('.db'));
  }

  async download(key: string, file: string): Promise<Record<string, string>> {
    return withRetry(async () => {
      const object = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      // A fresh write stream per attempt: a retry never appends to a half-written file.
      await pipeline(object.Body as Readable, createWriteStream(file));
      return object.Metadata ?? {};
    }, AWS_RETRY);
  }

  async putPeerReport(peerIndex: number, body: PeerReportBody): Promise<void> {
    await withRetry(
      () => this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: peerReportKey(peerIndex), Body: JSON.stringify(body), ContentType: 'application/json' })),
      AWS_RETRY,
    );
  }

  async readPeerReports(): Promise<PeerReport[]> {
    const reports: PeerReport[] = [];
    for (const { key } of await this.list(BACKUP_KEYS.peerReports)) {
      const peer = peerIndexOfReportKey(key);
      if (peer === undefined) continue;
      const object = await withRetry(() => this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key })), AWS_RETRY);
      const body = parsePeerReportBody(object.Body ? await readText(object.Body as Readable) : '');
      // The time of the version read, not of the listing: a report rewritten in between is judged by its own time.
      if (body && object.LastModified) reports.push({ peer, ...body, at: object.LastModified.getTime() });
    }
    return reports;
  }

  private async list(prefix: string): Promise<SnapshotRef[]> {
    const found: SnapshotRef[] = [];
    let token: string | undefined;
    do {
      const page = await withRetry(() => this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token })), AWS_RETRY);
      for (const o of page.Contents ?? []) if (o.Key && o.LastModified) found.push({ key: o.Key, at: o.LastModified.getTime() });
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return found;
  }
}

async function readText(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks).toString('utf8');
}

/** Snapshots in a directory (local mode): the file, and its metadata beside it as JSON; times are modification times. */
export class DirectoryBackupStore implements BackupStore {
  constructor(private readonly dir: string) {}

  async upload(key: string, file: string, metadata: Record<string, string>): Promise<void> {
    const target = join(this.dir, key);
    await fs.mkdir(dirname(target), { recursive: true });
    // Metadata first: a snapshot is listed only once its file is renamed into place, and then its metadata exists.
    await fs.writeFile(`${target}.json`, JSON.stringify(metadata, null, 2));
    await fs.copyFile(file, `${target}.tmp`);
    await fs.rename(`${target}.tmp`, target);
  }

  async listSnapshots(): Promise<SnapshotRef[]> {
    const found: SnapshotRef[] = [];
    for (const tier of [BACKUP_KEYS.frequent, BACKUP_KEYS.daily]) {
      const names = await fs.readdir(join(this.dir, tier)).catch(() => [] as string[]);
      for (const name of names.filter((n) => n.endsWith('.db'))) found.push({ key: tier + name, at: (await fs.stat(join(this.dir, tier, name))).mtimeMs });
    }
    return found;
  }

  async download(key: string, file: string): Promise<Record<string, string>> {
    await fs.copyFile(join(this.dir, key), file);
    return JSON.parse(await fs.readFile(join(this.dir, `${key}.json`), 'utf8'));
  }

  async putPeerReport(peerIndex: number, body: PeerReportBody): Promise<void> {
    const target = join(this.dir, peerReportKey(peerIndex));
    await fs.mkdir(dirname(target), { recursive: true });
    await fs.writeFile(`${target}.tmp`, JSON.stringify(body));
    await fs.rename(`${target}.tmp`, target);
  }

  async readPeerReports(): Promise<PeerReport[]> {
    const dir = join(this.dir, BACKUP_KEYS.peerReports);
    const reports: PeerReport[] = [];
    for (const name of await fs.readdir(dir).catch(() => [] as string[])) {
      const peer = peerIndexOfReportKey(BACKUP_KEYS.peerReports + name);
      if (peer === undefined) continue;
      const [text, stat] = await Promise.all([fs.readFile(join(dir, name), 'utf8').catch(() => ''), fs.stat(join(dir, name)).catch(() => undefined)]);
      const body = parsePeerReportBody(text);
      if (body && stat) reports.push({ peer, ...body, at: stat.mtimeMs });
    }
    return reports;
  }
}
