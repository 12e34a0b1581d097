import { execFileSync } from 'child_process';
import { mkdtempSync, readFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { AWS_PROVIDER_VERSIONS, DefaultAppOptions, synthesizeDefaultApp } from '../../main';

const root = join(__dirname, '..', '..');

function synth(options: Omit<DefaultAppOptions, 'outdir'> = {}): Record<string, any> {
  const outdir = mkdtempSync(join(tmpdir(), 'etcd-default-app-'));
  synthesizeDefaultApp({ env: {}, ...options, outdir });
  return JSON.parse(readFileSync(join(outdir, 'stacks', 'etcd', 'cdk.tf.json'), 'utf8'));
}

describe('the default app', () => {
  test('untouched: local state beside cdktf.out (a relative path, no path of this machine), a provider range, 9 peers', () => {
    const tf = synth();
    expect(tf.terraform.backend).toEqual({ local: { path: '../../../terraform.etcd.tfstate' } });
    expect(JSON.stringify(tf)).not.toContain(root);
    expect(JSON.stringify(tf)).not.toContain(tmpdir());
    expect(tf.terraform.required_providers.aws.version).toBe(AWS_PROVIDER_VERSIONS);
    expect(AWS_PROVIDER_VERSIONS).toBe('>= 5.100, < 7');
    expect(Object.keys(tf.resource.aws_autoscaling_group)).toHaveLength(9);
    expect(tf.provider.aws[0].region).toBe('us-east-1');
  });

  test('the local state file is git-ignored', () => {
    const ignored = execFileSync('git', ['check-ignore', '-v', 'terraform.etcd.tfstate', 'terraform.etcd.tfstate.backup'], { cwd: root, encoding: 'utf8' });
    expect(ignored.trim().split('\n')).toHaveLength(2);
  });

  test('settings from the environment: an S3 backend, 5 peers over 5 zones of another region', () => {
    const tf = synth({
      env: {
        ETCD_REGION: 'eu-west-1', ETCD_ZONES: 'eu-west-1a,eu-west-1b,eu-west-1c,eu-west-1d,eu-west-1e', ETCD_SIZE: '5', ETCD_CLUSTER_NAME: 'prod',
        ETCD_BACKEND: 's3', ETCD_STATE_BUCKET: 'tf-state', ETCD_STATE_LOCKFILE: 'true',
      },
    });
    expect(tf.terraform.backend).toEqual({ s3: { bucket: 'tf-state', key: 'etcd/prod.tfstate', region: 'eu-west-1', use_lockfile: true } });
    expect(tf.provider.aws[0].region).toBe('eu-west-1');
    expect(Object.keys(tf.resource.aws_autoscaling_group)).toHaveLength(5);
    expect(Object.values<any>(tf.resource.aws_subnet).map((s) => s.availability_zone)).toContain('eu-west-1e');
  });

  test('a partial S3 backend: an empty block that terraform init -backend-config completes', () => {
    expect(synth({ env: { ETCD_BACKEND: 's3' } }).terraform.backend).toEqual({ s3: {} });
  });

  test('settings from cdktf context (cdktf.json "context")', () => {
    const tf = synth({ context: { size: 3, clusterName: 'small', tolerate: 'zone' } });
    expect(Object.keys(tf.resource.aws_autoscaling_group)).toHaveLength(3);
  });

  test('bad settings name the variable; a value the construct refuses names the prop and the variable', () => {
    expect(() => synth({ env: { ETCD_SIZE: 'nine' } })).toThrow('ETCD_SIZE (or context "size") must be a whole number');
    expect(() => synth({ env: { ETCD_SIZE: '8' } })).toThrow(/size 8 is even[\s\S]*In the default app, size is ETCD_SIZE \(or context "size"\)/);
  });

  test('`npm run synth`\'s app exits 1 with the message and no stack trace', () => {
    let failure: { status?: number; stderr?: string } = {};
    try {
      execFileSync(join(root, 'node_modules', '.bin', 'ts-node'), ['--transpile-only', 'main.ts'], {
        cwd: root,
        env: { ...process.env, ETCD_SIZE: 'x', CDKTF_OUTDIR: mkdtempSync(join(tmpdir(), 'etcd-default-app-')) },
        stdio: 'pipe',
        encoding: 'utf8',
      });
    } catch (error) {
      failure = error as typeof failure;
    }
    expect(failure.status).toBe(1);
    expect(failure.stderr).toContain('ETCD_SIZE (or context "size") must be a whole number of peers such as 9, got "x"');
    expect(failure.stderr).not.toMatch(/\n\s+at /);
  });
});
