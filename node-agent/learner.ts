/**
 * A peer that rejoins with an empty volume is added as a learner: it
 * replicates the log without voting, so until it has caught up it does not
 * count towards quorum. Once etcd runs, `node-agent promote` makes it a voter.
 * The agent leaves a marker beside etcd's config so only such a peer tries.
 */
import { promises as fs } from 'fs';
import { dirname, join } from 'path';
import { peerName, peerUrl } from '../contract/naming';
import type { Logger } from '../runtime/log';
import { done, notYet, pollUntil, sleep as pause } from '../runtime/retry';
import type { AgentConfig } from '../contract/agent-config';
import type { MembershipPort } from './ports';

/** The file whose presence says "this peer joined as a learner and awaits promotion". */
export function learnerMarkerFile(config: Pick<AgentConfig, 'etcdConfigFile'>): string {
  return join(dirname(config.etcdConfigFile), 'learner-pending');
}

/** Records whether this boot's etcd starts as a learner (a stale marker from an earlier boot is removed). */
export async function markLearner(config: AgentConfig, pending: boolean): Promise<void> {
  const file = learnerMarkerFile(config);
  if (!pending) return fs.rm(file, { force: true });
  await fs.mkdir(dirname(file), { recursive: true });
  await fs.writeFile(file, `${peerName(config.peerIndex)} joined as a learner at ${new Date().toISOString()}\n`);
}

/** What {@link promoteSelf} found or did. */
export type PromotionOutcome = 'nothing-pending' | 'already-voter' | 'promoted';

/**
 * Promotes this peer once the leader accepts it (etcd refuses while the
 * learner lags). Asks again every `retryMs` until the deadline, then throws;
 * the unit runs it again later.
 */
export async function promoteSelf(
  config: AgentConfig,
  membership: MembershipPort,
  deps: { log: Logger; sleep?: (ms: number) => Promise<void>; deadlineSeconds?: number; retryMs?: number },
): Promise<PromotionOutcome> {
  const marker = learnerMarkerFile(config);
  if (!(await fs.stat(marker).catch(() => undefined))) return 'nothing-pending';
  const url = peerUrl(config.domain, config.peerIndex, config.tls);
  const peer = peerName(config.peerIndex);
  const deadlineSeconds = deps.deadlineSeconds ?? config.deadlines.decideSeconds;
  return pollUntil<PromotionOutcome>(
    async (attempt) => {
      try {
        const me = (await membership.members()).find((m) => m.peerUrls.includes(url));
        if (!me) throw new Error(`${peer} (${url}) is not in the member list`);
        if (!me.isLearner) {
          await fs.rm(marker, { force: true });
          deps.log.info('already a voting member', { peer, memberId: me.id });
          return done('already-voter');
        }
        if ((await membership.promote(me.id)) === 'promoted') {
          await fs.rm(marker, { force: true });
          deps.log.info('learner promoted to voting member', { peer, memberId: me.id, attempts: attempt });
          return done('promoted');
        }
        return notYet('the leader says the learner has not caught up yet');
      } catch (error) {
        // Any failure (etcd not answering yet, the member list without this peer) is a reason to ask again.
        return notYet((error as Error).message);
      }
    },
    {
      timeoutMs: deadlineSeconds * 1000,
      delayMs: deps.retryMs ?? 1000,
      sleep: deps.sleep ?? pause,
      onWait: (reason, attempt) => {
        if (attempt === 1 || attempt % 10 === 0) deps.log.info('waiting to promote this learner', { peer, reason });
      },
      onTimeout: (reason) => new Error(`could not promote ${peer} from learner: ${reason}`),
    },
  );
}
