import { readFileSync } from 'fs';
import { API_REFERENCE_PATH, apiReference } from '../../scripts/api-reference';

describe('docs/api.md', () => {
  const generated = apiReference();

  test('is what npm run docs:api writes from the TSDoc (run it after changing an export or its docs)', () => {
    expect(readFileSync(API_REFERENCE_PATH, 'utf8')).toBe(generated);
  });

  test('documents the cluster props with their defaults, placeholders kept visible', () => {
    expect(generated).toContain('## EtcdClusterProps');
    expect(generated).toMatch(/\| `size\?` \| `number` \| Number of peers: odd, at least 3\..* Default: 9\. \|/);
    expect(generated).toContain("Default: '&lt;clusterName&gt;.etcd.internal'.");
    expect(generated).not.toContain('{@link');
    expect(generated).not.toContain('## parseCidr');
  });
});
