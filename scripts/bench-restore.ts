/**
 * Benchmark of restoring a snapshot: the node agent's real path
 * (`restoreSnapshot` with a `DirectoryBackupStore`: copy, sha256 check,
 * `etcdctl`/`etcdutl snapshot restore`, `member` renamed into place) against a
 * bare `snapshot restore` of the same file (etcdutl where the version has it,
 * as the agent), per database size. The databases are made with real etcd
 * writes on loopback and `etcdctl snapshot save`. Also the snapshot's upload
 * through the agent's real `S3BackupStore` (lib-storage multipart, parts of
 * SNAPSHOT_PART_BYTES) against a local S3-compatible endpoint in this process
 * (scripts/local-s3.ts): the client's path, not S3's network.
 * Prints figures; not a test. Needs no root and no simulation lock, but is
 * heavy on disk and CPU: run it once, under `nice`.
 *   npm run bench:restore -- [--sizes 100M,1G[,4G]] [--rounds 2|2,2,1] [--etcd 3.5|3.4] [--json FILE] [--dir DIR] [--source-dir DIR]
 */
import { S3Client } from '@aws-sdk/client-s3';
import { ChildProcess, spawn } from 'child_process';
import { createHash, randomBytes } from 'crypto';
import { existsSync, promises as fs, readFileSync, statfsSync } from 'fs';
import { cpus, loadavg, tmpdir } from 'os';
import { join } from 'path';
import { pipeline } from 'stream/promises';
import { parseArgs } from 'util';
import { buildAgentConfig } from '../contract/agent-config';
import { DirectoryBackupStore, S3BackupStore, snapshotKeys, SNAPSHOT_PART_BYTES } from '../node-agent/backup';
import { findEtcdutl } from '../node-agent/etcdctl';
import { etcdBinaries, parseEtcdMinor, pathWithEtcd } from '../runtime/etcd-binaries';
import { expectedParts, MiB, parseRounds, parseSize, RestoreRow, renderRestoreTable, sizeLabel as label, targetHolds } from './bench-restore-figures';
import { LocalS3 } from './local-s3';
import { CliSnapshotRestorer, fullInitialCluster, restoreSnapshot } from '../node-agent/restore';
import { run, sha256OfFile } from '../node-agent/system';
import { done, notYet, pollUntil, SDK_CLIENT_CONFIG, withRetry } from '../runtime/retry';
import { jsonLogger } from '../runtime/log';
import { peerName, peerUrl } from '../contract/naming';

/** Unusual ports, so a benchmark never meets the tests' (2379x) or the local cluster's etcds. */
const CLIENT = 'http://127.0.0.1:29379';
const PEER = 'http://127.0.0.1:29380';
/** One value per put: large values fill the database fast, well under etcd's 1.5 MiB request limit. */
const VALUE_BYTES = 1 * MiB - 4096;
const WRITERS = 4;

export { parseSize, renderRestoreTable };
export type { RestoreRow };

function freeBytes(dir: string): number {
  const stats = statfsSync(dir);
  return stats.bavail * stats.bsize;
}

async function timed<T>(f: () => Promise<T>): Promise<[T, number]> {
  const started = process.hrtime.bigint();
  const value = await f();
  return [value, Number(process.hrtime.bigint() - started) / 1e9];
}

async function etcdctl(args: string[], timeoutMs = 600_000): Promise<string> {
  const r = await run('etcdctl', ['--endpoints', CLIENT, '--dial-timeout', '2s', ...args], timeoutMs);
  if (r.code !== 0) throw new Error(`etcdctl ${args.join(' ')} failed: ${(r.stderr || r.stdout).trim()}`);
  return r.stdout;
}

