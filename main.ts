/**
 * The default app: a 9-peer etcd cluster over 3 zones of us-east-1.
 * `npm run synth` writes its Terraform JSON to cdktf.out/stacks/etcd/cdk.tf.json.
 */
import { App, TerraformStack } from 'cdktf';
import { Construct } from 'constructs';
import { AwsProvider } from '@cdktf/provider-aws/lib/provider';
import { EtcdCluster, EtcdClusterProps } from './constructs';

/**
 * The AWS provider versions the default app admits: 5.100 and later 5.x, and 6.x.
 * cdktf would otherwise pin the exact version its provider bindings were generated from,
 * and `terraform init` would fail in a pipeline that has another 6.x or a 5.x.
 */
export const AWS_PROVIDER_VERSIONS = '>= 5.100, < 7';

/** A stack holding one AWS provider (versions {@link AWS_PROVIDER_VERSIONS}) and one {@link EtcdCluster}. */
export class EtcdStack extends TerraformStack {
  public readonly cluster: EtcdCluster;

  constructor(scope: Construct, id: string, props: EtcdClusterProps & { region: string }) {
    super(scope, id);
    const { region, ...clusterProps } = props;
    new AwsProvider(this, 'aws', { region });
    this.addOverride('terraform.required_providers.aws.version', AWS_PROVIDER_VERSIONS);
    this.cluster = new EtcdCluster(this, 'etcd', clusterProps);
  }
}

/** The default app's cluster: 9 peers over 3 zones of us-east-1. */
export const DEFAULT_STACK_PROPS = {
  region: 'us-east-1',
  clusterName: 'etcd-main',
  zones: ['us-east-1a', 'us-east-1b', 'us-east-1c'],
  size: 9,
};

/** Synthesizes the default app into `outdir` (default: cdktf's, `cdktf.out`). */
export function synthesizeDefaultApp(outdir?: string): App {
  const app = new App(outdir ? { outdir } : {});
  new EtcdStack(app, 'etcd', DEFAULT_STACK_PROPS);
  app.synth();
  return app;
}

if (require.main === module) synthesizeDefaultApp();
