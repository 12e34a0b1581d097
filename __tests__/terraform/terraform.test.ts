/**
 * Real Terraform on the synthesized default stack, offline: `terraform init`
 * from a filesystem mirror, `terraform validate`, and `terraform test` with
 * `mock_provider "aws"` (a plan, then an apply), once per AWS provider major
 * (5.x from 5.100, and 6.x) that the mirror holds. See helpers/terraform.ts
 * for how the binary and the mirror are found.
 */
import { mkdtempSync, readFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { synthesizeDefaultApp } from '../../main';
import { describeUnless } from '../helpers/privileges';
import { expectMockPlanAndApply, findTerraform, newestAws, runTerraform, stackForTerraform } from '../helpers/terraform';

const found = findTerraform();
const FIX = 'Install terraform >= 1.7 and put hashicorp/aws (5.100 or later 5.x, and 6.x) in a filesystem mirror: bash scripts/fetch-terraform.sh does both (CI runs it).';

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
    const version = newestAws(setup, major, floor);
    const missing = version ? undefined : `no hashicorp/aws ${major}.x (>= ${floor}) in ${setup.mirror}`;
    const run = (name: string, body: () => void) =>
      requiredInCi ? describeUnless(name, missing, FIX, body) : missing ? skipVisibly(name, missing) : describe(name, body);

    run(`AWS provider ${version ?? `${major}.x`}`, () => {
      let dir: string;
      beforeAll(() => {
        // The untouched JSON; only this copy's provider requirement is narrowed to the version under test.
        const tf = JSON.parse(readFileSync(join(synthesized, 'cdk.tf.json'), 'utf8'));
        expect(tf.terraform.required_providers.aws.version).toBe('>= 5.100, < 7');
        dir = stackForTerraform(synthesized, version!);
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
        expectMockPlanAndApply(runTerraform(setup, dir, ['test']).output, 9);
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
