import { createHash } from 'crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { buildSync } from 'esbuild';
import { AGENT_MIN_NODE_MAJOR } from '../contract/agent-commands';

/** A bundled entry point: one self-contained JavaScript file. */
export interface Bundle {
  /** Directory holding only `fileName`, suitable for an archive asset. */
  readonly directory: string;
  /** Absolute path of the bundled file. */
  readonly path: string;
  /** Name of the bundled file inside `directory`. */
  readonly fileName: string;
  /** Hex sha256 of the bundled file, for verification at boot. */
  readonly sha256: string;
  /** Size in bytes. */
  readonly bytes: number;
}

/** Options for {@link bundleEntry}. */
export interface BundleOptions {
  /** File name of the output, e.g. `index.js`. */
  readonly fileName: string;
  /** Node.js version the bundle must run on, e.g. `node20`. */
  readonly target: string;
  /** Packages left out of the bundle because the runtime provides them (e.g. `@aws-sdk/*` on Lambda). */
  readonly external?: string[];
}

// Bundling is pure in its inputs; memoizing keeps a test run that synthesizes dozens of stacks fast.
const bundles = new Map<string, Bundle>();

// Bundles are needed only while this process runs (TerraformAsset copies them into cdktf.out at synth time).
process.once('exit', () => {
  for (const bundle of bundles.values()) rmSync(bundle.directory, { recursive: true, force: true });
});

/**
 * Bundles `entryWithoutExtension` (`.ts` in a checkout, `.js` in the published
 * package) with esbuild into a fresh directory and returns where it is.
 */
export function bundleEntry(entryWithoutExtension: string, options: BundleOptions): Bundle {
  const entry = [`${entryWithoutExtension}.ts`, `${entryWithoutExtension}.js`].find((p) => existsSync(p));
  if (!entry) {
    throw new Error(`cannot bundle ${entryWithoutExtension}: neither .ts nor .js exists (is the package installed completely?)`);
  }
  const key = `${entry}|${options.fileName}|${options.target}|${(options.external ?? []).join(',')}`;
  const cached = bundles.get(key);
  if (cached && existsSync(cached.path)) return cached;

  const directory = mkdtempSync(join(tmpdir(), 'cdktf-etcd-bundle-'));
  const path = join(directory, options.fileName);
  buildSync({
    entryPoints: [entry],
    outfile: path,
    bundle: true,
    minify: true,
    platform: 'node',
    format: 'cjs',
    target: options.target,
    legalComments: 'none',
    external: options.external,
    logLevel: 'error',
  });
  const content = readFileSync(path);
  const bundle: Bundle = {
    directory,
    path,
    fileName: options.fileName,
    sha256: createHash('sha256').update(content).digest('hex'),
    bytes: content.length,
  };
  bundles.set(key, bundle);
  return bundle;
}

/**
 * The node agent's bundle, as the construct uploads it and the local cluster
 * runs it: built for the oldest Node.js the agent accepts, so it runs on the
 * one installed on instances (`AGENT_NODE`) and on the local cluster's.
 */
export function bundleNodeAgent(): Bundle {
  return bundleEntry(join(__dirname, '..', 'node-agent', 'cli'), { fileName: 'agent.js', target: `node${AGENT_MIN_NODE_MAJOR}` });
}
