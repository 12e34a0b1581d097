import { mockClient } from 'aws-sdk-client-mock';
import { AutoScalingClient, CompleteLifecycleActionCommand } from '@aws-sdk/client-auto-scaling';
import { DescribeVolumesCommand, DetachVolumeCommand, EC2Client } from '@aws-sdk/client-ec2';
import { parseAgentConfig } from '../../contract/agent-config';
import { TERMINATE_HOOK_NAME } from '../../contract/events';
import { memoryLogger } from '../../runtime/log';
import { handOff, watchAndHandOff } from '../../node-agent/hand-off';
import { AwsHandOffHost, AwsLifecycle } from '../../node-agent/hand-off-adapters';
import { InstanceMetadata } from '../../node-agent/aws';
import type { LeadershipView } from '../../node-agent/leadership';
import type { HandOffHost, LeadershipPort, LifecyclePort } from '../../node-agent/ports';

const config = parseAgentConfig({ mode: 'aws', clusterName: 'prod', domain: 'prod.etcd.internal', peerIndex: 4, peerCount: 9, dataDir: '/var/lib/etcd', clusterToken: 't' });
const leaderView: LeadershipView = {
  selfId: '1',
  leaderId: '1',
  leaderIndex: 50,
  members: [
    { id: '1', name: 'peer-4', isLearner: false, healthy: true, appliedIndex: 50 },
    { id: '2', name: 'peer-5', isLearner: false, healthy: true, appliedIndex: 50 },
  ],
};

/** Fakes recording every call in order; `fail` names the calls that throw. */
function fakes(fail: string[] = [], view: LeadershipView | Error = leaderView) {
  const calls: string[] = [];
  const act = (name: string) => async () => {
    calls.push(name);
    if (fail.includes(name)) throw new Error(`${name} broke`);
  };
  const leadership: LeadershipPort = {
    view: async () => {
      if (view instanceof Error) throw view;
      return view;
    },
    moveLeader: async (to) => act(`move-leader ${to}`)(),
  };
  const host: HandOffHost = { stopEtcd: act('stop'), unmountDataDir: act('unmount'), detachVolume: act('detach') };
  const lifecycle: LifecyclePort = { targetLifecycleState: async () => 'Terminated', completeTermination: act('complete') };
  return { calls, leadership, host, lifecycle, log: memoryLogger() };
}

describe('the hand-off sequence', () => {
  test('the leader: move leadership, stop etcd, unmount, detach, complete, in that order', async () => {
    const f = fakes();
    const outcome = await handOff(config, f);
    expect(f.calls).toEqual(['move-leader 2', 'stop', 'unmount', 'detach', 'complete']);
    expect(outcome.steps).toEqual({ moveLeader: 'done', stopEtcd: 'done', unmount: 'done', detach: 'done', complete: 'done' });
  });

  test('a follower does not move leadership', async () => {
    const f = fakes([], { ...leaderView, leaderId: '2' });
    await handOff(config, f);
    expect(f.calls).toEqual(['stop', 'unmount', 'detach', 'complete']);
  });

  test('a failed move-leader still stops etcd and releases the volume (an election follows, as after a crash)', async () => {
    const f = fakes(['move-leader 2']);
    expect((await handOff(config, f)).steps).toMatchObject({ moveLeader: 'failed', stopEtcd: 'done', detach: 'done', complete: 'done' });
  });

  test('etcd not answering at all: no leadership step, the rest as usual', async () => {
    const f = fakes([], new Error('connection refused'));
    const outcome = await handOff(config, f);
    expect(outcome.leadership).toMatchObject({ action: 'none', reason: expect.stringContaining('connection refused') });
    expect(f.calls).toEqual(['stop', 'unmount', 'detach', 'complete']);
  });

  test('etcd that would not stop is never unmounted under, nor its volume detached; the hook is still completed', async () => {
    const f = fakes(['stop']);
    expect((await handOff(config, f)).steps).toMatchObject({ stopEtcd: 'failed', unmount: 'skipped', detach: 'skipped', complete: 'done' });
    expect(f.calls).toEqual(['move-leader 2', 'stop', 'complete']);
    expect(f.log.lines).toContainEqual(expect.objectContaining({ msg: 'volume left attached: the replacement waits for EC2 to release it' }));
  });

  test('a busy mount is not detached; the hook is still completed', async () => {
    const f = fakes(['unmount']);
    await handOff(config, f);
    expect(f.calls).toEqual(['move-leader 2', 'stop', 'unmount', 'complete']);
  });

  test('a hook that cannot be completed is the one failure the service reports (the hook times out instead)', async () => {
    await expect(handOff(config, fakes(['complete']))).rejects.toThrow('complete broke');
  });

  test('the watcher waits while the target state is InService or unreadable, then hands off once it is Terminated', async () => {
    const f = fakes();
    const states: Array<string | undefined | Error> = [undefined, 'InService', new Error('IMDS down'), 'InService', 'Terminated'];
    let slept = 0;
    const outcome = await watchAndHandOff(config, {
      ...f,
      lifecycle: {
        targetLifecycleState: async () => {
          const s = states.shift();
          if (s instanceof Error) throw s;
          return s;
        },
        completeTermination: f.lifecycle.completeTermination,
      },
      sleep: async () => void slept++,
    });
    expect(slept).toBe(4);
    expect(outcome.steps.complete).toBe('done');
    expect(f.log.lines.filter((l) => l.msg === 'target lifecycle state').map((l) => l.state)).toEqual(['none', 'InService', 'Terminated']);
  });
});

