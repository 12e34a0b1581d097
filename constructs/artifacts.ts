import { Construct } from 'constructs';
import { AssetType, TerraformAsset } from 'cdktf';
import { S3Object } from '@cdktf/provider-aws/lib/s3-object';
import { S3Bucket } from '@cdktf/provider-aws/lib/s3-bucket';
import { Bundle, bundleNodeAgent } from '../runtime/bundle';
import { PrivateBucket } from './private-bucket';

/** Props of {@link EtcdArtifacts}. */
export interface EtcdArtifactsProps {
  /** Name of the cluster, in the bucket's name and tags. */
  readonly clusterName: string;
  /**
   * KMS key for the bucket's encryption.
   * @default - the AWS managed key for S3 (`aws/s3`)
   */
  readonly kmsKeyArn?: string;
}

/**
 * A private, encrypted bucket holding what instances fetch at boot: the
 * bundled node agent (built with esbuild at synth time), and optionally an
 * etcd release mirror under `etcd/`.
 */
export class EtcdArtifacts extends Construct {
  /** The artifact bucket. */
  public readonly bucket: S3Bucket;
  /** The bucket with its access block, encryption, versioning and TLS-only policy. */
  public readonly store: PrivateBucket;
  /** The node agent bundle as built at synth time. */
  public readonly agentBundle: Bundle;
  /** The S3 object holding the agent. */
  public readonly agentObject: S3Object;

  constructor(scope: Construct, id: string, props: EtcdArtifactsProps) {
    super(scope, id);
    // Private, encrypted, versioned, TLS only: the shape every bucket of the cluster has.
    this.store = new PrivateBucket(this, 'store', { clusterName: props.clusterName, purpose: 'artifacts', kmsKeyArn: props.kmsKeyArn });
    this.bucket = this.store.bucket;

    this.agentBundle = bundleNodeAgent();
    const asset = new TerraformAsset(this, 'agent-asset', { path: this.agentBundle.path, type: AssetType.FILE });
    this.agentObject = new S3Object(this, 'agent', {
      bucket: this.bucket.id,
      // Content-addressed key: a new agent is a new object, so running instances keep the one they verified.
      key: `node-agent/${this.agentBundle.sha256}.js`,
      source: asset.path,
      sourceHash: this.agentBundle.sha256,
      contentType: 'application/javascript',
    });
  }
}
