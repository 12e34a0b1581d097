import { createHash } from 'crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { DirectoryBackupStore } from '../../node-agent/backup';
import { planStart } from '../../node-agent/start-plan';
import { AgentRefusal } from '../../node-agent/step';
import { learnerMarkerFile } from '../../node-agent/learner';
import { AgentConfig, parseAgentConfig } from '../../contract/agent-config';
import type { BackupStore, MembershipPort, SnapshotRestorer } from '../../node-agent/ports';
import { memoryLogger } from '../../runtime/log';
import type { FoundIdentity } from '../../node-agent/volume-identity';

const SNAPSHOT = 'snapshots/frequent/2026-11-25T01-00-00Z-rev42.db';
let dir: string;
let config: AgentConfig;
let store: DirectoryBackupStore;

const nobodyAnswers: MembershipPort = {
  view: async () => ({ kind: 'no-answer' }),
  remove: async () => {
    throw new Error('no membership change without quorum');
  },
  add: async () => {
    throw new Error('no membership change without quorum');
  },
  members: async () => {
    throw new Error('no answer');
  },
  promote: async () => {
    throw new Error('no answer');
  },
};
const restorer = (): SnapshotRestorer & { calls: string[] } => {
  const calls: string[] = [];
  return {
    calls,
    restore: async (file, target, identity) => {
      calls.push(identity.name);
      mkdirSync(join(target, 'member', 'wal'), { recursive: true });
    },
  };
};
const noSleep = async () => undefined;
/** The volume at the data dir as the agent marked it for peer 4 of prod (token t, as in the config below). */
const ownVolume = async (): Promise<FoundIdentity & { device: string }> => ({
  device: '/dev/nvme1n1',
  label: 'etcd-4',
  marker: { kind: 'marker', marker: { clusterName: 'prod', clusterToken: 't', peerIndex: 4, createdAt: '2026-12-01T00:00:00.000Z' } },
});

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'plan-start-'));
  mkdirSync(join(dir, 'data'));
  config = parseAgentConfig({
    mode: 'aws', clusterName: 'prod', domain: 'prod.internal', peerIndex: 4, peerCount: 5, dataDir: join(dir, 'data'), clusterToken: 't', etcdUser: 'root',
    deadlines: { decideSeconds: 0.3 },
  });
  store = new DirectoryBackupStore(join(dir, 'backups'));
  writeFileSync(join(dir, 'snap.db'), 'snapshot');
  await store.upload(SNAPSHOT, join(dir, 'snap.db'), { sha256: createHash('sha256').update('snapshot').digest('hex'), revision: '42' });
  // Taken a minute ago: every report written from now on is after it.
  utimesSync(join(dir, 'backups', SNAPSHOT), new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const reportOthers = async (state: 'fresh' | 'member', restoredFrom?: string) => {
  for (const peer of [0, 1, 2, 3]) await store.putPeerReport(peer, { state, ...(restoredFrom ? { restoredFrom } : {}) });
};
const own = async () => (await store.readPeerReports()).find((r) => r.peer === 4);

describe('planStart: a fresh volume with no quorum', () => {
  test('every other peer reported an empty volume after the snapshot: restores it and reports member, restored from it', async () => {
    await reportOthers('fresh');
    const r = restorer();
    const log = memoryLogger();
    await expect(planStart(config, 'fresh', { readIdentity: ownVolume, membership: nobodyAnswers, backups: store, restorer: r, log, sleep: noSleep })).resolves.toBeUndefined();
    expect(r.calls).toEqual(['peer-4']);
    expect(existsSync(join(config.dataDir, 'member', 'wal'))).toBe(true);
    expect(await own()).toMatchObject({ state: 'member', restoredFrom: SNAPSHOT });
    expect(log.lines).toContainEqual(expect.objectContaining({ msg: 'start decision', action: 'restore', newestSnapshot: SNAPSHOT }));
  });

  test('reports fresh and waits while a peer is silent; restores once it reports', async () => {
    for (const peer of [0, 1, 2]) await store.putPeerReport(peer, { state: 'fresh' });
    const r = restorer();
    let waits = 0;
    const sleep = async () => {
      waits++;
      // While this peer waits, its own report says fresh: the others can count it.
      expect(await own()).toMatchObject({ state: 'fresh' });
      if (waits === 2) await store.putPeerReport(3, { state: 'fresh' });
    };
    await planStart({ ...config, deadlines: { ...config.deadlines, decideSeconds: 30 } }, 'fresh', { readIdentity: ownVolume, membership: nobodyAnswers, backups: store, restorer: r, log: memoryLogger(), sleep });
    expect(waits).toBe(2);
    expect(r.calls).toEqual(['peer-4']);
  });

  test('a peer holding data: never restores; gives up at the deadline naming it, and writes nothing into the data dir', async () => {
    await reportOthers('fresh');
    await store.putPeerReport(2, { state: 'member' });
    const r = restorer();
    const started = Date.now();
    const attempt = planStart(config, 'fresh', { readIdentity: ownVolume, membership: nobodyAnswers, backups: store, restorer: r, log: memoryLogger(), sleep: async () => new Promise((res) => setTimeout(res, 20)) });
    await expect(attempt).rejects.toThrow(AgentRefusal);
    await expect(attempt).rejects.toThrow(/peer-2 holds data newer than snapshot .*; gave up after 0.3s/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    expect(r.calls).toEqual([]);
    expect(existsSync(join(config.dataDir, 'member'))).toBe(false);
    // It still says fresh: it never ran etcd.
    expect(await own()).toMatchObject({ state: 'fresh' });
  });

  test('a store that fails is a reason to ask again, never to guess', async () => {
    await reportOthers('fresh');
    let failures = 2;
    const flaky: BackupStore = Object.create(store);
    flaky.listSnapshots = async () => {
      if (failures-- > 0) throw new Error('503 Slow Down');
      return store.listSnapshots();
    };
    const r = restorer();
    const log = memoryLogger();
    await planStart({ ...config, deadlines: { ...config.deadlines, decideSeconds: 30 } }, 'fresh', { readIdentity: ownVolume, membership: nobodyAnswers, backups: flaky, restorer: r, log, sleep: noSleep });
    expect(log.lines.filter((l) => l.msg === 'start decision failed; asking again')).toHaveLength(2);
    expect(r.calls).toEqual(['peer-4']);
  });

  test('a peer that already ran in the cluster restored from S does not restore S beside peers that hold it', async () => {
    await reportOthers('member', SNAPSHOT);
    await store.putPeerReport(4, { state: 'member', restoredFrom: SNAPSHOT });
    const attempt = planStart(config, 'fresh', { readIdentity: ownVolume, membership: nobodyAnswers, backups: store, restorer: restorer(), log: memoryLogger(), sleep: noSleep });
    await expect(attempt).rejects.toThrow(/must rejoin that cluster once it has quorum/);
    // Its report kept what it restored from, so the next boot knows too.
    expect(await own()).toMatchObject({ state: 'fresh', restoredFrom: SNAPSHOT });
  });

  test('a data dir with foreign files is refused and never reported as empty', async () => {
    await expect(planStart(config, 'unexpected', { readIdentity: ownVolume, membership: nobodyAnswers, backups: store, restorer: restorer(), log: memoryLogger(), sleep: noSleep })).rejects.toThrow(/files etcd did not write/);
    expect(await own()).toBeUndefined();
  });

  test('without backups nothing tells a lost cluster from a forming one: bootstrap, as before', async () => {
    await expect(planStart(config, 'fresh', { readIdentity: ownVolume, membership: nobodyAnswers, log: memoryLogger(), sleep: noSleep })).resolves.toBeUndefined();
  });
});

describe('planStart: the volume at the data dir must be this peer\'s', () => {
  const asking: MembershipPort = { ...nobodyAnswers, view: async () => { throw new Error('asked the cluster'); } };
  test.each<[string, FoundIdentity, RegExp]>([
    ['another peer\'s', { label: 'etcd-3', marker: { kind: 'marker', marker: { clusterName: 'prod', clusterToken: 't', peerIndex: 3, createdAt: 'then' } } },
      /belongs to another peer: its marker says peer 3 of cluster prod \(token t\), created then, but this is peer 4 of cluster prod/],
    ['another cluster\'s', { label: 'etcd-4', marker: { kind: 'marker', marker: { clusterName: 'staging', clusterToken: 'staging-etcd', peerIndex: 4, createdAt: 'then' } } },
      /belongs to another cluster: its marker says peer 4 of cluster staging/],
    ['unmarked (the volume step did not run)', { label: 'etcd-4', marker: { kind: 'absent' } }, /carries no identity marker/],
  ])('%s: refused before anything is reported or asked, whatever the data dir holds', async (_what, found, message) => {
    for (const dataDir of ['member', 'fresh'] as const) {
      const attempt = planStart(config, dataDir, { readIdentity: async () => ({ device: '/dev/nvme1n1', ...found }), membership: asking, backups: store, restorer: restorer(), log: memoryLogger(), sleep: noSleep });
      await expect(attempt).rejects.toThrow(message);
      await expect(attempt).rejects.toThrow(AgentRefusal);
    }
    expect(await own()).toBeUndefined();
  });
});

describe('planStart: a volume holding a member', () => {
  test('starts on its data and reports member, keeping what it restored from', async () => {
    await store.putPeerReport(4, { state: 'fresh', restoredFrom: SNAPSHOT });
    await expect(planStart(config, 'member', { readIdentity: ownVolume, membership: nobodyAnswers, backups: store, restorer: restorer(), log: memoryLogger(), sleep: noSleep })).resolves.toBeUndefined();
    expect(await own()).toMatchObject({ state: 'member', restoredFrom: SNAPSHOT });
  });

  test('a store that cannot be read does not hold etcd back', async () => {
    const broken: BackupStore = Object.create(store);
    broken.readPeerReports = async () => {
      throw new Error('AccessDenied');
    };
    const log = memoryLogger();
    await expect(planStart(config, 'member', { readIdentity: ownVolume, membership: nobodyAnswers, backups: broken, log, sleep: noSleep })).resolves.toBeUndefined();
    expect(log.lines).toContainEqual(expect.objectContaining({ msg: "could not report this peer's volume to the backup store", error: 'AccessDenied' }));
  });
});

describe('planStart: a fresh volume beside a live quorum', () => {
  const live = (adds: (() => Promise<string>)[]) => {
    const calls: string[] = [];
    const port: MembershipPort = {
      view: async () => ({ kind: 'answered', healthy: true, members: [{ id: 'aa', status: 'started', name: 'peer-4', peerUrls: ['http://peer-4.prod.internal:2380'], isLearner: false }] }),
      remove: async (id) => {
        calls.push(`remove ${id}`);
      },
      add: async (name, url, options) => {
        calls.push(`add ${name} ${url}${options?.learner ? ' --learner' : ''}`);
        return adds.shift()!();
      },
      members: async () => [],
      promote: async () => 'promoted',
    };
    return { port, calls };
  };

  test('replaces the stale member with a learner, and leaves the marker the promotion unit looks for', async () => {
    const { port, calls } = live([async () => 'peer-0=http://a:2380,peer-4=http://peer-4.prod.internal:2380']);
    const joining = await planStart({ ...config, etcdConfigFile: join(dir, 'etc', 'etcd.conf.yml') }, 'fresh', { readIdentity: ownVolume, membership: port, backups: store, restorer: restorer(), log: memoryLogger(), sleep: noSleep });
    expect(joining).toEqual({ initialCluster: 'peer-0=http://a:2380,peer-4=http://peer-4.prod.internal:2380' });
    expect(calls).toEqual(['remove aa', 'add peer-4 http://peer-4.prod.internal:2380 --learner']);
    expect(existsSync(learnerMarkerFile({ etcdConfigFile: join(dir, 'etc', 'etcd.conf.yml') }))).toBe(true);
    expect(await own()).toMatchObject({ state: 'member' });
  });

  test('while another learner catches up (etcd allows one), waits to be added instead of failing', async () => {
    const tooMany = async () => {
      throw new Error('etcdctl member add peer-4 failed: Error: etcdserver: too many learner members in cluster');
    };
    const { port, calls } = live([tooMany, tooMany, async () => 'peer-4=http://peer-4.prod.internal:2380']);
    const log = memoryLogger();
    await planStart({ ...config, etcdConfigFile: join(dir, 'etc', 'etcd.conf.yml'), deadlines: { ...config.deadlines, decideSeconds: 30 } }, 'fresh', { readIdentity: ownVolume, membership: port, backups: store, restorer: restorer(), log, sleep: noSleep });
    expect(calls.filter((c) => c.startsWith('add'))).toHaveLength(3);
    expect(log.lines.filter((l) => l.msg === 'another learner is catching up; waiting to be added')).toHaveLength(2);
  });

  test('any other failure to add is not waited out', async () => {
    const { port } = live([async () => { throw new Error('etcdctl member add peer-4 failed: permission denied'); }]);
    await expect(planStart({ ...config, etcdConfigFile: join(dir, 'etc', 'etcd.conf.yml') }, 'fresh', { readIdentity: ownVolume, membership: port, backups: store, restorer: restorer(), log: memoryLogger(), sleep: noSleep })).rejects.toThrow('permission denied');
  });
});
