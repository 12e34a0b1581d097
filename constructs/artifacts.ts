import { Construct } from 'constructs';
import { AssetType, TerraformAsset } from 'cdktf';
import { S3Bucket } from '@cdktf/provider-aws/lib/s3-bucket';
import { S3BucketPolicy } from '@cdktf/provider-aws/lib/s3-bucket-policy';
import { S3BucketPublicAccessBlock } from '@cdktf/provider-aws/lib/s3-bucket-public-access-block';
import { S3BucketServerSideEncryptionConfigurationA } from '@cdktf/provider-aws/lib/s3-bucket-server-side-encryption-configuration';
import { S3BucketVersioningA } from '@cdktf/provider-aws/lib/s3-bucket-versioning';
import { S3Object } from '@cdktf/provider-aws/lib/s3-object';
import { join } from 'path';
import { Bundle, bundleEntry } from './bundle';
import { CLUSTER_TAG_KEY } from './naming';

/** Props of {@link EtcdArtifacts}. */
export interface EtcdArtifactsProps {
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
  public readonly bucket: S3Bucket;
  /** The node agent bundle as built at synth time. */
  public readonly agentBundle: Bundle;
  /** The S3 object holding the agent. */
  public readonly agentObject: S3Object;

  constructor(scope: Construct, id: string, props: EtcdArtifactsProps) {
    super(scope, id);
    this.bucket = new S3Bucket(this, 'bucket', {
      bucketPrefix: `${props.clusterName.slice(0, 30)}-etcd-artifacts-`,
      forceDestroy: false,
      tags: { [CLUSTER_TAG_KEY]: props.clusterName },
    });
    new S3BucketPublicAccessBlock(this, 'public-access-block', {
      bucket: this.bucket.id,
      blockPublicAcls: true,
      blockPublicPolicy: true,
      ignorePublicAcls: true,
      restrictPublicBuckets: true,
    });
    new S3BucketServerSideEncryptionConfigurationA(this, 'encryption', {
      bucket: this.bucket.id,
      rule: [
        {
          applyServerSideEncryptionByDefault: { sseAlgorithm: 'aws:kms', kmsMasterKeyId: props.kmsKeyArn },
          bucketKeyEnabled: true,
        },
      ],
    });
    new S3BucketVersioningA(this, 'versioning', {
      bucket: this.bucket.id,
      versioningConfiguration: { status: 'Enabled' },
    });
    new S3BucketPolicy(this, 'tls-only', {
      bucket: this.bucket.id,
      policy: JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          {
            Sid: 'DenyInsecureTransport',
            Effect: 'Deny',
            Principal: '*',
            Action: 's3:*',
            Resource: [this.bucket.arn, `${this.bucket.arn}/*`],
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          },
        ],
      }),
    });

    // AL2023 ships Node.js 18 as `nodejs`; target it so the bundle runs on any supported image.
    this.agentBundle = bundleEntry(join(__dirname, '..', 'node-agent', 'cli'), { fileName: 'agent.js', target: 'node18' });
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
