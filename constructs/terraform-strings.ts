import { Fn } from 'cdktf';
import { Construct } from 'constructs';
import { DataAwsRegion } from '@cdktf/provider-aws/lib/data-aws-region';

const TOKEN = /\$\{TfToken\[TOKEN\.\d+\]\}/g;

/**
 * base64 of a text that embeds Terraform references (bucket names, keys).
 *
 * cdktf's `Fn.base64encode` refuses literal double quotes, so the literal
 * parts go through `Fn.rawString` and the references stay references.
 * `rawString` escapes quotes, newlines and `${` but not backslashes or `%{`,
 * so those are refused here rather than silently corrupted.
 */
export function base64WithReferences(text: string): string {
  const parts: string[] = [];
  let last = 0;
  for (const match of text.matchAll(TOKEN)) {
    parts.push(literal(text.slice(last, match.index)));
    parts.push(match[0]);
    last = match.index! + match[0].length;
  }
  parts.push(literal(text.slice(last)));
  return Fn.base64encode(Fn.join('', parts));
}

function literal(part: string): string {
  if (part.includes('\\')) throw new Error('user data must not contain backslashes: Terraform would read them as escapes');
  if (part.includes('%{')) throw new Error('user data must not contain "%{": Terraform would read it as a template directive');
  return Fn.rawString(part);
}

/**
 * The name of the region the stack's AWS provider targets, as a Terraform reference.
 *
 * `data.aws_region.X.id` holds the region name in AWS provider 5.x and 6.x alike;
 * `.region` exists only in 6.x and `.name` is deprecated there, so this library uses `.id`.
 */
export function currentRegionName(scope: Construct, id = 'region'): string {
  return new DataAwsRegion(scope, id).id;
}
