/**
 * No function in src/ is longer than 80 lines (its body, braces included), so each reads on one
 * screen; longer ones are split into named steps. Exceptions would be listed in README's Development
 * section with the reason, and here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import ts from 'typescript';

const SRC = resolve(import.meta.dirname, '../src');
export const MAX_LINES = 80;
/** `path:name` of functions allowed to be longer (each explained in README's Development section). */
const EXCEPTIONS = new Set<string>([]);

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return /\.tsx?$/.test(e.name) ? [p] : [];
  });
}

function functionName(node: ts.Node): string {
  const named = node as { name?: ts.Node };
  if (named.name) return named.name.getText();
  const parent = node.parent as { name?: ts.Node } | undefined;
  return parent?.name ? parent.name.getText() : '<anonymous>';
}

/** Every function-like node whose body spans more than `max` lines, as `path:name (N lines)`. */
export function longFunctions(file: string, text: string, max = MAX_LINES): string[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const body = node.body as ts.Node;
      const first = sf.getLineAndCharacterOfPosition(body.getStart(sf)).line;
      const last = sf.getLineAndCharacterOfPosition(body.getEnd()).line;
      const lines = last - first + 1;
      if (lines > max) found.push(`${file}:${functionName(node)} (${lines} lines)`);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return found;
}

test(`no function in src/ is longer than ${MAX_LINES} lines`, () => {
  const long = sourceFiles(SRC)
    .flatMap((f) => longFunctions(relative(SRC, f), readFileSync(f, 'utf8')))
    .filter((entry) => !EXCEPTIONS.has(entry.replace(/ \(\d+ lines\)$/, '')));
  assert.deepEqual(long, [], 'split these into named steps (or explain an exception in README)');
});

test('longFunctions counts body lines of declarations, arrows and methods', () => {
  const body = (n: number) => `{\n${'  x++;\n'.repeat(n - 2)}}`;
  const text = [
    `function short() ${body(80)}`,
    `function long() ${body(81)}`,
    `const arrow = () => ${body(81)};`,
    `class C { method() ${body(81)} }`,
  ].join('\n');
  assert.deepEqual(longFunctions('f.ts', text), [
    'f.ts:long (81 lines)',
    'f.ts:arrow (81 lines)',
    'f.ts:method (81 lines)',
  ]);
});
