import { Construct } from 'constructs';
import { AssetType, TerraformAsset } from 'cdktf';
import { CloudwatchEventRule } from '@cdktf/provider-aws/lib/cloudwatch-event-rule';
import { CloudwatchEventTarget } from '@cdktf/provider-aws/lib/cloudwatch-event-target';
import { CloudwatchLogGroup } from '@cdktf/provider-aws/lib/cloudwatch-log-group';
import { IamRole } from '@cdktf/provider-aws/lib/iam-role';
import { IamRolePolicy } from '@cdktf/provider-aws/lib/iam-role-policy';
import { LambdaFunction } from '@cdktf/provider-aws/lib/lambda-function';
import { LambdaPermission } from '@cdktf/provider-aws/lib/lambda-permission';
import { Bundle, bundleEntry } from '../runtime/bundle';
import { validateLogRetentionDays } from './log-retention';

/**
 * How a handler is bundled. The nodejs22.x runtime ships AWS SDK v3, so the
 * SDK stays out of the bundle: 1.6 MB fully bundled (mostly EC2's schema)
 * against a few KB (`npm run bench:lambda` prints both).
 */
export const LAMBDA_BUNDLE_OPTIONS = { fileName: 'index.js', target: 'node22', external: ['@aws-sdk/*'] };

/** One IAM policy statement. */
export type PolicyStatement = Record<string, unknown>;

/** What {@link clusterFunction} needs to know about one of the cluster's Lambdas. */
export interface ClusterFunctionProps {
  readonly functionName: string;
  readonly description: string;
  /** The handler module, without extension; bundled into `index.js`. */
  readonly entry: string;
  readonly roleNamePrefix: string;
  readonly roleDescription: string;
  /** The name of the role's inline policy. */
  readonly policyName: string;
  /** The function's own statements; the log statement is added here. */
  readonly statements: PolicyStatement[];
  readonly environment: Record<string, string>;
  /** Reserve one concurrent execution, so invocations never overlap. */
  readonly oneInvocationAtATime: boolean;
  readonly logRetentionDays?: number;
  readonly kmsKeyArn?: string;
}

/** The resources {@link clusterFunction} made. */
export interface ClusterFunction {
  readonly function: LambdaFunction;
  readonly bundle: Bundle;
}

/**
 * The shape both of the cluster's Lambdas share: its bundled code, a log group
 * of its own, a role that may write only there, and the function with JSON
 * logs. The resources are made in `scope` with fixed ids (`code`, `logs`,
 * `role`, `policy`, `function`), so their Terraform addresses do not depend on
 * this helper.
 */
export function clusterFunction(scope: Construct, props: ClusterFunctionProps): ClusterFunction {
  const bundle = bundleEntry(props.entry, LAMBDA_BUNDLE_OPTIONS);
  const asset = new TerraformAsset(scope, 'code', { path: bundle.directory, type: AssetType.ARCHIVE });
  const logGroup = new CloudwatchLogGroup(scope, 'logs', {
    name: `/aws/lambda/${props.functionName}`,
    retentionInDays: validateLogRetentionDays(props.logRetentionDays ?? 30),
    kmsKeyId: props.kmsKeyArn,
  });
  const role = new IamRole(scope, 'role', {
    namePrefix: props.roleNamePrefix,
    description: props.roleDescription,
    assumeRolePolicy: JSON.stringify({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }],
    }),
  });
  new IamRolePolicy(scope, 'policy', {
    name: props.policyName,
    role: role.id,
    policy: JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        ...props.statements,
        { Sid: 'OwnLogs', Effect: 'Allow', Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: `${logGroup.arn}:*` },
      ],
    }),
  });
  const fn = new LambdaFunction(scope, 'function', {
    functionName: props.functionName,
    description: props.description,
    role: role.arn,
    runtime: 'nodejs22.x',
    handler: 'index.handler',
    filename: asset.path,
    sourceCodeHash: bundle.sha256,
    memorySize: 256,
    timeout: 60,
    reservedConcurrentExecutions: props.oneInvocationAtATime ? 1 : undefined,
    kmsKeyArn: props.kmsKeyArn,
    environment: { variables: props.environment },
    loggingConfig: { logFormat: 'JSON', logGroup: logGroup.name },
    dependsOn: [logGroup],
  });
  return { function: fn, bundle };
}

/** Checks a schedule's minutes (`prop` names it in the error) and gives EventBridge's rate expression. */
export function rateEveryMinutes(prop: string, minutes: number): string {
  if (!Number.isInteger(minutes) || minutes < 1 || minutes > 60) {
    throw new Error(`${prop} must be a whole number of minutes from 1 to 60, got ${minutes}`);
  }
  return minutes === 1 ? 'rate(1 minute)' : `rate(${minutes} minutes)`;
}

/** Lets `rule` invoke `fn`: its target and the permission, made in `scope` as `<id>-target` and `<id>-permission`. */
export function invokeOnRule(scope: Construct, id: string, fn: LambdaFunction, rule: CloudwatchEventRule): [CloudwatchEventTarget, LambdaPermission] {
  const target = new CloudwatchEventTarget(scope, `${id}-target`, { rule: rule.name, arn: fn.arn });
  const permission = new LambdaPermission(scope, `${id}-permission`, {
    statementId: `allow-${id}`,
    action: 'lambda:InvokeFunction',
    functionName: fn.functionName,
    principal: 'events.amazonaws.com',
    sourceArn: rule.arn,
  });
  return [target, permission];
}
