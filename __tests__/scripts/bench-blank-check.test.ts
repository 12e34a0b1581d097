import { renderBlankCheckTable } from '../../scripts/bench-blank-check';

describe('bench:blank (the pure part; the benchmark itself is run by hand, as root)', () => {
  test('the table carries the MiB read, the best round, MiB/s and every round', () => {
    const table = renderBlankCheckTable([{ size: '20 GiB', readMiB: 175, seconds: 0.5, MiBPerSecond: 350, roundsSeconds: [0.7, 0.5] }]);
    expect(table.split('\n')).toEqual(['| device | read MiB | best s | MiB/s | rounds s |', '|---|---:|---:|---:|---|', '| 20 GiB | 175 | 0.50 | 350 | 0.70, 0.50 |']);
  });
});
