import { readFileSync } from 'fs';
import { join } from 'path';
import { App, Testing } from 'cdktf';
import { EtcdStack } from '../../main';
import { EtcdClusterProps } from '../../constructs';

/** A resource block of cdk.tf.json. */
export type Block = Record<string, any>;

/** The parsed cdk.tf.json of one stack, as Terraform reads it. */
export interface SynthesizedStack {
  readonly json: Block;
  /** Resources of a type, keyed by logical id. */
  resources(type: string): Record<string, Block>;
  /** Resource of a type whose metadata path ends with `suffix` (e.g. `peer-3/group`). */
  byPath(type: string, suffix: string): Block;
  /** Follows a `${type.name.attr}` reference to the block it names. */
  deref(reference: string): Block;
}

export const DEFAULT_ZONES = ['us-east-1a', 'us-east-1b', 'us-east-1c'];

/** Synthesizes an {@link EtcdStack} with `props` to disk and reads back its cdk.tf.json; `mutate` may break it on purpose. */
export function synthCluster(props: Partial<EtcdClusterProps> = {}, mutate?: (stack: EtcdStack) => void): SynthesizedStack {
  const app = Testing.app() as App;
  const stack = new EtcdStack(app, 'etcd', {
    region: 'us-east-1',
    clusterName: 'test',
    zones: DEFAULT_ZONES,
    ...props,
  } as EtcdClusterProps & { region: string });
  mutate?.(stack);
  const outdir = Testing.fullSynth(stack);
  const json = JSON.parse(readFileSync(join(outdir, 'stacks', 'etcd', 'cdk.tf.json'), 'utf8'));
  return wrap(json);
}

function wrap(json: Block): SynthesizedStack {
  const resources = (type: string): Record<string, Block> => json.resource?.[type] ?? {};
  return {
    json,
    resources,
    byPath(type, suffix) {
      const found = Object.values(resources(type)).filter((r) => r['//']?.metadata?.path.endsWith(`/${suffix}`));
      if (found.length !== 1) throw new Error(`expected one ${type} at */${suffix}, found ${found.length}`);
      return found[0];
    },
    deref(reference) {
      const match = /^\$\{(data\.)?([a-z0-9_]+)\.([A-Za-z0-9_-]+)\.[a-z_]+\}$/.exec(reference);
      if (!match) throw new Error(`not a plain reference: ${reference}`);
      const block = match[1] ? json.data?.[match[2]]?.[match[3]] : json.resource?.[match[2]]?.[match[3]];
      if (!block) throw new Error(`dangling reference ${reference}`);
      return block;
    },
  };
}

/** Parses an IAM policy document rendered as a JSON string. */
export function policyStatements(policy: string): Block[] {
  return JSON.parse(policy).Statement;
}
