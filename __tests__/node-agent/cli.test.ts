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

describe('prepare-volume refuses a mount point the mount table would write otherwise, before touching the device', () => {
  test.each(['/var/lib/etcd/', 'data', '/var//lib/etcd', '/var/lib/./etcd', '/'])('--mount-point %s', async (mountPoint) => {
    const { main } = await import('../../node-agent/cli');
    const written: string[] = [];
    const spy = jest.spyOn(process.stderr, 'write').mockImplementation((chunk) => (written.push(String(chunk)), true));
    try {
      // /dev/null as the device: were it reached, blkid or mkfs would fail differently.
      const code = await main(['prepare-volume', '--device', '/dev/null', '--mount-point', mountPoint, '--cluster', 'prod', '--peer-index', '0']);
      expect(code).toBe(2);
      expect(written.join('')).toContain(`--mount-point must be`);
      expect(written.join('')).toContain(`got "${mountPoint}"`);
    } finally {
      spy.mockRestore();
    }
  });
});
