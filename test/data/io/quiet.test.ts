import { test } from 'node:test';
import assert from 'node:assert/strict';
import { quietly } from '../../../src/data/io/quiet.ts';

/** A call into a noisy reader: prints, optionally sets the exit code, resolves after `ms`. */
const noisy =
  (text: string, ms: number, fail = false) =>
  () =>
    new Promise<string>((resolve, reject) => {
      console.log(text);
      if (fail) process.exitCode = 1;
      setTimeout(() => (fail ? reject(new Error(text)) : resolve(text)), ms);
    });

for (const [name, first, second] of [
  ['the first one in finishes first', 5, 30],
  ['the last one in finishes first', 30, 5],
] as const)
  test(`overlapping calls give the console back however they finish (${name})`, async () => {
    const log = console.log;
    const error = console.error;
    const exitCode = process.exitCode;
    const [a, b] = await Promise.all([quietly(noisy('a', first)), quietly(noisy('b', second, true))]);
    assert.equal(console.log, log);
    assert.equal(console.error, error);
    assert.equal(process.exitCode, exitCode);
    assert.equal(a.value, 'a');
    assert.match(a.printed, /^a/);
    assert.ok(b.error instanceof Error);
    assert.match(b.printed, /b/);
  });

test('what a call prints is returned, not printed', async () => {
  const printed: string[] = [];
  const log = console.log;
  console.log = (...args: unknown[]) => printed.push(args.join(' '));
  try {
    const r = await quietly(noisy('hidden', 1));
    assert.equal(r.printed, 'hidden');
  } finally {
    console.log = log;
  }
  assert.deepEqual(printed, []);
});
