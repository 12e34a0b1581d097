/**
 * Benchmark of the blank check the agent runs before formatting a device with
 * no signature (node-agent/volume-identity.ts `blankReadPlan`, system.ts
 * `readForZeros`): per device size, a new sparse file on a loop device, read
 * along the plan, as the agent reads a new volume. Prints figures; not a test.
 * Needs root (loop devices); take /tmp/etcd-root-tests.lock while it runs.
 *   npm run bench:blank -- [--sizes 1G,20G] [--rounds 3|3,1 (one per size)] [--json FILE]
 */
import { execFileSync } from 'child_process';
import { promises as fs } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { parseArgs } from 'util';
import { readForZeros } from '../node-agent/system';
import { blankReadPlan } from '../node-agent/volume-identity';
import { MiB, parseRounds, parseSize, sizeLabel } from './bench-restore-figures';

/** One size's figures: the best round and every round. */
export interface BlankCheckRow {
  readonly size: string;
  readonly readMiB: number;
  readonly seconds: number;
  readonly MiBPerSecond: number;
  readonly roundsSeconds: number[];
}

/** The README's table. */
export function renderBlankCheckTable(rows: readonly BlankCheckRow[]): string {
  return [
    '| device | read MiB | best s | MiB/s | rounds s |',
    '|---|---:|---:|---:|---|',
    ...rows.map((r) => `| ${r.size} | ${r.readMiB} | ${r.seconds.toFixed(2)} | ${Math.round(r.MiBPerSecond)} | ${r.roundsSeconds.map((s) => s.toFixed(2)).join(', ')} |`),
  ].join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { sizes: { type: 'string' }, rounds: { type: 'string' }, json: { type: 'string' } }, strict: true });
  const sizes = (values.sizes ?? '1G,20G').split(',').map(parseSize);
  const rounds = parseRounds(values.rounds ?? '3', sizes.length);
  if (process.getuid?.() !== 0) throw new Error('bench:blank needs root (loop devices)');
  const dir = await fs.mkdtemp(join(tmpdir(), 'bench-blank-'));
  const rows: BlankCheckRow[] = [];
  try {
    for (const [i, size] of sizes.entries()) {
      const file = join(dir, 'volume.img');
      execFileSync('truncate', ['-s', String(size), file]);
      const loop = execFileSync('losetup', ['--find', '--show', file], { encoding: 'utf8' }).trim();
      try {
        const plan = blankReadPlan(size);
        const roundsSeconds: number[] = [];
        let readBytes = 0;
        for (let r = 0; r < rounds[i]; r++) {
          const started = process.hrtime.bigint();
          const read = await readForZeros(loop, size, plan);
          roundsSeconds.push(Number(process.hrtime.bigint() - started) / 1e9);
          if (read.firstNonZeroOffset !== undefined || read.bytesRead !== read.plannedBytes) throw new Error(`a new sparse file did not read as blank: ${JSON.stringify(read)}`);
          readBytes = read.bytesRead;
        }
        const seconds = Math.min(...roundsSeconds);
        const label = sizeLabel(size);
        rows.push({ size: label, readMiB: readBytes / MiB, seconds, MiBPerSecond: readBytes / MiB / seconds, roundsSeconds });
        process.stderr.write(`${label}: ${roundsSeconds.map((s) => s.toFixed(2)).join(', ')} s\n`);
      } finally {
        execFileSync('losetup', ['-d', loop]);
        await fs.rm(file, { force: true });
      }
    }
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
  process.stdout.write(renderBlankCheckTable(rows) + '\n');
  if (values.json) await fs.writeFile(values.json, JSON.stringify({ at: new Date().toISOString(), rows }, null, 2) + '\n');
}

if (require.main === module) {
  main().catch((error) => {
    process.stderr.write(`bench:blank: ${(error as Error).message}\n`);
    process.exit(1);
  });
}
