import { LoadGenerator } from '../../simulation/load';
import type { EtcdHttpClient } from '../../simulation/etcd-client';

const endpoints = ['peer-0', 'peer-1', 'peer-2'].map((name, i) => ({ name, ip: `10.0.0.${i + 1}` }));

function generator(holdings: Record<string, Record<string, string>>, acked: Record<string, string>) {
  const reads: { name: string; serializable?: boolean }[] = [];
  const client = {
    rangePrefix: async (endpoint: { name: string }, _prefix: string, _timeout: number, options: { serializable?: boolean } = {}) => {
      reads.push({ name: endpoint.name, serializable: options.serializable });
      const held = holdings[endpoint.name];
      if (!held) throw new Error('connection refused');
      return new Map(Object.entries(held));
    },
  } as unknown as EtcdHttpClient;
  const load = new LoadGenerator(client, async () => endpoints, { verifyRetryMs: 1 });
  for (const [k, v] of Object.entries(acked)) load.acked.set(k, v);
  return { load, reads };
}

describe('the end check of acknowledged writes', () => {
  test('a member that lacks a write counts it as lost even when the others hold it', async () => {
    const all = { '/sim/a': '1', '/sim/b': '2' };
    const { load, reads } = generator({ 'peer-0': all, 'peer-1': { '/sim/a': '1' }, 'peer-2': all }, all);
    const result = await load.verify();
    expect(result).toMatchObject({ lost: ['/sim/b'], members: 3, unread: [] });
    // Each member is read from its own data, and the one with a gap is read again before it counts.
    expect(reads.every((r) => r.serializable)).toBe(true);
    expect(reads.filter((r) => r.name === 'peer-1')).toHaveLength(10);
  });

  test('writes destroyed on purpose are not lost; gone counts those no member holds', async () => {
    const acked = { '/sim/a': '1', '/sim/b': '2', '/sim/c': '3' };
    const { load } = generator({ 'peer-0': { '/sim/a': '1' }, 'peer-1': { '/sim/a': '1', '/sim/c': '3' }, 'peer-2': { '/sim/a': '1' } }, acked);
    expect(await load.verify(new Set(['/sim/b', '/sim/c']))).toMatchObject({ lost: [], gone: 1, members: 3 });
  });

  test('an unreadable member is reported, not silently skipped', async () => {
    const { load } = generator({ 'peer-0': { '/sim/a': '1' }, 'peer-2': { '/sim/a': '1' } }, { '/sim/a': '1' });
    expect(await load.verify()).toMatchObject({ lost: [], members: 2, unread: ['peer-1'] });
  });
});
