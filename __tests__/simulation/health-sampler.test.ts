import { healthLevels, HealthSampler } from '../../simulation/health-sampler';
import { PLACEHOLDER_ADDRESS } from '../../contract/naming';

const obs = (peer: number, ok: boolean, askedAt: number, answeredAt = askedAt + 10) => ({ peer, ok, askedAt, answeredAt });

describe('healthLevels: healthy peers as a level that moves only when a peer changes', () => {
  test('no observation, no level', () => {
    expect(healthLevels([])).toEqual([]);
  });

  test('a passed check counts from its answer; equal counts make no new level', () => {
    expect(healthLevels([obs(0, true, 0), obs(1, true, 5), obs(0, true, 100), obs(1, true, 105)])).toEqual([
      { at: 10, healthy: 1 },
      { at: 15, healthy: 2 },
    ]);
  });

  test('a failed check stops the count from its question, not from its timeout', () => {
    expect(healthLevels([obs(0, true, 0), obs(1, true, 0), obs(1, false, 200, 600), obs(1, true, 700, 720)])).toEqual([
      { at: 10, healthy: 2 },
      { at: 200, healthy: 1 },
      { at: 720, healthy: 2 },
    ]);
  });

  test('changes at the same instant collapse into one level', () => {
    expect(healthLevels([obs(0, true, 0, 10), obs(1, true, 0, 10), obs(2, true, 0, 10)])).toEqual([{ at: 10, healthy: 3 }]);
  });

  test('out-of-order observations are ordered by when they count', () => {
    expect(healthLevels([obs(1, false, 300, 700), obs(0, true, 0), obs(1, true, 0)])).toEqual([
      { at: 10, healthy: 2 },
      { at: 300, healthy: 1 },
    ]);
  });
});

describe('HealthSampler', () => {
  test('asks each peer on its own loop, so a peer that times out does not slow the others', async () => {
    const asked = new Map<string, number>();
    const sampler = new HealthSampler(
      {
        peers: 3,
        endpoints: () => [
          { name: 'p0', ip: '10.0.0.1' },
          { name: 'p1', ip: '10.0.0.2' },
          { name: 'p2', ip: PLACEHOLDER_ADDRESS },
        ],
        health: async (e, timeoutMs) => {
          asked.set(e.name, (asked.get(e.name) ?? 0) + 1);
          // p1 never answers in time: it waits out the timeout, then fails.
          if (e.name === 'p1') {
            await new Promise((r) => setTimeout(r, timeoutMs));
            return false;
          }
          return true;
        },
      },
      10,
      100,
    );
    sampler.start();
    await new Promise((r) => setTimeout(r, 320));
    await sampler.stop();
    expect(asked.get('p0')).toBeGreaterThanOrEqual(10);
    expect(asked.get('p1')).toBeLessThanOrEqual(4);
    // The peer without an address is never asked and never counts.
    expect(asked.has('p2')).toBe(false);
    const levels = sampler.levels();
    expect(levels[levels.length - 1].healthy).toBe(1);
    expect(Math.max(...levels.map((l) => l.healthy))).toBe(1);
  });
});
