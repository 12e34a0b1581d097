/**
 * The node agent's command line, as the systemd units on an instance run it
 * and as `node-agent/cli.ts` parses it. Both sides import these names.
 */

/** Every subcommand of `node-agent`. */
export const AGENT_COMMANDS = {
  boot: 'boot',
  prepareVolume: 'prepare-volume',
  snapshot: 'snapshot',
  promote: 'promote',
  renewCertificates: 'renew-certificates',
  issueClientCert: 'issue-client-cert',
} as const;

/** One subcommand of `node-agent`. */
export type AgentCommand = (typeof AGENT_COMMANDS)[keyof typeof AGENT_COMMANDS];

/** Path of the agent bundle on an instance. */
export const AGENT_PATH = '/usr/local/lib/etcd-node-agent/agent.js';
/** Path of the agent's configuration on an instance. */
export const AGENT_CONFIG_PATH = '/etc/etcd-node-agent/config.json';
/** The Node.js binary the units run the agent with. */
export const AGENT_NODE_BINARY = '/usr/bin/node';

/** What a systemd unit runs: `/usr/bin/node <agent> <command> --config <config>`. */
export function agentCommandLine(command: AgentCommand): string {
  return `${AGENT_NODE_BINARY} ${AGENT_PATH} ${command} --config ${AGENT_CONFIG_PATH}`;
}

/** Every agent command named in a rendered script (for tests that tie both sides). */
export function agentCommandsIn(script: string): string[] {
  const pattern = new RegExp(`${AGENT_PATH.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} (\\S+)`, 'g');
  return [...script.matchAll(pattern)].map((m) => m[1]);
}
