import { backoffDelay, done, isRetryable, jitteredBackoff, notYet, pollUntil, withRetry } from '../../runtime/retry';

/** A clock that only moves when the code under test sleeps. */
function fakeClock() {
  let t = 0;
  const slept: number[] = [];
  return {
    now: () => t,
    sleep: async (ms: number) => {
      slept.push(ms);
      t += ms;
    },
    slept,
  };
}

describe('withRetry', () => {
  const throttled = Object.assign(new Error('slow down'), { name: 'ThrottlingException' });

  test('retries a retryable error, then returns', async () => {
    const clock = fakeClock();
    let calls = 0;
    const value = await withRetry(
      async () => {
        if (++calls < 3) throw throttled;
        return 'ok';
      },
      { attempts: 5, baseDelayMs: 100, maxDelayMs: 1000, sleep: clock.sleep, random: () => 0.5 },
    );
    expect(value).toBe('ok');
    expect(calls).toBe(3);
    expect(clock.slept).toEqual([50, 100]);
  });

  test('rethrows a non-retryable error at once, and the last one after the attempts', async () => {
    let calls = 0;
    const denied = Object.assign(new Error('no'), { name: 'AccessDenied' });
    await expect(withRetry(async () => ((calls += 1), Promise.reject(denied)), { attempts: 5, baseDelayMs: 1, maxDelayMs: 1, sleep: async () => {} })).rejects.toBe(denied);
    expect(calls).toBe(1);
    calls = 0;
    await expect(withRetry(async () => ((calls += 1), Promise.reject(throttled)), { attempts: 4, baseDelayMs: 1, maxDelayMs: 1, sleep: async () => {} })).rejects.toBe(throttled);
    expect(calls).toBe(4);
  });

  test('classifies AWS throttling, 5xx and network errors as retryable, and nothing else', () => {
    expect(isRetryable(throttled)).toBe(true);
    expect(isRetryable({ name: 'X', $metadata: { httpStatusCode: 503 } })).toBe(true);
    expect(isRetryable({ name: 'X', $metadata: { httpStatusCode: 400 } })).toBe(false);
    expect(isRetryable(Object.assign(new Error('reset'), { code: 'ECONNRESET' }))).toBe(true);
    expect(isRetryable(new Error('plain'))).toBe(false);
    expect(isRetryable(undefined)).toBe(false);
  });

  test('backoff doubles up to its ceiling, with full jitter', () => {
    const o = { baseDelayMs: 100, maxDelayMs: 500 };
    expect([1, 2, 3, 4, 5].map((a) => backoffDelay(a, o, () => 0.999999))).toEqual([99, 199, 399, 499, 499]);
    expect(backoffDelay(3, o, () => 0)).toBe(0);
    expect(jitteredBackoff({ ...o, floorMs: 50 }, () => 0)(1)).toBe(50);
  });
});

describe('pollUntil', () => {
  test('returns the value of the first check that is done', async () => {
    const clock = fakeClock();
    const waits: string[] = [];
    const value = await pollUntil(async (attempt) => (attempt < 3 ? notYet(`attempt ${attempt}`) : done(attempt * 10)), {
      timeoutMs: 10_000,
      delayMs: 100,
      onWait: (reason) => waits.push(reason),
      ...clock,
    });
    expect(value).toBe(30);
    expect(waits).toEqual(['attempt 1', 'attempt 2']);
    expect(clock.slept).toEqual([100, 100]);
  });

  test('throws at the deadline with the last reason, after one last check', async () => {
    const clock = fakeClock();
    let checks = 0;
    await expect(pollUntil(async () => ((checks += 1), notYet(`still ${checks}`)), { timeoutMs: 1000, delayMs: 300, ...clock })).rejects.toThrow(
      'still 5 after 1s',
    );
    expect(checks).toBe(5); // at 0, 300, 600, 900 and 1200 ms
    await expect(
      pollUntil(async () => notYet('nope'), { timeoutMs: 0, delayMs: 1, onTimeout: (r, t) => new RangeError(`${r}/${t}`), ...fakeClock() }),
    ).rejects.toThrow(new RangeError('nope/0'));
  });

  test('a check that throws ends the loop with its error', async () => {
    await expect(pollUntil(async () => Promise.reject(new Error('broken')), { timeoutMs: 1000, delayMs: 1, ...fakeClock() })).rejects.toThrow('broken');
  });

  test('takes a delay per attempt', async () => {
    const clock = fakeClock();
    await pollUntil(async (a) => (a < 4 ? notYet('x') : done(undefined)), { timeoutMs: 60_000, delayMs: (a) => a * 1000, ...clock });
    expect(clock.slept).toEqual([1000, 2000, 3000]);
  });
});

describe('isRetryable: what the agent meets talking to instance metadata', () => {
  test.each([
    ['fetch failed, connection reset (the code on error.cause)', Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }) })],
    ['fetch failed, connection refused', Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) })],
    ['fetch failed, undici socket closed', Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }) })],
    ['a request past its AbortSignal.timeout', new DOMException('The operation was aborted due to timeout', 'TimeoutError')],
    ['HTTP 429', { name: 'X', $metadata: { httpStatusCode: 429 } }],
  ])('%s is retried', (_, error) => {
    expect(isRetryable(error)).toBe(true);
  });

  test.each([
    ['fetch failed for a bad URL', Object.assign(new TypeError('fetch failed'), { cause: new TypeError('Invalid URL') })],
    ['HTTP 404', { name: 'X', $metadata: { httpStatusCode: 404 } }],
    ['a cause chain that never ends', (() => { const e: { cause?: unknown } = {}; e.cause = e; return e; })()],
  ])('%s is not', (_, error) => {
    expect(isRetryable(error)).toBe(false);
  });
});
