import { parseSize, renderRestoreTable } from '../../scripts/bench-restore';

describe('bench:restore (the pure parts; the benchmark itself is run by hand)', () => {
  test.each([
    ['100M', 100 * 2 ** 20],
    ['1G', 2 ** 30],
    ['4GiB', 4 * 2 ** 30],
    ['1.5g', 1.5 * 2 ** 30],
    [' 512 MB ', 512 * 2 ** 20],
  ])('size %p is %p bytes', (text, bytes) => {
    expect(parseSize(text)).toBe(bytes);
  });

  test.each(['', '100', '1T', 'G', '-1G', '1,5G'])('%p is refused naming the flag and the form', (text) => {
    expect(() => parseSize(text)).toThrow(/--sizes: .* is not a size; write e\.g\. 100M, 1G or 4G/);
  });

  test('the table carries seconds, the ratio, MiB/s and every round', () => {
    const table = renderRestoreTable([
      { size: '1 GiB', snapshotBytes: 1024 * 2 ** 20, bareSeconds: 10, agentSeconds: 12.5, ratio: 1.25, bareMiBPerSecond: 102.4, agentMiBPerSecond: 81.92, copySeconds: 1, sha256Seconds: 1.5, uploadSeconds: 1, bareRoundsSeconds: [10, 11], agentRoundsSeconds: [13, 12.5] },
    ]);
    expect(table.split('\n')[2]).toBe('| 1 GiB | 1024 | 10.00 | 12.50 | 1.25× | 102 | 82 | 1.00 | 1.50 | 1.00 | 10.0, 11.0 / 13.0, 12.5 |');
  });
});
