/**
 * What robustness costs in write latency: 3, 5 and 9 real etcd members over
 * 3 zones (peer i in zone i mod 3), with 0, 1 and 2 ms of round-trip time
 * added between zones by user-space delay lines (simulation/bench-net.ts),
 * none within a zone. Per cell: the write latency of a single client (p50,
 * p99) and the throughput of 16 concurrent clients, against the leader and
 * against a follower in another zone. Every cluster runs at once and every
 * cell is measured once per round, so the machine's drift spreads over all
 * of them. Prints figures; not a test. Root.
 *   npm run bench:latency -- [--rounds 3] [--json FILE] [--svg FILE] ... (see USAGE)
 */
import { ChildProcess, spawn } from 'child_process';
import { existsSync, promises as fs } from 'fs';
import { Agent, request } from 'http';
import { cpus, loadavg } from 'os';
import { join } from 'path';
import { peerName } from '../contract/naming';
import { etcdBinaries, EtcdBinaries, etcdEnv } from '../runtime/etcd-binaries';
import { done, notYet, pollUntil, sleep } from '../runtime/retry';
import { killAndWait, spawnInNamespace } from '../simulation/processes';
import { BenchHost, connectTimesMs, DelayedZones, DelayLineStats, DELAY_LINE_SCRIPT, runIn } from '../simulation/bench-net';
import { CellRound, LatencyArgs, median, parseLatencyArgs, percentile, renderLatencyTable, rowsOf, TARGETS } from './bench-latency-figures';
import { renderLatencySvg } from './bench-latency-svg';

const ZONES = 3;
const PROBE_PORT = 5999;
const VALUE = Buffer.alloc(256, 'v').toString('base64');

/** One member: a namespace, its etcd, and the address the client uses. */
interface Member {
  readonly index: number;
  readonly host: BenchHost;
  readonly url: string;
  etcd?: ChildProcess;
}

/** The write client: etcd's JSON gateway over keep-alive HTTP, the same in every cell. */
class WriteClient {
  private readonly agent: Agent;

  constructor(sockets: number) {
    this.agent = new Agent({ keepAlive: true, maxSockets: sockets });
  }

