import { synthCluster } from '../helpers/synth';

// What a user wires next after the cluster (issue #13, item 7): kube-apiserver's --etcd-servers, the network ids, the
// peers' security group and the DNS updater.
describe('outputs for what comes next', () => {
  test('etcd_servers is the comma-joined https client URL list kube-apiserver --etcd-servers takes', () => {
    const tf = synthCluster({ size: 3, tolerate: 'zone', domain: 'etcd.example.internal' }).json;
    expect(tf.output.etcd_etcd_servers.value).toBe(
      'https://peer-0.etcd.example.internal:2379,https://peer-1.etcd.example.internal:2379,https://peer-2.etcd.example.internal:2379',
    );
    expect(tf.output.etcd_etcd_servers.value.split(',')).toEqual(tf.output.etcd_client_endpoints.value);
  });

  test('a created VPC: its id and the private subnets, the peer security group, the DNS updater function', () => {
    const stack = synthCluster();
    const { output } = stack.json;
    expect(stack.deref(output.etcd_vpc_id.value)).toBe(Object.values(stack.resources('aws_vpc'))[0]);
    expect(output.etcd_subnet_ids.value).toHaveLength(3);
    for (const ref of output.etcd_subnet_ids.value) expect(stack.deref(ref).map_public_ip_on_launch ?? false).toBe(false);
    expect(stack.deref(output.etcd_peer_security_group_id.value)).toBe(stack.byPath('aws_security_group', 'security/peers'));
    expect(stack.deref(output.etcd_dns_updater_function_name.value)).toBe(Object.values(stack.resources('aws_lambda_function'))[0]);
  });

  test('an existing VPC: the ids given', () => {
    const { output } = synthCluster({ network: { vpcId: 'vpc-0123', subnetIds: ['subnet-a', 'subnet-b', 'subnet-c'] } }).json;
    expect(output.etcd_vpc_id.value).toBe('vpc-0123');
    expect(output.etcd_subnet_ids.value).toEqual(['subnet-a', 'subnet-b', 'subnet-c']);
  });
});
