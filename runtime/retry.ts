/**
 * Retry with exponential backoff and full jitter, shared by the Lambda and
 * the node agent. The AWS SDK retries too, but only inside `send`; this wraps
 * the calls we own so throttling handling is explicit and testable.
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

/** True for errors worth another try: AWS throttling, 5xx, transient network failures. */
export function isRetryable(error: unknown): boolean {
  const e = error as { name?: string; code?: string; $metadata?: { httpStatusCode?: number }; $retryable?: unknown };
  if (!e || typeof e !== 'object') return false;
  if (e.name && RETRYABLE_ERROR_NAMES.has(e.name)) return true;
  if (e.$retryable) return true;
  const status = e.$metadata?.httpStatusCode;
  if (status !== undefined && status >= 500) return true;
  return ['ECONNRESET', 'ETIMEDOUT', 'EAI_AGAIN', 'ECONNREFUSED'].includes(e.code ?? '');
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
