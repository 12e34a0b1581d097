/**
 * Retry with exponential backoff and full jitter, shared by the Lambda and
 * the node agent. The AWS SDK retries too, but only inside `send`; this wraps
 * the calls we own so throttling handling is explicit and testable. Also the
 * one polling loop with a deadline ({@link pollUntil}) every wait uses.
 */

/** Error names AWS uses for throttling or a busy control plane (Route 53's PriorRequestNotComplete included). */
const RETRYABLE_ERROR_NAMES = new Set([
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'TooManyRequestsException',
  'PriorRequestNotComplete',
  'ServiceUnavailable',
  'InternalError',
  'InternalFailure',
]);

/** Socket-level failure codes, Node's and undici's (`fetch` puts them on `error.cause`). */
const TRANSIENT_NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

/**
 * True for errors worth another try: AWS throttling, 429 and 5xx, transient
 * network failures and timeouts (`AbortSignal.timeout`), also when wrapped as
 * the `cause` of another error (`fetch failed`).
 */
export function isRetryable(error: unknown): boolean {
  return retryableAt(error, 0);
}

function retryableAt(error: unknown, depth: number): boolean {
  const e = error as { name?: string; code?: string; cause?: unknown; $metadata?: { httpStatusCode?: number }; $retryable?: unknown };
  if (!e || typeof e !== 'object') return false;
  if (e.name && (RETRYABLE_ERROR_NAMES.has(e.name) || e.name === 'TimeoutError')) return true;
  if (e.$retryable) return true;
  const status = e.$metadata?.httpStatusCode;
  if (status !== undefined && (status >= 500 || status === 429)) return true;
  if (TRANSIENT_NETWORK_CODES.has(e.code ?? '')) return true;
  return depth < 3 && e.cause !== undefined && retryableAt(e.cause, depth + 1);
}

/** Options of {@link withRetry}. */
export interface RetryOptions {
  /** Total attempts, including the first. */
  readonly attempts: number;
  /** First backoff ceiling in milliseconds; doubles each attempt. */
  readonly baseDelayMs: number;
  /** Upper bound on one backoff. */
  readonly maxDelayMs: number;
  /** Injected for tests. */
  readonly sleep?: (ms: number) => Promise<void>;
  readonly random?: () => number;
  /** Called before each backoff, for logging. */
  readonly onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
}

/**
 * Configuration of every AWS SDK client we create: one attempt per `send`,
 * because {@link withRetry} owns the retries (two layers would multiply them).
 */
export const SDK_CLIENT_CONFIG = { maxAttempts: 1 } as const;

/** Default for AWS control-plane calls. */
export const AWS_RETRY: RetryOptions = { attempts: 6, baseDelayMs: 200, maxDelayMs: 5000 };

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Backoff before attempt `attempt + 1`: full jitter over `min(max, base * 2^(attempt-1))`. */
export function backoffDelay(attempt: number, options: Pick<RetryOptions, 'baseDelayMs' | 'maxDelayMs'>, random: () => number = Math.random): number {
  const ceiling = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** (attempt - 1));
  return Math.floor(random() * ceiling);
}

/** Runs `operation`, retrying retryable errors; rethrows the last error or any other error at once. */
export async function withRetry<T>(operation: () => Promise<T>, options: RetryOptions = AWS_RETRY): Promise<T> {
  const wait = options.sleep ?? sleep;
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation();
    } catch (error) {
      if (attempt >= options.attempts || !isRetryable(error)) throw error;
      const delay = backoffDelay(attempt, options, options.random);
      options.onRetry?.(error, attempt, delay);
      await wait(delay);
    }
  }
}

/** What one check of {@link pollUntil} found: done with a value, or not yet and why. */
export type PollCheck<T> = { readonly done: true; readonly value: T } | { readonly done: false; readonly reason: string };

/** Options of {@link pollUntil}. */
export interface PollOptions {
  /** Give up this many milliseconds after the first check. */
  readonly timeoutMs: number;
  /** Wait before check `attempt + 1`: a fixed number of milliseconds, or one per attempt (see {@link jitteredBackoff}). */
  readonly delayMs: number | ((attempt: number) => number);
  /** Called after each check that was not done, before the wait: for progress lines. */
  readonly onWait?: (reason: string, attempt: number) => void;
  /** The error thrown at the deadline, from the last reason; defaults to `<reason> after <timeout>s`. */
  readonly onTimeout?: (reason: string, timeoutMs: number) => Error;
  /** Injected for tests. */
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
}

/**
 * The one polling loop: checks, and until a check is done, waits and checks
 * again, up to a deadline. A check that throws ends the loop with its error
 * (catch inside the check what should be asked again).
 */
export async function pollUntil<T>(check: (attempt: number) => Promise<PollCheck<T>>, options: PollOptions): Promise<T> {
  const now = options.now ?? Date.now;
  const wait = options.sleep ?? sleep;
  const deadline = now() + options.timeoutMs;
  for (let attempt = 1; ; attempt++) {
    const result = await check(attempt);
    if (result.done) return result.value;
    if (now() >= deadline) {
      throw options.onTimeout?.(result.reason, options.timeoutMs) ?? new Error(`${result.reason} after ${options.timeoutMs / 1000}s`);
    }
    options.onWait?.(result.reason, attempt);
    await wait(typeof options.delayMs === 'number' ? options.delayMs : options.delayMs(attempt));
  }
}

/** A delay per attempt for {@link pollUntil}: `floor` plus full jitter over an exponential ceiling. */
export function jitteredBackoff(options: Pick<RetryOptions, 'baseDelayMs' | 'maxDelayMs'> & { floorMs?: number }, random: () => number = Math.random): (attempt: number) => number {
  return (attempt) => (options.floorMs ?? 0) + backoffDelay(attempt, options, random);
}

/** Shorthands for checks. */
export const done = <T>(value: T): PollCheck<T> => ({ done: true, value });
export const notYet = (reason: string): PollCheck<never> => ({ done: false, reason });
