/**
 * Real Terraform for the tests, offline: a `terraform` binary (>= 1.7, for
 * `mock_provider`) and the hashicorp/aws provider in a filesystem mirror.
 *
 * The mirror is `TF_PROVIDER_MIRROR` when set, else the first of
 * {@link MIRROR_CANDIDATES} that holds hashicorp/aws (packed or unpacked
 * layout). The tests write their own CLI config naming it, so they never read
 * the user's `~/.terraformrc` and never reach a registry.
 */
import { execFileSync } from 'child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'fs';
import { homedir, tmpdir } from 'os';
import { join } from 'path';

const AWS_IN_MIRROR = join('registry.terraform.io', 'hashicorp', 'aws');
const PROJECT = join(__dirname, '..', '..');

/** Where the tests look for a provider mirror when `TF_PROVIDER_MIRROR` is unset. */
export const MIRROR_CANDIDATES = [
  join(PROJECT, '.terraform-mirror'), // what scripts/fetch-terraform.sh fills
  '/opt/tf-plugins',
  join(homedir(), '.terraform.d', 'plugins'),
  join(homedir(), '.local', 'share', 'terraform', 'plugins'),
  '/usr/local/share/terraform/plugins',
  '/usr/share/terraform/plugins',
];

/** What the tests found: the binary, its version, the mirror and the AWS provider versions in it. */
export interface TerraformSetup {
  readonly terraform: string;
  readonly version: string;
  readonly mirror: string;
  /** hashicorp/aws versions in the mirror, e.g. `['5.100.0']`, oldest first. */
  readonly awsVersions: string[];
  /** A CLI config file that installs hashicorp/aws from the mirror only. */
  readonly cliConfig: string;
}

/** The hashicorp/aws versions a mirror holds, in either of Terraform's mirror layouts. */
export function awsVersionsIn(mirror: string): string[] {
  const dir = join(mirror, AWS_IN_MIRROR);
  if (!existsSync(dir)) return [];
  const versions = readdirSync(dir).flatMap((entry) => {
    const packed = /^terraform-provider-aws_(\d+\.\d+\.\d+)_linux_amd64\.zip$/.exec(entry);
    if (packed) return [packed[1]];
    return /^\d+\.\d+\.\d+$/.test(entry) && existsSync(join(dir, entry, 'linux_amd64')) ? [entry] : [];
  });
  return [...new Set(versions)].sort(compareVersions);
}

export function compareVersions(a: string, b: string): number {
  const [x, y] = [a, b].map((v) => v.split('.').map(Number));
  for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return x[i] - y[i];
  return 0;
}

/** The setup, or why there is none (`{ why }`), said so a reader knows what to install. */
export function findTerraform(env: NodeJS.ProcessEnv = process.env): TerraformSetup | { why: string } {
  const local = join(PROJECT, '.terraform-bin', 'terraform'); // where scripts/fetch-terraform.sh puts it without root
  const terraform = env.TERRAFORM ?? (existsSync(local) ? local : 'terraform');
  let version: string;
  try {
    version = JSON.parse(execFileSync(terraform, ['version', '-json'], { encoding: 'utf8', env: { ...env, CHECKPOINT_DISABLE: '1' } })).terraform_version;
  } catch {
    return { why: `no "${terraform}" binary on the PATH (HashiCorp ships it, not Debian; scripts/fetch-terraform.sh downloads it)` };
  }
  const [major, minor] = version.split('.').map(Number);
  if (major < 1 || (major === 1 && minor < 7)) return { why: `terraform ${version} is older than 1.7, which mock_provider needs` };
  const candidates = env.TF_PROVIDER_MIRROR ? [env.TF_PROVIDER_MIRROR] : MIRROR_CANDIDATES;
  const mirror = candidates.find((dir) => awsVersionsIn(dir).length > 0);
  if (!mirror) {
    return { why: `no hashicorp/aws provider in a filesystem mirror (looked in ${candidates.join(', ')}; set TF_PROVIDER_MIRROR to yours)` };
  }
  const cliConfig = join(mkdtempSync(join(tmpdir(), 'etcd-tf-cli-')), 'terraformrc');
  writeFileSync(
    cliConfig,
    [
      'provider_installation {',
      `  filesystem_mirror {\n    path    = ${JSON.stringify(mirror)}\n    include = ["registry.terraform.io/hashicorp/aws"]\n  }`,
      '  direct {\n    exclude = ["registry.terraform.io/hashicorp/aws"]\n  }',
      '}',
      '',
    ].join('\n'),
  );
  return { terraform, version, mirror, awsVersions: awsVersionsIn(mirror), cliConfig };
}