  post(url: string, path: string, body: unknown, timeoutMs = 5000): Promise<any> {
    return new Promise((resolve, reject) => {
      const req = request(`${url}${path}`, { method: 'POST', agent: this.agent, timeout: timeoutMs, headers: { 'content-type': 'application/json' } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          if ((res.statusCode ?? 500) >= 300) reject(new Error(`${url}${path}: HTTP ${res.statusCode} ${text.slice(0, 200)}`));
          else resolve(JSON.parse(text || '{}'));
        });
      });
      req.on('timeout', () => req.destroy(new Error(`${url}${path}: no answer within ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end(JSON.stringify(body));
    });
  }

  /** One put; resolves with its latency in ms. */
  async put(url: string, key: string): Promise<number> {
    const started = process.hrtime.bigint();
    await this.post(url, '/v3/kv/put', { key: Buffer.from(key).toString('base64'), value: VALUE });
    return Number(process.hrtime.bigint() - started) / 1e6;
  }

  close(): void {
    this.agent.destroy();
  }
}

async function startCluster(zones: DelayedZones, peers: number, etcd: EtcdBinaries, dataRoot: string): Promise<Member[]> {
  const members: Member[] = [];
  for (let i = 0; i < peers; i++) {
    const zone = i % ZONES;
    const host = await zones.addHost(`etcdlat-p${peers}-${i}`, zone, `10.78.${zone}.${peers * 10 + i}`);
    members.push({ index: i, host, url: `http://${host.ip}:2379` });
  }
  const initialCluster = members.map((m) => `${peerName(m.index)}=http://${m.host.ip}:2380`).join(',');
  for (const m of members) {
    const dir = join(dataRoot, `p${peers}-${m.index}`);
    await fs.mkdir(dir, { recursive: true });
    m.etcd = spawnInNamespace(
      m.host.namespace,
      etcd.etcd,
      // prettier-ignore
      ['--name', peerName(m.index), '--data-dir', join(dir, 'data'),
        '--listen-client-urls', m.url, '--advertise-client-urls', m.url,
        '--listen-peer-urls', `http://${m.host.ip}:2380`, '--initial-advertise-peer-urls', `http://${m.host.ip}:2380`,
        '--initial-cluster', initialCluster, '--initial-cluster-token', `bench-${peers}`, '--initial-cluster-state', 'new',
        // A slow 2-core machine must not call elections in the middle of a cell; heartbeats stay at etcd's default.
        '--heartbeat-interval', '100', '--election-timeout', '3000',
        '--enable-grpc-gateway', '--log-level', 'warn'],
      join(dataRoot, `p${peers}-${m.index}.log`),
      etcdEnv(etcd),
    );
  }
  return members;
}

/** The member that leads, as every member's status says; undefined while they disagree or one does not answer. */
async function leaderOf(client: WriteClient, members: Member[]): Promise<Member | undefined> {
  try {
    const statuses = await Promise.all(members.map((m) => client.post(m.url, '/v3/maintenance/status', {}, 2000)));
    const leaders = new Set(statuses.map((s) => String(s.leader)));
    if (leaders.size !== 1) return undefined;
    const index = statuses.findIndex((s) => String(s.header?.member_id) === String(s.leader));
    return index >= 0 ? members[index] : undefined;
  } catch {
    return undefined;
  }
}

async function singleClient(client: WriteClient, url: string, writes: number, prefix: string): Promise<{ latencies: number[]; errors: number }> {
  const latencies: number[] = [];
  let errors = 0;
  for (let i = 0; i < writes; i++) {
    try {
      latencies.push(await client.put(url, `${prefix}/single/${i % 100}`));
    } catch {
      errors++;
    }
  }
  return { latencies, errors };
}

async function concurrentClients(client: WriteClient, url: string, clients: number, seconds: number, prefix: string): Promise<{ writesPerSecond: number; errors: number }> {
  const started = process.hrtime.bigint();
  const end = Date.now() + seconds * 1000;
  let completed = 0;
  let errors = 0;
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      for (let i = 0; Date.now() < end; i++) {
        try {
          await client.put(url, `${prefix}/c${c}/${i % 100}`);
          completed++;
        } catch {
          errors++;
        }
      }
    }),
  );
  return { writesPerSecond: completed / (Number(process.hrtime.bigint() - started) / 1e9), errors };
}

/** Background processes of the probes (sinks), kept to be stopped at the end. */
const probes: ChildProcess[] = [];

async function startSink(host: BenchHost): Promise<void> {
  // Own process group, like the members: a Ctrl-C reaches this script only, which then stops everything itself.
  const sink = spawn('ip', ['netns', 'exec', host.namespace, 'python3', DELAY_LINE_SCRIPT, 'sink', String(PROBE_PORT)], { stdio: ['ignore', 'pipe', 'inherit'], detached: true });
  probes.push(sink);
  await new Promise((resolve) => sink.stdout!.once('data', resolve));
}

/** Bulk TCP from `from` to `to` for 2 s: MiB/s. */
async function bulkMiBps(from: BenchHost, to: BenchHost): Promise<number> {
  const r = await runIn(from.namespace, 'python3', [DELAY_LINE_SCRIPT, 'blast', to.ip, String(PROBE_PORT), '2'], 30_000);
  if (r.code !== 0) throw new Error(`bulk transfer ${from.namespace} → ${to.ip} failed: ${r.stderr.trim()}`);
  const { bytes, seconds } = JSON.parse(r.stdout);
  return bytes / 2 ** 20 / seconds;
}

