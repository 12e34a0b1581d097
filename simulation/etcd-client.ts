/**
 * A small etcd v3 client over its JSON gateway (`/v3/kv/put`, `/v3/kv/range`,
 * `/v3/cluster/member/list`, `/health`, `/version`), with TLS and a client certificate.
 * Connects to an address but verifies the certificate against the peer's
 * name, as a client that resolved `peer-N.<domain>` would.
 */
import { Agent, request } from 'https';
import { readFileSync } from 'fs';

/** One member as a client reaches it. */
export interface Endpoint {
  readonly name: string;
  readonly ip: string;
}

/** TLS material of the client. */
export interface ClientTls {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

const b64 = (s: string) => Buffer.from(s).toString('base64');
const unb64 = (s: string) => Buffer.from(s, 'base64').toString();

/** Range end for a prefix: the prefix with its last byte incremented. */
export function prefixEnd(prefix: string): string {
  const bytes = Buffer.from(prefix);
  bytes[bytes.length - 1]++;
  return bytes.toString();
}

export class EtcdHttpClient {
  private readonly agents = new Map<string, Agent>();
  private readonly tls: { ca: Buffer; cert: Buffer; key: Buffer };

  constructor(files: ClientTls) {
    this.tls = { ca: readFileSync(files.ca), cert: readFileSync(files.cert), key: readFileSync(files.key) };
  }

  /** POST a JSON body to the gateway; rejects on transport errors, timeouts and non-2xx answers. */
  call(endpoint: Endpoint, path: string, body: unknown, timeoutMs: number, method = 'POST'): Promise<any> {
    const key = `${endpoint.ip}/${endpoint.name}`;
    let agent = this.agents.get(key);
    if (!agent) {
      agent = new Agent({ keepAlive: true, maxSockets: 8, ...this.tls, servername: endpoint.name });
      this.agents.set(key, agent);
    }
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = request(
        { host: endpoint.ip, port: 2379, path, method, agent, servername: endpoint.name, timeout: timeoutMs, headers: { 'content-type': 'application/json' } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString();
            if ((res.statusCode ?? 500) >= 300) return reject(new Error(`${endpoint.name} ${path}: HTTP ${res.statusCode} ${text.slice(0, 200)}`));
            try {
              resolve(text ? JSON.parse(text) : {});
            } catch {
              reject(new Error(`${endpoint.name} ${path}: not JSON: ${text.slice(0, 200)}`));
            }
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${endpoint.name} ${path}: timed out after ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end(payload);
    });
  }

  async put(endpoint: Endpoint, key: string, value: string, timeoutMs: number): Promise<number> {
    const r = await this.call(endpoint, '/v3/kv/put', { key: b64(key), value: b64(value) }, timeoutMs);
    return Number(r.header?.revision ?? 0);
  }

  /**
   * Range read of a prefix, following `more` with a limit per page. Linearizable by default; `serializable`
   * reads what this member itself holds (a learner answers only those).
   */
  async rangePrefix(endpoint: Endpoint, prefix: string, timeoutMs: number, options: { serializable?: boolean } = {}): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    let start = prefix;
    const end = b64(prefixEnd(prefix));
    for (;;) {
      const r = await this.call(endpoint, '/v3/kv/range', { key: b64(start), range_end: end, limit: 5000, ...(options.serializable ? { serializable: true } : {}) }, timeoutMs);
      const kvs: { key: string; value?: string }[] = r.kvs ?? [];
      for (const kv of kvs) out.set(unb64(kv.key), kv.value ? unb64(kv.value) : '');
      if (!r.more || kvs.length === 0) return out;
      start = unb64(kvs[kvs.length - 1].key) + '\0';
    }
  }

  async get(endpoint: Endpoint, key: string, timeoutMs: number): Promise<string | undefined> {
    const r = await this.call(endpoint, '/v3/kv/range', { key: b64(key) }, timeoutMs);
    const kv = r.kvs?.[0];
    return kv ? (kv.value ? unb64(kv.value) : '') : undefined;
  }

