import { defragmentationsOf, maintenanceLines, MaintenanceLine, overlaps } from '../../simulation/maintenance-timers';

const d = (member: string, from: number, to: number) => ({ member, startedAt: new Date(from).toISOString(), finishedAt: new Date(to).toISOString(), durationMs: to - from });

describe("the maintenance timers' lines", () => {
  test('only the maintenance line of a run counts; other output is skipped', () => {
    const out = ['not json', JSON.stringify({ msg: 'metrics' }), JSON.stringify({ msg: 'maintenance', peer: 'peer-1', action: 'skipped', reason: 'r', defragmentations: [], freedBytes: 0 }), ''].join('\n');
    expect(maintenanceLines(out)).toEqual([expect.objectContaining({ peer: 'peer-1', action: 'skipped' })]);
  });

  test.each([
    ['one after another', [d('peer-1', 0, 100), d('peer-2', 100, 200), d('peer-0', 250, 300)], []],
    ['two at once', [d('peer-1', 0, 100), d('peer-2', 50, 200)], ['peer-1 and peer-2']],
    ['one inside another', [d('peer-1', 0, 500), d('peer-2', 100, 200), d('peer-3', 600, 700)], ['peer-1 and peer-2']],
  ])('%s → overlaps %j', (_, defrags, found) => {
    expect(overlaps(defrags)).toEqual(found);
  });

  test('defragmentations come in start order, from every line', () => {
    const lines = [
      { defragmentations: [d('peer-2', 300, 400)] },
      { defragmentations: [d('peer-1', 0, 100), d('peer-0', 150, 200)] },
    ] as unknown as MaintenanceLine[];
    expect(defragmentationsOf(lines).map((x) => x.member)).toEqual(['peer-1', 'peer-0', 'peer-2']);
  });
});
