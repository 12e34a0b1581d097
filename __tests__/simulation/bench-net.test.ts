import { execFileSync, spawn } from 'child_process';
import { existsSync, writeFileSync } from 'fs';
import { addedRttMs, BenchHost, connectTimesMs, DELAY_LINE_SCRIPT, DelayedZones, holdPerLineMs, removeLeftoverBenchNetwork } from '../../simulation/bench-net';
import { describeWithRoot } from '../helpers/privileges';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

describe('delay scheduling (pure)', () => {
  test.each([
    [0, 0],
    [1, 0.25],
    [2, 0.5],
    [10, 2.5],
  ])('an added round trip of %p ms is a hold of %p ms on each of the 4 line crossings', (rtt, hold) => {
    expect(holdPerLineMs(rtt)).toBe(hold);
    expect(addedRttMs(0, 1, hold)).toBe(rtt);
  });

  test('within a zone nothing is added', () => {
    expect(addedRttMs(2, 2, 0.5)).toBe(0);
  });

  test.each([-1, NaN, Infinity])('a round trip of %p is refused', (rtt) => {
    expect(() => holdPerLineMs(rtt)).toThrow(/round-trip time must be a number of ms >= 0/);
  });

  test('a frame leaves at its arrival plus the hold, never before the frame ahead of it', () => {
    // [arrival ns, hold ns]; the third frame arrives after the hold was lowered and waits for the second.
    const rows = [
      [0, 1000],
      [10, 1000],
      [20, 100],
      [5000, 100],
    ];
    const out = execFileSync('python3', [DELAY_LINE_SCRIPT, 'release-times'], { input: JSON.stringify(rows), encoding: 'utf8' });
    expect(JSON.parse(out)).toEqual([1000, 1010, 1010, 5100]);
  });
});

const why = process.getuid?.() !== 0 ? 'not running as root' : !existsSync('/dev/net/tun') ? 'no /dev/net/tun' : undefined;

describeWithRoot('delay line between two zones (root, TAP devices, namespaces)', why, () => {
  const zones = new DelayedZones(2);
  let a: BenchHost;
  let b: BenchHost;
  let sink: ReturnType<typeof spawn> | undefined;

  beforeAll(async () => {
    await zones.create();
    a = await zones.addHost('etcdlat-t-a', 0, '10.78.0.10');
    b = await zones.addHost('etcdlat-t-b', 1, '10.78.1.10');
    sink = spawn('ip', ['netns', 'exec', b.namespace, 'python3', DELAY_LINE_SCRIPT, 'sink', '5999'], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise((r) => sink!.stdout!.once('data', r));
  });

  afterAll(async () => {
    sink?.kill('SIGKILL');
    await zones.destroy();
  });

  test('a TCP connect between the zones takes the added round trip longer, and the line says what it held', async () => {
    await zones.setRtt(0);
    const base = median(await connectTimesMs(a, b.ip, 5999, 15));
    await zones.setRtt(10);
    const delayed = median(await connectTimesMs(a, b.ip, 5999, 15));
    const stats = await zones.stats();
    expect(delayed - base).toBeGreaterThan(9);
    expect(delayed - base).toBeLessThan(14);
    expect(stats.map((s) => s.hold_ms)).toEqual([2.5, 2.5]);
    expect(stats.map((s) => s.dropped)).toEqual([0, 0]);
    expect(stats.every((s) => s.frames > 0)).toBe(true);
  });

  test('the client in the root namespace reaches a host in its own zone without crossing a line', async () => {
    await zones.setRtt(40);
    const started = Date.now();
    execFileSync('python3', [DELAY_LINE_SCRIPT, 'connect', b.ip, '5999', '3']);
    // Three connects through the lines would take at least 120 ms.
    expect(Date.now() - started).toBeLessThan(2000);
    const times: number[] = JSON.parse(execFileSync('python3', [DELAY_LINE_SCRIPT, 'connect', b.ip, '5999', '5'], { encoding: 'utf8' }));
    expect(median(times)).toBeLessThan(5);
  });

  test('while another live process owns the network, a second run refuses instead of tearing it down', async () => {
    writeFileSync('/run/etcdlat-owner.pid', '1'); // init: alive, and not this process
    try {
      await expect(new DelayedZones(1).create()).rejects.toThrow(/process 1 owns the benchmark's network/);
    } finally {
      writeFileSync('/run/etcdlat-owner.pid', String(process.pid));
    }
    expect(median(await connectTimesMs(a, b.ip, 5999, 3))).toBeGreaterThan(0);
  });

  test('clean-up leaves no namespace, bridge or TAP of the benchmark', async () => {
    const other = new DelayedZones(1);
    await other.create();
    await other.addHost('etcdlat-t-c', 0, '10.78.0.11');
    await other.destroy();
    expect(await removeLeftoverBenchNetwork()).toEqual([]);
    expect(execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' })).not.toMatch(/etcdlat-/);
    // The first suite's network went too (create() cleans leftovers); rebuild nothing, afterAll copes.
  });
});
