import { AwsClientStub } from 'aws-sdk-client-mock';
import {
  ChangeResourceRecordSetsCommandInput,
  InvalidChangeBatch,
  ListResourceRecordSetsCommand,
  ChangeResourceRecordSetsCommand,
  ResourceRecordSet,
  Route53Client,
} from '@aws-sdk/client-route-53';

interface StoredRecord {
  ttl?: number;
  values: string[];
}

const key = (name: string) => name.toLowerCase().replace(/\.$/, '');

/**
 * A private hosted zone behind `aws-sdk-client-mock` that keeps its A records
 * and applies a change batch as Route 53 documents it: all or nothing; CREATE
 * refused when the record exists; DELETE refused unless TTL and values match
 * the record as it is; UPSERT always. A refused batch throws `InvalidChangeBatch`.
 */
export class FakeHostedZone {
  readonly records = new Map<string, StoredRecord>();
  /** Awaited before each change batch is looked at: lets a test run something in between. */
  beforeChange?: (input: ChangeResourceRecordSetsCommandInput) => Promise<void>;
  /** Names whose every change Route 53 refuses, with the message (e.g. a name outside the zone). */
  readonly refused = new Map<string, string>();

  constructor(route53: AwsClientStub<Route53Client>, initial: Record<string, string> = {}) {
    for (const [name, ip] of Object.entries(initial)) this.records.set(key(name), { ttl: 10, values: [ip] });
    route53.on(ListResourceRecordSetsCommand).callsFake(async (input) => {
      const names = [...this.records.keys()].sort().filter((n) => !input.StartRecordName || n >= key(input.StartRecordName));
      const page = names.slice(0, input.MaxItems ?? 300);
      return {
        ResourceRecordSets: page.map((n): ResourceRecordSet => {
          const r = this.records.get(n)!;
          return { Name: `${n}.`, Type: 'A', TTL: r.ttl, ResourceRecords: r.values.map((Value) => ({ Value })) };
        }),
        IsTruncated: false,
        MaxItems: input.MaxItems ?? 300,
      };
    });
    route53.on(ChangeResourceRecordSetsCommand).callsFake(async (input: ChangeResourceRecordSetsCommandInput) => {
      await this.beforeChange?.(input);
      this.apply(input);
      return { ChangeInfo: { Id: 'C1', Status: 'PENDING', SubmittedAt: new Date() } };
    });
  }

  /** The values of one record, or `undefined`. */
  valuesOf(name: string): string[] | undefined {
    return this.records.get(key(name))?.values;
  }

  private apply(input: ChangeResourceRecordSetsCommandInput): void {
    const next = new Map(this.records);
    const problems: string[] = [];
    for (const change of input.ChangeBatch?.Changes ?? []) {
      const set = change.ResourceRecordSet!;
      const name = key(set.Name!);
      const values = (set.ResourceRecords ?? []).map((r) => r.Value!);
      const existing = next.get(name);
      const refusal = this.refused.get(name);
      if (refusal) problems.push(refusal);
      else if (change.Action === 'CREATE') {
        if (existing) problems.push(`Tried to create resource record set [name='${name}.', type='A'] but it already exists`);
        else next.set(name, { ttl: set.TTL, values });
      } else if (change.Action === 'DELETE') {
        const matches = existing && existing.ttl === set.TTL && [...existing.values].sort().join() === [...values].sort().join();
        if (!existing) problems.push(`Tried to delete resource record set [name='${name}.', type='A'] but it was not found`);
        else if (!matches) problems.push(`Tried to delete resource record set [name='${name}.', type='A'] but the values provided do not match the current values`);
        else next.delete(name);
      } else {
        next.set(name, { ttl: set.TTL, values });
      }
    }
    if (problems.length > 0) {
      throw new InvalidChangeBatch({ message: problems.join('; '), messages: problems, $metadata: { httpStatusCode: 400 } });
    }
    this.records.clear();
    for (const [n, r] of next) this.records.set(n, r);
  }
}
