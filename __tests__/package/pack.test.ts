/**
 * The package as a consumer gets it: `npm pack` (which builds dist/ through `prepack`), the tarball's file list,
 * and the README's "As a library" quick start run against the unpacked tarball. The consumer's other packages
 * are links to this checkout's node_modules, so this runs offline and the library meets the consumer's own
 * cdktf, constructs and @cdktf/provider-aws, as a peer dependency does.
 */
import { execFileSync } from 'child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { expectMockPlanAndApply, findTerraform, newestAws, runTerraform, stackForTerraform, TerraformSetup } from '../helpers/terraform';

const root = join(__dirname, '..', '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const terraform = findTerraform();
const aws5 = 'why' in terraform ? undefined : newestAws(terraform, 5, '5.100.0');
/** Real Terraform where it is (the Terraform suite fails CI without it); a visible skip elsewhere. */
const withTerraform = aws5 ? test : test.skip;
if (!aws5) console.warn(`SKIPPED the consumer stack's terraform tests: ${'why' in terraform ? terraform.why : 'no hashicorp/aws 5.x >= 5.100 in the mirror'}`);

/** The files the README's quick start names (`<!-- quick-start: NAME -->` before a fenced block). */
export function quickStartFiles(readme: string): Record<string, string> {
  const files: Record<string, string> = {};
  for (const m of readme.matchAll(/<!-- quick-start: (\S+) -->\n```\w*\n([\s\S]*?)\n```/g)) files[m[1]] = `${m[2]}\n`;
  return files;
}

describe('npm pack', () => {
  let files: string[];
  let unpacked: string;
  let consumer: string;
  let consumerStack: string;

  beforeAll(() => {
    const out = mkdtempSync(join(tmpdir(), 'etcd-pack-'));
    const report = execFileSync('npm', ['pack', '--json', '--pack-destination', out], {
      cwd: root,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' },
    });
    // npm prints the build's own output before the JSON report.
    const [entry] = JSON.parse(report.slice(report.indexOf('[\n')));
    files = entry.files.map((f: { path: string }) => f.path);

    consumer = mkdtempSync(join(tmpdir(), 'etcd-consumer-'));
    const modules = join(consumer, 'node_modules');
    unpacked = join(modules, pkg.name);
    mkdirSync(unpacked, { recursive: true });
    execFileSync('tar', ['-xzf', join(out, entry.filename), '-C', unpacked, '--strip-components=1']);
    for (const name of readdirSync(join(root, 'node_modules'))) {
      if (name !== pkg.name) symlinkSync(join(root, 'node_modules', name), join(modules, name));
    }
  }, 180_000);

  test('ships main, types, source maps, the Lambda and agent sources synth bundles, LICENSE and the bin', () => {
    for (const entry of [pkg.main, pkg.types, 'package.json', 'README.md', 'LICENSE', 'bin/node-agent.js', 'dist/node-agent/cli.js', 'dist/lambda/index.js']) {
      expect(files).toContain(entry);
    }
    expect(files).toContain(`${pkg.main}.map`);
    expect(files).toContain(pkg.types.replace(/\.d\.ts$/, '.d.ts.map'));
    // Source maps carry their sources: the .ts files are not shipped.
    const map = JSON.parse(readFileSync(join(unpacked, `${pkg.main}.map`), 'utf8'));
    expect(map.sourcesContent?.[0]).toContain('export');
  });

  test('ships no tests, simulation, default app, scripts or TypeScript sources', () => {
    const stray = files.filter((f) => /(^|\/)(__tests__|simulation|scripts|app)\/|(^|\/)main\.(js|d\.ts)$|\.test\.|(?<!\.d)\.ts$/.test(f));
    expect(stray).toEqual([]);
    expect(files.every((f) => ['package.json', 'README.md', 'LICENSE'].includes(f) || /^(dist|bin)\//.test(f))).toBe(true);
  });

  test('cdktf, constructs and @cdktf/provider-aws are peer dependencies (and dev dependencies for the tests), not dependencies', () => {
    for (const name of ['cdktf', 'constructs', '@cdktf/provider-aws']) {
      expect(pkg.dependencies[name]).toBeUndefined();
      expect(pkg.peerDependencies[name]).toBeDefined();
      expect(pkg.devDependencies[name]).toBeDefined();
    }
    expect(pkg.peerDependencies['@cdktf/provider-aws']).toBe('>=20.1.0 <22');
    expect(pkg.scripts.bundle).toBeUndefined();
  });

  test('require() of the packed main gives the constructs', () => {
    const out = execFileSync('node', ['-e', `const m = require(${JSON.stringify(pkg.name)}); console.log(typeof m.EtcdCluster, typeof m.EtcdNetwork)`], {
      cwd: consumer,
      encoding: 'utf8',
    });
    expect(out.trim()).toBe('function function');
  });

  test("the README's quick start synthesizes the consumer's stack", () => {
    const quickStart = quickStartFiles(readFileSync(join(root, 'README.md'), 'utf8'));
    expect(Object.keys(quickStart).sort()).toEqual(['cdktf.json', 'main.ts', 'tsconfig.json']);
    for (const [name, content] of Object.entries(quickStart)) writeFileSync(join(consumer, name), content);
    writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'my-etcd', private: true }));
    // What `cdktf synth` runs: cdktf.json's app, here with ts-node type-checking main.ts against the packed .d.ts.
    const app: string = JSON.parse(quickStart['cdktf.json']).app;
    expect(app).toBe('npx ts-node main.ts');
    const outdir = join(consumer, 'cdktf.out');
    execFileSync(join(consumer, 'node_modules', '.bin', 'ts-node'), ['main.ts'], {
      cwd: consumer,
      env: { ...process.env, CDKTF_OUTDIR: outdir, CHECKPOINT_DISABLE: '1' },
      stdio: 'pipe',
    });
    consumerStack = join(outdir, 'stacks', 'control-plane-etcd');
    const tf = JSON.parse(readFileSync(join(consumerStack, 'cdk.tf.json'), 'utf8'));
    const groups = Object.values<any>(tf.resource.aws_autoscaling_group);
    expect(groups).toHaveLength(5);
    expect(tf.resource.aws_vpc).toBeUndefined(); // the consumer's own VPC
    expect(Object.values<any>(tf.data.aws_subnet).map((s) => s.id)).toContain('subnet-0e000000000000005');
    expect(Object.values<any>(tf.resource.aws_route53_zone)[0].name).toBe('etcd.prod.example.internal');
    expect(tf.terraform.required_providers.aws.version).toBe('>= 5.100, < 7');
    expect(tf.terraform.backend).toEqual({ s3: { bucket: 'my-tf-state', key: 'control-plane-etcd.tfstate', region: 'eu-west-1' } });
    // The agent and the Lambda were bundled at the consumer from the packed JavaScript.
    const assets = join(outdir, 'stacks', 'control-plane-etcd', 'assets');
    expect(existsSync(assets) && readdirSync(assets).length).toBeGreaterThanOrEqual(2);
  }, 180_000);

  /** `override_data` giving each looked-up subnet of the consumer's VPC a zone: `zoneOf(i)` for subnetIds[i]. */
  function subnetsInZones(zoneOf: (i: number) => string): string {
    const tf = JSON.parse(readFileSync(join(consumerStack, 'cdk.tf.json'), 'utf8'));
    return Object.entries<any>(tf.data.aws_subnet)
      .map(([name, subnet], i) => {
        expect(subnet.id).toBe(`subnet-0${'abcde'[i]}00000000000000${i + 1}`);
        return `override_data {\n  target = data.aws_subnet.${name}\n  values = { id = "${subnet.id}", vpc_id = "vpc-0a1b2c3d4e5f60718", availability_zone = "${zoneOf(i)}" }\n}`;
      })
      .join('\n');
  }
  const zone = (i: number) => `eu-west-1${'abcde'[i]}`;

  withTerraform(`the consumer's stack: terraform init, validate, and a mock-provider plan and apply (AWS provider ${aws5 ?? '5.x'})`, () => {
    const setup = terraform as TerraformSetup;
    const dir = stackForTerraform(consumerStack, aws5!, subnetsInZones(zone));
    expect(runTerraform(setup, dir, ['init', '-input=false', '-backend=false']).status).toBe(0);
    expect(runTerraform(setup, dir, ['validate']).output).toContain('The configuration is valid');
    expectMockPlanAndApply(runTerraform(setup, dir, ['test']).output, 5);
  }, 300_000);

  withTerraform('a subnet in the wrong zone stops the plan with the message naming network.subnetIds', () => {
    const setup = terraform as TerraformSetup;
    const dir = stackForTerraform(consumerStack, aws5!, subnetsInZones((i) => zone(i === 0 ? 1 : i === 1 ? 0 : i)));
    expect(runTerraform(setup, dir, ['init', '-input=false', '-backend=false']).status).toBe(0);
    const result = runTerraform(setup, dir, ['test']);
    expect(result.status).not.toBe(0);
    expect(result.output).toMatch(/run "plan"\.\.\. fail/);
    const message = result.output.replace(/\s+/g, ' '); // Terraform wraps long messages
    expect(message).toContain('Resource postcondition failed');
    expect(message).toContain('network.subnetIds[0] must be a subnet in eu-west-1a (zones[0]); order subnetIds like zones.');
    expect(message).toContain('network.subnetIds[1] must be a subnet in eu-west-1b (zones[1])');
  }, 300_000);
});
