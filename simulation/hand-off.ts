/**
 * The planned hand-off, locally: when the supervisor terminates an instance
 * through the terminate hook (the roller's replacements), the agent's own
 * `handOff` runs with the same decision and etcdctl adapter as on AWS; only
 * the instance's side is local (etcd's process, the loop device) and there
 * is no lifecycle action to complete.
 */
import { promises as fs } from 'fs';
import { join } from 'path';
import { parseAgentConfig } from '../contract/agent-config';
import { jsonLogger } from '../runtime/log';
import { handOff, HandOffOutcome } from '../node-agent/hand-off';
import { EtcdctlLeadership } from '../node-agent/hand-off-adapters';
import { etcdctlPrefix } from '../node-agent/etcdctl';
import type { Instance } from './instance';
import { killAndWait } from './processes';
import { peerName } from '../contract/naming';

/** Hands `instance` off: leadership, a clean stop of etcd (SIGTERM, as systemd stops it), then `release` (unmount, loop device freed). */
export async function handOffLocally(instance: Instance, release: () => Promise<void>, progress: (line: string) => void): Promise<HandOffOutcome> {
  const config = parseAgentConfig(JSON.parse(await fs.readFile(join(instance.dir, 'agent.json'), 'utf8')));
  const lines: string[] = [];
  const log = jsonLogger({ component: 'etcd-node-agent', command: 'hand-off' }, (line) => lines.push(line));
  const outcome = await handOff(config, {
    leadership: new EtcdctlLeadership(config, etcdctlPrefix(config)),
    host: {
      stopEtcd: async () => {
        // systemd's default stop timeout is 90 s; a clean etcd stops in well under a second.
        if (!(await killAndWait(instance.etcd, 20_000, 'SIGTERM'))) throw new Error('etcd did not exit within 20 s of SIGTERM');
      },
      unmountDataDir: release,
      // The loop device is freed with the unmount (release).
      detachVolume: async () => undefined,
    },
    lifecycle: { targetLifecycleState: async () => 'Terminated', completeTermination: async () => undefined },
    log,
  });
  await fs.appendFile(join(instance.dir, 'hand-off.log'), lines.join('\n') + '\n').catch(() => undefined);
  const l = outcome.leadership;
  progress(`hand-off of ${instance.id} (${peerName(instance.peerIndex)}): ${l.action === 'move' ? `leadership moved to ${l.to.name} (${outcome.steps.moveLeader})` : l.reason}; etcd stop ${outcome.steps.stopEtcd}, volume ${outcome.steps.unmount}`);
  return outcome;
}
