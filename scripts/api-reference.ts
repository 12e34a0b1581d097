/**
 * The API reference, docs/api.md, generated from the TSDoc of what constructs/index.ts exports.
 *   npm run docs:api            rewrite docs/api.md
 * __tests__/scripts/api-reference.test.ts fails when docs/api.md is not what this script writes.
 */
import { writeFileSync } from 'fs';
import { join } from 'path';
import * as ts from 'typescript';

const ROOT = join(__dirname, '..');
export const API_REFERENCE_PATH = join(ROOT, 'docs', 'api.md');

function kindOf(symbol: ts.Symbol): string {
  if (symbol.flags & ts.SymbolFlags.Class) return 'class';
  if (symbol.flags & ts.SymbolFlags.Interface) return 'interface';
  if (symbol.flags & ts.SymbolFlags.TypeAlias) return 'type';
  if (symbol.flags & ts.SymbolFlags.Function) return 'function';
  return 'const';
}

/** One line of text: Markdown table cells cannot hold line breaks or bare pipes. */
function cell(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').replace(/\|/g, '\\|').trim();
}

/** Prose from TSDoc: `{@link X}` as code, and `<placeholders>` outside code spans kept visible. */
function prose(text: string): string {
  return cell(text.replace(/\{@link\s+([^}\s]+)\s*\}/g, '`$1`'))
    .split('`')
    .map((part, i) => (i % 2 === 0 ? part.replace(/</g, '&lt;').replace(/>/g, '&gt;') : part))
    .join('`');
}

function tags(symbol: ts.Symbol, checker: ts.TypeChecker): string {
  const defaults = symbol
    .getJsDocTags(checker)
    .filter((t) => t.name === 'default')
    .map((t) => ts.displayPartsToString(t.text));
  return defaults.length ? ` Default: ${prose(defaults.join('; '))}.` : '';
}

/** The reference as Markdown: every export, its kind and doc; for classes and interfaces, every public member. */
export function apiReference(): string {
  const index = join(ROOT, 'constructs', 'index.ts');
  const program = ts.createProgram([index], { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.CommonJS, skipLibCheck: true, types: ['node'], noEmit: true });
  const checker = program.getTypeChecker();
  const module = checker.getSymbolAtLocation(program.getSourceFile(index)!)!;
  const lines = [
    '# API reference',
    '',
    'Generated from the TSDoc of `constructs/index.ts`\'s exports by `npm run docs:api`; do not edit by hand.',
    'Every prop\'s default is in its TSDoc, repeated here.',
    '',
  ];
  const exports = checker
    .getExportsOfModule(module)
    .map((e) => ({ name: e.name, symbol: e.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(e) : e }))
    .sort((a, b) => a.name.localeCompare(b.name));
  for (const { name, symbol } of exports) {
    const kind = kindOf(symbol);
    lines.push(`## ${name}`, '', `*${kind}*: ${prose(ts.displayPartsToString(symbol.getDocumentationComment(checker)))}${tags(symbol, checker)}`, '');
    if (kind === 'function') {
      const declaration = symbol.declarations![0] as ts.FunctionDeclaration;
      const signature = checker.getSignatureFromDeclaration(declaration)!;
      lines.push('```ts', `${name}${checker.signatureToString(signature)}`, '```', '');
    }
    if (kind !== 'class' && kind !== 'interface') continue;
    const rows: string[] = [];
    for (const member of symbol.members?.values() ?? []) {
      const declaration = member.declarations?.[0];
      if (!declaration || member.name === '__constructor') continue;
      const modifiers = ts.canHaveModifiers(declaration) ? (ts.getModifiers(declaration) ?? []) : [];
      if (modifiers.some((m) => m.kind === ts.SyntaxKind.PrivateKeyword || m.kind === ts.SyntaxKind.ProtectedKeyword)) continue;
      const optional = member.flags & ts.SymbolFlags.Optional ? '?' : '';
      const type = checker.typeToString(checker.getTypeOfSymbolAtLocation(member, declaration), undefined, ts.TypeFormatFlags.NoTruncation);
      rows.push(`| \`${member.name}${optional}\` | \`${cell(type)}\` | ${prose(ts.displayPartsToString(member.getDocumentationComment(checker)))}${tags(member, checker)} |`);
    }
    if (rows.length) lines.push('| member | type | |', '|---|---|---|', ...rows, '');
  }
  return `${lines.join('\n').trimEnd()}\n`;
}

if (require.main === module) {
  writeFileSync(API_REFERENCE_PATH, apiReference());
  console.log(`wrote ${API_REFERENCE_PATH}`);
}
