/**
 * What every `node-agent` command handler shares: flags, the config file, the
 * usage error (exit 2). The handlers live in cli.ts or, for the larger ones,
 * in modules of their own that import this.
 */
import { readFileSync } from 'fs';
import { parseArgs } from 'util';
import { AgentConfig, parseAgentConfig } from '../contract/agent-config';
import type { Logger } from '../runtime/log';

/** One command's handler: its arguments after the command name; returns the exit code. */
export type Handler = (args: string[], log: Logger) => Promise<number>;

/** Bad usage or a bad config: the CLI prints it with the usage and exits 2. */
export class UsageError extends Error {}
/**
 * Parses `--name value` flags with `util.parseArgs`; an unknown or valueless
 * flag is a usage error that names the flag (Node's own wording does not say
 * what to do about it).
 */
export function parseFlags(args: string[], allowed: readonly string[]): Record<string, string | undefined> {
  try {
    const { values } = parseArgs({
      args,
      options: Object.fromEntries(allowed.map((name) => [name, { type: 'string' as const }])),
      strict: true,
      allowPositionals: false,
    });
    return values as Record<string, string | undefined>;
  } catch (error) {
    // parseArgs' own wording names no fix; say it in the agent's words.
    const { code, message } = error as { code?: string; message: string };
    const flag = /'(--[^' =<]+)/.exec(message)?.[1];
    if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && flag) throw new UsageError(`${flag} needs a value`);
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && flag) throw new UsageError(`unknown flag ${flag}; this command takes ${allowed.map((a) => `--${a}`).join(', ')}`);
    throw new UsageError(message);
  }
}

export function readConfig(file: string | undefined): AgentConfig {
  if (!file) throw new UsageError('--config FILE is required');
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new UsageError(`cannot read config ${file}: ${(error as Error).message}`);
  }
  let config: AgentConfig;
  try {
    config = parseAgentConfig(raw, file);
  } catch (error) {
    // A config that does not validate is bad input (exit 2), not a failed boot.
    throw new UsageError((error as Error).message);
  }
  useRegionOf(config, file);
  return config;
}

/**
 * Every AWS client of the agent takes its region from AWS_REGION: the SDK for
 * JavaScript, unlike the other SDKs, does not read it from instance metadata.
 */
function useRegionOf(config: AgentConfig, file: string): void {
  if (config.mode !== 'aws' || process.env.AWS_REGION) return;
  if (!config.region) throw new UsageError(`${file}: aws mode needs "region" (or AWS_REGION set): the AWS SDK for JavaScript does not read it from instance metadata`);
  process.env.AWS_REGION = config.region;
}