describe('the hand-off on AWS (mocked SDK and instance metadata)', () => {
  const ec2 = mockClient(EC2Client);
  const autoscaling = mockClient(AutoScalingClient);
  beforeEach(() => {
    ec2.reset();
    autoscaling.reset();
  });
  /** Instance metadata answering `paths`, 404 for anything else. */
  const metadata = (paths: Record<string, string>) =>
    new InstanceMetadata(async (url) => {
      if (url.endsWith('/api/token')) return { ok: true, status: 200, text: async () => 'token' };
      const path = url.split('/latest/meta-data/')[1];
      return path in paths ? { ok: true, status: 200, text: async () => paths[path] } : { ok: false, status: 404, text: async () => '' };
    });
  const options = (paths: Record<string, string>) => ({ metadata: metadata(paths), ec2: new EC2Client({}), autoscaling: new AutoScalingClient({}), retry: { attempts: 3, baseDelayMs: 1, maxDelayMs: 1 }, sleep: async () => undefined });

  test('the target lifecycle state comes from instance metadata; none yet (404) is no state, not an error', async () => {
    expect(await new AwsLifecycle(config, options({ 'autoscaling/target-lifecycle-state': 'Terminated' })).targetLifecycleState()).toBe('Terminated');
    expect(await new AwsLifecycle(config, options({})).targetLifecycleState()).toBeUndefined();
  });

  test("completes the terminate hook of this peer's group under the contract's name, with CONTINUE", async () => {
    autoscaling.on(CompleteLifecycleActionCommand).resolves({});
    await new AwsLifecycle(config, options({ 'instance-id': 'i-old' })).completeTermination();
    expect(autoscaling.commandCalls(CompleteLifecycleActionCommand)[0].args[0].input).toEqual({
      AutoScalingGroupName: 'prod-peer-4',
      LifecycleHookName: TERMINATE_HOOK_NAME,
      InstanceId: 'i-old',
      LifecycleActionResult: 'CONTINUE',
    });
  });

  test('a hook already completed or timed out is not a failure; throttling is retried', async () => {
    autoscaling
      .on(CompleteLifecycleActionCommand)
      .rejectsOnce(Object.assign(new Error('Rate exceeded'), { name: 'Throttling' }))
      .rejects(Object.assign(new Error('No active Lifecycle Action found with instance ID i-old'), { name: 'ValidationError' }));
    await new AwsLifecycle(config, options({ 'instance-id': 'i-old' })).completeTermination();
    expect(autoscaling.commandCalls(CompleteLifecycleActionCommand)).toHaveLength(2);
  });

  test("detaches this peer's volume from this instance (found by the cluster and peer tags and the attachment), not forced, and waits until it is free", async () => {
    ec2
      .on(DescribeVolumesCommand)
      .resolvesOnce({ Volumes: [{ VolumeId: 'vol-4', Attachments: [{ InstanceId: 'i-old', State: 'attached' }] }] })
      .resolvesOnce({ Volumes: [{ VolumeId: 'vol-4', Attachments: [{ InstanceId: 'i-old', State: 'detaching' }] }] })
      .resolves({ Volumes: [{ VolumeId: 'vol-4', State: 'available', Attachments: [] }] });
    ec2.on(DetachVolumeCommand).resolves({});
    await new AwsHandOffHost(config, options({ 'instance-id': 'i-old' })).detachVolume(memoryLogger());
    expect(ec2.commandCalls(DescribeVolumesCommand)[0].args[0].input.Filters).toEqual([
      { Name: 'tag:etcd-cluster:name', Values: ['prod'] },
      { Name: 'tag:etcd-cluster:peer-index', Values: ['4'] },
      { Name: 'attachment.instance-id', Values: ['i-old'] },
    ]);
    expect(ec2.commandCalls(DetachVolumeCommand)[0].args[0].input).toEqual({ VolumeId: 'vol-4', InstanceId: 'i-old' });
    expect(ec2.commandCalls(DescribeVolumesCommand)).toHaveLength(3);
  });

  test('a detach that does not finish in time is an error naming the volume', async () => {
    ec2.on(DescribeVolumesCommand).resolves({ Volumes: [{ VolumeId: 'vol-4', Attachments: [{ InstanceId: 'i-old', State: 'busy' }] }] });
    ec2.on(DetachVolumeCommand).resolves({});
    let clock = 0;
    const host = new AwsHandOffHost(config, { ...options({ 'instance-id': 'i-old' }), detachTimeoutMs: 5000, now: () => clock, sleep: async (ms: number) => void (clock += ms) });
    await expect(host.detachVolume(memoryLogger())).rejects.toThrow('volume vol-4 still attached after 5s: attachment busy');
  });

  test('stops etcd through systemd and unmounts only a mounted data dir', async () => {
    const commands: string[] = [];
    const host = (mounted: boolean) =>
      new AwsHandOffHost(config, { ...options({}), isMounted: async () => mounted, run: async (file: string, args: readonly string[]) => (commands.push([file, ...args].join(' ')), { code: 0, stdout: '', stderr: '' }) });
    await host(true).stopEtcd();
    await host(true).unmountDataDir();
    await host(false).unmountDataDir();
    expect(commands).toEqual(['systemctl stop etcd.service', 'umount /var/lib/etcd']);
  });
});

