import { mockClient } from 'aws-sdk-client-mock';
import { AutoScalingClient, DescribeAutoScalingInstancesCommand } from '@aws-sdk/client-auto-scaling';
import { AttachVolumeCommand, CreateTagsCommand, DescribeInstancesCommand, DescribeVolumesCommand, DetachVolumeCommand, EC2Client } from '@aws-sdk/client-ec2';
import { AwsVolumeProvider, deviceCandidates, InstanceMetadata } from '../../node-agent/aws';
import { parseAgentConfig } from '../../contract/agent-config';
import { memoryLogger } from '../../runtime/log';

const ec2 = mockClient(EC2Client);
const autoscaling = mockClient(AutoScalingClient);

const config = parseAgentConfig({
  mode: 'aws',
  clusterName: 'prod',
  domain: 'prod.etcd.internal',
  peerIndex: 3,
  peerCount: 9,
  dataDir: '/var/lib/etcd',
  clusterToken: 't',
  deadlines: { attachSeconds: 120, forceDetachGraceSeconds: 30, deviceSeconds: 10, dnsSeconds: 10 },
});
const self = { instanceId: 'i-self', zone: 'us-east-1a', privateIp: '10.40.0.9' };
const nvme = deviceCandidates('vol-0abc')[0];

/** A provider on a fake clock: sleeping advances time, so deadlines are reached without waiting. */
function provider(existing: string[] = [nvme]) {
  let clock = 0;
  const p = new AwsVolumeProvider(config, {
    sleep: async (ms) => {
      clock += ms;
    },
    now: () => clock,
    retry: { attempts: 4, baseDelayMs: 10, maxDelayMs: 10 },
    pathExists: async (path) => existing.includes(path),
  });
  return { p, elapsed: () => clock };
}

function volume(attachments: { InstanceId: string; State: 'attached' | 'attaching' | 'detaching' | 'detached' }[], zone = 'us-east-1a') {
  return {
    VolumeId: 'vol-0abc',
    AvailabilityZone: zone,
    State: (attachments.length ? 'in-use' : 'available') as 'in-use' | 'available',
    Attachments: attachments,
  };
}

beforeEach(() => {
  ec2.reset();
  autoscaling.reset();
});

