import { synthCluster } from '../helpers/synth';

// The synthesized JSON must work with AWS provider 5.x and 6.x (README: AWS provider versions).
// `terraform validate` against provider 5.100 (__tests__/terraform/) checks the whole schema where Terraform is
// available; this checks, everywhere, the attributes known to exist in only one of the two majors.
const ONLY_IN_ONE_MAJOR: Array<[RegExp, string]> = [
  [/data\.aws_region\.[\w-]+\.region\b/, 'data.aws_region.X.region exists only in provider 6: use .id'],
  [/data\.aws_region\.[\w-]+\.name\b/, 'data.aws_region.X.name is deprecated in provider 6: use .id'],
];

describe('the synthesized JSON references no attribute that exists in only one AWS provider major', () => {
  const layouts = {
    'default (created VPC, cluster key)': {},
    'created air-gapped VPC': { network: { internetEgress: false }, etcd: { preinstalled: true } },
    'existing VPC with restricted egress': {
      network: { vpcId: 'vpc-0123', subnetIds: ['subnet-a', 'subnet-b', 'subnet-c'], internetEgress: false },
      etcd: { preinstalled: true },
    },
  };
  test.each(Object.entries(layouts))('%s', (_name, props) => {
    const text = JSON.stringify(synthCluster(props as any).json);
    expect(text).toMatch(/data\.aws_region\.[\w-]+\.id\b/);
    for (const [pattern, why] of ONLY_IN_ONE_MAJOR) {
      expect({ match: pattern.exec(text)?.[0], why }).toEqual({ match: undefined, why });
    }
  });
});
