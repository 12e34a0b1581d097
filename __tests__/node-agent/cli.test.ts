import { parseFlags } from '../../node-agent/cli';

describe('node-agent flags', () => {
  test('reads --name value and --name=value', () => {
    expect(parseFlags(['--device', '/dev/loop3', '--mount-point=/data'], ['device', 'mount-point'])).toEqual({ device: '/dev/loop3', 'mount-point': '/data' });
  });

  test.each([
    [['--device'], '--device needs a value'],
    [['--device', '--mount-point', '/data'], '--device needs a value'],
    [['--bogus', 'x'], 'unknown flag --bogus; this command takes --device, --mount-point'],
    [['loose'], "Unexpected argument 'loose'"],
  ])('%j is a usage error naming the flag', (args, message) => {
    expect(() => parseFlags(args, ['device', 'mount-point'])).toThrow(message);
  });
});
