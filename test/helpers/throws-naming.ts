/** Asserts that `fn` throws an InputError naming `file` with a message matching `problem`. */
import assert from 'node:assert/strict';
import { InputError } from '../../src/errors.ts';

export function throwsNaming(fn: () => unknown, file: string, problem: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof InputError, String(err));
    assert.equal(err.file, file);
    assert.match(err.message, problem);
    return true;
  });
}
