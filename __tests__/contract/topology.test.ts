import { readFileSync } from 'fs';
import { join } from 'path';
import {
  describeSurvivability,
  failureBudget,
  faultToleranceOf,
  nearestTopologies,
  placePeers,
  quorumOf,
  survivability,
  survivabilityTable,
  toleranceProblem,
  validateSizeAndZones,
} from '../../contract/topology';

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
    expect(toleranceProblem(9, 3, 'zone')).toBeUndefined();
    expect(toleranceProblem(3, 2, 'zone')).toBe('3 peers over 2 zones do not survive a zone: 3 − 2 = 1 < quorum 2; use 3 over 3 zones');
  });
});

describe('what a topology survives', () => {
  // [peers, zones, fullest zone, quorum, a zone, a zone plus a node, any two nodes, two zones]
  test.each([
    [9, 3, 3, 5, '9 − 3 = 6 ≥ quorum 5', '9 − 3 − 1 = 5 ≥ quorum 5', '9 − 2 = 7 ≥ quorum 5', '9 − 3 − 3 = 3 < quorum 5'],
    [5, 3, 2, 3, '5 − 2 = 3 ≥ quorum 3', '5 − 2 − 1 = 2 < quorum 3', '5 − 2 = 3 ≥ quorum 3', '5 − 2 − 2 = 1 < quorum 3'],
    [5, 5, 1, 3, '5 − 1 = 4 ≥ quorum 3', '5 − 1 − 1 = 3 ≥ quorum 3', '5 − 2 = 3 ≥ quorum 3', '5 − 1 − 1 = 3 ≥ quorum 3'],
    [3, 3, 1, 2, '3 − 1 = 2 ≥ quorum 2', '3 − 1 − 1 = 1 < quorum 2', '3 − 2 = 1 < quorum 2', '3 − 1 − 1 = 1 < quorum 2'],
    [7, 3, 3, 4, '7 − 3 = 4 ≥ quorum 4', '7 − 3 − 1 = 3 < quorum 4', '7 − 2 = 5 ≥ quorum 4', '7 − 3 − 2 = 2 < quorum 4'],
    [9, 5, 2, 5, '9 − 2 = 7 ≥ quorum 5', '9 − 2 − 1 = 6 ≥ quorum 5', '9 − 2 = 7 ≥ quorum 5', '9 − 2 − 2 = 5 ≥ quorum 5'],
  ])('%i peers over %i zones', (size, zones, largestZone, quorum, zone, zoneAndNode, anyTwoNodes, twoZones) => {
    const s = survivability(size, zones);
    expect({ largestZone: s.largestZone, quorum: s.quorum }).toEqual({ largestZone, quorum });
    expect([s.zone, s.zoneAndNode, s.anyTwoNodes, s.twoZones].map((a) => a.arithmetic)).toEqual([zone, zoneAndNode, anyTwoNodes, twoZones]);
    for (const a of [s.zone, s.zoneAndNode, s.anyTwoNodes, s.twoZones]) expect(a.survives).toBe(a.arithmetic.includes('≥'));
  });

  test('in words, as the tolerates output says it', () => {
    expect(describeSurvivability(survivability(9, 3))).toBe(
      '9 peers over 3 zones survive a zone (9 − 3 = 6 ≥ quorum 5), a zone plus a node (9 − 3 − 1 = 5 ≥ quorum 5), any two nodes (9 − 2 = 7 ≥ quorum 5); ' +
        'not two zones (9 − 3 − 3 = 3 < quorum 5)',
    );
    expect(describeSurvivability(survivability(11, 5))).toBe(
      '11 peers over 5 zones survive a zone (11 − 3 = 8 ≥ quorum 6), a zone plus a node (11 − 3 − 1 = 7 ≥ quorum 6), any two nodes (11 − 2 = 9 ≥ quorum 6), two zones (11 − 3 − 2 = 6 ≥ quorum 6)',
    );
  });

  test('the nearest layouts that survive a zone plus a node: more peers over the same zones, or more zones for the same peers', () => {
    expect(nearestTopologies(5, 3, 'zone-and-node')).toEqual([{ size: 9, zoneCount: 3 }, { size: 5, zoneCount: 5 }]);
    expect(nearestTopologies(7, 3, 'zone-and-node')).toEqual([{ size: 9, zoneCount: 3 }, { size: 7, zoneCount: 4 }]);
    expect(nearestTopologies(5, 4, 'zone-and-node')).toEqual([{ size: 7, zoneCount: 4 }, { size: 5, zoneCount: 5 }]);
    // 3 peers never survive two failures, whatever the zones.
    expect(nearestTopologies(3, 3, 'zone-and-node')).toEqual([{ size: 9, zoneCount: 3 }]);
  });

  test('with at least 3 zones every odd size survives a zone, so only a zone plus a node can refuse a valid layout', () => {
    const lost: string[] = [];
    for (let size = 3; size <= 99; size += 2) {
      for (let zones = 3; zones <= size; zones++) if (!survivability(size, zones).zone.survives) lost.push(`${size}/${zones}`);
    }
    expect(lost).toEqual([]);
  });
});

