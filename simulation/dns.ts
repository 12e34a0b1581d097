/**
 * The cluster's private zone, served by dnsmasq: static SRV records, and the
 * `peer-N` A records that the local Route 53 adapter rewrites (a hosts file,
 * reloaded on SIGHUP). `--local=/<domain>/` makes unknown names NXDOMAIN,
 * which etcd needs (it treats REFUSED/SERVFAIL as fatal).
 */
import { ChildProcess, spawn } from 'child_process';
import { promises as dns } from 'dns';
import { closeSync, openSync, promises as fs } from 'fs';
import { join } from 'path';
import { normalizeDomain } from '../contract/naming';
import { done, notYet, pollUntil, sleep } from '../runtime/retry';

/** An SRV record set: every target on the same port. */
export interface SrvRecord {
  readonly name: string;
  readonly port: number;
  readonly targets: string[];
}

/** dnsmasq serving one private domain. */
export class DnsmasqServer {
  private process?: ChildProcess;
  private readonly hostsFile: string;
  private records = new Map<string, string>();

  constructor(
    private readonly dir: string,
    private readonly domain: string,
    /** Addresses to answer on (each zone's gateway). */
    private readonly listen: string[],
    private readonly srv: SrvRecord[],
  ) {
    this.hostsFile = join(dir, 'peer-records.hosts');
  }

  async start(initial: Map<string, string>): Promise<void> {
    this.records = new Map(initial);
    await this.writeHosts();
    const args = [
      '--keep-in-foreground',
      '--no-resolv',
      '--no-hosts',
      '--no-poll',
      `--addn-hosts=${this.hostsFile}`,
      `--local=/${this.domain}/`,
      '--bind-dynamic',
      ...this.listen.map((ip) => `--listen-address=${ip}`),
      '--local-ttl=0',
      '--cache-size=0',
      '--user=root',
      '--pid-file=',
      ...this.srv.flatMap((s) => s.targets.map((t) => `--srv-host=${s.name},${t},${s.port},0,0`)),
    ];
    const log = openSync(join(this.dir, 'dnsmasq.log'), 'a');
    this.process = spawn('dnsmasq', args, { stdio: ['ignore', log, log] });
    closeSync(log);
    this.process.on('exit', () => (this.process = undefined));
    // Ready once it answers for a record it holds.
    const [first] = this.records.keys();
    const logHint = `see ${join(this.dir, 'dnsmasq.log')}`;
    await pollUntil(
      async () => {
        if ((await this.lookup(first).catch((): string[] => [])).length > 0) return done(undefined);
        if (!this.process) throw new Error(`dnsmasq exited at start; ${logHint}`);
        return notYet('dnsmasq does not answer yet');
      },
      { timeoutMs: 10_000, delayMs: 100, onTimeout: () => new Error(`dnsmasq did not answer within 10 s; ${logHint}`) },
    );
  }

  /** Current A records (name → address). */
  readRecords(): Map<string, string> {
    return new Map(this.records);
  }

  /** Replaces A records and makes dnsmasq reload them; concurrent callers are served one at a time. */
  setRecords(changes: Map<string, string>): Promise<void> {
    const next = this.writes.then(() => this.applyRecords(changes));
    this.writes = next.catch(() => undefined);
    return next;
  }

  private writes: Promise<unknown> = Promise.resolve();

  private async applyRecords(changes: Map<string, string>): Promise<void> {
    for (const [name, ip] of changes) this.records.set(normalizeDomain(name), ip);
    await this.writeHosts();
    this.process?.kill('SIGHUP');
    // SIGHUP is handled asynchronously: wait until a changed name answers with its new address.
    const [name, ip] = [...changes.entries()][0];
    await pollUntil(async () => ((await this.lookup(name).catch((): string[] => [])).includes(ip) ? done(undefined) : notYet('not yet reloaded')), {
      timeoutMs: 5000,
      delayMs: 20,
      onTimeout: () => new Error(`dnsmasq still does not answer ${ip} for ${name} 5 s after a reload`),
    });
  }

  /** Resolves through this server (not the host's resolver). */
  async lookup(name: string): Promise<string[]> {
    const resolver = new dns.Resolver({ timeout: 500, tries: 1 });
    resolver.setServers([this.listen[0]]);
    return resolver.resolve4(name);
  }

  async stop(): Promise<void> {
    const p = this.process;
    if (!p) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    await Promise.race([exited, sleep(3000)]);
  }

  private async writeHosts(): Promise<void> {
    const lines = [...this.records.entries()].map(([name, ip]) => `${ip} ${name}`);
    const temporary = `${this.hostsFile}.tmp`;
    await fs.writeFile(temporary, lines.join('\n') + '\n');
    await fs.rename(temporary, this.hostsFile);
  }
}
