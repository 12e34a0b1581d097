/**
 * The pure parts of `npm run bench:restore`: sizes and rounds from the command
 * line, the upload's expected part count, and the table. No I/O here; the
 * benchmark itself is scripts/bench-restore.ts.
 */

export const MiB = 1024 * 1024;

/** `100M`, `1G`, `1.5G` → bytes; anything else is a clear error naming the flag. */
export function parseSize(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([MG])i?B?$/i.exec(text.trim());
  if (!m) throw new Error(`--sizes: "${text}" is not a size; write e.g. 100M, 1G or 4G`);
  const bytes = Math.round(Number(m[1]) * (m[2].toUpperCase() === 'G' ? 1024 : 1) * MiB);
  // Smaller would fail later in truncate, losetup or etcd with an error that names no flag.
  if (bytes < MiB) throw new Error(`--sizes: "${text}" is below 1 MiB; write e.g. 100M, 1G or 4G`);
  return bytes;
}

/**
 * `--rounds`: one whole number for every size, or one per size (`2,2,1` with
 * `--sizes 100M,1G,4G`: the largest once, where one round takes long).
 */
export function parseRounds(text: string, sizes: number): number[] {
  const parts = text.split(',').map((p) => p.trim());
  const rounds = parts.map(Number);
  if (parts.some((p) => !/^\d+$/.test(p)) || rounds.some((r) => r < 1)) throw new Error(`--rounds: "${text}" must be a whole number >= 1, or one per size separated by commas`);
  if (rounds.length === 1) return Array(sizes).fill(rounds[0]);
  if (rounds.length !== sizes) throw new Error(`--rounds: "${text}" gives ${rounds.length} counts for ${sizes} sizes; give one for all, or one per size`);
  return rounds;
}

/** `1 GiB`, `100 MiB`: how a size is named in the rows. */
export function sizeLabel(bytes: number): string {
  return bytes >= 1024 * MiB ? `${+(bytes / 1024 / MiB).toFixed(1)} GiB` : `${Math.round(bytes / MiB)} MiB`;
}

/**
 * The parts `@aws-sdk/lib-storage` sends a file of `bytes` in: one PutObject
 * (counted as 1) when it fits in one part, else one part per `partBytes`
 * begun. The benchmark reports the count the endpoint saw; this is what it
 * must equal.
 */
export function expectedParts(bytes: number, partBytes: number): number {
  return Math.max(1, Math.ceil(bytes / partBytes));
}

/** One row of the result. */
export interface RestoreRow {
  readonly size: string;
  readonly snapshotBytes: number;
  /** Rounds run for this size; the seconds below are the best of them. */
  readonly rounds: number;
  readonly bareSeconds: number;
  readonly agentSeconds: number;
  readonly ratio: number;
  readonly bareMiBPerSecond: number;
  readonly agentMiBPerSecond: number;
  /** The agent's extra steps timed alone on the same file: the store's copy and the sha256 pass. */
  readonly copySeconds: number;
  readonly sha256Seconds: number;
  /** The snapshot's upload into the directory store (a file copy), as `takeSnapshot` does it locally. */
  readonly directoryUploadSeconds: number;
  /** The snapshot's upload through `S3BackupStore` (lib-storage multipart) to the local endpoint: best round. */
  readonly uploadSeconds: number;
  readonly uploadMiBPerSecond: number;
  /** Parts the endpoint received for the upload (1: a single PutObject), and the part size. */
  readonly uploadParts: number;
  readonly partBytes: number;
  /** Every round, in order: on a shared machine the spread says how far to trust the best. */
  readonly bareRoundsSeconds: number[];
  readonly agentRoundsSeconds: number[];
  readonly uploadRoundsSeconds: number[];
}

/** A Markdown table of the rows. */
export function renderRestoreTable(rows: RestoreRow[]): string {
  const header = ['size', 'snapshot MiB', 'rounds', 'bare s', 'agent s', 'agent/bare', 'bare MiB/s', 'agent MiB/s', 'copy s', 'sha256 s', 'upload s', 'upload MiB/s', 'parts', 'rounds bare / agent / upload s'];
  const rounds = (ts: number[]) => ts.map((t) => t.toFixed(1)).join(', ');
  const body = rows.map((r) => [
    r.size,
    (r.snapshotBytes / MiB).toFixed(0),
    String(r.rounds),
    r.bareSeconds.toFixed(2),
    r.agentSeconds.toFixed(2),
    `${r.ratio.toFixed(2)}×`,
    r.bareMiBPerSecond.toFixed(0),
    r.agentMiBPerSecond.toFixed(0),
    r.copySeconds.toFixed(2),
    r.sha256Seconds.toFixed(2),
    r.uploadSeconds.toFixed(2),
    r.uploadMiBPerSecond.toFixed(0),
    `${r.uploadParts} × ${Math.round(r.partBytes / MiB)} MiB`,
    `${rounds(r.bareRoundsSeconds)} / ${rounds(r.agentRoundsSeconds)} / ${rounds(r.uploadRoundsSeconds)}`,
  ]);
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), `|${header.map((_, i) => (i === 0 ? '---' : i === header.length - 1 ? '---' : '---:')).join('|')}|`, ...body.map(line)].join('\n');
}

/** Whether the agent stayed within `target`× of the bare restore at every size of at least `fromBytes`; undefined when no row is that large. */
export function targetHolds(rows: RestoreRow[], target = 1.3, fromBytes = 1024 * MiB): boolean | undefined {
  const large = rows.filter((r) => parseSize(r.size.replace(/ /g, '')) >= fromBytes);
  return large.length ? large.every((r) => r.ratio <= target) : undefined;
}
