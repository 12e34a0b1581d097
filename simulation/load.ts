/**
 * The load generator: writes sequenced keys and reads some back, finding the
 * members through the client SRV record, retrying a write on another member
 * until a deadline, and remembering every acknowledged write so the end of a
 * scenario can check each one is still there.
 */
import { promises as dns } from 'dns';
import { srvNames } from '../contract/naming';
import { EtcdHttpClient, Endpoint } from './etcd-client';
import { done, notYet, pollUntil, sleep } from '../runtime/retry';

/** Options of {@link LoadGenerator}. */
export interface LoadOptions {
  /** Concurrent writers. */
  readonly workers?: number;
  /** A write not acknowledged by any member within this time counts as failed. */
  readonly writeDeadlineMs?: number;
  /** One attempt against one member. */
  readonly attemptTimeoutMs?: number;
  /** Upper bound on writes, so the loop always ends. */
  readonly maxWrites?: number;
  readonly prefix?: string;
  /** Pause before reading a member with gaps again, at the end check. */
  readonly verifyRetryMs?: number;
}

/** One point of the timeline. */
export interface LoadEvent {
  readonly at: number;
  readonly kind: 'ack' | 'retry' | 'write-failed' | 'read-ok' | 'read-failed';
}

/** Members from `_etcd-client-ssl._tcp.<domain>` and their A records, through the given DNS server. */
export async function discoverClientEndpoints(dnsServer: string, domain: string, tls: boolean): Promise<Endpoint[]> {
  const resolver = new dns.Resolver({ timeout: 500, tries: 1 });
  resolver.setServers([dnsServer]);
  const targets = await resolver.resolveSrv(srvNames(domain, tls).client);
  const resolved = await Promise.all(
    targets.map(async (t) => {
      try {
        return { name: t.name, ip: (await resolver.resolve4(t.name))[0] };
      } catch {
        return undefined;
      }
    }),
  );
  return resolved.filter((e): e is Endpoint => !!e).sort((a, b) => a.name.localeCompare(b.name));
}

export class LoadGenerator {
  readonly acked = new Map<string, string>();
  /** When each write was acknowledged and the revision etcd gave it. */
  readonly ackedDetail = new Map<string, { at: number; revision: number }>();
  readonly events: LoadEvent[] = [];
  failedWrites = 0;
  readFailures = 0;
  private running = false;
  private workers: Promise<void>[] = [];
  private endpoints: Endpoint[] = [];
  private endpointsAt = 0;
  private readonly suspectUntil = new Map<string, number>();
  private writes = 0;
  private readonly o: Required<LoadOptions>;

  constructor(
    private readonly client: EtcdHttpClient,
    private readonly discover: () => Promise<Endpoint[]>,
    options: LoadOptions = {},
  ) {
    this.o = { workers: 4, writeDeadlineMs: 20_000, attemptTimeoutMs: 1000, maxWrites: 500_000, prefix: '/sim/', verifyRetryMs: 500, ...options };
  }

