/**
 * Zones with a real round-trip time between them, for the latency benchmark.
 *
 * Each zone is a Linux bridge; hosts are network namespaces joined to their
 * zone's bridge by veth pairs (as in the local cluster, net.ts), so traffic
 * within a zone is never delayed. Zones reach each other only through a
 * router namespace, and each zone's bridge reaches the router through a pair
 * of TAP devices with a delay line between them (scripts/delay-line.py, one
 * Python process per zone) that holds every frame for a set time in both
 * directions. A packet between two zones crosses two delay lines each way
 * (out of its zone, into the other), so each line holds a quarter of the
 * added round-trip time ({@link holdPerLineMs}).
 *
 *   host ─veth─ bridge z ─TAP─ [delay line z] ─TAP─ router ─TAP─ [delay line y] ─TAP─ bridge y ─veth─ host
 *
 * The benchmark's client sits in the root namespace with an address on every
 * bridge, so it reaches each member within that member's zone, undelayed.
 * The kernel has no netem, hence the user-space line; TAPs die with their
 * process, so a killed benchmark leaves no TAP behind.
 */
import { ChildProcess, spawn } from 'child_process';
import { promises as fs } from 'fs';
import { resolve } from 'path';
import { createInterface } from 'readline';
import { run, runChecked } from '../node-agent/system';
import { addNamespaceOnBridge } from './net';

/** Prefix of every namespace, bridge, veth and TAP the benchmark creates; clean-up finds leftovers by it. */
export const BENCH_PREFIX = 'etcdlat';
/** The benchmark's addresses: zone z is 10.78.z.0/24 (the local cluster uses 10.77.0.0/16). */
export const BENCH_NETWORK = '10.78.0.0/16';
export const ROUTER_NAMESPACE = `${BENCH_PREFIX}-router`;
export const DELAY_LINE_SCRIPT = resolve(__dirname, '..', 'scripts', 'delay-line.py');

/** One zone of the benchmark. */
export interface BenchZone {
  readonly index: number;
  readonly bridge: string;
  /** The router's address in this zone, every host's route to the other zones. */
  readonly routerIp: string;
  /** The root namespace's (the client's) address on this zone's bridge. */
  readonly clientIp: string;
  /** TAP on the zone's bridge, and its partner in the router namespace. */
  readonly zoneTap: string;
  readonly routerTap: string;
}

export function benchZone(index: number): BenchZone {
  if (!Number.isInteger(index) || index < 0 || index > 250) throw new Error(`zone index must be 0-250, got ${index}`);
  const p = `10.78.${index}`;
  return { index, bridge: `${BENCH_PREFIX}-br${index}`, routerIp: `${p}.1`, clientIp: `${p}.254`, zoneTap: `${BENCH_PREFIX}-z${index}a`, routerTap: `${BENCH_PREFIX}-z${index}r` };
}

/** Lines crossed in each direction between two zones: out of one, into the other. */
export const LINES_CROSSED_EACH_WAY = 2;

/** The hold of each delay line, in each direction, that adds `rttMs` to a round trip between two zones. */
export function holdPerLineMs(rttMs: number): number {
  if (!Number.isFinite(rttMs) || rttMs < 0) throw new Error(`round-trip time must be a number of ms >= 0, got ${rttMs}`);
  return rttMs / (2 * LINES_CROSSED_EACH_WAY);
}

/** The round trip the delay lines add between a host of `fromZone` and one of `toZone`: none within a zone. */
export function addedRttMs(fromZone: number, toZone: number, holdMs: number): number {
  return fromZone === toZone ? 0 : 2 * LINES_CROSSED_EACH_WAY * holdMs;
}

/** What one line reports of itself since the previous report. */
export interface DelayLineStats {
  readonly hold_ms: number;
  /** The line runs at real-time priority (SCHED_FIFO), ahead of the members it delays. */
  readonly realtime: boolean;
  readonly seconds: number;
  readonly frames: number;
  readonly bytes: number;
  readonly dropped: number;
  /** How long after its due time a frame really left: the line's own jitter. */
  readonly late_p50_us: number;
  readonly late_p99_us: number;
  readonly late_max_us: number;
}

/** One delay-line process: commands on its stdin, one JSON answer per command on its stdout. */
class DelayLine {
  private readonly answers: string[] = [];
  private waiter?: (line: string) => void;