describe('node agent on AWS (mocked SDK)', () => {
  test('finds the volume by cluster and peer-index tags, attaches it and returns its NVMe device', async () => {
    ec2
      .on(DescribeVolumesCommand)
      .resolvesOnce({ Volumes: [volume([])] })
      .resolvesOnce({ Volumes: [volume([])] })
      .resolves({ Volumes: [volume([{ InstanceId: 'i-self', State: 'attached' }])] });
    ec2.on(AttachVolumeCommand).resolves({ State: 'attaching' });
    const { p } = provider();
    await expect(p.attachPeerVolume(self, memoryLogger())).resolves.toEqual({ volumeId: 'vol-0abc', device: '/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_vol0abc' });
    expect(ec2.commandCalls(DescribeVolumesCommand)[0].args[0].input).toEqual({
      Filters: [
        { Name: 'tag:etcd-cluster:name', Values: ['prod'] },
        { Name: 'tag:etcd-cluster:peer-index', Values: ['3'] },
      ],
    });
    expect(ec2.commandCalls(AttachVolumeCommand).map((c) => c.args[0].input)).toEqual([{ VolumeId: 'vol-0abc', InstanceId: 'i-self', Device: '/dev/xvdf' }]);
  });

  test('already attached here (reboot): no attach call', async () => {
    ec2.on(DescribeVolumesCommand).resolves({ Volumes: [volume([{ InstanceId: 'i-self', State: 'attached' }])] });
    const { p } = provider(['/dev/xvdf']);
    await expect(p.attachPeerVolume(self, memoryLogger())).resolves.toEqual({ volumeId: 'vol-0abc', device: '/dev/xvdf' });
    expect(ec2.commandCalls(AttachVolumeCommand)).toHaveLength(0);
  });

  test('held by a terminating instance: waits until EC2 releases it, then attaches; never force-detaches', async () => {
    const held = { Volumes: [volume([{ InstanceId: 'i-old', State: 'attached' }])] };
    ec2
      .on(DescribeVolumesCommand)
      .resolvesOnce(held) // by tags
      .resolvesOnce(held)
      .resolvesOnce(held)
      .resolvesOnce({ Volumes: [volume([])] })
      .resolves({ Volumes: [volume([{ InstanceId: 'i-self', State: 'attached' }])] });
    ec2.on(DescribeInstancesCommand).resolves({ Reservations: [{ Instances: [{ InstanceId: 'i-old', State: { Name: 'shutting-down' } }] }] });
    autoscaling.on(DescribeAutoScalingInstancesCommand).resolves({ AutoScalingInstances: [] });
    ec2.on(AttachVolumeCommand).resolves({});
    const log = memoryLogger();
    await provider().p.attachPeerVolume(self, log);
    expect(ec2.commandCalls(DetachVolumeCommand)).toHaveLength(0);
    expect(ec2.commandCalls(AttachVolumeCommand)).toHaveLength(1);
    expect(log.lines).toContainEqual(expect.objectContaining({ msg: 'waiting for volume', reason: expect.stringContaining('held by i-old, which is shutting-down') }));
  });

  test('a volume that turns to error while waited for fails at once, naming the state and the way out', async () => {
    const held = { Volumes: [volume([{ InstanceId: 'i-old', State: 'attached' }])] };
    ec2
      .on(DescribeVolumesCommand)
      .resolvesOnce(held) // by tags
      .resolvesOnce(held)
      .resolves({ Volumes: [{ ...volume([]), State: 'error' }] });
    ec2.on(DescribeInstancesCommand).resolves({ Reservations: [{ Instances: [{ InstanceId: 'i-old', State: { Name: 'shutting-down' } }] }] });
    autoscaling.on(DescribeAutoScalingInstancesCommand).resolves({ AutoScalingInstances: [] });
    const { p, elapsed } = provider();
    await expect(p.attachPeerVolume(self, memoryLogger())).rejects.toThrow(/volume vol-0abc is error; EC2 cannot attach it\. Replace it/);
    expect(elapsed()).toBeLessThan(30_000);
    expect(ec2.commandCalls(AttachVolumeCommand)).toHaveLength(0);
  });

  test('found by tags but not yet by id (an empty answer, then InvalidVolume.NotFound): asked again, then attached', async () => {
    const notFound = Object.assign(new Error("The volume 'vol-0abc' does not exist."), { name: 'InvalidVolume.NotFound', $metadata: { httpStatusCode: 400 } });
    ec2
      .on(DescribeVolumesCommand)
      .resolvesOnce({ Volumes: [volume([])] }) // by tags
      .resolvesOnce({ Volumes: [] })
      .rejectsOnce(notFound)
      .resolvesOnce({ Volumes: [volume([])] })
      .resolves({ Volumes: [volume([{ InstanceId: 'i-self', State: 'attached' }])] });
    ec2.on(AttachVolumeCommand).resolves({});
    const log = memoryLogger();
    await expect(provider().p.attachPeerVolume(self, log)).resolves.toMatchObject({ volumeId: 'vol-0abc' });
    expect(ec2.commandCalls(AttachVolumeCommand)).toHaveLength(1);
    expect(log.lines).toContainEqual(expect.objectContaining({ msg: 'waiting for volume', reason: 'volume vol-0abc was found by its tags but not yet by its id' }));
  });

  test('held by a running instance still in this peer\'s group: never stolen; fails at the deadline naming the holder', async () => {
    ec2.on(DescribeVolumesCommand).resolves({ Volumes: [volume([{ InstanceId: 'i-live', State: 'attached' }])] });
    ec2.on(DescribeInstancesCommand).resolves({ Reservations: [{ Instances: [{ InstanceId: 'i-live', State: { Name: 'running' } }] }] });
    autoscaling
      .on(DescribeAutoScalingInstancesCommand)
      .resolves({ AutoScalingInstances: [{ InstanceId: 'i-live', AutoScalingGroupName: 'prod-peer-3', LifecycleState: 'InService', AvailabilityZone: 'us-east-1a', HealthStatus: 'HEALTHY', ProtectedFromScaleIn: false }] });
    const { p, elapsed } = provider();
    await expect(p.attachPeerVolume(self, memoryLogger())).rejects.toThrow(
      "volume vol-0abc not attached after 120s: volume vol-0abc is attached to i-live (running), which is still in this peer's group; never taken from a live peer",
    );
    expect(ec2.commandCalls(DetachVolumeCommand)).toHaveLength(0);
    expect(elapsed()).toBeGreaterThanOrEqual(120_000);
  });

  test('held by a running instance that left this peer\'s group: force-detached after the grace period', async () => {
    const held = { Volumes: [volume([{ InstanceId: 'i-stray', State: 'attached' }])] };
    let detached = false;
    ec2.on(DescribeVolumesCommand).callsFake(async () => (detached ? { Volumes: [volume(attachedToSelf ? [{ InstanceId: 'i-self', State: 'attached' }] : [])] } : held));
    let attachedToSelf = false;
    ec2.on(DescribeInstancesCommand).resolves({ Reservations: [{ Instances: [{ InstanceId: 'i-stray', State: { Name: 'running' } }] }] });
    autoscaling.on(DescribeAutoScalingInstancesCommand).resolves({ AutoScalingInstances: [] });
    ec2.on(DetachVolumeCommand).callsFake(async () => {
      detached = true;
      return {};
    });
    ec2.on(AttachVolumeCommand).callsFake(async () => {
      attachedToSelf = true;
      return {};
    });
    const { p, elapsed } = provider();
    await p.attachPeerVolume(self, memoryLogger());
    expect(ec2.commandCalls(DetachVolumeCommand).map((c) => c.args[0].input)).toEqual([{ VolumeId: 'vol-0abc', InstanceId: 'i-stray', Force: true }]);
    expect(elapsed()).toBeGreaterThanOrEqual(30_000);
  });

  test('throttled API calls are retried', async () => {
    ec2
      .on(DescribeVolumesCommand)
      .rejectsOnce(Object.assign(new Error('Request limit exceeded.'), { name: 'RequestLimitExceeded' }))
      .resolves({ Volumes: [volume([{ InstanceId: 'i-self', State: 'attached' }])] });
    await expect(provider().p.attachPeerVolume(self, memoryLogger())).resolves.toMatchObject({ volumeId: 'vol-0abc' });
    expect(ec2.commandCalls(DescribeVolumesCommand)).toHaveLength(3);
  });

  test.each([
    [[], 'no volume tagged etcd-cluster:name=prod, etcd-cluster:peer-index=3 exists'],
    [[volume([]), { ...volume([]), VolumeId: 'vol-dup' }], '2 volumes are tagged etcd-cluster:name=prod, etcd-cluster:peer-index=3'],
    [[volume([], 'us-east-1b')], 'is in us-east-1b but this instance is in us-east-1a'],
  ])('refuses a wrong set of volumes: %#', async (volumes, message) => {
    ec2.on(DescribeVolumesCommand).resolves({ Volumes: volumes });
    await expect(provider().p.attachPeerVolume(self, memoryLogger())).rejects.toThrow(message);
    expect(ec2.commandCalls(AttachVolumeCommand)).toHaveLength(0);
  });

  test('no device node appears: fails at the device deadline naming the candidates', async () => {
    ec2.on(DescribeVolumesCommand).resolves({ Volumes: [volume([{ InstanceId: 'i-self', State: 'attached' }])] });
    await expect(provider([]).p.attachPeerVolume(self, memoryLogger())).rejects.toThrow(
      'volume vol-0abc is attached but none of /dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_vol0abc, /dev/xvdf, /dev/sdf appeared within 10s',
    );
  });
});