  start(): void {
    this.running = true;
    this.workers = Array.from({ length: this.o.workers }, (_, w) => this.work(w));
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.workers);
  }

  /** Writes acknowledged so far. */
  get ackedCount(): number {
    return this.acked.size;
  }

  /**
   * Reads every key under the prefix from **each** member, from its own data (serializable), and lists the
   * acknowledged writes that any member lacks or holds differently: a member that diverged is caught even when
   * the others are right. A member briefly behind is read again for a few seconds before its gaps count.
   * `expectedGone` are writes the scenario destroyed on purpose: they are not lost, and `gone` counts how many of
   * them no member holds.
   */
  async verify(expectedGone: ReadonlySet<string> = new Set()): Promise<{ lost: string[]; gone: number; members: number; unread: string[] }> {
    const endpoints = await this.discover();
    const lost = new Set<string>();
    const held = new Set<string>();
    const unread: string[] = [];
    let members = 0;
    for (const endpoint of endpoints) {
      let stored: Map<string, string> | undefined;
      let missing: string[] = [];
      for (let attempt = 0; attempt < 10; attempt++) {
        try {
          stored = await this.client.rangePrefix(endpoint, this.o.prefix, 30_000, { serializable: true });
          missing = [...this.acked].filter(([k, v]) => !expectedGone.has(k) && stored!.get(k) !== v).map(([k]) => k);
          if (missing.length === 0) break;
        } catch {
          /* asked again below */
        }
        await sleep(this.o.verifyRetryMs);
      }
      if (!stored) {
        unread.push(endpoint.name);
        continue;
      }
      members++;
      for (const key of missing) lost.add(key);
      for (const key of expectedGone) if (stored.has(key)) held.add(key);
    }
    if (members === 0) throw new Error(`no member could be read to verify the writes (${unread.join(', ')})`);
    return { lost: [...lost].sort(), gone: [...expectedGone].filter((k) => !held.has(k)).length, members, unread };
  }

  private async currentEndpoints(): Promise<Endpoint[]> {
    if (Date.now() - this.endpointsAt > 500 || this.endpoints.length === 0) {
      try {
        this.endpoints = await this.discover();
        this.endpointsAt = Date.now();
      } catch {
        /* keep the last list */
      }
    }
    return this.endpoints;
  }

  private async work(worker: number): Promise<void> {
    let seq = 0;
    while (this.running && this.writes < this.o.maxWrites) {
      this.writes++;
      seq++;
      const key = `${this.o.prefix}w${worker}/${String(seq).padStart(8, '0')}`;
      const value = `${worker}:${seq}:${Date.now()}`;
      const revision = await this.write(key, value, worker + seq);
      if (revision !== undefined) {
        this.acked.set(key, value);
        this.ackedDetail.set(key, { at: Date.now(), revision });
        this.events.push({ at: Date.now(), kind: 'ack' });
      } else {
        this.failedWrites++;
        this.events.push({ at: Date.now(), kind: 'write-failed' });
      }
      if (seq % 10 === 0) await this.readBack(worker + seq);
    }
  }

  /** One write, retried on the other members until acknowledged (its revision) or the deadline passes (`undefined`). */
  private async write(key: string, value: string, start: number): Promise<number | undefined> {
    const deadline = Date.now() + this.o.writeDeadlineMs;
    let pauseMs = 0;
    return pollUntil<number>(
      async (attempt) => {
        const endpoint = this.pick(await this.currentEndpoints(), start + attempt - 1);
        if (!endpoint) {
          pauseMs = 100;
          return notYet('no member discovered');
        }
        try {
          return done(await this.client.put(endpoint, key, value, Math.min(this.o.attemptTimeoutMs, Math.max(1, deadline - Date.now()))));
        } catch {
          this.suspectUntil.set(endpoint.ip, Date.now() + 1000);
          this.endpointsAt = 0;
          this.events.push({ at: Date.now(), kind: 'retry' });
          pauseMs = Math.min(200, 10 * 2 ** Math.min(attempt - 1, 4));
          return notYet(`${endpoint.name} did not acknowledge`);
        }
      },
      { timeoutMs: this.o.writeDeadlineMs, delayMs: () => pauseMs },
    ).catch(() => undefined);
  }

  private async readBack(start: number): Promise<void> {
    const keys = [...this.acked.keys()];
    if (keys.length === 0) return;
    const key = keys[start % keys.length];
    const endpoints = await this.currentEndpoints();
    for (let attempt = 0; attempt < endpoints.length; attempt++) {
      const endpoint = this.pick(endpoints, start + attempt);
      if (!endpoint) break;
      try {
        if ((await this.client.get(endpoint, key, this.o.attemptTimeoutMs)) === this.acked.get(key)) {
          this.events.push({ at: Date.now(), kind: 'read-ok' });
          return;
        }
      } catch {
        this.suspectUntil.set(endpoint.ip, Date.now() + 1000);
      }
    }
    this.readFailures++;
    this.events.push({ at: Date.now(), kind: 'read-failed' });
  }

  /** Round-robin over members, skipping those that just failed (unless all did). */
  private pick(endpoints: Endpoint[], n: number): Endpoint | undefined {
    if (endpoints.length === 0) return undefined;
    const now = Date.now();
    const healthy = endpoints.filter((e) => (this.suspectUntil.get(e.ip) ?? 0) <= now);
    const pool = healthy.length ? healthy : endpoints;
    return pool[n % pool.length];
  }
}