  private constructor(readonly zone: BenchZone, private readonly child: ChildProcess) {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (this.waiter) {
        const w = this.waiter;
        this.waiter = undefined;
        w(line);
      } else this.answers.push(line);
    });
  }

  static async start(zone: BenchZone): Promise<DelayLine> {
    const child = spawn('python3', [DELAY_LINE_SCRIPT, 'line', zone.zoneTap, zone.routerTap], { stdio: ['pipe', 'pipe', 'inherit'], detached: true });
    const line = new DelayLine(zone, child);
    await line.next(`start the delay line of zone ${zone.index}`);
    return line;
  }

  private next(what: string): Promise<any> {
    const queued = this.answers.shift();
    if (queued !== undefined) return Promise.resolve(JSON.parse(queued));
    return new Promise((resolveAnswer, reject) => {
      const timer = setTimeout(() => reject(new Error(`delay line of zone ${this.zone.index}: no answer to "${what}" within 10 s`)), 10_000);
      const exited = () => reject(new Error(`delay line of zone ${this.zone.index} exited (code ${this.child.exitCode}) before answering "${what}"; is python3 installed and /dev/net/tun there?`));
      this.child.once('exit', exited);
      this.waiter = (text) => {
        clearTimeout(timer);
        this.child.off('exit', exited);
        resolveAnswer(JSON.parse(text));
      };
    });
  }

  command(text: string): Promise<any> {
    this.child.stdin!.write(`${text}\n`);
    return this.next(text);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.stdin!.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 2000);
    await exited;
    clearTimeout(timer);
  }
}

/** A host of the benchmark: a namespace on a zone's bridge. */
export interface BenchHost {
  readonly namespace: string;
  readonly ip: string;
  readonly zone: BenchZone;
}

/** Zones, the router, the delay lines and the hosts of one benchmark run. */
export class DelayedZones {
  readonly zones: BenchZone[];
  readonly hosts: BenchHost[] = [];
  private readonly lines: DelayLine[] = [];
  private rttMs = 0;

  constructor(zoneCount: number) {
    this.zones = Array.from({ length: zoneCount }, (_, z) => benchZone(z));
  }

  /** The round-trip time added between zones now. */
  get addedRttMs(): number {
    return this.rttMs;
  }

  /**
   * Cleans what a killed run left, then builds the router, the bridges and a delay line per zone (no delay yet).
   * Refuses while another live process owns the benchmark's network: its clean-up would tear that run down.
   */
  async create(): Promise<void> {
    await claimBenchNetwork();
    await removeLeftoverBenchNetwork();
    await runChecked('ip', ['netns', 'add', ROUTER_NAMESPACE]);
    await runChecked('ip', ['-n', ROUTER_NAMESPACE, 'link', 'set', 'lo', 'up']);
    // Forwarding in the router's namespace only; the machine's own setting is not touched.
    await runChecked('ip', ['netns', 'exec', ROUTER_NAMESPACE, 'sh', '-c', 'echo 1 > /proc/sys/net/ipv4/ip_forward']);
    for (const zone of this.zones) {
      await runChecked('ip', ['link', 'add', zone.bridge, 'type', 'bridge']);
      await runChecked('ip', ['addr', 'add', `${zone.clientIp}/24`, 'dev', zone.bridge]);
      await runChecked('ip', ['link', 'set', zone.bridge, 'up']);
      const line = await DelayLine.start(zone);
      this.lines.push(line);
      await runChecked('ip', ['link', 'set', zone.zoneTap, 'master', zone.bridge, 'up']);
      await runChecked('ip', ['link', 'set', zone.routerTap, 'netns', ROUTER_NAMESPACE]);
      await runChecked('ip', ['-n', ROUTER_NAMESPACE, 'addr', 'add', `${zone.routerIp}/24`, 'dev', zone.routerTap]);
      await runChecked('ip', ['-n', ROUTER_NAMESPACE, 'link', 'set', zone.routerTap, 'up']);
    }
    // Frames of the set-up (dropped while the router's side was still down) do not count.
    await this.stats();
  }

