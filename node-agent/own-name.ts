/** Boot step 10: etcd starts only once its own name points at this instance. */
import type { AgentConfig } from '../contract/agent-config';
import { peerFqdn } from '../contract/naming';
import type { Logger } from '../runtime/log';
import { done, jitteredBackoff, notYet, pollUntil } from '../runtime/retry';
import type { NameResolver } from './ports';
import { AgentRefusal } from './step';

/**
 * Waits until `peer-N.<domain>` resolves to this instance's IP alone. The
 * launch hook holds the group's in-service step, not the boot, so without this
 * wait etcd could start while its name still points at the dead instance.
 */
export async function waitForOwnName(
  config: AgentConfig,
  ownIp: string,
  resolver: NameResolver,
  log: Logger,
  sleep: (ms: number) => Promise<void>,
): Promise<string[]> {
  const fqdn = peerFqdn(config.domain, config.peerIndex);
  let seen: string[] = [];
  let lastLog = 0;
  return pollUntil(
    async () => {
      try {
        seen = await resolver.resolve4(fqdn);
      } catch (error) {
        seen = [`error: ${(error as Error).message}`];
      }
      return seen.length === 1 && seen[0] === ownIp ? done(seen) : notYet(`${fqdn} resolves to ${seen.join(', ') || 'nothing'}`);
    },
    {
      timeoutMs: config.deadlines.dnsSeconds * 1000,
      delayMs: jitteredBackoff({ floorMs: 100, baseDelayMs: 100, maxDelayMs: 2000 }),
      sleep,
      onWait: () => {
        if (Date.now() - lastLog < 5000) return;
        log.info('waiting for own name', { name: fqdn, want: ownIp, resolved: seen });
        lastLog = Date.now();
      },
      onTimeout: () =>
        new AgentRefusal(
          `${fqdn} still resolves to ${seen.join(', ') || 'nothing'} instead of this instance's ${ownIp} after ${config.deadlines.dnsSeconds}s; is the DNS updater running?`,
        ),
    },
  );
}
