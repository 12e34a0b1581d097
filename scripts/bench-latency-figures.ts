/**
 * The pure parts of `npm run bench:latency`: its arguments, percentiles, the
 * rows made from every round's samples, the table with ratios to the 3-peer
 * cell of the same round-trip time, and the picture. No I/O here; the
 * benchmark itself is scripts/bench-latency.ts.
 */
import { parseArgs } from 'util';
import { EtcdMinor, parseEtcdMinor } from '../runtime/etcd-binaries';

export type Target = 'leader' | 'follower';
export const TARGETS: readonly Target[] = ['leader', 'follower'];

/** What a run measures, from its command line. */
export interface LatencyArgs {
  /** Every cell is measured once per round; rows pool the rounds. */
  readonly rounds: number;
  readonly peers: number[];
  /** Round-trip times added between zones, ms. */
  readonly rttsMs: number[];
  /** Sequential writes of the single client, per cell and round. */
  readonly writes: number;
  /** Length of the throughput window, per cell and round. */
  readonly seconds: number;
  /** Concurrent clients of the throughput measurement. */
  readonly clients: number;
  readonly etcd: EtcdMinor;
  readonly json?: string;
  readonly svg?: string;
  /** Where the members' data directories go (default /dev/shm: no disk in the figures). */
  readonly dataDir?: string;
}

export const USAGE =
  'npm run bench:latency -- [--rounds 3] [--peers 3,5,9] [--rtt 0,1,2] [--writes 300] [--seconds 3] [--clients 16] [--etcd 3.5] [--json FILE] [--svg FILE] [--data-dir DIR]';

function numberList(flag: string, text: string, ok: (n: number) => boolean, what: string): number[] {
  const items = text.split(',').map((s) => s.trim());
  const values = items.map(Number);
  const bad = items.filter((s, i) => s === '' || !ok(values[i]));
  if (bad.length || values.length === 0) throw new Error(`${flag}: "${text}" must be a comma-separated list of ${what}, e.g. ${flag === '--peers' ? '3,5,9' : '0,1,2'}`);
  return values;
}

function wholeNumber(flag: string, text: string, min: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) throw new Error(`${flag}: "${text}" must be a whole number >= ${min}`);
  return n;
}

/** Reads the command line; a bad value is an error naming its flag and the form it takes. */
export function parseLatencyArgs(argv: string[]): LatencyArgs {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        rounds: { type: 'string', default: '3' },
        peers: { type: 'string', default: '3,5,9' },
        rtt: { type: 'string', default: '0,1,2' },
        writes: { type: 'string', default: '300' },
        seconds: { type: 'string', default: '3' },
        clients: { type: 'string', default: '16' },
        etcd: { type: 'string', default: '3.5' },
        json: { type: 'string' },
        svg: { type: 'string' },
        'data-dir': { type: 'string' },
      },
    }));
  } catch (error) {
    throw new Error(`${(error as Error).message}\nusage: ${USAGE}`);
  }
  const peers = numberList('--peers', values.peers!, (n) => Number.isInteger(n) && n >= 1 && n <= 9, 'peer counts from 1 to 9');
  const rttsMs = numberList('--rtt', values.rtt!, (n) => Number.isFinite(n) && n >= 0 && n <= 100, 'round-trip times in ms from 0 to 100');
  const seconds = Number(values.seconds);
  if (!Number.isFinite(seconds) || seconds <= 0) throw new Error(`--seconds: "${values.seconds}" must be a number of seconds > 0`);
  return {
    rounds: wholeNumber('--rounds', values.rounds!, 1),
    peers: [...new Set(peers)].sort((a, b) => a - b),
    rttsMs: [...new Set(rttsMs)].sort((a, b) => a - b),
    writes: wholeNumber('--writes', values.writes!, 10),
    seconds,
    clients: wholeNumber('--clients', values.clients!, 1),
    etcd: parseEtcdMinor(values.etcd!),
    ...(values.json ? { json: values.json } : {}),
    ...(values.svg ? { svg: values.svg } : values.json ? { svg: values.json.replace(/(\.json)?$/, '.svg') } : {}),
    ...(values['data-dir'] ? { dataDir: values['data-dir'] } : {}),
  };
}

