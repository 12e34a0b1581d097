import { existsSync, mkdtempSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { parseAgentConfig } from '../../contract/agent-config';
import type { MembershipPort } from '../../node-agent/ports';
import { learnerMarkerFile, markLearner, promoteSelf } from '../../node-agent/learner';
import type { MemberEntry } from '../../node-agent/membership';
import { memoryLogger } from '../../runtime/log';

let dir: string;
beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'learner-'))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const configIn = (d: string) =>
  parseAgentConfig({ mode: 'aws', clusterName: 'prod', domain: 'prod.internal', peerIndex: 4, peerCount: 9, dataDir: '/d', clusterToken: 't', tls: true, ca: { secretId: 'arn' }, etcdConfigFile: join(d, 'etcd.conf.yml') });
const me = (isLearner: boolean): MemberEntry => ({ id: 'abc123', status: 'started', name: 'peer-4', peerUrls: ['https://peer-4.prod.internal:2380'], isLearner });
const port = (members: () => Promise<MemberEntry[]>, promote: MembershipPort['promote']): MembershipPort => ({
  view: async () => ({ kind: 'no-answer' }),
  remove: async () => undefined,
  add: async () => '',
  members,
  promote,
});

describe('learner promotion', () => {
  test('a peer that did not join as a learner has nothing to promote and asks nobody', async () => {
    const promote = jest.fn();
    expect(await promoteSelf(configIn(dir), port(async () => [me(true)], promote), { log: memoryLogger() })).toBe('nothing-pending');
    expect(promote).not.toHaveBeenCalled();
  });

  test('asks again while the leader says it has not caught up, then promotes and clears the marker', async () => {
    const config = configIn(dir);
    await markLearner(config, true);
    const answers: ('not-ready' | 'promoted')[] = ['not-ready', 'not-ready', 'promoted'];
    const promote = jest.fn(async () => answers.shift()!);
    const log = memoryLogger();
    expect(await promoteSelf(config, port(async () => [me(true)], promote), { log, sleep: async () => undefined })).toBe('promoted');
    expect(promote).toHaveBeenCalledTimes(3);
    expect(promote).toHaveBeenCalledWith('abc123');
    expect(existsSync(learnerMarkerFile(config))).toBe(false);
    expect(log.lines).toContainEqual(expect.objectContaining({ msg: 'learner promoted to voting member', memberId: 'abc123', attempts: 3 }));
  });

  test('already a voter (promoted by an earlier run): clears the marker without promoting', async () => {
    const config = configIn(dir);
    await markLearner(config, true);
    const promote = jest.fn();
    expect(await promoteSelf(config, port(async () => [me(false)], promote), { log: memoryLogger() })).toBe('already-voter');
    expect(promote).not.toHaveBeenCalled();
    expect(existsSync(learnerMarkerFile(config))).toBe(false);
  });

  test('gives up at the deadline with the last reason, keeping the marker for the next run', async () => {
    const config = configIn(dir);
    await markLearner(config, true);
    const attempt = promoteSelf(config, port(async () => [], async () => 'not-ready'), { log: memoryLogger(), deadlineSeconds: 0.05, retryMs: 10 });
    await expect(attempt).rejects.toThrow('could not promote peer-4 from learner: peer-4 (https://peer-4.prod.internal:2380) is not in the member list');
    expect(existsSync(learnerMarkerFile(config))).toBe(true);
  });

  test('a boot that does not join as a learner removes a stale marker', async () => {
    const config = configIn(dir);
    await markLearner(config, true);
    await markLearner(config, false);
    expect(existsSync(learnerMarkerFile(config))).toBe(false);
  });
});
