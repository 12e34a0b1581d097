import { mkdtempSync, readFileSync, rmSync, statSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { mockClient } from 'aws-sdk-client-mock';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { peerIndexOfReportKey } from '../../contract/naming';
import { parsePeerStatus, peerIndexOfStatusKey, peerStatusKey } from '../../contract/peer-status';
import { DirectoryPeerStatusStore, peerStatusFrom, S3PeerStatusStore } from '../../node-agent/peer-status';

// `etcdctl endpoint status -w json` shapes of 3.4 and 3.5 (ids past 2^53; isLearner only when true).
const status = (leader: string, extra = '') =>
  `[{"Endpoint":"http://a:2379","Status":{"header":{"cluster_id":1,"member_id":13387593125553652827,"revision":812,"raft_term":2},"version":"3.4.23","dbSize":20480,"leader":${leader},"raftIndex":900,"raftTerm":2,"raftAppliedIndex":900${extra}}}]`;
const input = { peer: 3, instanceId: 'i-3', healthy: true, versionJson: '{"etcdserver":"3.4.23","etcdcluster":"3.4.0"}' };

describe("a peer's status for the roller", () => {
  test('the leader, with revision, versions and the cluster version', () => {
    expect(peerStatusFrom({ ...input, endpointStatusJson: status('13387593125553652827') })).toEqual({
      peer: 3, instanceId: 'i-3', healthy: true, role: 'leader', revision: 812, etcdVersion: '3.4.23', clusterVersion: '3.4.0',
    });
  });
  test('a follower whose id differs from the leader only past 2^53', () => {
    expect(peerStatusFrom({ ...input, endpointStatusJson: status('13387593125553652828') }).role).toBe('follower');
  });
  test('a learner', () => {
    expect(peerStatusFrom({ ...input, endpointStatusJson: status('13387593125553652828', ',"isLearner":true') }).role).toBe('learner');
  });
  test('no leader seen, or no health: unhealthy; an undecided cluster version is left out', () => {
    expect(peerStatusFrom({ ...input, endpointStatusJson: status('0') }).healthy).toBe(false);
    expect(peerStatusFrom({ ...input, healthy: false, endpointStatusJson: status('13387593125553652827') }).healthy).toBe(false);
    expect(peerStatusFrom({ ...input, versionJson: '{"etcdserver":"3.4.23","etcdcluster":"not_decided"}', endpointStatusJson: status('1') }).clusterVersion).toBeUndefined();
  });
  test('a status output without the member id is an error', () => {
    expect(() => peerStatusFrom({ ...input, endpointStatusJson: '[]' })).toThrow('printed no member_id and version');
  });
  test('what the agent writes is what the roller parses back; anything malformed is no status', () => {
    const body = peerStatusFrom({ ...input, endpointStatusJson: status('13387593125553652827') });
    expect(parsePeerStatus(JSON.stringify(body), 42)).toEqual({ ...body, at: 42 });
    expect(parsePeerStatus('{"peer":3}', 42)).toBeUndefined();
    expect(parsePeerStatus('not json', 42)).toBeUndefined();
    expect(parsePeerStatus(JSON.stringify({ ...body, role: 'boss' }), 42)).toBeUndefined();
  });
  test.each([
    ['a negative revision', { revision: -5 }],
    ['a revision past any real one', { revision: 2 ** 60 }],
    ['an empty instance id', { instanceId: '' }],
    ['a version with trailing garbage', { etcdVersion: '3.5.16garbage' }],
    ['a negative peer', { peer: -1 }],
  ])('%s is no status', (_what, change) => {
    const body = peerStatusFrom({ ...input, endpointStatusJson: status('1') });
    expect(parsePeerStatus(JSON.stringify({ ...body, ...change }), 42)).toBeUndefined();
  });
  test('a pre-release version is a version', () => {
    const body = peerStatusFrom({ ...input, endpointStatusJson: status('1') });
    expect(parsePeerStatus(JSON.stringify({ ...body, etcdVersion: '3.6.0-rc.1' }), 42)?.etcdVersion).toBe('3.6.0-rc.1');
  });
  test('status keys sit under the peers/ prefix the instance role may write, and are never read as volume reports', () => {
    expect(peerStatusKey(3)).toBe('peers/status/peer-3.json');
    expect(peerIndexOfStatusKey('peers/status/peer-3.json')).toBe(3);
    expect(peerIndexOfStatusKey('peers/peer-3.json')).toBeUndefined();
    expect(peerIndexOfStatusKey('peers/status/peer-3.bak.json')).toBeUndefined();
    expect(peerIndexOfStatusKey('peers/status/peer-03.json')).toBeUndefined();
    expect(peerIndexOfReportKey('peers/status/peer-3.json')).toBeUndefined();
  });
  test('stores: a file under the backup directory, an object in the bucket', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'status-'));
    const body = peerStatusFrom({ ...input, endpointStatusJson: status('1') });
    try {
      await new DirectoryPeerStatusStore(dir).put(body);
      const file = join(dir, 'peers/status/peer-3.json');
      expect(parsePeerStatus(readFileSync(file, 'utf8'), statSync(file).mtimeMs)?.instanceId).toBe('i-3');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const s3 = mockClient(S3Client);
    s3.on(PutObjectCommand).resolves({});
    await new S3PeerStatusStore('prod-backups', new S3Client({})).put(body);
    expect(s3.commandCalls(PutObjectCommand)[0].args[0].input).toMatchObject({ Bucket: 'prod-backups', Key: 'peers/status/peer-3.json', Body: JSON.stringify(body) });
  });
});