  /** This member's database figures (`/v3/maintenance/status`; the gateway prints 64-bit numbers as strings). */
  async status(endpoint: Endpoint, timeoutMs: number): Promise<{ dbSize: number; dbSizeInUse: number; revision: number }> {
    const r = await this.call(endpoint, '/v3/maintenance/status', {}, timeoutMs);
    return { dbSize: Number(r.dbSize ?? 0), dbSizeInUse: Number(r.dbSizeInUse ?? r.dbSize ?? 0), revision: Number(r.header?.revision ?? 0) };
  }

  /** This member's id and the leader's as it sees them (hex, as {@link memberList} gives ids). */
  async leadership(endpoint: Endpoint, timeoutMs: number): Promise<{ memberId: string; leaderId: string }> {
    const r = await this.call(endpoint, '/v3/maintenance/status', {}, timeoutMs);
    if (!r.header?.member_id || !r.leader) throw new Error(`${endpoint.name} /v3/maintenance/status: no member_id or leader in ${JSON.stringify(r).slice(0, 200)}`);
    return { memberId: BigInt(r.header.member_id).toString(16), leaderId: BigInt(r.leader).toString(16) };
  }

  /** Deletes every key under `prefix`; returns how many. */
  async deletePrefix(endpoint: Endpoint, prefix: string, timeoutMs: number): Promise<number> {
    const r = await this.call(endpoint, '/v3/kv/deleterange', { key: b64(prefix), range_end: b64(prefixEnd(prefix)) }, timeoutMs);
    return Number(r.deleted ?? 0);
  }

  /** Compacts the history up to `revision`, waiting until it is applied to the backend (as kube-apiserver's compaction would). */
  async compact(endpoint: Endpoint, revision: number, timeoutMs: number): Promise<void> {
    await this.call(endpoint, '/v3/kv/compaction', { revision: String(revision), physical: true }, timeoutMs);
  }

  async health(endpoint: Endpoint, timeoutMs: number): Promise<boolean> {
    try {
      const r = await this.call(endpoint, '/health', undefined, timeoutMs, 'GET');
      return r.health === 'true' || r.health === true;
    } catch {
      return false;
    }
  }

  /** The version the member's server reports (`/version`: `etcdserver`), e.g. `3.5.16`. */
  async serverVersion(endpoint: Endpoint, timeoutMs: number): Promise<string> {
    const r = await this.call(endpoint, '/version', undefined, timeoutMs, 'GET');
    if (typeof r.etcdserver !== 'string') throw new Error(`${endpoint.name} /version: no etcdserver in ${JSON.stringify(r).slice(0, 200)}`);
    return r.etcdserver;
  }

  /** The cluster version etcd reports on `/version` (`etcdcluster`, e.g. `3.4.0`): the lowest minor every member runs. */
  async clusterVersion(endpoint: Endpoint, timeoutMs: number): Promise<string> {
    const r = await this.call(endpoint, '/version', undefined, timeoutMs, 'GET');
    if (typeof r.etcdcluster !== 'string') throw new Error(`${endpoint.name} /version: no etcdcluster in ${JSON.stringify(r).slice(0, 200)}`);
    return r.etcdcluster;
  }

  /** Members as the cluster knows them: id (hex), name, peer URLs. */
  async memberList(endpoint: Endpoint, timeoutMs: number): Promise<{ id: string; name: string; peerURLs: string[] }[]> {
    const r = await this.call(endpoint, '/v3/cluster/member/list', {}, timeoutMs);
    return (r.members ?? []).map((m: { ID: string; name?: string; peerURLs?: string[] }) => ({
      id: BigInt(m.ID).toString(16),
      name: m.name ?? '',
      peerURLs: m.peerURLs ?? [],
    }));
  }

  close(): void {
    for (const agent of this.agents.values()) agent.destroy();
    this.agents.clear();
  }
}
