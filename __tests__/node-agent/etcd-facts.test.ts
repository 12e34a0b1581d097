/**
 * Facts about etcd that the agent's decisions rest on, checked against the
 * real binaries of each version the project runs (3.4: Debian bookworm's,
 * 3.5: Debian trixie's) rather than assumed. Where the versions differ, the
 * table below says how, and the test checks each version against its row.
 */
import { ChildProcess, spawn, spawnSync } from 'child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { SETTINGS_WITH_VERSION_DEPENDENT_DEFAULTS } from '../../node-agent/etcd-config';
import { PROMOTE_NOT_READY, TOO_MANY_LEARNERS } from '../../node-agent/etcdctl';
import { formationMemberId } from '../../node-agent/membership';
import type { EtcdMinor } from '../../runtime/etcd-binaries';
import { describeWithEtcd } from '../helpers/etcd';
import { describeWithRoot, loopDeviceUnavailability } from '../helpers/privileges';

/** How the versions differ, as found by these tests. */
const DIFFERENCES: Record<EtcdMinor, { preVoteByDefault: boolean; gatewayByDefault: boolean; etcdctlSnapshotStatusDeprecated: boolean; plainSrvDiscovery: boolean }> = {
  '3.4': { preVoteByDefault: false, gatewayByDefault: false, etcdctlSnapshotStatusDeprecated: false, plainSrvDiscovery: false },
  '3.5': { preVoteByDefault: true, gatewayByDefault: true, etcdctlSnapshotStatusDeprecated: true, plainSrvDiscovery: true },
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

for (const [minor, port] of [['3.4', 24800], ['3.5', 25800]] as const) {
  describeWithEtcd(minor, 'etcd facts the start decision relies on (real etcd on loopback)', (bin) => {
    const differences = DIFFERENCES[minor];
    let dir: string;
    const running: ChildProcess[] = [];
    const etcdctl = (endpoint: string, args: string[]) => spawnSync(bin().etcdctl, ['--endpoints', endpoint, '--dial-timeout', '1s', '--command-timeout', '2s', ...args], { encoding: 'utf8' });
    const url = (offset: number) => `http://127.0.0.1:${port + offset}`;

    function startEtcd(name: string, client: string, peer: string, initialCluster: string, extra: string[] = []): ChildProcess {
      const etcd = spawn(bin().etcd, ['--name', name, '--data-dir', join(dir, name), '--listen-client-urls', client, '--advertise-client-urls', client, '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer, '--initial-cluster', initialCluster, ...extra], { stdio: 'ignore' });
      running.push(etcd);
      return etcd;
    }
    async function untilHealthy(client: string): Promise<void> {
      for (let i = 0; i < 100 && etcdctl(client, ['endpoint', 'health']).status !== 0; i++) await sleep(100);
    }

    beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'etcd-facts-'))));
    afterAll(() => {
      for (const p of running) p.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    });

    test('a member without quorum does not answer member list, so "no answer" cannot tell forming from lost', async () => {
      const etcd = startEtcd('alone', url(11), url(12), `alone=${url(12)},b=${url(14)},c=${url(16)}`);
      await sleep(1500);
      const list = etcdctl(url(11), ['member', 'list']);
      // The member is running, just without quorum.
      expect(etcd.exitCode).toBeNull();
      expect(list.status).not.toBe(0);
    });

    test('formation members get sha1(peer URLs + token) as id, added ones do not; one learner at a time, and one not caught up is not promoted', async () => {
      startEtcd('solo', url(21), url(22), `solo=${url(22)}`, ['--initial-cluster-token', 'facts-token']);
      await untilHealthy(url(21));
      const first = etcdctl(url(21), ['member', 'add', 'learner-1', `--peer-urls=${url(91)}`, '--learner']);
      expect(first.status).toBe(0);
      const second = etcdctl(url(21), ['member', 'add', 'learner-2', `--peer-urls=${url(92)}`, '--learner']);
      expect(second.status).not.toBe(0);
      expect(second.stderr).toMatch(TOO_MANY_LEARNERS);
      // etcdctl prints the id with %16x: an id with a leading zero nibble comes out space-padded.
      const id = /Member\s+([0-9a-f]+) added/.exec(first.stdout)![1];
      const promote = etcdctl(url(21), ['member', 'promote', id]);
      expect(promote.status).not.toBe(0);
      expect(promote.stderr).toMatch(PROMOTE_NOT_READY);
      // member list marks it a learner in the last column, as parseMemberList reads it.
      const list = etcdctl(url(21), ['member', 'list', '-w', 'simple']).stdout;
      expect(list).toMatch(new RegExp(`^${id}, unstarted, , ${url(91)}, , true$`, 'm'));
      // The formation member's id is the one membership.ts computes; the added member's is time-based.
      expect(list).toMatch(new RegExp(`^${formationMemberId([url(22)], 'facts-token')}, started, solo, ${url(22)}, ${url(21)}, false$`, 'm'));
      expect(id).not.toBe(formationMemberId([url(91)], 'facts-token'));
    });

    test(`snapshot status: ${differences.etcdctlSnapshotStatusDeprecated ? 'etcdutl, etcdctl\'s is deprecated' : 'etcdctl, there is no etcdutl'}`, async () => {
      const file = join(dir, 'facts.db');
      expect(etcdctl(url(21), ['snapshot', 'save', file]).status).toBe(0);
      const byEtcdctl = spawnSync(bin().etcdctl, ['snapshot', 'status', file, '-w', 'json'], { encoding: 'utf8' });
      expect(byEtcdctl.status).toBe(0);
      // A warning on stderr only: stdout stays JSON, so either tool's output parses.
      expect(/Deprecated: Use `etcdutl snapshot status` instead/.test(byEtcdctl.stderr)).toBe(differences.etcdctlSnapshotStatusDeprecated);
      const status = JSON.parse(byEtcdctl.stdout);
      expect(status).toEqual({ hash: expect.any(Number), revision: expect.any(Number), totalKey: expect.any(Number), totalSize: expect.any(Number) });
      expect(bin().etcdutl !== undefined).toBe(differences.etcdctlSnapshotStatusDeprecated);
      if (bin().etcdutl) {
        const byEtcdutl = spawnSync(bin().etcdutl!, ['snapshot', 'status', file, '-w', 'json'], { encoding: 'utf8' });
        expect(byEtcdutl.status).toBe(0);
        expect(JSON.parse(byEtcdutl.stdout)).toEqual(status);
      }
    });

    /** Starts a one-member etcd from a config file and reads whether pre-vote is on and the JSON gateway answers. */
    async function fromConfigFile(name: string, offset: number, extraLines: readonly string[]): Promise<{ preVote: boolean; gatewayPaths: number[] }> {
      const file = join(dir, `${name}.yaml`);
      const log = join(dir, `${name}.log`);
      writeFileSync(
        file,
        [`name: ${name}`, `data-dir: ${join(dir, name)}`, `listen-client-urls: ${url(offset)}`, `advertise-client-urls: ${url(offset)}`, `listen-peer-urls: ${url(offset + 1)}`, `initial-advertise-peer-urls: ${url(offset + 1)}`, `initial-cluster: ${name}=${url(offset + 1)}`, 'logger: zap', ...extraLines, ''].join('\n'),
      );
      const out = openSync(log, 'w');
      running.push(spawn(bin().etcd, ['--config-file', file], { stdio: ['ignore', out, out] }));
      closeSync(out);
      await untilHealthy(url(offset));
      // etcd logs its configuration at start, pre-vote included.
      const setting = /"pre-vote":(true|false)/.exec(readFileSync(log, 'utf8'));
      expect(setting).not.toBeNull();
      // The paths the local cluster's JSON client calls.
      const gatewayPaths = await Promise.all(['/v3/kv/range', '/v3/cluster/member/list'].map(async (path) => (await fetch(`${url(offset)}${path}`, { method: 'POST', body: JSON.stringify(path.includes('range') ? { key: 'YQ==' } : {}) })).status));
      return { preVote: setting![1] === 'true', gatewayPaths };
    }

    test(`a config file that omits them: pre-vote ${differences.preVoteByDefault ? 'on' : 'off'}, JSON gateway ${differences.gatewayByDefault ? 'on' : 'off'}; the agent writes both, so both are on`, async () => {
      const omitted = await fromConfigFile('defaults', 31, []);
      expect(omitted.preVote).toBe(differences.preVoteByDefault);
      expect(omitted.gatewayPaths).toEqual(differences.gatewayByDefault ? [200, 200] : [404, 404]);
      const agents = await fromConfigFile('agents', 41, SETTINGS_WITH_VERSION_DEPENDENT_DEFAULTS);
      expect(agents).toEqual({ preVote: true, gatewayPaths: [200, 200] });
    });

    describeWithRoot('etcd and etcdctl with DNS discovery (own network and mount namespace, dnsmasq)', loopDeviceUnavailability(['unshare', 'nsenter', 'dnsmasq', 'ip', 'mount']), () => {
      // In a namespace of its own, 127.0.0.1:53 is this test's dnsmasq, and /etc/resolv.conf (bind-mounted there only) names it.
      const domain = 'facts.test';
      let holder: ChildProcess;
      const inNamespace = (file: string, args: string[]) => ['-t', String(holder.pid), '--net', '--mount', '--', file, ...args];
      const run = (file: string, args: string[]) => spawnSync('nsenter', inNamespace(file, args), { encoding: 'utf8' });
      const start = (file: string, args: string[], log: string) => {
        const out = openSync(join(dir, log), 'w');
        const child = spawn('nsenter', inNamespace(file, args), { stdio: ['ignore', out, out] });
        closeSync(out);
        running.push(child);
        return child;
      };
      const discoveryEtcdctl = (args: string[]) => run(bin().etcdctl, ['--discovery-srv', domain, '--dial-timeout', '1s', '--command-timeout', '2s', ...args]);

      beforeAll(async () => {
        writeFileSync(join(dir, 'resolv.conf'), 'nameserver 127.0.0.1\n');
        holder = spawn('unshare', ['--net', '--mount', 'sh', '-c', `ip link set lo up && mount --bind ${join(dir, 'resolv.conf')} /etc/resolv.conf && exec sleep 600`], { stdio: 'ignore' });
        running.push(holder);
        for (let i = 0; i < 50 && !/127\.0\.0\.1/.test(run('cat', ['/etc/resolv.conf']).stdout ?? ''); i++) await sleep(100);
        // Only the plain SRV names: etcd's _etcd-server._tcp and etcdctl's _etcd-client._tcp.
        start('dnsmasq', ['--keep-in-foreground', '--no-resolv', '--no-hosts', `--local=/${domain}/`, '--listen-address=127.0.0.1', '--bind-interfaces', '--user=root', '--pid-file=', `--host-record=m1.${domain},127.0.0.2`, `--srv-host=_etcd-server._tcp.${domain},m1.${domain},2380,0,0`, `--srv-host=_etcd-client._tcp.${domain},m1.${domain},2379,0,0`], 'dnsmasq.log');
        for (let i = 0; i < 50 && run('getent', ['hosts', `m1.${domain}`]).status !== 0; i++) await sleep(100);
      });

      test(`etcd ${differences.plainSrvDiscovery ? 'forms through the plain _etcd-server._tcp' : 'takes SRV discovery only through _etcd-server-ssl._tcp'}; etcdctl honours --discovery-srv for endpoint health only with --cluster`, async () => {
        const member = ['--name', 'm1', '--data-dir', join(dir, 'srv-m1'), '--listen-client-urls', 'http://127.0.0.2:2379', '--advertise-client-urls', `http://m1.${domain}:2379`, '--listen-peer-urls', 'http://127.0.0.2:2380', '--initial-advertise-peer-urls', `http://m1.${domain}:2380`];
        const discovered = start(bin().etcd, [...member, '--discovery-srv', domain], 'srv-etcd.log');
        for (let i = 0; i < 50 && discovered.exitCode === null && discoveryEtcdctl(['endpoint', 'health', '--cluster']).status !== 0; i++) await sleep(100);
        expect(discovered.exitCode === null).toBe(differences.plainSrvDiscovery);
        if (!differences.plainSrvDiscovery) {
          expect(readFileSync(join(dir, 'srv-etcd.log'), 'utf8')).toMatch(/_etcd-server-ssl\._tcp\.facts\.test/);
          // The same member with its cluster named outright, for etcdctl's part.
          start(bin().etcd, [...member, '--initial-cluster', `m1=http://m1.${domain}:2380`], 'srv-etcd-static.log');
          for (let i = 0; i < 50 && discoveryEtcdctl(['endpoint', 'health', '--cluster']).status !== 0; i++) await sleep(100);
        }
        // With --cluster, the endpoints come from the member list, reached through the SRV records.
        const withCluster = discoveryEtcdctl(['endpoint', 'health', '--cluster']);
        expect(withCluster.status).toBe(0);
        expect(withCluster.stdout + withCluster.stderr).toMatch(new RegExp(`http://m1\\.${domain}:2379 is healthy`));
        // Without it, etcdctl ignores the SRV records and probes 127.0.0.1:2379, where nothing listens.
        const without = discoveryEtcdctl(['endpoint', 'health']);
        expect(without.status).not.toBe(0);
        expect(without.stdout + without.stderr).toMatch(/127\.0\.0\.1:2379 is unhealthy/);
      });
    });
  });
}
