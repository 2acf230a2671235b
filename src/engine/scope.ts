/**
 * Scopes release native memory deterministically, like tf.tidy.
 *
 * V8 cannot see libtorch's buffers and runs finalizers only between event-loop turns, never inside a
 * synchronous training loop (FACTS.md: 10 GB in a loop). So every tensor created while a scope is open
 * belongs to it; when the scope's function returns, the tensors it created are disposed except those
 * it returns, which move to the enclosing scope. `keep()` takes a tensor out of scope tracking
 * (parameters, optimizer state, caches).
 *
 * While a scope is open, new tensors do not report their bytes to V8 (native/src/tensor.cc): the scope
 * frees them, and reporting every intermediate made V8 collect garbage dozens of times per forward pass.
 * A tensor that outlives the outermost scope (returned from it, or kept) reports them then, so that V8
 * still weighs it if it is never disposed.
 */
import { native } from './native.ts';

export interface Disposable {
  dispose(): void;
  /** the scope that owns it, or null */
  _scope: Scope | null;
  readonly isDisposed: boolean;
  /** called when it leaves scope tracking for good (kept, or returned from the outermost scope) */
  _escape?(): void;
}

export class Scope {
  readonly owned: Disposable[] = [];
  constructor(readonly parent: Scope | null) {}
}

let current: Scope | null = null;

export function currentScope(): Scope | null {
  return current;
}

export function track<T extends Disposable>(t: T): T {
  if (current) {
    t._scope = current;
    current.owned.push(t);
  }
  return t;
}

/** Removes `t` from scope tracking: it lives until disposed explicitly. */
export function untrack(t: Disposable): void {
  t._scope = null;
  t._escape?.();
}

function collect(value: unknown, out: Set<Disposable>, depth = 0): void {
  if (value === null || typeof value !== 'object' || depth > 8) return;
  if ('_scope' in value && 'dispose' in value) {
    out.add(value as Disposable);
    return;
  }
  if (Array.isArray(value)) for (const v of value) collect(v, out, depth + 1);
  else if (value instanceof Map) for (const v of value.values()) collect(v, out, depth + 1);
  else if (Object.getPrototypeOf(value) === Object.prototype)
    for (const v of Object.values(value)) collect(v, out, depth + 1);
}

/**
 * Runs `fn`; disposes every tensor it created except those in its result (tensors, or arrays, maps and
 * plain objects holding them). Synchronous only: async work would outlive the scope.
 */
export function scope<T>(fn: () => T): T {
  const s = new Scope(current);
  current = s;
  const outermost = s.parent === null;
  const reporting = outermost ? native.setExternalReporting(false) : false;
  let result: T;
  try {
    result = fn();
    if (result instanceof Promise) throw new Error('scope(fn): fn must be synchronous');
  } catch (err) {
    current = s.parent;
    release(s, new Set());
    throw err;
  } finally {
    if (outermost) native.setExternalReporting(reporting);
  }
  current = s.parent;
  const keep = new Set<Disposable>();
  collect(result, keep);
  release(s, keep);
  return result;
}

function release(s: Scope, keep: Set<Disposable>): void {
  for (const t of s.owned) {
    if (t._scope !== s || t.isDisposed) continue;
    if (keep.has(t)) {
      t._scope = s.parent;
      if (s.parent) s.parent.owned.push(t);
      else t._escape?.();
    } else {
      t.dispose();
    }
  }
}
