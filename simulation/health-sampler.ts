/**
 * Healthy members over time, for the availability pictures: every peer is
 * asked on its own, about every {@link HEALTH_SAMPLE_MS}, so one slow or dead
 * peer (whose check waits out its timeout) does not hold back what the others'
 * answers show: the line moves within about 100 ms of what moved it (a peer that
 * stops answering, within its 400 ms timeout), and never before it.
 */
import { peerIndices, PLACEHOLDER_ADDRESS } from '../contract/naming';
import { sleep } from '../runtime/retry';
import type { Endpoint } from './etcd-client';

/** How often each peer is asked, from one question's start to the next. */
const HEALTH_SAMPLE_MS = 100;

/** How long one check may take before the peer counts as not healthy. */
const HEALTH_TIMEOUT_MS = 400;

/** One peer's answer. */
export interface HealthObservation {
  readonly peer: number;
  readonly ok: boolean;
  /** When the question was asked and when its answer (or timeout) came. */
  readonly askedAt: number;
  readonly answeredAt: number;
}

/**
 * The number of healthy peers as a level that changes only when some peer's
 * state is known to have changed: at the answer (or timeout) of the check that
 * showed it, never at its question, so the line never moves before what moved
 * it (a check asked just before a kill and failed after it counts from the
 * failure). The level starts once every one of `peers` has answered; later
 * levels only where the count changes.
 */
export function healthLevels(observations: readonly HealthObservation[], peers: number): { at: number; healthy: number }[] {
  const events = [...observations].sort((a, b) => a.answeredAt - b.answeredAt);
  const state = new Map<number, boolean>();
  const levels: { at: number; healthy: number }[] = [];
  for (const e of events) {
    state.set(e.peer, e.ok);
    if (state.size < peers) continue;
    const healthy = [...state.values()].filter(Boolean).length;
    const last = levels[levels.length - 1];
    if (!last) levels.push({ at: e.answeredAt, healthy });
    else if (last.healthy !== healthy) {
      // Changes at the same instant collapse into one level.
      if (last.at === e.answeredAt) levels[levels.length - 1] = { at: e.answeredAt, healthy };
      else levels.push({ at: e.answeredAt, healthy });
    }
  }
  return levels;
}

/** The cluster's side of sampling: where peer `i` is now, and its /health answer. */
export interface HealthSource {
  readonly peers: number;
  endpoints(): Endpoint[];
  health(endpoint: Endpoint, timeoutMs: number): Promise<boolean>;
}

/** Asks every peer on its own loop until stopped; {@link levels} gives the healthy count over time. */
export class HealthSampler {
  private readonly observations: HealthObservation[] = [];
  private running = false;
  private loops: Promise<void>[] = [];

  constructor(private readonly source: HealthSource, private readonly everyMs = HEALTH_SAMPLE_MS, private readonly timeoutMs = HEALTH_TIMEOUT_MS) {}

  start(): void {
    this.running = true;
    this.loops = peerIndices(this.source.peers).map((peer) => this.loop(peer));
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }

  levels(): { at: number; healthy: number }[] {
    return healthLevels(this.observations, this.source.peers);
  }

  private async loop(peer: number): Promise<void> {
    while (this.running) {
      const askedAt = Date.now();
      const endpoint = this.source.endpoints()[peer];
      const ok = endpoint.ip === PLACEHOLDER_ADDRESS ? false : await this.source.health(endpoint, this.timeoutMs).catch(() => false);
      const answeredAt = Date.now();
      this.observations.push({ peer, ok, askedAt, answeredAt });
      await sleep(Math.max(0, this.everyMs - (answeredAt - askedAt)));
    }
  }
}
