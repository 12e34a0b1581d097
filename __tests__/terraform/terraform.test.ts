/**
 * Real Terraform on the synthesized default stack, offline: `terraform init`
 * from a filesystem mirror, `terraform validate`, and `terraform test` with
 * `mock_provider "aws"` (a plan, then an apply), once per AWS provider major
 * (5.x from 5.100, and 6.x) that the mirror holds. See helpers/terraform.ts
 * for how the binary and the mirror are found.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { synthesizeDefaultApp } from '../../main';
import { describeUnless } from '../helpers/privileges';
import { compareVersions, findTerraform, runTerraform, TerraformSetup } from '../helpers/terraform';

const found = findTerraform();
const FIX = 'Install terraform >= 1.7 and put hashicorp/aws (5.100 or later 5.x, and 6.x) in a filesystem mirror: bash scripts/fetch-terraform.sh does both (CI runs it).';

/** The newest mirrored version of `major` (at least `floor`), if any. */
function newest(setup: TerraformSetup, major: number, floor: string): string | undefined {
  return setup.awsVersions.filter((v) => Number(v.split('.')[0]) === major && compareVersions(v, floor) >= 0).pop();
}

describeUnless('Terraform: init, validate, and a mock-provider plan and apply of the default stack', 'why' in found ? found.why : undefined, FIX, () => {
  if ('why' in found) {
    test('needs terraform and the AWS provider', () => undefined); // skipped: describeUnless said why
    return;
  }
  const setup = found;
  let synthesized: string;

  beforeAll(() => {
    const outdir = mkdtempSync(join(tmpdir(), 'etcd-tf-synth-'));
    synthesizeDefaultApp({ outdir, env: {} });
    synthesized = join(outdir, 'stacks', 'etcd');
  });

  // Provider 5.x is what this machine image and CI mirror; 6.x runs where a mirror has it.
  for (const [major, floor, requiredInCi] of [
    [5, '5.100.0', true],
    [6, '6.0.0', false],
  ] as const) {
    const version = newest(setup, major, floor);
    const missing = version ? undefined : `no hashicorp/aws ${major}.x (>= ${floor}) in ${setup.mirror}`;
    const run = (name: string, body: () => void) =>
      requiredInCi ? describeUnless(name, missing, FIX, body) : missing ? skipVisibly(name, missing) : describe(name, body);

    run(`AWS provider ${version ?? `${major}.x`}`, () => {
      let dir: string;
      beforeAll(() => {
        // The untouched JSON; only this copy's provider requirement is narrowed to the version under test.
        dir = mkdtempSync(join(tmpdir(), `etcd-tf-aws${major}-`));
        cpStack(synthesized, dir);
        const tf = JSON.parse(readFileSync(join(dir, 'cdk.tf.json'), 'utf8'));
        expect(tf.terraform.required_providers.aws.version).toBe('>= 5.100, < 7');
        writeFileSync(join(dir, 'version_override.tf.json'), JSON.stringify({ terraform: { required_providers: { aws: { source: 'hashicorp/aws', version: version } } } }));
        mkdirSync(join(dir, 'tests'));
        copyFileSync(join(__dirname, 'mock.tftest.hcl'), join(dir, 'tests', 'mock.tftest.hcl'));
      });

      test('init from the mirror, with no backend', () => {
        const init = runTerraform(setup, dir, ['init', '-input=false', '-backend=false']);
        expect({ status: init.status, output: init.output }).toMatchObject({ status: 0 });
        expect(init.output).toContain(`Installed hashicorp/aws v${version}`);
      }, 180_000);

      test('validate', () => {
        const validate = runTerraform(setup, dir, ['validate']);
        expect({ status: validate.status, output: validate.output }).toEqual({ status: 0, output: expect.stringContaining('The configuration is valid') });
      }, 180_000);

      test('plan and apply against the mocked provider; the teardown is refused only by the volumes', () => {
        const result = runTerraform(setup, dir, ['test']);
        expect(result.output).toMatch(/run "plan"\.\.\. pass/);
        expect(result.output).toMatch(/run "apply"\.\.\. pass/);
        expect(result.output).toContain('2 passed, 0 failed');
        // `terraform test` destroys what it applied; the volumes' prevent_destroy refuses that, as it refuses a real
        // `terraform destroy`. Every error must be that refusal, for exactly the 9 volumes and nothing else.
        const errors = result.output.match(/^Error: .*$/gm) ?? [];
        expect(new Set(errors)).toEqual(new Set(['Error: Instance cannot be destroyed']));
        const refused = [...result.output.matchAll(/^Resource (\S+) has\s*$/gm)].map((m) => m[1]);
        expect(refused).toHaveLength(9);
        for (const address of refused) expect(address).toMatch(/^aws_ebs_volume\.etcd_peer-\d_volume_/);
      }, 300_000);
    });
  }
});

/** A visible skip for a part that may be absent even in CI (provider 6.x is not in this image's mirror). */
function skipVisibly(name: string, why: string): void {
  // eslint-disable-next-line no-console
  console.warn(`SKIPPED "${name}": ${why}. ${FIX}`);
  describe.skip(name, () => test('skipped', () => undefined));
}

/** Copies a synthesized stack directory (cdk.tf.json and its assets). */
function cpStack(from: string, to: string): void {
  // fs.cpSync is stable from Node 22; the engines field admits 20.
  require('child_process').execFileSync('cp', ['-a', `${from}/.`, to]);
}
