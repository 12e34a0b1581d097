/**
 * Every peer publishes its etcd's health, version, revision and role next to
 * its volume report in the backup bucket (`contract/peer-status.ts`), so the
 * roller, which has no path to etcd on AWS, can tell when the next peer may
 * be replaced. The metrics timer publishes it every minute.
 */
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { promises as fs } from 'fs';
import { dirname, join } from 'path';
import type { AgentConfig } from '../contract/agent-config';
import { clientUrl, peerName } from '../contract/naming';
import { PeerRole, PeerStatusBody, peerStatusKey } from '../contract/peer-status';
import type { Logger } from '../runtime/log';
import { AWS_RETRY, SDK_CLIENT_CONFIG, withRetry } from '../runtime/retry';
import { runEtcdctl } from './etcdctl';
import { fetchText, parseEtcdJson } from './metrics-collect';
import type { PeerStatusStore } from './ports';

/**
 * The status from `etcdctl endpoint status -w json` of this member and etcd's
 * `/version` (`{"etcdserver":"3.5.16","etcdcluster":"3.5.0"}`); pure.
 */
export function peerStatusFrom(input: { peer: number; instanceId: string; healthy: boolean; endpointStatusJson: string; versionJson?: string }): PeerStatusBody {
  const status = (parseEtcdJson(input.endpointStatusJson) as Array<{ Status?: { header?: { member_id?: string; revision?: number }; leader?: string; version?: string; isLearner?: boolean } }>)[0]?.Status;
  if (!status?.header?.member_id || !status.version) throw new Error(`etcdctl endpoint status printed no member_id and version: ${input.endpointStatusJson.trim().slice(0, 200)}`);
  const role: PeerRole = status.isLearner ? 'learner' : status.leader === status.header.member_id ? 'leader' : 'follower';
  let clusterVersion: string | undefined;
  try {
    const v = input.versionJson ? (JSON.parse(input.versionJson) as { etcdcluster?: string }).etcdcluster : undefined;
    clusterVersion = v && v !== 'not_decided' ? v : undefined;
  } catch {
    clusterVersion = undefined;
  }
  return {
    peer: input.peer,
    instanceId: input.instanceId,
    // A member that answers but sees no leader cannot serve writes.
    healthy: input.healthy && !!status.leader && status.leader !== '0',
    role,
    revision: Number(status.header.revision ?? 0),
    etcdVersion: status.version,
    ...(clusterVersion ? { clusterVersion } : {}),
  };
}

/** Asks this peer's own member for its status; throws when it does not answer. */
export async function collectPeerStatus(config: AgentConfig, deps: { prefix: string[]; instanceId: string; ownEndpoint?: string }): Promise<PeerStatusBody> {
  const own = deps.ownEndpoint ?? clientUrl(config.domain, config.peerIndex, config.tls);
  const etcdctl = (args: string[]) => runEtcdctl(config, deps.prefix, { endpoint: own }, args, { dial: '2s', command: '5s' });
  const status = await etcdctl(['endpoint', 'status', '-w', 'json']);
  if (status.code !== 0) throw new Error(`etcdctl endpoint status failed: ${(status.stderr || status.stdout).trim().split('\n').pop()}`);
  // `endpoint health` reads through raft: it succeeds only while the cluster has quorum.
  const health = await etcdctl(['endpoint', 'health']);
  const versionJson = await fetchText(config, `${own}/version`).catch(() => undefined);
  return peerStatusFrom({ peer: config.peerIndex, instanceId: deps.instanceId, healthy: health.code === 0, endpointStatusJson: status.stdout, versionJson });
}

/** Collects and stores this peer's status; a failure is logged, never fatal to the metrics run. */
export async function publishPeerStatus(config: AgentConfig, deps: { prefix: string[]; instanceId: () => Promise<string>; store: PeerStatusStore; log: Logger }): Promise<PeerStatusBody | undefined> {
  try {
    const body = await collectPeerStatus(config, { prefix: deps.prefix, instanceId: await deps.instanceId() });
    await deps.store.put(body);
    deps.log.info('peer status published', { ...body, peer: peerName(config.peerIndex) });
    return body;
  } catch (error) {
    deps.log.warn('peer status not published', { peer: peerName(config.peerIndex), error: (error as Error).message });
    return undefined;
  }
}

/** Statuses in the S3 backup bucket. */
export class S3PeerStatusStore implements PeerStatusStore {
  constructor(
    private readonly bucket: string,
    private readonly client = new S3Client(SDK_CLIENT_CONFIG),
  ) {}

  async put(body: PeerStatusBody): Promise<void> {
    await withRetry(
      () => this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: peerStatusKey(body.peer), Body: JSON.stringify(body), ContentType: 'application/json' })),
      AWS_RETRY,
    );
  }
}

/** Statuses in the local backup directory (written whole, then renamed). */
export class DirectoryPeerStatusStore implements PeerStatusStore {
  constructor(private readonly dir: string) {}

  async put(body: PeerStatusBody): Promise<void> {
    const target = join(this.dir, peerStatusKey(body.peer));
    await fs.mkdir(dirname(target), { recursive: true });
    await fs.writeFile(`${target}.tmp`, JSON.stringify(body));
    await fs.rename(`${target}.tmp`, target);
  }
}
