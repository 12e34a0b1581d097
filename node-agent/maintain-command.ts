/** `node-agent maintain`: one run of the maintenance timer (see maintain.ts); exit 1 when the run failed. */
import { Handler, parseFlags, readConfig } from './cli-support';
import { etcdctlPrefix } from './etcdctl';
import { logMaintenance, maintain } from './maintain';
import { EtcdctlMaintenance } from './maintenance-etcdctl';
import { CloudWatchMetricsSink } from './metrics-collect';

export const maintainCommand: Handler = async (rest, log) => {
  const config = readConfig(parseFlags(rest, ['config']).config);
  const outcome = await maintain(config, { etcd: new EtcdctlMaintenance(config, etcdctlPrefix(config)) });
  const at = Date.now();
  logMaintenance(config, outcome, log, at);
  // On AWS the bytes given back also go to CloudWatch; locally the log line is the whole record.
  if (outcome.freedBytes > 0 && config.mode === 'aws') {
    await new CloudWatchMetricsSink(config.clusterName, config.peerIndex).publish({ defragFreedBytes: outcome.freedBytes }, new Date(at));
  }
  return outcome.action === 'failed' ? 1 : 0;
};
