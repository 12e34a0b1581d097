/**
 * The planned hand-off (`node-agent hand-off`): a service that watches this
 * instance's Auto Scaling target lifecycle state and, once it is
 * `Terminated` (the terminate lifecycle hook holds the instance), hands the
 * peer over in order: leadership moved to a healthy caught-up voter if this
 * member leads, etcd stopped cleanly, the data dir unmounted, the volume
 * detached, the lifecycle action completed. The replacement can then attach
 * the volume at once instead of waiting for EC2 to release it.
 *
 * Every step is bounded and a failed one never blocks the termination: a step
 * that cannot be done safely after a failure is skipped (no unmount under a
 * running etcd, no detach of a mounted volume), and the lifecycle action is
 * completed in every case. Without the service (a crash) the hook's timeout
 * lets the termination go on, as before.
 */
import { peerName } from '../contract/naming';
import type { AgentConfig } from '../contract/agent-config';
import type { Logger } from '../runtime/log';
import { done, notYet, pollUntil, sleep as pause } from '../runtime/retry';
import { decideLeadership, DEFAULT_MAX_LAG_ENTRIES, LeadershipStep } from './leadership';
import type { HandOffHost, LeadershipPort, LifecyclePort } from './ports';
import { step } from './step';

/** The target lifecycle state that starts the hand-off. */
const TERMINATED_STATE = 'Terminated';

/** What each step of a hand-off came to. */
export type StepResult = 'done' | 'failed' | 'skipped';

/** What {@link handOff} did. */
export interface HandOffOutcome {
  readonly leadership: LeadershipStep;
  readonly steps: { readonly moveLeader: StepResult; readonly stopEtcd: StepResult; readonly unmount: StepResult; readonly detach: StepResult; readonly complete: StepResult };
}

/** The ports of a hand-off. */
export interface HandOffDeps {
  readonly leadership: LeadershipPort;
  readonly host: HandOffHost;
  readonly lifecycle: LifecyclePort;
  readonly log: Logger;
  readonly maxLagEntries?: number;
}

/**
 * Runs one step within what is left of the budget; a failure or an overrun is logged (by `step`) and returned,
 * never thrown. An overrun step may still be working; the steps after it treat it as failed.
 */
async function attempt(log: Logger, name: string, body: () => Promise<void>, deadline: number): Promise<StepResult> {
  const left = deadline - Date.now();
  if (left <= 0) {
    log.warn('hand-off step skipped: the budget is spent', { step: name });
    return 'skipped';
  }
  let timer: NodeJS.Timeout | undefined;
  const overrun = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`not done within the hand-off's remaining ${Math.round(left / 100) / 10} s`)), left);
  });
  try {
    await step(log, name, () => Promise.race([body(), overrun]));
    return 'done';
  } catch {
    return 'failed';
  } finally {
    clearTimeout(timer);
  }
}

/** The hand-off itself, once the instance is terminating. Throws only when the lifecycle action cannot be completed. */
export async function handOff(config: AgentConfig, deps: HandOffDeps): Promise<HandOffOutcome> {
  const { log } = deps;
  const peer = peerName(config.peerIndex);
  // Within the hook's timeout: the agent completes the action itself rather than the timeout ending it mid-step.
  const deadline = Date.now() + config.deadlines.handOffSeconds * 1000;
  log.info('hand-off started', { peer, budgetSeconds: config.deadlines.handOffSeconds });

  let leadership: LeadershipStep = { action: 'none', reason: 'the cluster could not be asked' };
  let moveLeader: StepResult = 'skipped';
  try {
    leadership = decideLeadership(await deps.leadership.view(), deps.maxLagEntries ?? DEFAULT_MAX_LAG_ENTRIES);
  } catch (error) {
    // Nobody to ask (etcd already down): stopping is all that is left.
    leadership = { action: 'none', reason: `the cluster could not be asked: ${(error as Error).message}` };
  }
  log.info('leadership', { peer, action: leadership.action, reason: leadership.reason });
  if (leadership.action === 'move') {
    const to = leadership.to;
    moveLeader = await attempt(log, 'move-leader', () => deps.leadership.moveLeader(to.id), deadline);
  }

  const stopEtcd = await attempt(log, 'stop-etcd', () => deps.host.stopEtcd(), deadline);
  const unmount = stopEtcd === 'done' ? await attempt(log, 'unmount', () => deps.host.unmountDataDir(), deadline) : 'skipped';
  const detach = unmount === 'done' ? await attempt(log, 'detach-volume', () => deps.host.detachVolume(log), deadline) : 'skipped';
  if (unmount !== 'done') log.warn('volume left attached: the replacement waits for EC2 to release it', { peer, stopEtcd, unmount });

  // Always: the group may terminate the instance now; a failure here leaves it to the hook's timeout.
  await step(log, 'complete-lifecycle-action', () => deps.lifecycle.completeTermination());
  const outcome: HandOffOutcome = { leadership, steps: { moveLeader, stopEtcd, unmount, detach, complete: 'done' } };
  log.info('hand-off done', { peer, ...outcome.steps });
  return outcome;
}

/**
 * Watches the target lifecycle state every `pollMs` until it is
 * `Terminated`, then hands off. A failing read of the state is asked again.
 */
export async function watchAndHandOff(
  config: AgentConfig,
  deps: HandOffDeps & { pollMs?: number; sleep?: (ms: number) => Promise<void>; now?: () => number },
): Promise<HandOffOutcome> {
  let last: string | undefined | null = null;
  await pollUntil(
    async () => {
      let state: string | undefined;
      try {
        state = await deps.lifecycle.targetLifecycleState();
      } catch (error) {
        return notYet(`target lifecycle state unreadable: ${(error as Error).message}`);
      }
      if (state !== last) deps.log.info('target lifecycle state', { peer: peerName(config.peerIndex), state: state ?? 'none' });
      last = state;
      return state === TERMINATED_STATE ? done(state) : notYet(state ?? 'none');
    },
    { timeoutMs: Number.POSITIVE_INFINITY, delayMs: deps.pollMs ?? 5000, sleep: deps.sleep ?? pause, now: deps.now },
  );
  return handOff(config, deps);
}
