/**
 * Benchmark of restoring a snapshot: the node agent's real path
 * (`restoreSnapshot` with a `DirectoryBackupStore`: copy, sha256 check,
 * `etcdctl`/`etcdutl snapshot restore`, `member` renamed into place) against a
 * bare `snapshot restore` of the same file, per database size. The databases
 * are made with real etcd writes on loopback and `etcdctl snapshot save`.
 * Prints figures; not a test. Needs no root and no simulation lock, but is
 * heavy on disk and CPU: run it once.
 *   npm run bench:restore -- [--sizes 100M,1G[,4G]] [--rounds 2] [--json FILE] [--dir DIR] [--source-dir DIR]
 */
import { ChildProcess, spawn } from 'child_process';
import { randomBytes } from 'crypto';
import { existsSync, promises as fs, statfsSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { parseArgs } from 'util';
import { buildAgentConfig } from '../contract/agent-config';
import { DirectoryBackupStore, snapshotKeys } from '../node-agent/backup';
import { CliSnapshotRestorer, fullInitialCluster, restoreSnapshot } from '../node-agent/restore';
import { run, sha256OfFile } from '../node-agent/system';
import { done, notYet, pollUntil } from '../runtime/retry';
import { jsonLogger } from '../runtime/log';
import { peerName, peerUrl } from '../contract/naming';

const MiB = 1024 * 1024;
/** Unusual ports, so a benchmark never meets the tests' (2379x) or the local cluster's etcds. */
const CLIENT = 'http://127.0.0.1:29379';
const PEER = 'http://127.0.0.1:29380';
/** One value per put: large values fill the database fast, well under etcd's 1.5 MiB request limit. */
const VALUE_BYTES = 1 * MiB - 4096;
const WRITERS = 4;

/** `100M`, `1G`, `1.5G` → bytes; anything else is a clear error naming the flag. */
export function parseSize(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([MG])i?B?$/i.exec(text.trim());
  if (!m) throw new Error(`--sizes: "${text}" is not a size; write e.g. 100M, 1G or 4G`);
  return Math.round(Number(m[1]) * (m[2].toUpperCase() === 'G' ? 1024 : 1) * MiB);
}

function label(bytes: number): string {
  return bytes >= 1024 * MiB ? `${+(bytes / 1024 / MiB).toFixed(1)} GiB` : `${Math.round(bytes / MiB)} MiB`;
}

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
        const response = await fetch(`${CLIENT}/v3/kv/put`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
        if (!response.ok) throw new Error(`put ${i} failed: ${response.status} ${await response.text()}`);
        await response.arrayBuffer();
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

/** One row of the result. */
export interface RestoreRow {
  readonly size: string;
  readonly snapshotBytes: number;
  readonly bareSeconds: number;
  readonly agentSeconds: number;
  readonly ratio: number;
  readonly bareMiBPerSecond: number;
  readonly agentMiBPerSecond: number;
  /** The agent's extra steps timed alone on the same file: the store's copy and the sha256 pass. */
  readonly copySeconds: number;
  readonly sha256Seconds: number;
  /** The snapshot's upload into the directory store (a file copy), as `takeSnapshot` does it. */
  readonly uploadSeconds: number;
  /** Every round, in order: on a shared machine the spread says how far to trust the best. */
  readonly bareRoundsSeconds: number[];
  readonly agentRoundsSeconds: number[];
}

async function main() {
  const { values } = parseArgs({
    options: {
      sizes: { type: 'string', default: '100M,1G' },
      rounds: { type: 'string', default: '2' },
      json: { type: 'string' },
      dir: { type: 'string' },
      'source-dir': { type: 'string' },
    },
  });
  const sizes = values.sizes!.split(',').map(parseSize);
  const rounds = Number(values.rounds);
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds: "${values.rounds}" must be a whole number >= 1`);
  const dir = values.dir ?? (await fs.mkdtemp(join(tmpdir(), 'bench-restore-')));
  await fs.mkdir(dir, { recursive: true });
  // Room: the source etcd (WAL + db, about 2×), the snapshot, its copy in the store, and two restores at a time.
  const need = Math.max(...sizes) * 6;
  if (freeBytes(dir) < need) throw new Error(`--dir ${dir}: ${label(freeBytes(dir))} free, the largest size needs about ${label(need)}; choose smaller --sizes or another --dir`);
  // The source etcd only makes the snapshot: in memory when it fits, so filling it spares the disk being measured.
  const sourceDir = values['source-dir'] ?? (existsSync('/dev/shm') && freeBytes('/dev/shm') > Math.max(...sizes) * 3 ? '/dev/shm' : dir);
  const version = (await run('etcd', ['--version'])).stdout.split('\n')[0];
  console.log(`restore benchmark in ${dir}, ${version}, ${rounds} round(s) per size, best of them reported`);

  const config = (dataDir: string) => buildAgentConfig({ mode: 'aws', clusterName: 'bench', domain: 'bench.test', peerIndex: 0, peerCount: 9, tls: false, dataDir });
  const log = jsonLogger({}, () => undefined);
  const rows: RestoreRow[] = [];
  try {
    for (const bytes of sizes) {
      const file = join(dir, 'snapshot.db');
      await makeSnapshot(bytes, sourceDir, file);
      const snapshotBytes = (await fs.stat(file)).size;
      const store = new DirectoryBackupStore(join(dir, 'store'));
      const key = snapshotKeys(new Date(), 1).frequent;
      const [sha256, sha256Seconds] = await timed(() => sha256OfFile(file));
      const [, uploadSeconds] = await timed(() => store.upload(key, file, { sha256, revision: '1' }));
      const [, copySeconds] = await timed(() => fs.copyFile(file, join(dir, 'copy.db')));
      await fs.rm(join(dir, 'copy.db'));
      const bare: number[] = [];
      const agent: number[] = [];
      for (let round = 0; round < rounds; round++) {
        const bareDir = join(dir, 'bare');
        const c = config(bareDir);
        const [, b] = await timed(async () => {
          const r = await run('etcdctl', ['snapshot', 'restore', file, '--data-dir', bareDir, '--name', peerName(0), '--initial-cluster', fullInitialCluster(c), '--initial-cluster-token', c.clusterToken, '--initial-advertise-peer-urls', peerUrl(c.domain, 0, false)], 3_600_000);
          if (r.code !== 0) throw new Error(`bare restore failed: ${r.stderr.trim()}`);
        });
        await fs.rm(bareDir, { recursive: true, force: true });
        const agentDir = join(dir, 'agent');
        await fs.mkdir(agentDir);
        const ac = config(agentDir);
        const [, a] = await timed(() => restoreSnapshot(ac, { key, at: Date.now() }, { store, restorer: new CliSnapshotRestorer(ac), log }));
        await fs.rm(agentDir, { recursive: true, force: true });
        bare.push(b);
        agent.push(a);
        console.log(`  ${label(bytes)} round ${round + 1}: bare ${b.toFixed(2)} s, agent ${a.toFixed(2)} s`);
      }
      const bareSeconds = Math.min(...bare);
      const agentSeconds = Math.min(...agent);
      const mib = snapshotBytes / MiB;
      rows.push({
        size: label(bytes),
        snapshotBytes,
        bareSeconds,
        agentSeconds,
        ratio: agentSeconds / bareSeconds,
        bareMiBPerSecond: mib / bareSeconds,
        agentMiBPerSecond: mib / agentSeconds,
        copySeconds,
        sha256Seconds,
        uploadSeconds,
        bareRoundsSeconds: bare,
        agentRoundsSeconds: agent,
      });
      await fs.rm(join(dir, 'store'), { recursive: true, force: true });
      await fs.rm(file, { force: true });
    }
  } finally {
    if (!values.dir) await fs.rm(dir, { recursive: true, force: true });
  }
  console.log(`\n${renderRestoreTable(rows)}\n\n${version}, ${new Date().toISOString().slice(0, 10)}`);
  if (values.json) await fs.writeFile(values.json, JSON.stringify({ etcdVersion: version, date: new Date().toISOString(), rows }, null, 2) + '\n');
}

/** A Markdown table of the rows. */
export function renderRestoreTable(rows: RestoreRow[]): string {
  const header = ['size', 'snapshot MiB', 'bare s', 'agent s', 'agent/bare', 'bare MiB/s', 'agent MiB/s', 'copy s', 'sha256 s', 'upload s', 'rounds bare / agent s'];
  const body = rows.map((r) => [
    r.size,
    (r.snapshotBytes / MiB).toFixed(0),
    r.bareSeconds.toFixed(2),
    r.agentSeconds.toFixed(2),
    `${r.ratio.toFixed(2)}×`,
    r.bareMiBPerSecond.toFixed(0),
    r.agentMiBPerSecond.toFixed(0),
    r.copySeconds.toFixed(2),
    r.sha256Seconds.toFixed(2),
    r.uploadSeconds.toFixed(2),
    `${r.bareRoundsSeconds.map((t) => t.toFixed(1)).join(', ')} / ${r.agentRoundsSeconds.map((t) => t.toFixed(1)).join(', ')}`,
  ]);
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), `|${header.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`, ...body.map(line)].join('\n');
}

if (require.main === module) {
  main().catch((error) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
