import { failureBudget, faultToleranceOf, placePeers, quorumOf, zoneLossProblem } from '../../contract/topology';

describe('count-and-modulo topology', () => {
  test('9 peers over 3 zones: peer i in zone i mod 3, 3 per zone', () => {
    const placement = placePeers(9, 3);
    expect(placement.map((p) => p.zoneIndex)).toEqual([0, 1, 2, 0, 1, 2, 0, 1, 2]);
    expect(placement.map((p) => p.name)).toEqual(['peer-0', 'peer-1', 'peer-2', 'peer-3', 'peer-4', 'peer-5', 'peer-6', 'peer-7', 'peer-8']);
  });

  test('9 peers over 3 zones survive a zone plus one more node (4 of 9 down)', () => {
    const b = failureBudget(9, 3);
    expect(b).toEqual({ quorum: 5, faultTolerance: 4, largestZone: 3, survivesZoneLoss: true, extraNodesAfterZoneLoss: 1 });
  });

  test('quorum and fault tolerance', () => {
    expect([3, 5, 7, 9].map(quorumOf)).toEqual([2, 3, 4, 5]);
    expect([3, 5, 7, 9].map(faultToleranceOf)).toEqual([1, 2, 3, 4]);
  });

  test('a layout that loses quorum with one zone is explained with the arithmetic', () => {
    expect(zoneLossProblem(9, 3)).toBeUndefined();
    expect(zoneLossProblem(3, 2)).toBe('3 peers over 2 zones put 2 peers in the fullest zone; losing it leaves 1, fewer than the quorum of 2');
  });
});
