/** The local cluster's pieces that read command output or agent logs, and its background work. No root needed. */
import { AgentRunner, localAgentConfig, readBootReport, readSnapshotRound } from '../../simulation/agent-runner';
import { loopDevicesUnder, simulationNamespaces } from '../../simulation/cleanup';
import { BackgroundTasks } from '../../simulation/processes';
import { zoneAt } from '../../simulation/net';
import { collectPeerMetrics, highest, lowest, readMetricsLine } from '../../simulation/peer-metrics';
import { writeIopsLimit } from '../../simulation/slow-disk';
import { embeddedMetricDocument } from '../../node-agent/metrics';

describe('clean-up reads what a run left', () => {
  test('only the simulation namespaces', () => {
    expect(simulationNamespaces('etcdsim-p0-i-0001 (id: 3)\nother (id: 1)\netcdsim-client\n\n')).toEqual(['etcdsim-p0-i-0001', 'etcdsim-client']);
  });

  test('only loop devices backed by a volume file of a registered run', () => {
    const out = ['/dev/loop0 /tmp/a/volumes/peer-0.img', '/dev/loop1 /tmp/ab/volumes/peer-0.img', '/dev/loop2 /tmp/a/other.img', '/dev/loop3 /tmp/b/volumes/peer-1.img', ''].join('\n');
    expect(loopDevicesUnder(out, ['/tmp/a', '/tmp/b'])).toEqual(['/dev/loop0', '/dev/loop3']);
    expect(loopDevicesUnder(out, [])).toEqual([]);
  });
});

describe('the agent runner reads the agent', () => {
  test('boot: duration, restore and error from the JSON lines; other lines skipped', () => {
    const lines = ['not json', JSON.stringify({ msg: 'snapshot restored', key: 'snap-1' }), JSON.stringify({ msg: 'ready: etcd may start', durationMs: 812 })];
    expect(readBootReport(lines, 0)).toEqual({ code: 0, durationMs: 812, restoredFrom: 'snap-1', error: undefined });
    expect(readBootReport([JSON.stringify({ level: 'error', error: 'volume held by i-0002' })], 1)).toMatchObject({ code: 1, error: 'volume held by i-0002' });
    expect(readBootReport([], 3)).toMatchObject({ code: 3, error: 'exit 3' });
  });

  test('snapshot timers: taken by the leader, skipped by the rest; a failed run fails the round', () => {
    const ok = (lines: object[]) => ({ code: 0, stdout: lines.map((l) => JSON.stringify(l)).join('\n') + '\n', stderr: '' });
    const round = readSnapshotRound([ok([{ msg: 'snapshot uploaded', keys: ['k'], members: 3, revision: 42 }]), ok([{ msg: 'snapshot skipped' }]), ok([{ msg: 'snapshot skipped' }])]);
    expect(round).toEqual({ taken: 1, skipped: 2, uploaded: [{ keys: ['k'], members: 3, revision: 42 }] });
    expect(() => readSnapshotRound([ok([]), { code: 1, stdout: '', stderr: 'no quorum\n' }])).toThrow('snapshot failed on 1 peer(s): no quorum');
  });

  test('the agent runs in the instance\'s network with the host\'s mounts; metrics also with the zone\'s resolver', () => {
    const [file, args] = AgentRunner.commandLine('/b/agent.js', 'etcdsim-p4-i-0007', 'boot', '/i/agent.json');
    expect([file, ...args]).toEqual(['nsenter', '--net=/run/netns/etcdsim-p4-i-0007', '--', process.execPath, '/b/agent.js', 'boot', '--config', '/i/agent.json']);
    expect(AgentRunner.commandLine('/b/agent.js', 'etcdsim-p4-i-0007', 'snapshot', '/i/agent.json')[0]).toBe('nsenter');
    const [mfile, margs] = AgentRunner.commandLine('/b/agent.js', 'etcdsim-p4-i-0007', 'metrics', '/i/agent.json');
    expect([mfile, ...margs]).toEqual(['ip', 'netns', 'exec', 'etcdsim-p4-i-0007', process.execPath, '/b/agent.js', 'metrics', '--config', '/i/agent.json']);
  });

  test('the agent config of a local instance: its own paths, the run\'s CA and bucket, its namespace and zone DNS', () => {
    const host = { namespace: 'etcdsim-p4-i-0007', hostVeth: 'etcdsim-v7', ip: '10.77.1.12', zone: zoneAt(1) };
    const config = localAgentConfig({ clusterName: 'sim', domain: 'sim.etcd.test', peerCount: 9, runDir: '/run/x' }, { id: 'i-0007', peerIndex: 4, dir: '/run/x/instances/i-0007', host }, '/run/x/volumes/peer-4.img');
    expect(config).toMatchObject({
      mode: 'local',
      peerIndex: 4,
      peerCount: 9,
      dataDir: '/run/x/instances/i-0007/data',
      etcdConfigFile: '/run/x/instances/i-0007/etcd.conf.yml',
      ca: { dir: '/run/x/ca' },
      backup: { dir: '/run/x/backups' },
      local: { volumeFile: '/run/x/volumes/peer-4.img', ipAddress: '10.77.1.12', instanceId: 'i-0007', dnsServers: ['10.77.1.1'], netns: 'etcdsim-p4-i-0007' },
    });
  });
});

