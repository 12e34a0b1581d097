/** `node-agent hand-off`: the service that hands this peer over when its instance is terminating (see hand-off.ts). */
import { EtcdctlLeadership, AwsHandOffHost, AwsLifecycle } from './hand-off-adapters';
import { etcdctlPrefix } from './etcdctl';
import { watchAndHandOff } from './hand-off';
import { Handler, parseFlags, readConfig, UsageError } from './cli-support';

export const handOffCommand: Handler = async (rest, log) => {
  const config = readConfig(parseFlags(rest, ['config']).config);
  // Locally the simulation's supervisor plays Auto Scaling and calls handOff() with its own host and lifecycle.
  if (config.mode !== 'aws') throw new UsageError('hand-off watches instance metadata: it runs in aws mode only (the local cluster calls handOff itself)');
  await watchAndHandOff(config, {
    leadership: new EtcdctlLeadership(config, etcdctlPrefix(config)),
    host: new AwsHandOffHost(config),
    lifecycle: new AwsLifecycle(config),
    log,
  });
  return 0;
};