/** A single-member etcd on loopback filled with `bytes` of values by real puts, saved as a snapshot into `file`. */
async function makeSnapshot(bytes: number, sourceDir: string, file: string): Promise<void> {
  const data = join(sourceDir, 'bench-restore-source-etcd');
  await fs.rm(data, { recursive: true, force: true });
  const etcd: ChildProcess = spawn(
    'etcd',
    // A quota above the largest size (etcd's default is 2 GiB), and no WAL-snapshot churn while filling.
    ['--name', 'bench', '--data-dir', data, '--listen-client-urls', CLIENT, '--advertise-client-urls', CLIENT, '--listen-peer-urls', PEER, '--initial-advertise-peer-urls', PEER, '--initial-cluster', `bench=${PEER}`, '--quota-backend-bytes', String(8 * 1024 * MiB)],
    { stdio: 'ignore' },
  );
  try {
    await pollUntil(
      async () => {
        if (etcd.exitCode !== null) throw new Error(`etcd exited with ${etcd.exitCode} (is port 29379 or 29380 taken?)`);
        const r = await run('etcdctl', ['--endpoints', CLIENT, '--dial-timeout', '1s', 'endpoint', 'health']);
        return r.code === 0 ? done(undefined) : notYet('no answer');
      },
      { timeoutMs: 30_000, delayMs: 200 },
    );
    const puts = Math.ceil(bytes / VALUE_BYTES);
    let next = 0;
    let written = 0;
    let reported = 0;
    const started = Date.now();
    // Through etcd's JSON gateway: no process per put, several writers in flight.
    const writer = async () => {
      for (let i = next++; i < puts; i = next++) {
        const body = JSON.stringify({ key: Buffer.from(`/bench/${String(i).padStart(8, '0')}`).toString('base64'), value: randomBytes(VALUE_BYTES).toString('base64') });
        // A put of the same key and value is safe to repeat: a starved etcd's "request timed out" (503) is tried again.
        await withRetry(
          async () => {
            const response = await fetch(`${CLIENT}/v3/kv/put`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
            if (!response.ok) throw Object.assign(new Error(`put ${i} failed: ${response.status} ${await response.text()}`), { $metadata: { httpStatusCode: response.status } });
            await response.arrayBuffer();
          },
          { attempts: 6, baseDelayMs: 500, maxDelayMs: 5000, onRetry: (error) => console.log(`  ${(error as Error).message}; trying again`) },
        );
        written += VALUE_BYTES;
        if (written - reported >= bytes / 10 || written >= bytes) {
          reported = written;
          console.log(`  building ${label(bytes)}: ${Math.round(written / MiB)} of ${Math.round((puts * VALUE_BYTES) / MiB)} MiB written (${(written / MiB / ((Date.now() - started) / 1000)).toFixed(0)} MiB/s)`);
        }
      }
    };
    await Promise.all(Array.from({ length: WRITERS }, writer));
    console.log(`  saving the snapshot of ${label(bytes)}`);
    await etcdctl(['snapshot', 'save', file]);
  } finally {
    etcd.kill('SIGKILL');
    await new Promise((resolve) => (etcd.exitCode !== null ? resolve(undefined) : etcd.once('exit', resolve)));
    await fs.rm(data, { recursive: true, force: true });
  }
}

/** What the SDK sent with the first data request: how the payload was signed and which checksum rode along. */
function clientRequestShape(headers: Record<string, string | string[] | undefined> | undefined) {
  const sha = String(headers?.['x-amz-content-sha256'] ?? '');
  return {
    payloadSigning: /^[0-9a-f]{64}$/.test(sha) ? 'sha256 of each request body (SigV4)' : sha || 'none',
    checksumAlgorithm: String(headers?.['x-amz-sdk-checksum-algorithm'] ?? 'none'),
    contentEncoding: String(headers?.['content-encoding'] ?? 'none'),
    userAgent: String(headers?.['x-amz-user-agent'] ?? ''),
  };
}

function machine() {
  const model = cpus()[0]?.model ?? 'unknown';
  const memGiB = Number(/MemTotal:\s+(\d+)/.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1] ?? 0) / 1024 / 1024;
  return { cores: cpus().length, cpu: model, memoryGiB: Math.round(memGiB) };
}

const load = () => loadavg().map((l) => +l.toFixed(1));

/** `sync`: dirty pages of earlier steps (and of the machine's other work) written back before the next timed step. */
async function settle(): Promise<void> {
  await run('sync', [], 600_000);
}

async function sha256OfStream(stream: NodeJS.ReadableStream): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(stream, hash);
  return hash.digest('hex');
}