describe('the volume\'s format record: its etcd-cluster:formatted-at tag (mocked SDK)', () => {
  const attached = { volumeId: 'vol-0abc', device: nvme };
  test('read from EC2 by the volume id: the tag\'s value, or none', async () => {
    ec2.on(DescribeVolumesCommand, { VolumeIds: ['vol-0abc'] }).resolvesOnce({ Volumes: [{ ...volume([]), Tags: [{ Key: 'etcd-cluster:formatted-at', Value: '2026-12-01T00:00:00.000Z' }] }] })
      .resolvesOnce({ Volumes: [{ ...volume([]), Tags: [{ Key: 'etcd-cluster:peer-index', Value: '3' }] }] });
    const record = provider().p.formatRecord(attached);
    expect(record.where).toBe('the tag etcd-cluster:formatted-at on vol-0abc');
    await expect(record.read()).resolves.toBe('2026-12-01T00:00:00.000Z');
    await expect(record.read()).resolves.toBeUndefined();
  });
  test('a volume EC2 cannot describe is an error, never "not formatted"', async () => {
    ec2.on(DescribeVolumesCommand).rejects(Object.assign(new Error('gone'), { name: 'InvalidVolume.NotFound' }));
    await expect(provider().p.formatRecord(attached).read()).rejects.toThrow('volume vol-0abc cannot be described; cannot tell whether it was formatted before');
  });
  test('written with CreateTags on this volume only, under the one key, throttling retried', async () => {
    ec2.on(CreateTagsCommand).rejectsOnce(Object.assign(new Error('slow down'), { name: 'RequestLimitExceeded', $metadata: { httpStatusCode: 503 } })).resolves({});
    await provider().p.formatRecord(attached).write(new Date('2026-12-04T03:00:00Z'));
    const calls = ec2.commandCalls(CreateTagsCommand);
    expect(calls).toHaveLength(2);
    expect(calls[1].args[0].input).toEqual({ Resources: ['vol-0abc'], Tags: [{ Key: 'etcd-cluster:formatted-at', Value: '2026-12-04T03:00:00.000Z' }] });
  });
});