  /** A namespace `name` with address `ip` on zone `zone`'s bridge, routing the benchmark's network through the router. */
  async addHost(name: string, zoneIndex: number, ip: string): Promise<BenchHost> {
    if (!name.startsWith(`${BENCH_PREFIX}-`) || name.length > 15) throw new Error(`host name "${name}" must start with ${BENCH_PREFIX}- and fit 15 characters (it names the veth too)`);
    const zone = this.zones[zoneIndex];
    await addNamespaceOnBridge(name, name, zone.bridge, ip, BENCH_NETWORK, zone.routerIp);
    const host = { namespace: name, ip, zone };
    this.hosts.push(host);
    return host;
  }

  /** Sets the round-trip time added between any two zones from now on. */
  async setRtt(rttMs: number): Promise<void> {
    const hold = holdPerLineMs(rttMs);
    await Promise.all(this.lines.map((line) => line.command(`hold ${hold}`)));
    this.rttMs = rttMs;
  }

  /** Each line's figures since the previous call. */
  stats(): Promise<DelayLineStats[]> {
    return Promise.all(this.lines.map((line) => line.command('stats')));
  }

  /** Stops every process in the hosts, the delay lines (their TAPs go with them), and removes namespaces and bridges. */
  async destroy(): Promise<void> {
    await Promise.all(this.lines.map((line) => line.stop()));
    this.lines.length = 0;
    await removeLeftoverBenchNetwork();
    this.hosts.length = 0;
    await releaseBenchNetwork();
  }
}

/** Which process owns the benchmark's network (namespaces, bridges, 10.78.0.0/16) now. */
const OWNER_FILE = `/run/${BENCH_PREFIX}-owner.pid`;

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function claimBenchNetwork(): Promise<void> {
  const owner = Number((await fs.readFile(OWNER_FILE, 'utf8').catch(() => '')).trim());
  if (owner && owner !== process.pid && isAlive(owner)) {
    throw new Error(`process ${owner} owns the benchmark's network (${OWNER_FILE}): wait for that bench:latency or test to end, or stop it`);
  }
  await fs.writeFile(OWNER_FILE, String(process.pid));
}

async function releaseBenchNetwork(): Promise<void> {
  const owner = Number((await fs.readFile(OWNER_FILE, 'utf8').catch(() => '')).trim());
  if (owner === process.pid) await fs.rm(OWNER_FILE, { force: true });
}

/** Runs a command in a host's namespace. */
export function runIn(namespace: string, file: string, args: readonly string[], timeoutMs?: number) {
  return run('ip', ['netns', 'exec', namespace, file, ...args], timeoutMs);
}

/** Median of TCP connect times (one round trip each) from `from` to `ip:port`, in ms, with every sample. */
export async function connectTimesMs(from: BenchHost, ip: string, port: number, count: number): Promise<number[]> {
  const r = await runIn(from.namespace, 'python3', [DELAY_LINE_SCRIPT, 'connect', ip, String(port), String(count)], 60_000);
  if (r.code !== 0) throw new Error(`connect probe from ${from.namespace} to ${ip}:${port} failed: ${r.stderr.trim()}`);
  return JSON.parse(r.stdout);
}

/** Kills every process in the benchmark's namespaces, then removes them and every link of the benchmark. */
export async function removeLeftoverBenchNetwork(): Promise<string[]> {
  const removed: string[] = [];
  const namespaces = (await run('ip', ['netns', 'list'])).stdout
    .split('\n')
    .map((l) => l.split(' ')[0])
    .filter((n) => n.startsWith(`${BENCH_PREFIX}-`));
  for (const ns of namespaces) {
    const pids = (await run('ip', ['netns', 'pids', ns])).stdout.split('\n').filter((p) => /^\d+$/.test(p));
    for (const pid of pids) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  const links = (await run('ip', ['-o', 'link', 'show'])).stdout
    .split('\n')
    .map((l) => l.split(':')[1]?.trim().split('@')[0])
    .filter((n): n is string => !!n && n.startsWith(`${BENCH_PREFIX}-`));
  for (const link of links) {
    await run('ip', ['link', 'del', link]);
    removed.push(`link ${link}`);
  }
  for (const ns of namespaces) {
    await run('ip', ['netns', 'del', ns]);
    removed.push(`netns ${ns}`);
  }
  await fs.rm(`/etc/netns/${ROUTER_NAMESPACE}`, { recursive: true, force: true });
  return removed;
}