describe('the check the construct and the local cluster share', () => {
  test("5 over 3 zones is refused by default, naming tolerate, the arithmetic and the nearest layouts", () => {
    expect(() => validateSizeAndZones(5, ['a', 'b', 'c'])).toThrow(
      "5 peers over 3 zones survive a zone but not a zone plus a node: 5 − 2 − 1 = 2 < quorum 3; use 9 over 3 zones or 5 over 5 zones, or set tolerate: 'zone'",
    );
  });

  test.each([
    [3, 3, "3 peers over 3 zones survive a zone but not a zone plus a node: 3 − 1 − 1 = 1 < quorum 2; use 9 over 3 zones, or set tolerate: 'zone'"],
    [7, 3, "7 peers over 3 zones survive a zone but not a zone plus a node: 7 − 3 − 1 = 3 < quorum 4; use 9 over 3 zones or 7 over 4 zones, or set tolerate: 'zone'"],
    [5, 4, "5 peers over 4 zones survive a zone but not a zone plus a node: 5 − 2 − 1 = 2 < quorum 3; use 7 over 4 zones or 5 over 5 zones, or set tolerate: 'zone'"],
  ])('%i over %i zones is refused by default', (size, zones, message) => {
    const names = Array.from({ length: zones }, (_, z) => `z${z}`);
    expect(() => validateSizeAndZones(size, names)).toThrow(message);
    // Asked for by name, the weaker layout passes.
    expect(validateSizeAndZones(size, names, 'zone')).toBeUndefined();
  });

  test('an unknown tolerance is refused by name', () => {
    expect(() => validateSizeAndZones(9, ['a', 'b', 'c'], 'node' as never)).toThrow(`tolerate must be one of 'zone-and-node', 'zone', got "node"`);
  });
});

describe("the README's survivability table", () => {
  test('is the one the function renders, for 3 to 11 peers over 3 to 5 zones', () => {
    const readme = readFileSync(join(__dirname, '..', '..', 'README.md'), 'utf8');
    const begin = '<!-- survivability-table: generated by survivabilityTable([3, 5, 7, 9, 11], [3, 4, 5]) in contract/topology.ts -->\n';
    const start = readme.indexOf(begin);
    expect(start).toBeGreaterThanOrEqual(0);
    const table = readme.slice(start + begin.length, readme.indexOf('\n<!-- /survivability-table -->', start));
    const expected = survivabilityTable([3, 5, 7, 9, 11], [3, 4, 5]);
    // On a mismatch, the expected text below is what to paste into the README.
    expect(table).toBe(expected);
  });

  test('every row says what the construct does with that layout by default', () => {
    const rows = survivabilityTable([3, 5, 7, 9, 11], [3, 4, 5]).split('\n').slice(2);
    expect(rows).toHaveLength(15);
    for (const row of rows) {
      const [size, zones] = row.split('|').slice(1, 3).map(Number);
      const names = Array.from({ length: zones }, (_, z) => `z${z}`);
      let refusal: string | undefined;
      try {
        validateSizeAndZones(size, names);
      } catch (error) {
        refusal = (error as Error).message;
      }
      if (refusal === undefined) expect(row).toMatch(/\| synthesizes \|$/);
      else if (zones > size) expect([row, refusal]).toEqual([expect.stringMatching(/refused: more zones than peers \|$/), expect.stringContaining(`zones has ${zones} zones for ${size} peers`)]);
      else {
        const nearest = nearestTopologies(size, zones, 'zone-and-node').map((t) => `${t.size}/${t.zoneCount}`).join(' or ');
        expect(row).toContain(`| refused: use ${nearest}, or \`tolerate: 'zone'\` |`);
        expect(refusal).toContain("set tolerate: 'zone'");
      }
    }
  });
});
