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
  metrics: 'metrics',
  verifyBackup: 'verify-backup',
  handOff: 'hand-off',
  maintain: 'maintain',
} as const;

/** One subcommand of `node-agent`. */
export type AgentCommand = (typeof AGENT_COMMANDS)[keyof typeof AGENT_COMMANDS];

/** Path of the agent bundle on an instance. */
export const AGENT_PATH = '/usr/local/lib/etcd-node-agent/agent.js';
/** Path of the agent's configuration on an instance. */
export const AGENT_CONFIG_PATH = '/etc/etcd-node-agent/config.json';
/**
 * The Node.js that runs the agent on an instance. Amazon Linux 2023 packages
 * each supported major side by side as `nodejs<major>`, with the binary at
 * `/usr/bin/node-<major>`; the plain `nodejs` package (`/usr/bin/node`) is the
 * image's default, 18 on the releases known here, past its end of life.
 */
export const AGENT_NODE = { major: 22, dnfPackage: 'nodejs22', binary: '/usr/bin/node-22' } as const;

/**
 * The oldest Node.js major the agent runs on: the floor of the AWS SDK v3 it
 * bundles (`engines.node`, a test keeps them equal). The bundle is built for
 * it, and the agent refuses to start on anything older.
 */
export const AGENT_MIN_NODE_MAJOR = 20;

/** Why the agent cannot run on Node.js `version` (e.g. `18.20.4`); `undefined` when it can. */
export function nodeRuntimeProblem(version: string, execPath = 'node'): string | undefined {
  const major = Number(/^v?(\d+)\./.exec(version)?.[1]);
  if (major >= AGENT_MIN_NODE_MAJOR) return undefined;
  return (
    `node-agent needs Node.js ${AGENT_MIN_NODE_MAJOR} or later (the AWS SDK it bundles requires it), ` +
    `but runs on Node.js ${version} (${execPath}); on Amazon Linux 2023 install ${AGENT_NODE.dnfPackage} and run the agent with ${AGENT_NODE.binary}`
  );
}

/** What a systemd unit runs: `<node binary> <agent> <command> --config <config>`. */
export function agentCommandLine(command: AgentCommand): string {
  return `${AGENT_NODE.binary} ${AGENT_PATH} ${command} --config ${AGENT_CONFIG_PATH}`;
}

/** Every agent command named in a rendered script (for tests that tie both sides). */
export function agentCommandsIn(script: string): string[] {
  const pattern = new RegExp(`${AGENT_PATH.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} (\\S+)`, 'g');
  return [...script.matchAll(pattern)].map((m) => m[1]);
}
