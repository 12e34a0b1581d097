/**
 * The maintenance timer of every peer, as systemd runs it on AWS: each peer
 * on its own clock runs `node-agent maintain` (the real bundled agent, in its
 * namespace), waits, and runs it again; a run still going delays the next.
 * The run's one JSON line is kept for the report.
 */
import { peerIndices, peerName } from '../contract/naming';
import { sleep } from '../runtime/retry';
import type { LocalCluster } from './cluster';

/** One `maintain` run's log line, as the agent wrote it (see node-agent/maintain.ts). */
export interface MaintenanceLine {
  readonly peer: string;
  readonly time: string;
  readonly action: 'skipped' | 'defragmented' | 'nospace-recovered' | 'nospace-left' | 'failed';
  readonly reason: string;
  readonly defragmentations: { member: string; startedAt: string; finishedAt: string; durationMs: number; dbSizeBefore?: number; dbSizeAfter?: number }[];
  readonly freedBytes: number;
}

/** The lines of one run's output that are the maintenance line (exactly one per run). */
export function maintenanceLines(stdout: string): MaintenanceLine[] {
  return stdout
    .split('\n')
    .filter(Boolean)
    .flatMap((l) => {
      try {
        return [JSON.parse(l)];
      } catch {
        return [];
      }
    })
    .filter((l) => l.msg === 'maintenance');
}

/** Every defragmentation the lines report, in start order. */
export function defragmentationsOf(lines: readonly MaintenanceLine[]): MaintenanceLine['defragmentations'] {
  return lines.flatMap((l) => l.defragmentations ?? []).sort((a, b) => Date.parse(a.startedAt) - Date.parse(b.startedAt));
}

/** Pairs of defragmentations that overlapped in time (from their own timestamps); none is the claim. */
export function overlaps(defrags: MaintenanceLine['defragmentations']): string[] {
  const found: string[] = [];
  for (let i = 0; i < defrags.length; i++) {
    for (let j = i + 1; j < defrags.length; j++) {
      const [a, b] = [defrags[i], defrags[j]];
      if (Date.parse(a.startedAt) < Date.parse(b.finishedAt) && Date.parse(b.startedAt) < Date.parse(a.finishedAt)) found.push(`${a.member} and ${b.member}`);
    }
  }
  return found;
}

export class MaintenanceTimers {
  readonly lines: MaintenanceLine[] = [];
  /** Runs whose output held no maintenance line, or that could not run: their stderr. */
  readonly broken: string[] = [];
  private running = false;
  private loops: Promise<void>[] = [];

  constructor(
    private readonly cluster: LocalCluster,
    private readonly peers: number,
    private readonly everyMs: number,
  ) {}

  start(): void {
    this.running = true;
    this.loops = peerIndices(this.peers).map((i) => this.loop(i));
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }

  private async loop(peer: number): Promise<void> {
    // Each peer's timer on its own phase, as RandomizedDelaySec spreads them.
    await sleep(Math.floor(Math.random() * this.everyMs));
    while (this.running) {
      try {
        const r = await this.cluster.runOnPeer(peer, 'maintain', 600_000);
        if (r) {
          const found = maintenanceLines(r.stdout);
          this.lines.push(...found);
          if (found.length !== 1) this.broken.push(`${peerName(peer)}: ${found.length} maintenance lines; ${r.stderr.trim().split('\n').pop()}`);
        }
      } catch (error) {
        this.broken.push(`${peerName(peer)}: ${(error as Error).message}`);
      }
      await sleep(this.everyMs);
    }
  }
}
