/**
 * npm run simulate -- --scenario NAME [--peers 9 --zones 3] [--tolerate zone-and-node|zone] [--etcd 3.5|3.4] [--json FILE] [--dir DIR]
 * Runs a scenario on the local cluster (needs root, Linux namespaces, etcd, dnsmasq).
 * The layout is checked like the construct's (`tolerate`, default zone-and-node); the
 * zone-and-node scenario always needs a layout that survives a zone plus a node.
 * `--etcd` picks the etcd version every process of the run uses (default 3.5);
 * the report gives the version the members reported, not the flag.
 */
import { promises as fs } from 'fs';
import { dirname, join } from 'path';
import { parseArgs } from 'util';
import { EtcdBinaries, etcdBinaries, ETCD_MINORS, EtcdMinor, parseEtcdMinor } from '../runtime/etcd-binaries';
import { DEFAULT_TOLERANCE, Tolerance, TOLERANCES, validateSizeAndZones } from '../contract/topology';
import type { LocalCluster } from './cluster';
import { expectedMemberIdChanges, FAILURES } from './failures';
import { figures, renderSvg, renderTable } from './report';
import { formationProblem, runScenario, ScenarioName, ScenarioResult, SCENARIOS } from './scenarios';

/** The etcd version a run uses unless `--etcd` says otherwise: the minor AWS deploys. */
export const DEFAULT_ETCD: EtcdMinor = '3.5';

const USAGE = `usage: npm run simulate -- --scenario ${SCENARIOS.join('|')}|all [--peers 9] [--zones 3] [--tolerate ${TOLERANCES.join('|')}] [--etcd ${[...ETCD_MINORS].reverse().join('|')}] [--json FILE] [--dir DIR]`;

/**
 * The construct's check of size, zones and tolerance, with its message in the CLI's words.
 * The zone-and-node scenario kills a zone plus a node, so it needs that whatever `--tolerate` says.
 */
export function topologyProblem(peers: number, zones: number, tolerate: Tolerance, scenarios: readonly string[]): string | undefined {
  const forced = scenarios.includes('zone-and-node');
  try {
    validateSizeAndZones(peers, Array.from({ length: zones }, (_, z) => `zone-${z}`), forced ? 'zone-and-node' : tolerate);
    return undefined;
  } catch (error) {
    const message = (error as Error).message.replace(/^size/, '--peers').replace(/zones lists/, '--zones gives');
    if (forced) return `the zone-and-node scenario kills a zone plus a node: ${message.replace(/, or set tolerate: '\w+'$/, '')}`;
    return message.replace(/set tolerate: '(\w+)'/, 'pass --tolerate $1');
  }
}

/** A run passed: nothing lost, and exactly the member ids its failure must change changed (see failures.ts). */
export function succeeded(r: Pick<ScenarioResult, 'scenario' | 'peers' | 'zones' | 'lost' | 'memberIdsChanged'>): boolean {
  return r.lost === 0 && JSON.stringify(r.memberIdsChanged) === JSON.stringify(expectedMemberIdChanges(r.scenario, r));
}

async function main(argv: string[]): Promise<number> {
  let flags: Record<string, string | undefined>;
  try {
    flags = parseArgs({
      args: argv,
      options: { scenario: { type: 'string' }, peers: { type: 'string' }, zones: { type: 'string' }, tolerate: { type: 'string' }, etcd: { type: 'string' }, json: { type: 'string' }, dir: { type: 'string' } },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const scenario = flags.scenario;
  const names = scenario === 'all' ? [...SCENARIOS] : [scenario as ScenarioName];
  if (!scenario || names.some((n) => !SCENARIOS.includes(n))) {
    process.stderr.write(`${scenario ? `unknown scenario ${scenario}` : '--scenario is required'}\n${USAGE}\n`);
    return 2;
  }
  for (const flag of ['peers', 'zones'] as const) {
    const text = flags[flag];
    if (text !== undefined && !/^[1-9][0-9]{0,2}$/.test(text)) {
      process.stderr.write(`--${flag} must be a whole number from 1 to 999, got ${text}\n${USAGE}\n`);
      return 2;
    }
  }
  const peers = Number(flags.peers ?? 9);
  const zones = Number(flags.zones ?? 3);
  const tolerate = (flags.tolerate ?? DEFAULT_TOLERANCE) as Tolerance;
  if (!TOLERANCES.includes(tolerate)) {
    process.stderr.write(`--tolerate must be ${TOLERANCES.join(' or ')}, got ${tolerate}\n${USAGE}\n`);
    return 2;
  }
  const problem = topologyProblem(peers, zones, tolerate, names);
  if (problem) {
    process.stderr.write(`${problem}\n`);
    return 2;
  }
  let etcd: EtcdBinaries;
  try {
    etcd = etcdBinaries(parseEtcdMinor(flags.etcd ?? DEFAULT_ETCD));
    // Before any scenario runs: a late refusal would lose the figures of those before it.
    for (const name of names) {
      const refused = formationProblem(name, etcd.minor);
      if (refused) throw new Error(refused);
      const formOn = FAILURES[name].formOn;
      if (formOn) etcdBinaries(formOn);
    }
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (process.getuid?.() !== 0) {
    process.stderr.write('the local cluster needs root (network namespaces, loop devices, mounts): run it with sudo\n');
    return 2;
  }
  const dir = flags.dir ?? '/tmp/etcdsim';
  const started = Date.now();
  const progress = (line: string) => process.stdout.write(`[${((Date.now() - started) / 1000).toFixed(1).padStart(6)}s] ${line}\n`);
  let active: LocalCluster | undefined;
  let interrupted = false;
  process.on('SIGINT', () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    progress('interrupted: cleaning up (Ctrl-C again to quit at once)');
    void (active?.teardown() ?? Promise.resolve()).finally(() => {
      progress('cleaned up');
      process.exit(130);
    });
  });

  const results: ScenarioResult[] = [];
  for (const name of names) {
    if (interrupted) break;
    results.push(await runScenario(name, { peers, zones, dir: join(dir, name), progress, etcd, onCluster: (c) => (active = c) }));
  }
  process.stdout.write('\n' + renderTable(results) + '\n');
  const jsonFile = flags.json;
  if (jsonFile) {
    await fs.mkdir(dirname(jsonFile), { recursive: true });
    await fs.writeFile(jsonFile, JSON.stringify(results.length === 1 ? figures(results[0]) : results.map(figures), null, 2) + '\n');
    for (const r of results) {
      const svg = jsonFile.replace(/\.json$/, '') + (results.length === 1 ? '' : `-${r.scenario}`) + '.svg';
      await fs.writeFile(svg, renderSvg(r));
      process.stdout.write(`wrote ${svg}\n`);
    }
    process.stdout.write(`wrote ${jsonFile}\n`);
  }
  // Only a lost volume may change a member id (that peer rejoins as a new member); a restore keeps the formation ids.
  return results.every((r) => succeeded(r)) ? 0 : 1;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error) => {
      process.stderr.write(`simulation failed: ${(error as Error).stack ?? error}\n`);
      process.exit(1);
    },
  );
}
