import {
  autoScalingGroupName,
  clientUrl,
  peerUrl,
  normalizeDomain,
  parsePeerName,
  peerFqdn,
  peerIndexOfGroup,
  peerName,
  srvNames,
  srvRecordValues,
  zoneOf,
} from '../../contract/naming';

describe('naming', () => {
  test('peer names and FQDNs', () => {
    expect(peerName(3)).toBe('peer-3');
    expect(peerFqdn('Etcd.Internal.', 3)).toBe('peer-3.etcd.internal');
    expect(() => peerName(-1)).toThrow('non-negative integer');
    expect(() => peerName(1.5)).toThrow('non-negative integer');
  });

  test('zone of peer i is zones[i % Z]', () => {
    const zones = ['a', 'b', 'c'];
    expect([0, 1, 2, 3, 4, 5, 6, 7, 8].map((i) => zoneOf(i, zones))).toEqual(['a', 'b', 'c', 'a', 'b', 'c', 'a', 'b', 'c']);
  });

  test('SRV names, plain and TLS', () => {
    expect(srvNames('etcd.internal', false)).toEqual({ server: '_etcd-server._tcp.etcd.internal', client: '_etcd-client._tcp.etcd.internal' });
    expect(srvNames('etcd.internal', true)).toEqual({
      server: '_etcd-server-ssl._tcp.etcd.internal',
      client: '_etcd-client-ssl._tcp.etcd.internal',
    });
    expect(srvRecordValues('etcd.internal', 2, 2380)).toEqual(['0 0 2380 peer-0.etcd.internal.', '0 0 2380 peer-1.etcd.internal.']);
  });

  test('group names round-trip, and foreign groups are not ours', () => {
    expect(autoScalingGroupName('prod', 7)).toBe('prod-peer-7');
    expect(peerIndexOfGroup('prod', 'prod-peer-7')).toBe(7);
    expect(peerIndexOfGroup('prod', 'prod-peer-07')).toBeUndefined();
    expect(peerIndexOfGroup('prod', 'prod2-peer-7')).toBeUndefined();
    expect(peerIndexOfGroup('prod', 'other-peer-7')).toBeUndefined();
    expect(peerIndexOfGroup('prod', 'prod-peer-7-extra')).toBeUndefined();
  });

  test('URLs by name, never by IP', () => {
    expect(peerUrl('prod.internal', 3, true)).toBe('https://peer-3.prod.internal:2380');
    expect(clientUrl('prod.internal', 3, false)).toBe('http://peer-3.prod.internal:2379');
  });

  test('peer names parse back', () => {
    expect(parsePeerName('peer-12.etcd.internal')).toBe(12);
    expect(parsePeerName('peer-x')).toBeUndefined();
    expect(normalizeDomain(' A.B. ')).toBe('a.b');
  });
});
