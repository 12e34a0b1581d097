/**
 * The README's Layout table is how a newcomer finds a file: every source file
 * of the moments' folders is named in its folder's row, so a file added or
 * moved without a word there fails here.
 */
import { readdirSync, readFileSync, statSync } from 'fs';
import { join, relative } from 'path';

const root = join(__dirname, '..', '..');
const FOLDERS = ['app', 'contract', 'constructs', 'lambda', 'node-agent', 'runtime', 'simulation', 'scripts'];
const SOURCE = /\.(ts|js|sh|py)$/;

/** Rows of the table under `## Layout`, keyed by their first cell without backticks (`node-agent/`). */
function layoutRows(readme: string): Map<string, string> {
  const section = readme.split(/^## /m).find((s) => s.startsWith('Layout'));
  if (!section) throw new Error('README has no "## Layout" section');
  const rows = new Map<string, string>();
  for (const line of section.split('\n').filter((l) => l.startsWith('| `'))) {
    rows.set(line.split('|')[1].trim().replace(/`/g, ''), line);
  }
  return rows;
}

/** The files (paths relative to their folder) that a row names neither by path nor by base name, in backticks. */
function unnamedIn(row: string, files: string[]): string[] {
  return files.filter((file) => !row.includes(`\`${file}\``) && !row.includes(`\`${file.split('/').pop()}\``));
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return SOURCE.test(name) ? [path] : [];
  });
}

describe('README Layout names every source file', () => {
  const rows = layoutRows(readFileSync(join(root, 'README.md'), 'utf8'));

  test('the table has a row for each folder', () => {
    expect(FOLDERS.filter((f) => !rows.has(`${f}/`))).toEqual([]);
  });

  test.each(FOLDERS)('%s/', (folder) => {
    const files = sourceFiles(join(root, folder)).map((p) => relative(join(root, folder), p));
    expect(files.length).toBeGreaterThan(0);
    expect(unnamedIn(rows.get(`${folder}/`) ?? '', files)).toEqual([]);
  });

  test('a file the row does not name in backticks is reported', () => {
    const row = layoutRows('## Layout\n\n| `runtime/` | x | `retry.ts`, log.ts |\n').get('runtime/')!;
    expect(unnamedIn(row, ['retry.ts', 'log.ts', 'sub/retry.ts'])).toEqual(['log.ts']);
  });
});
