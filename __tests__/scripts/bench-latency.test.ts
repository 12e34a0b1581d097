import { baselineOf, CellRound, parseLatencyArgs, percentile, renderLatencyTable, rowsOf } from '../../scripts/bench-latency-figures';
import { niceCeiling, renderLatencySvg } from '../../scripts/bench-latency-svg';
// Imported so that tsc checks the benchmark script itself (scripts/ is outside tsconfig's include).
import '../../scripts/bench-latency';

describe('bench:latency arguments', () => {
  test('the defaults are the issue\'s grid: 3, 5, 9 peers, 0, 1, 2 ms, 16 clients, etcd 3.5', () => {
    expect(parseLatencyArgs([])).toEqual({ rounds: 3, peers: [3, 5, 9], rttsMs: [0, 1, 2], writes: 300, seconds: 3, clients: 16, etcd: '3.5' });
  });

  test('--json also names the SVG beside it unless --svg is given', () => {
    expect(parseLatencyArgs(['--json', 'out.json'])).toMatchObject({ json: 'out.json', svg: 'out.svg' });
    expect(parseLatencyArgs(['--json', 'out.json', '--svg', 'docs/x.svg'])).toMatchObject({ svg: 'docs/x.svg' });
  });

  test('lists are sorted and deduplicated', () => {
    expect(parseLatencyArgs(['--peers', '9,3,3', '--rtt', '2,0.5', '--rounds', '1'])).toMatchObject({ peers: [3, 9], rttsMs: [0.5, 2], rounds: 1 });
  });

  test.each([
    [['--rounds', '0'], /--rounds: "0" must be a whole number >= 1/],
    [['--rounds', 'two'], /--rounds: "two" must be a whole number >= 1/],
    [['--peers', '3,,5'], /--peers: "3,,5" must be a comma-separated list of peer counts from 1 to 9/],
    [['--peers', '11'], /--peers: .* from 1 to 9/],
    [['--rtt=-1'], /--rtt: "-1" must be a comma-separated list of round-trip times in ms/],
    [['--seconds', '0'], /--seconds: "0" must be a number of seconds > 0/],
    [['--etcd', '3.6'], /--etcd must be one of 3.4, 3.5/],
    [['--round', '2'], /Unknown option '--round'[\s\S]*usage: npm run bench:latency/],
  ])('%p is refused naming the flag', (argv, message) => {
    expect(() => parseLatencyArgs(argv)).toThrow(message);
  });
});

describe('percentiles (nearest rank)', () => {
  const hundred = Array.from({ length: 100 }, (_, i) => 100 - i); // 100..1, unsorted
  test.each([
    [50, 50],
    [99, 99],
    [100, 100],
    [0, 1],
  ])('p%p of 1..100 is %p', (p, v) => {
    expect(percentile(hundred, p)).toBe(v);
  });
  test('one sample is every percentile; none is NaN', () => {
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBeNaN();
  });
});

const cell = (peers: number, rttMs: number, target: 'leader' | 'follower', latenciesMs: number[], writesPerSecond: number, extra: Partial<CellRound> = {}): CellRound => ({ peers, rttMs, target, latenciesMs, writesPerSecond, errors: 0, leaderChanged: false, ...extra });

describe('rows and the ratio table', () => {
  const rounds = [
    cell(3, 1, 'leader', [1, 2, 3], 1000),
    cell(9, 1, 'leader', [2, 4, 6], 400, { leaderChanged: true }),
    cell(3, 1, 'leader', [1, 2, 3], 1200),
    cell(9, 1, 'leader', [2, 4, 6], 600),
    cell(3, 1, 'follower', [3], 800),
    cell(9, 1, 'follower', [6], 200, { errors: 2 }),
  ];
  const rows = rowsOf(rounds, new Map([[1, [1.1, 1.3, 1.2]]]));

  test('rounds are pooled per cell: percentiles over every sample, throughput the median (nearest rank) of the rounds', () => {
    expect(rows.map((r) => [r.peers, r.target, r.samples, r.p50Ms, r.p99Ms, r.writesPerSecond, r.measuredRttMs, r.leaderChanges])).toEqual([
      [3, 'leader', 6, 2, 3, 1000, 1.2, 0],
      [3, 'follower', 1, 3, 3, 800, 1.2, 0],
      [9, 'leader', 6, 4, 6, 400, 1.2, 1],
      [9, 'follower', 1, 6, 6, 200, 1.2, 0],
    ]);
  });

  test('each row is compared with the 3-peer cell of the same RTT and target', () => {
    expect(baselineOf(rows[3], rows)).toBe(rows[1]);
    const table = renderLatencyTable(rows).split('\n');
    expect(table[0]).toBe('| peers | added RTT ms | measured RTT ms | target | p50 ms | p99 ms | writes/s | p50 vs 3 | p99 vs 3 | writes/s vs 3 |');
    expect(table[2]).toBe('| 3 | 1 | 1.20 | leader | 2.00 | 3.00 | 1000 | 1.00× | 1.00× | 1.00× |');
    expect(table[4]).toBe('| 9 | 1 | 1.20 | leader (leader moved in 1 round(s)) | 4.00 | 6.00 | 400 | 2.00× | 2.00× | 0.40× |');
    expect(table[5]).toBe('| 9 | 1 | 1.20 | follower (2 failed) | 6.00 | 6.00 | 200 | 2.00× | 2.00× | 0.25× |');
  });

  test('the picture has a line per size and target in each panel, and its caption', () => {
    const svg = renderLatencySvg(rows, 'etcd 3.5.16, 2 cores, 2026-12-04', 16);
    expect(svg.match(/<polyline /g)).toHaveLength(8);
    expect(svg.match(/<polyline [^>]*stroke-dasharray/g)).toHaveLength(4);
    expect(svg).toContain('etcd 3.5.16, 2 cores, 2026-12-04');
    expect(svg).toContain('writes per second, 16 concurrent clients');
  });

  test.each([
    [0.7, 0.8],
    [3.2, 4],
    [1024, 1200],
    [1200, 1200],
    [14.4, 15],
    [0, 1],
  ])('axis ceiling of %p is %p', (max, ceiling) => {
    expect(niceCeiling(max)).toBe(ceiling);
  });
});
