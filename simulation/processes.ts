/**
 * The process supervisor's tools: a program started inside an instance's
 * network namespace, a process killed and waited for, and the background work
 * (launches, delayed volume releases, learner promotions) that a teardown
 * waits for before it cleans up.
 */
import { ChildProcess, spawn } from 'child_process';
import { closeSync, openSync } from 'fs';
import { done, notYet, pollUntil, sleep } from '../runtime/retry';

/** Whether `child` was started and has not exited. */
export function isRunning(child: ChildProcess | undefined): child is ChildProcess {
  return !!child && child.exitCode === null && child.signalCode === null;
}

/**
 * Sends `child` `signal` (SIGKILL by default) and waits for it to exit; with `timeoutMs`, no longer than that.
 * True once it has exited (or was not running), false when the time ran out first.
 */
export async function killAndWait(child: ChildProcess | undefined, timeoutMs?: number, signal: NodeJS.Signals = 'SIGKILL'): Promise<boolean> {
  if (!isRunning(child)) return true;
  const exited = new Promise<boolean>((resolve) => child.once('exit', () => resolve(true)));
  child.kill(signal);
  return timeoutMs === undefined ? exited : Promise.race([exited, sleep(timeoutMs).then(() => false)]);
}

/**
 * Starts `file args` in network namespace `namespace` through `ip netns exec`
 * (which also gives it the namespace's /etc/netns resolv.conf), appending its
 * output to `logFile`. Own process group: a Ctrl-C on the terminal reaches the
 * supervisor only, which then stops its children itself. `file` is found on
 * the PATH of `env`, which picks the etcd version.
 */
export function spawnInNamespace(namespace: string, file: string, args: readonly string[], logFile: string, env: NodeJS.ProcessEnv): ChildProcess {
  const log = openSync(logFile, 'a');
  try {
    return spawn('ip', ['netns', 'exec', namespace, file, ...args], { stdio: ['ignore', log, log], detached: true, env });
  } finally {
    closeSync(log);
  }
}

/** Work started in the background whose end a teardown waits for. */
export class BackgroundTasks {
  private readonly pending = new Set<Promise<unknown>>();

  /** Tracks `task` until it settles; returns it. */
  track<T>(task: Promise<T>): Promise<T> {
    this.pending.add(task);
    task.finally(() => this.pending.delete(task)).catch(() => undefined);
    return task;
  }

  get size(): number {
    return this.pending.size;
  }

  /** Waits until no task is pending, at most `timeoutMs`; what still runs then is left to the clean-up. */
  async settle(timeoutMs: number): Promise<void> {
    await pollUntil(async () => (this.pending.size === 0 ? done(undefined) : notYet(`${this.pending.size} background task(s) still running`)), {
      timeoutMs,
      delayMs: 1000,
      // Wake as soon as the pending tasks settle, or after the delay, whichever is first.
      sleep: async (ms) => {
        await Promise.race([Promise.allSettled([...this.pending]), sleep(ms)]);
      },
    }).catch(() => undefined);
  }
}
