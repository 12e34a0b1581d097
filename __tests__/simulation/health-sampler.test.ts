import { healthLevels, HealthSampler } from '../../simulation/health-sampler';
import { PLACEHOLDER_ADDRESS } from '../../contract/naming';

const obs = (peer: number, ok: boolean, askedAt: number, answeredAt = askedAt + 10) => ({ peer, ok, askedAt, answeredAt });

describe('healthLevels: healthy peers as a level that moves only when a peer is known to have changed', () => {
  test('no observation, no level', () => {
    expect(healthLevels([], 2)).toEqual([]);
  });

  test('the level starts once every peer has answered; equal counts make no new level', () => {
    expect(healthLevels([obs(0, true, 0), obs(1, true, 5), obs(0, true, 100), obs(1, true, 105)], 2)).toEqual([{ at: 15, healthy: 2 }]);
    // One peer never answered: no level yet, rather than a line rising from 0 at the start.
    expect(healthLevels([obs(0, true, 0), obs(0, true, 100)], 2)).toEqual([]);
  });

  test('a failed check counts from its answer (its timeout), never from its question', () => {
    // Peer 1 was asked at 200, before whatever killed it; the line must not drop before the timeout says so at 600.
    expect(healthLevels([obs(0, true, 0), obs(1, true, 0), obs(1, false, 200, 600), obs(1, true, 700, 720)], 2)).toEqual([
      { at: 10, healthy: 2 },
      { at: 600, healthy: 1 },
      { at: 720, healthy: 2 },
    ]);
  });

  test('changes at the same instant collapse into one level', () => {
    expect(healthLevels([obs(0, true, 0, 10), obs(1, true, 0, 10), obs(2, true, 0, 10), obs(0, false, 20, 30), obs(1, false, 20, 30)], 3)).toEqual([
      { at: 10, healthy: 3 },
      { at: 30, healthy: 1 },
    ]);
  });

  test('out-of-order observations are ordered by their answers', () => {
    expect(healthLevels([obs(1, false, 300, 700), obs(0, true, 0), obs(1, true, 0)], 2)).toEqual([
      { at: 10, healthy: 2 },
      { at: 700, healthy: 1 },
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