/** Runs terraform in `dir` with the mirror's CLI config; returns its exit status and combined output. */
export function runTerraform(setup: TerraformSetup, dir: string, args: string[]): { status: number; output: string } {
  try {
    const output = execFileSync(setup.terraform, [`-chdir=${dir}`, ...args, '-no-color'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, TF_CLI_CONFIG_FILE: setup.cliConfig, CHECKPOINT_DISABLE: '1', TF_IN_AUTOMATION: '1' },
      maxBuffer: 64 * 1024 * 1024,
    });
    return { status: 0, output };
  } catch (error) {
    const e = error as { status?: number; stdout?: string; stderr?: string };
    return { status: e.status ?? 1, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

/** The newest mirrored hashicorp/aws of `major`, at least `floor`, if any. */
export function newestAws(setup: TerraformSetup, major: number, floor: string): string | undefined {
  return setup.awsVersions.filter((v) => Number(v.split('.')[0]) === major && compareVersions(v, floor) >= 0).pop();
}

/**
 * Copies a synthesized stack directory into a scratch one for Terraform: the JSON untouched, plus an override file
 * that narrows the AWS provider to `version` and `tests/mock.tftest.hcl` (with `extraHcl`, e.g. `override_data`).
 */
export function stackForTerraform(stackDir: string, version: string, extraHcl = ''): string {
  const dir = mkdtempSync(join(tmpdir(), 'etcd-tf-stack-'));
  execFileSync('cp', ['-a', `${stackDir}/.`, dir]);
  writeFileSync(join(dir, 'version_override.tf.json'), JSON.stringify({ terraform: { required_providers: { aws: { source: 'hashicorp/aws', version } } } }));
  mkdirSync(join(dir, 'tests'));
  copyFileSync(join(__dirname, '..', 'terraform', 'mock.tftest.hcl'), join(dir, 'tests', 'mock.tftest.hcl'));
  if (extraHcl) writeFileSync(join(dir, 'tests', 'mock.tftest.hcl'), `${require('fs').readFileSync(join(dir, 'tests', 'mock.tftest.hcl'), 'utf8')}\n${extraHcl}\n`);
  return dir;
}

/**
 * What `terraform test` of mock.tftest.hcl must print: both runs pass, and the teardown (which destroys what the
 * apply made) is refused only by the volumes' prevent_destroy, as a real `terraform destroy` is; one per peer.
 */
export function expectMockPlanAndApply(output: string, peers: number): void {
  expect(output).toMatch(/run "plan"\.\.\. pass/);
  expect(output).toMatch(/run "apply"\.\.\. pass/);
  expect(output).toContain('2 passed, 0 failed');
  const errors = output.match(/^Error: .*$/gm) ?? [];
  expect(new Set(errors)).toEqual(new Set(['Error: Instance cannot be destroyed']));
  const refused = [...output.matchAll(/^Resource (\S+) has\s*$/gm)].map((m) => m[1]);
  expect(refused).toHaveLength(peers);
  for (const address of refused) expect(address).toMatch(/^aws_ebs_volume\.etcd_peer-\d+_volume_/);
}