describe("the hand-off's budget (the terminate hook's timeout less the completion's margin)", () => {
  const tight = { ...config, deadlines: { ...config.deadlines, handOffSeconds: 0.3 } };

  test('a stop that outlasts the budget is given up; nothing is unmounted under it, and the action is still completed in time', async () => {
    const f = fakes();
    const never = new Promise<void>(() => undefined);
    const started = Date.now();
    const outcome = await handOff(tight, { ...f, host: { ...f.host, stopEtcd: () => never } });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(outcome.steps).toEqual({ moveLeader: 'done', stopEtcd: 'failed', unmount: 'skipped', detach: 'skipped', complete: 'done' });
    expect(f.calls).toEqual(['move-leader 2', 'complete']);
    expect(f.log.lines).toContainEqual(expect.objectContaining({ error: expect.stringContaining("not done within the hand-off's remaining") }));
  });

  test('a budget spent before a step skips it', async () => {
    const f = fakes();
    const slowMove: LeadershipPort = { ...f.leadership, moveLeader: () => new Promise((r) => setTimeout(r, 600)) };
    const outcome = await handOff({ ...tight, deadlines: { ...tight.deadlines, handOffSeconds: 0.4 } }, { ...f, leadership: slowMove });
    expect(outcome.steps.stopEtcd).toBe('skipped');
    expect(f.calls).toEqual(['complete']);
    expect(outcome.steps).toMatchObject({ moveLeader: 'failed', unmount: 'skipped', detach: 'skipped', complete: 'done' });
  });

  test('a lifecycle action that cannot be completed is the one failure handOff throws: the hook timeout then ends it', async () => {
    const f = fakes(['complete']);
    await expect(handOff(tight, f)).rejects.toThrow('complete broke');
    expect(f.calls).toEqual(['move-leader 2', 'stop', 'unmount', 'detach', 'complete']);
  });

  test('the budget sits inside the hook timeout: 180 s gives 160 s, the 30 s minimum gives 15 s', async () => {
    const { handOffBudgetSeconds, DEFAULT_DEADLINES } = await import('../../contract/agent-config');
    expect(handOffBudgetSeconds(180)).toBe(160);
    expect(handOffBudgetSeconds(30)).toBe(15);
    expect(DEFAULT_DEADLINES.handOffSeconds).toBe(160);
  });
});
