/**
 * The default app: a 9-peer etcd cluster over 3 zones of us-east-1, unless `ETCD_*` variables or cdktf
 * context say otherwise (app/settings.ts). `npm run synth` writes its Terraform JSON to
 * cdktf.out/stacks/etcd/cdk.tf.json.
 */
import { App, TerraformStack } from 'cdktf';
import { Construct } from 'constructs';
import { AwsProvider } from '@cdktf/provider-aws/lib/provider';
import { EtcdCluster, EtcdClusterProps } from './constructs';
import { useBackend } from './app/backend';
import { APP_SETTINGS, BackendSettings, DEFAULT_LOCAL_STATE, explainPropError, readAppSettings } from './app/settings';

/**
 * The AWS provider versions the default app admits: 5.100 and later 5.x, and 6.x.
 * cdktf would otherwise pin the exact version its provider bindings were generated from,
 * and `terraform init` would fail in a pipeline that has another 6.x or a 5.x.
 */
export const AWS_PROVIDER_VERSIONS = '>= 5.100, < 7';

/** A stack holding one AWS provider (versions {@link AWS_PROVIDER_VERSIONS}) and one {@link EtcdCluster}. */
export class EtcdStack extends TerraformStack {
  public readonly cluster: EtcdCluster;

  constructor(scope: Construct, id: string, props: EtcdClusterProps & { region: string; backend?: BackendSettings }) {
    super(scope, id);
    const { region, backend, ...clusterProps } = props;
    useBackend(this, backend ?? { kind: 'local', path: DEFAULT_LOCAL_STATE });
    new AwsProvider(this, 'aws', { region });
    this.addOverride('terraform.required_providers.aws.version', AWS_PROVIDER_VERSIONS);
    this.cluster = new EtcdCluster(this, 'etcd', clusterProps);
  }
}

/** Options of {@link synthesizeDefaultApp}; unset, what `cdktf synth` gives the app. */
export interface DefaultAppOptions {
  /** Default: cdktf's (`cdktf.out`, or `CDKTF_OUTDIR`). */
  readonly outdir?: string;
  /** Where the `ETCD_*` variables are read. Default: `process.env`. */
  readonly env?: Record<string, string | undefined>;
  /** cdktf context, as cdktf.json's `context` gives it. Default: what the cdktf CLI passes. */
  readonly context?: Record<string, unknown>;
}

/**
 * Synthesizes the default app: one stack, `etcd`, whose settings ({@link APP_SETTINGS}) come from `ETCD_*`
 * environment variables, else cdktf context, else the defaults (9 peers over us-east-1a, b and c, local state).
 */
export function synthesizeDefaultApp(options: DefaultAppOptions = {}): App {
  const app = new App({ ...(options.outdir ? { outdir: options.outdir } : {}), ...(options.context ? { context: options.context } : {}) });
  const settings = readAppSettings(options.env ?? process.env, (key) => app.node.tryGetContext(key));
  try {
    new EtcdStack(app, 'etcd', { ...settings.stack, backend: settings.backend });
  } catch (error) {
    throw new Error(explainPropError((error as Error).message));
  }
  app.synth();
  return app;
}

if (require.main === module) {
  try {
    synthesizeDefaultApp();
  } catch (error) {
    // The message names the variable or prop and the fix; a stack trace would only bury it.
    console.error((error as Error).message);
    process.exit(1);
  }
}