describe('IMDSv2', () => {
  test('takes a session token, then reads metadata with it', async () => {
    const calls: { url: string; init?: { method?: string; headers?: Record<string, string> } }[] = [];
    const fake = async (url: string, init?: { method?: string; headers?: Record<string, string> }) => {
      calls.push({ url, init });
      const body = url.endsWith('/api/token') ? 'TOKEN' : url.endsWith('instance-id') ? 'i-self\n' : '';
      return { ok: true, status: 200, text: async () => body };
    };
    const imds = new InstanceMetadata(fake, 'http://imds');
    await expect(imds.get('instance-id')).resolves.toBe('i-self');
    await imds.get('instance-id');
    expect(calls.map((c) => [c.init?.method ?? 'GET', c.url])).toEqual([
      ['PUT', 'http://imds/latest/api/token'],
      ['GET', 'http://imds/latest/meta-data/instance-id'],
      ['GET', 'http://imds/latest/meta-data/instance-id'],
    ]);
    expect(calls[0].init!.headers).toEqual({ 'X-aws-ec2-metadata-token-ttl-seconds': '21600' });
    expect(calls[1].init!.headers).toEqual({ 'X-aws-ec2-metadata-token': 'TOKEN' });
  });

  type Init = { method?: string; headers?: Record<string, string>; signal?: AbortSignal };
  const noWait = { attempts: 6, baseDelayMs: 1, maxDelayMs: 1, sleep: async () => {} };
  const reset = () => Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }) });

  test('one identification takes one token, however many reads wait for it', async () => {
    let tokens = 0;
    const fake = async (url: string) => {
      if (url.endsWith('/api/token')) tokens++;
      await new Promise((r) => setTimeout(r, 5));
      return { ok: true, status: 200, text: async () => (url.endsWith('/api/token') ? 'TOKEN' : 'x') };
    };
    const imds = new InstanceMetadata(fake, 'http://imds', { retry: noWait });
    await Promise.all([imds.get('instance-id'), imds.get('placement/availability-zone'), imds.get('local-ipv4')]);
    expect(tokens).toBe(1);
  });

  test('a reset connection, a refused token and a 429 are retried; every request carries a timeout', async () => {
    const answers: (() => { ok: boolean; status: number; text(): Promise<string> })[] = [
      () => { throw reset(); },
      () => ({ ok: false, status: 429, text: async () => '' }),
      () => ({ ok: true, status: 200, text: async () => 'TOKEN' }),
      () => { throw reset(); },
      () => ({ ok: false, status: 429, text: async () => '' }),
      () => ({ ok: true, status: 200, text: async () => 'i-self' }),
    ];
    const signals: (AbortSignal | undefined)[] = [];
    const fake = async (_url: string, init?: Init) => {
      signals.push(init?.signal);
      return answers.shift()!();
    };
    await expect(new InstanceMetadata(fake, 'http://imds', { retry: noWait }).get('instance-id')).resolves.toBe('i-self');
    expect(answers).toHaveLength(0);
    expect(signals.every((s) => s instanceof AbortSignal)).toBe(true);
  });

  test('a hung metadata socket times out and is retried', async () => {
    let calls = 0;
    const fake = (url: string, init?: Init) => {
      calls++;
      if (calls === 1) {
        return new Promise<never>((_, reject) => init!.signal!.addEventListener('abort', () => reject(init!.signal!.reason)));
      }
      return Promise.resolve({ ok: true, status: 200, text: async () => (url.endsWith('/api/token') ? 'TOKEN' : 'eu-west-1a') });
    };
    const imds = new InstanceMetadata(fake, 'http://imds', { retry: noWait, requestTimeoutMs: 20 });
    await expect(imds.get('placement/availability-zone')).resolves.toBe('eu-west-1a');
    expect(calls).toBe(3);
  });

  test('a 404 is not retried and names the path', async () => {
    let calls = 0;
    const fake = async (url: string) => {
      calls++;
      return url.endsWith('/api/token') ? { ok: true, status: 200, text: async () => 'TOKEN' } : { ok: false, status: 404, text: async () => '' };
    };
    await expect(new InstanceMetadata(fake, 'http://imds', { retry: noWait }).get('local-ipv4')).rejects.toThrow('IMDS local-ipv4 failed with HTTP 404');
    expect(calls).toBe(2);
  });
});
