/** What every boot step shares: one JSON log line per step with its duration, and the agent's refusal. */
import type { Logger } from '../runtime/log';

/** Raised when the agent refuses to go on; the message says why and what to do. */
export class AgentRefusal extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AgentRefusal';
  }
}

/**
 * The agent refuses a volume: not blank enough to format, or not this peer's.
 * Nothing was written to it. `prepare-volume` exits with its own code for it.
 */
export class VolumeRefusal extends AgentRefusal {
  constructor(message: string) {
    super(message);
    this.name = 'VolumeRefusal';
  }
}

/** Runs one named step and logs it with its duration. */
export async function step<T>(log: Logger, name: string, body: () => Promise<T>, describe?: (result: T) => Record<string, unknown>): Promise<T> {
  const started = Date.now();
  try {
    const result = await body();
    log.info(`step ${name} done`, { step: name, ok: true, durationMs: Date.now() - started, ...(describe ? describe(result) : {}) });
    return result;
  } catch (error) {
    log.error(`step ${name} failed`, { step: name, ok: false, durationMs: Date.now() - started, error: (error as Error).message });
    throw error;
  }
}