/** Nearest-rank percentile (p in 0-100) of unsorted samples; NaN without samples. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

export const median = (samples: readonly number[]) => percentile(samples, 50);

/** What one cell measured in one round. */
export interface CellRound {
  readonly peers: number;
  readonly rttMs: number;
  readonly target: Target;
  /** Single-client write latencies, ms. */
  readonly latenciesMs: number[];
  readonly writesPerSecond: number;
  /** Failed writes (either measurement). */
  readonly errors: number;
  /** The leader was another member after the cell than before it. */
  readonly leaderChanged: boolean;
}

/** One row of the result: one cell, every round pooled. */
export interface LatencyRow {
  readonly peers: number;
  readonly rttMs: number;
  readonly target: Target;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Median over the rounds of the 16-client (`--clients`) throughput. */
  readonly writesPerSecond: number;
  /** Median TCP connect time between two zones while this RTT was set, over every round. */
  readonly measuredRttMs: number;
  readonly samples: number;
  readonly p50RoundsMs: number[];
  readonly writesPerSecondRounds: number[];
  readonly errors: number;
  readonly leaderChanges: number;
}

/** Rows in order peers, RTT, target, from every round of every cell and the connect times measured at each RTT. */
export function rowsOf(rounds: readonly CellRound[], connectMsByRtt: ReadonlyMap<number, number[]>): LatencyRow[] {
  const cells = new Map<string, CellRound[]>();
  for (const r of rounds) {
    const key = `${r.peers}/${r.rttMs}/${r.target}`;
    cells.set(key, [...(cells.get(key) ?? []), r]);
  }
  const rows = [...cells.values()].map((cell): LatencyRow => {
    const { peers, rttMs, target } = cell[0];
    const pooled = cell.flatMap((r) => r.latenciesMs);
    return {
      peers,
      rttMs,
      target,
      p50Ms: percentile(pooled, 50),
      p99Ms: percentile(pooled, 99),
      writesPerSecond: median(cell.map((r) => r.writesPerSecond)),
      measuredRttMs: median(connectMsByRtt.get(rttMs) ?? []),
      samples: pooled.length,
      p50RoundsMs: cell.map((r) => percentile(r.latenciesMs, 50)),
      writesPerSecondRounds: cell.map((r) => r.writesPerSecond),
      errors: cell.reduce((n, r) => n + r.errors, 0),
      leaderChanges: cell.filter((r) => r.leaderChanged).length,
    };
  });
  return rows.sort((a, b) => a.peers - b.peers || a.rttMs - b.rttMs || TARGETS.indexOf(a.target) - TARGETS.indexOf(b.target));
}

/** The row this one is compared with: the smallest cluster at the same RTT and target (3 peers in the default run). */
export function baselineOf(row: LatencyRow, rows: readonly LatencyRow[]): LatencyRow | undefined {
  return rows.filter((r) => r.rttMs === row.rttMs && r.target === row.target).sort((a, b) => a.peers - b.peers)[0];
}

const ms = (x: number) => (x >= 10 ? x.toFixed(1) : x.toFixed(2));
const ratio = (x: number) => (Number.isFinite(x) ? `${x.toFixed(2)}×` : '–');

/** A Markdown table of the rows, with each row's ratios to the smallest cluster at the same RTT and target. */
export function renderLatencyTable(rows: readonly LatencyRow[]): string {
  const base = Math.min(...rows.map((r) => r.peers));
  const header = ['peers', 'added RTT ms', 'measured RTT ms', 'target', 'p50 ms', 'p99 ms', 'writes/s', `p50 vs ${base}`, `p99 vs ${base}`, `writes/s vs ${base}`];
  const body = rows.map((r) => {
    const b = baselineOf(r, rows)!;
    const notes = [r.errors ? `${r.errors} failed` : '', r.leaderChanges ? `leader moved in ${r.leaderChanges} round(s)` : ''].filter(Boolean).join(', ');
    return [
      String(r.peers),
      String(r.rttMs),
      ms(r.measuredRttMs),
      notes ? `${r.target} (${notes})` : r.target,
      ms(r.p50Ms),
      ms(r.p99Ms),
      r.writesPerSecond.toFixed(0),
      ratio(r.p50Ms / b.p50Ms),
      ratio(r.p99Ms / b.p99Ms),
      ratio(r.writesPerSecond / b.writesPerSecond),
    ];
  });
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), `|${header.map((_, i) => (i === 3 ? '---' : '---:')).join('|')}|`, ...body.map(line)].join('\n');
}
