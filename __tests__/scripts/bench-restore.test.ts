import { parseSize, renderRestoreTable } from '../../scripts/bench-restore';
import { expectedParts, parseRounds, RestoreRow, sizeLabel, targetHolds } from '../../scripts/bench-restore-figures';

const MiB = 2 ** 20;

function row(over: Partial<RestoreRow> = {}): RestoreRow {
  return {
    size: '1 GiB',
    snapshotBytes: 1024 * MiB,
    rounds: 2,
    bareSeconds: 10,
    agentSeconds: 12.5,
    ratio: 1.25,
    bareMiBPerSecond: 102.4,
    agentMiBPerSecond: 81.92,
    copySeconds: 1,
    sha256Seconds: 1.5,
    directoryUploadSeconds: 1,
    uploadSeconds: 4,
    uploadMiBPerSecond: 256,
    uploadParts: 64,
    partBytes: 16 * MiB,
    bareRoundsSeconds: [10, 11],
    agentRoundsSeconds: [13, 12.5],
    uploadRoundsSeconds: [4, 4.5],
    ...over,
  };
}

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

  test.each(['0M', '0.5M', '0G'])('%p is refused as below 1 MiB', (text) => {
    expect(() => parseSize(text)).toThrow(`--sizes: "${text}" is below 1 MiB`);
  });

  test('the table carries seconds, the ratio, MiB/s, the upload with its parts, and every round', () => {
    const table = renderRestoreTable([row()]);
    expect(table.split('\n')[0]).toBe('| size | snapshot MiB | rounds | bare s | agent s | agent/bare | bare MiB/s | agent MiB/s | copy s | sha256 s | upload s | upload MiB/s | parts | rounds bare / agent / upload s |');
    expect(table.split('\n')[2]).toBe('| 1 GiB | 1024 | 2 | 10.00 | 12.50 | 1.25× | 102 | 82 | 1.00 | 1.50 | 4.00 | 256 | 64 × 16 MiB | 10.0, 11.0 / 13.0, 12.5 / 4.0, 4.5 |');
  });

  test.each([
    ['2', 3, [2, 2, 2]],
    ['2,2,1', 3, [2, 2, 1]],
    [' 3 ', 1, [3]],
  ])('--rounds %p over %p sizes is %p', (text, sizes, rounds) => {
    expect(parseRounds(text, sizes)).toEqual(rounds);
  });

  test.each([
    ['0', 2, /must be a whole number >= 1/],
    ['1.5', 1, /must be a whole number >= 1/],
    ['2,x', 2, /must be a whole number >= 1/],
    ['', 1, /must be a whole number >= 1/],
    ['2,1', 3, /gives 2 counts for 3 sizes; give one for all, or one per size/],
  ])('--rounds %p over %p sizes is refused', (text, sizes, message) => {
    expect(() => parseRounds(text, sizes)).toThrow(message);
  });

  test.each([
    [0, 1],
    [3 * MiB, 1],
    [16 * MiB, 1],
    [16 * MiB + 1, 2],
    [1327087648, 80],
    [4 * 1024 * MiB, 256],
  ])('a file of %p bytes goes in %p part(s) of 16 MiB', (bytes, parts) => {
    expect(expectedParts(bytes, 16 * MiB)).toBe(parts);
  });

  test('sizes are named in MiB below 1 GiB and in GiB from there', () => {
    expect(sizeLabel(100 * MiB)).toBe('100 MiB');
    expect(sizeLabel(1024 * MiB)).toBe('1 GiB');
    expect(sizeLabel(4096 * MiB)).toBe('4 GiB');
  });

  test('the 1.3x target is judged at 1 GiB and above only, every such row counting', () => {
    const small = row({ size: '100 MiB', ratio: 2 });
    expect(targetHolds([small])).toBeUndefined();
    expect(targetHolds([small, row({ ratio: 1.29 })])).toBe(true);
    expect(targetHolds([small, row({ ratio: 1.29 }), row({ size: '4 GiB', ratio: 1.31 })])).toBe(false);
    expect(targetHolds([row({ ratio: 1.3 })])).toBe(true);
  });
});