describe('background work a teardown waits for', () => {
  test('settle returns once every task has settled, failed ones included', async () => {
    const tasks = new BackgroundTasks();
    let finished = false;
    tasks.track(new Promise((r) => setTimeout(r, 50)).then(() => (finished = true)));
    tasks.track(Promise.reject(new Error('launch failed'))).catch(() => undefined);
    await tasks.settle(5000);
    expect(finished).toBe(true);
    expect(tasks.size).toBe(0);
  });

  test('settle gives up at its deadline and leaves the rest to clean-up', async () => {
    const tasks = new BackgroundTasks();
    tasks.track(new Promise(() => undefined));
    const started = Date.now();
    await tasks.settle(100);
    expect(tasks.size).toBe(1);
    expect(Date.now() - started).toBeLessThan(5000);
  });
});

describe('the peers\' metrics, read back from the agent\'s embedded-metric line', () => {
  test('every figure of the line the agent writes, by its CloudWatch name; other lines skipped', () => {
    const doc = embeddedMetricDocument('sim', 8, { walFsyncP99Ms: 187.5, quorumMargin: 4, dbSizeBytes: 20480 }, 1_000);
    const stdout = ['{"level":"warn","msg":"metric not collected"}', 'not json', JSON.stringify({ level: 'info', msg: 'metrics', peer: 'peer-8', ...doc }), ''].join('\n');
    expect(readMetricsLine(stdout)).toEqual({ WalFsyncP99Ms: 187.5, QuorumMargin: 4, DbSizeBytes: 20480 });
    expect(readMetricsLine('{"msg":"snapshot skipped"}\n')).toBeUndefined();
  });

  test('a peer whose metrics run could not finish is left out with a progress line; the others are kept', async () => {
    const line = JSON.stringify({ msg: 'metrics', ...embeddedMetricDocument('sim', 0, { quorumMargin: 1 }, 1_000) });
    const cluster = {
      onEveryPeer: async () => [
        { peer: 0, output: { code: 0, stdout: line + '\n', stderr: '' } },
        { peer: 1, output: { code: -1, stdout: '', stderr: 'node agent.js metrics could not run: timed out after 120000 ms' } },
      ],
    };
    const lines: string[] = [];
    expect(await collectPeerMetrics(cluster, (l) => lines.push(l))).toEqual({ 'peer-0': { QuorumMargin: 1 }, 'peer-1': {} });
    expect(lines).toEqual(['metrics on peer-1 failed: node agent.js metrics could not run: timed out after 120000 ms']);
  });

  test('highest and lowest over the peers, where they have the figure', () => {
    const m = { 'peer-0': { WalFsyncP99Ms: 3, QuorumMargin: 4 }, 'peer-8': { WalFsyncP99Ms: 187.5, QuorumMargin: 3 }, 'peer-1': {} };
    expect(highest(m, 'WalFsyncP99Ms')).toEqual({ peer: 'peer-8', value: 187.5 });
    expect(lowest(m, 'QuorumMargin')).toBe(3);
    expect(highest(m, 'DbSizeBytes')).toBeUndefined();
    expect(lowest({}, 'QuorumMargin')).toBeUndefined();
  });
});

describe('a slow disk', () => {
  test('the throttle line names the device and the writes per second; anything else is refused', () => {
    expect(writeIopsLimit('7:9', 10)).toBe('7:9 10');
    expect(() => writeIopsLimit('/dev/loop9', 10)).toThrow('a device number is MAJ:MIN, got "/dev/loop9"');
    expect(() => writeIopsLimit('7:9', 0)).toThrow('write IOPS must be a whole number of at least 1, got 0');
  });
});