async function main(args: LatencyArgs): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('bench:latency needs root (namespaces, bridges, TAP devices): run it with sudo');
  if (!existsSync('/dev/net/tun')) throw new Error('bench:latency needs /dev/net/tun for its delay lines (modprobe tun)');
  const etcd = etcdBinaries(args.etcd);
  const dataRoot = join(args.dataDir ?? (existsSync('/dev/shm') ? '/dev/shm' : '/tmp'), `etcdlat-bench-${process.pid}`);
  const machine = `${cpus().length} × ${cpus()[0]?.model.trim() ?? 'unknown CPU'}`;
  const loadBefore = loadavg()[0];
  console.log(`latency benchmark: etcd ${etcd.version}, ${machine}, ${args.rounds} round(s), data in ${dataRoot}, load average ${loadBefore.toFixed(1)}`);

  const zones = new DelayedZones(ZONES);
  const client = new WriteClient(args.clients);
  const clusters = new Map<number, Member[]>();
  let cleaning: Promise<void> | undefined;
  const cleanUp = () =>
    (cleaning ??= (async () => {
      client.close();
      await Promise.all([...probes, ...[...clusters.values()].flat().map((m) => m.etcd)].map((p) => killAndWait(p, 5000)));
      await zones.destroy();
      await fs.rm(dataRoot, { recursive: true, force: true });
    })());
  // Every signal joins the one clean-up (npm forwards a Ctrl-C a second time; a default handler would die mid-way).
  const onSignal = (signal: NodeJS.Signals) => {
    console.error(`\n${signal}: cleaning up namespaces, delay lines and etcd`);
    void cleanUp().finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  try {
    await zones.create();
    // Probe hosts: two in zone 0 (within a zone), one in zone 1 (between zones).
    const q0 = await zones.addHost('etcdlat-q0', 0, '10.78.0.5');
    const q0b = await zones.addHost('etcdlat-q0b', 0, '10.78.0.6');
    const q1 = await zones.addHost('etcdlat-q1', 1, '10.78.1.5');
    await startSink(q1);
    await startSink(q0b);
    await zones.setRtt(0);
    await zones.stats();
    const bulkWithinZone = await bulkMiBps(q0, q0b);
    const throughLines = await bulkMiBps(q0, q1);
    const ceilingStats = await zones.stats();
    const framesPerSecond = Math.max(...ceilingStats.map((s) => s.frames / s.seconds));
    const ceiling = `bulk TCP between zones through the delay lines (0 ms): ${throughLines.toFixed(0)} MiB/s, up to ${framesPerSecond.toFixed(0)} frames/s per line; within a zone (no line): ${bulkWithinZone.toFixed(0)} MiB/s`;
    console.log(ceiling);

    for (const peers of args.peers) clusters.set(peers, await startCluster(zones, peers, etcd, dataRoot));
    for (const [peers, members] of clusters) {
      await pollUntil(async () => ((await leaderOf(client, members)) ? done(undefined) : notYet('no agreed leader yet')), { timeoutMs: 60_000, delayMs: 500 });
      console.log(`  ${peers} peers up`);
    }

    const cellRounds: CellRound[] = [];
    const connectMsByRtt = new Map<number, number[]>();
    const lineStatsByRtt = new Map<number, DelayLineStats[]>();
    /** TCP connect times within zone 0, which cross no delay line: the base the delays add to. */
    const withinZoneMs: number[] = [];
    for (let round = 1; round <= args.rounds; round++) {
      for (const rttMs of args.rttsMs) {
        await zones.setRtt(rttMs);
        await sleep(200);
        connectMsByRtt.set(rttMs, [...(connectMsByRtt.get(rttMs) ?? []), ...(await connectTimesMs(q0, q1.ip, PROBE_PORT, 20))]);
        withinZoneMs.push(...(await connectTimesMs(q0, q0b.ip, PROBE_PORT, 10)));
        await zones.stats();
        for (const [peers, members] of clusters) {
          for (const target of TARGETS) {
            const leader = await pollUntil(async () => {
              const l = await leaderOf(client, members);
              return l ? done(l) : notYet('no agreed leader');
            }, { timeoutMs: 30_000, delayMs: 500 });
            // A follower in another zone than the leader: its writes cross zones twice more.
            const member: Member = target === 'leader' ? leader : members.find((m) => m.host.zone.index !== leader.host.zone.index)!;
            const prefix = `/bench/${peers}/${rttMs}/${target}`;
            await singleClient(client, member.url, 20, `${prefix}/warm`);
            const single = await singleClient(client, member.url, args.writes, prefix);
            const many = await concurrentClients(client, member.url, args.clients, args.seconds, prefix);
            const after = await leaderOf(client, members);
            const cell: CellRound = { peers, rttMs, target, latenciesMs: single.latencies, writesPerSecond: many.writesPerSecond, errors: single.errors + many.errors, leaderChanged: after?.index !== leader.index };
            cellRounds.push(cell);
            console.log(
              `  round ${round}, ${peers} peers, +${rttMs} ms, ${target} (peer-${member.index}, zone ${member.host.zone.index}): p50 ${percentile(cell.latenciesMs, 50).toFixed(2)} ms, p99 ${percentile(cell.latenciesMs, 99).toFixed(2)} ms, ${cell.writesPerSecond.toFixed(0)} writes/s${cell.errors ? `, ${cell.errors} failed` : ''}${cell.leaderChanged ? ', leader moved' : ''}`,
            );
          }
        }
        lineStatsByRtt.set(rttMs, [...(lineStatsByRtt.get(rttMs) ?? []), ...(await zones.stats())]);
      }
    }

    const rows = rowsOf(cellRounds, connectMsByRtt);
    const date = new Date().toISOString();
    const lines = args.rttsMs.map((rtt) => {
      const stats = lineStatsByRtt.get(rtt) ?? [];
      const connect = connectMsByRtt.get(rtt) ?? [];
      return {
        rttMs: rtt,
        measuredRttMsP50: median(connect),
        measuredRttMsP99: percentile(connect, 99),
        lineLateP99UsWorst: Math.max(...stats.map((s) => s.late_p99_us)),
        lineLateMaxUs: Math.max(...stats.map((s) => s.late_max_us)),
        droppedFrames: stats.reduce((n, s) => n + s.dropped, 0),
      };
    });
    console.log(`\n${renderLatencyTable(rows)}\n`);
    for (const l of lines) {
      console.log(`+${l.rttMs} ms: TCP connect zone 0 → zone 1 p50 ${l.measuredRttMsP50.toFixed(2)} ms, p99 ${l.measuredRttMsP99.toFixed(2)} ms; delay line late p99 ≤ ${l.lineLateP99UsWorst.toFixed(0)} µs, max ${l.lineLateMaxUs.toFixed(0)} µs, ${l.droppedFrames} frames dropped`);
    }
    const withinZone = `within a zone (no delay line): TCP connect p50 ${median(withinZoneMs).toFixed(2)} ms, p99 ${percentile(withinZoneMs, 99).toFixed(2)} ms; delay lines at real-time priority: ${[...lineStatsByRtt.values()].flat().every((s) => s.realtime) ? 'yes' : 'no'}`;
    const load = `load average (1 min) ${loadBefore.toFixed(1)} before, ${loadavg()[0].toFixed(1)} after`;
    console.log(`${withinZone}\n${ceiling}\netcd ${etcd.version}, ${machine}, ${load}, ${date.slice(0, 16)}Z, ${args.rounds} round(s) of ${args.writes} single-client writes and ${args.seconds} s of ${args.clients} clients per cell`);
    if (args.json) {
      await fs.writeFile(args.json, JSON.stringify({ etcdVersion: etcd.version, machine, load, date, args, delayLine: { ceiling, withinZone, rtts: lines }, rows }, null, 2) + '\n');
    }
    if (args.svg) {
      await fs.writeFile(args.svg, renderLatencySvg(rows, `etcd ${etcd.version}, ${machine}, ${date.slice(0, 10)}; RTT added by user-space delay lines; data in ${args.dataDir ?? 'tmpfs'}`, args.clients));
    }
  } finally {
    await cleanUp();
  }
}

if (require.main === module) {
  let args: LatencyArgs;
  try {
    args = parseLatencyArgs(process.argv.slice(2));
  } catch (error) {
    console.error((error as Error).message);
    process.exit(2);
  }
  main(args).then(
    () => process.exit(0),
    (error) => {
      console.error(error instanceof Error ? error.message : error);
      process.exit(1);
    },
  );
}
