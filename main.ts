/**
 * The default app: a 9-peer etcd cluster over 3 zones of us-east-1.
 * `npm run synth` writes its Terraform JSON to cdktf.out/stacks/etcd/cdk.tf.json.
 */
import { App, TerraformStack } from 'cdktf';
import { Construct } from 'constructs';
import { AwsProvider } from '@cdktf/provider-aws/lib/provider';
import { EtcdCluster, EtcdClusterProps } from './constructs';

/** A stack holding one AWS provider and one {@link EtcdCluster}. */
export class EtcdStack extends TerraformStack {
  public readonly cluster: EtcdCluster;

  constructor(scope: Construct, id: string, props: EtcdClusterProps & { region: string }) {
    super(scope, id);
    const { region, ...clusterProps } = props;
    new AwsProvider(this, 'aws', { region });
    this.cluster = new EtcdCluster(this, 'etcd', clusterProps);
  }
}

if (require.main === module) {
  const app = new App();
  new EtcdStack(app, 'etcd', {
    region: 'us-east-1',
    clusterName: 'etcd-main',
    zones: ['us-east-1a', 'us-east-1b', 'us-east-1c'],
    size: 9,
  });
  app.synth();
}