async function main() {
  const { values } = parseArgs({
    options: {
      sizes: { type: 'string', default: '100M,1G' },
      rounds: { type: 'string', default: '2' },
      etcd: { type: 'string', default: '3.5' },
      json: { type: 'string' },
      dir: { type: 'string' },
      'source-dir': { type: 'string' },
    },
  });
  const sizes = values.sizes!.split(',').map(parseSize);
  const rounds = parseRounds(values.rounds!, sizes.length);
  // Every etcd, etcdctl and etcdutl of the run, the agent's included, from the version asked for.
  const binaries = etcdBinaries(parseEtcdMinor(values.etcd!));
  process.env.PATH = pathWithEtcd(binaries);
  const etcdutl = await findEtcdutl();
  const restoreTool = etcdutl ?? 'etcdctl';
  const dir = values.dir ?? (await fs.mkdtemp(join(tmpdir(), 'bench-restore-')));
  await fs.mkdir(dir, { recursive: true });
  // Room: the source etcd (WAL + db, about 2×), the snapshot, its copy in the store, the uploaded parts, and two restores at a time.
  const need = Math.max(...sizes) * 7;
  if (freeBytes(dir) < need) throw new Error(`--dir ${dir}: ${label(freeBytes(dir))} free, the largest size needs about ${label(need)}; choose smaller --sizes or another --dir`);
  // The source etcd only makes the snapshot: in memory when it fits, so filling it spares the disk being measured.
  const sourceDir = values['source-dir'] ?? (existsSync('/dev/shm') && freeBytes('/dev/shm') > Math.max(...sizes) * 3 ? '/dev/shm' : dir);
  const version = (await run('etcd', ['--version'])).stdout.split('\n')[0];
  const started = { at: new Date().toISOString(), loadAverage: load() };
  console.log(`restore benchmark in ${dir}, ${version} from ${binaries.dir} (restores with ${restoreTool}), rounds per size ${rounds.join(', ')}, best of them reported; load average ${started.loadAverage.join(' ')}`);

  const s3 = new LocalS3(join(dir, 's3'));
  await s3.start();
  const bucket = 'bench-restore';
  const client = new S3Client({ endpoint: s3.url, forcePathStyle: true, region: 'us-east-1', credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' }, ...SDK_CLIENT_CONFIG });
  const s3Store = new S3BackupStore(bucket, client);
  console.log(`upload: the agent's S3BackupStore (lib-storage, ${SNAPSHOT_PART_BYTES / MiB} MiB parts, 4 in flight) to a local S3-compatible endpoint at ${s3.url} in this process, writing to ${join(dir, 's3')}: the client's path, not S3's network`);

  const config = (dataDir: string) => buildAgentConfig({ mode: 'aws', clusterName: 'bench', domain: 'bench.test', peerIndex: 0, peerCount: 9, tls: false, dataDir });
  const log = jsonLogger({}, () => undefined);
  const rows: RestoreRow[] = [];
  const m = machine();
  // Written after every size (complete: false until the last), so a long run that fails late keeps what it measured.
  const writeReport = async (complete: boolean) => {
    if (!values.json) return;
    const ended = { at: new Date().toISOString(), loadAverage: load() };
    const report = {
      complete,
      etcdVersion: version,
      restoreTool,
      date: ended.at,
      started,
      ended,
      machine: m,
      targetWithin1_3xAt1GiBAndAbove: targetHolds(rows),
      upload: {
        what: "the agent's S3BackupStore.upload (@aws-sdk/lib-storage) against a local S3-compatible endpoint in the benchmark's own process (scripts/local-s3.ts), writing each part to a file on the same disk: it measures the client path over loopback, not S3's network",
        partBytes: SNAPSHOT_PART_BYTES,
        queueSize: 4,
        client: clientRequestShape(s3.stats.firstDataHeaders),
      },
      rows,
    };
    await fs.writeFile(values.json, JSON.stringify(report, null, 2) + '\n');
  };
  try {
    for (const [index, bytes] of sizes.entries()) {
      const file = join(dir, 'snapshot.db');
      await makeSnapshot(bytes, sourceDir, file);
      const snapshotBytes = (await fs.stat(file)).size;
      const store = new DirectoryBackupStore(join(dir, 'store'));
      const key = snapshotKeys(new Date(), 1).frequent;
      const [sha256, sha256Seconds] = await timed(() => sha256OfFile(file));
      const [, directoryUploadSeconds] = await timed(() => store.upload(key, file, { sha256, revision: '1' }));
      const [, copySeconds] = await timed(() => fs.copyFile(file, join(dir, 'copy.db')));
      await fs.rm(join(dir, 'copy.db'));
      const bare: number[] = [];
      const agent: number[] = [];
      const upload: number[] = [];
      let uploadParts = 0;
      for (let round = 0; round < rounds[index]; round++) {
        const bareDir = join(dir, 'bare');
        const c = config(bareDir);
        // Each timed step starts with nothing of the previous one's still being written back.
        await settle();
        const [, b] = await timed(async () => {
          const r = await run(restoreTool, ['snapshot', 'restore', file, '--data-dir', bareDir, '--name', peerName(0), '--initial-cluster', fullInitialCluster(c), '--initial-cluster-token', c.clusterToken, '--initial-advertise-peer-urls', peerUrl(c.domain, 0, false)], 3_600_000);
          if (r.code !== 0) throw new Error(`bare restore failed: ${r.stderr.trim()}`);
        });
        await fs.rm(bareDir, { recursive: true, force: true });
        const agentDir = join(dir, 'agent');
        await fs.mkdir(agentDir);
        const ac = config(agentDir);
        await settle();
        const [, a] = await timed(() => restoreSnapshot(ac, { key, at: Date.now() }, { store, restorer: new CliSnapshotRestorer(ac), log }));
        await fs.rm(agentDir, { recursive: true, force: true });
        await settle();
        const [, u] = await timed(() => s3Store.upload(key, file, { sha256, revision: '1' }));
        uploadParts = s3.stats.partsByKey.get(`${bucket}/${key}`) ?? (s3.stats.putObjects > 0 ? 1 : 0);
        s3.stats.partsByKey.clear();
        if (uploadParts !== expectedParts(snapshotBytes, SNAPSHOT_PART_BYTES)) throw new Error(`upload of ${label(bytes)}: the endpoint saw ${uploadParts} parts, lib-storage should send ${expectedParts(snapshotBytes, SNAPSHOT_PART_BYTES)}`);
        // The object arrived whole: its sha256 is the snapshot's (not timed).
        if (round === 0 && (await sha256OfStream(s3.objectStream(bucket, key))) !== sha256) throw new Error(`upload of ${label(bytes)}: the object's sha256 differs from the snapshot's`);
        await s3.remove(bucket, key);
        bare.push(b);
        agent.push(a);
        upload.push(u);
        console.log(`  ${label(bytes)} round ${round + 1}: bare ${b.toFixed(2)} s, agent ${a.toFixed(2)} s, upload ${u.toFixed(2)} s in ${uploadParts} part(s); load ${load().join(' ')}`);
      }
      const bareSeconds = Math.min(...bare);
      const agentSeconds = Math.min(...agent);
      const uploadSeconds = Math.min(...upload);
      const mib = snapshotBytes / MiB;
      rows.push({
        size: label(bytes),
        snapshotBytes,
        rounds: rounds[index],
        bareSeconds,
        agentSeconds,
        ratio: agentSeconds / bareSeconds,
        bareMiBPerSecond: mib / bareSeconds,
        agentMiBPerSecond: mib / agentSeconds,
        copySeconds,
        sha256Seconds,
        directoryUploadSeconds,
        uploadSeconds,
        uploadMiBPerSecond: mib / uploadSeconds,
        uploadParts,
        partBytes: SNAPSHOT_PART_BYTES,
        bareRoundsSeconds: bare,
        agentRoundsSeconds: agent,
        uploadRoundsSeconds: upload,
      });
      await fs.rm(join(dir, 'store'), { recursive: true, force: true });
      await fs.rm(file, { force: true });
      await writeReport(false);
    }
  } finally {
    await s3.stop();
    if (!values.dir) await fs.rm(dir, { recursive: true, force: true });
  }
  const ended = { at: new Date().toISOString(), loadAverage: load() };
  const holds = targetHolds(rows);
  console.log(`\n${renderRestoreTable(rows)}\n`);
  console.log(`${version}, restores with ${restoreTool}; ${m.cores} cores (${m.cpu}), load average ${started.loadAverage.join(' ')} at the start, ${ended.loadAverage.join(' ')} at the end; ${started.at} to ${ended.at}`);
  console.log(`agent within 1.3× of bare at 1 GiB and above: ${holds === undefined ? 'no size that large measured' : holds ? 'yes' : 'no'}`);
  console.log('upload: lib-storage multipart to a local endpoint on loopback (the client\'s reading, hashing and sending), not S3\'s network');
  await writeReport(true);
}

if (require.main === module) {
  main().catch((error) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
