// The addon's caching CPU allocator (native/src/allocator.cc): large blocks are split to serve smaller
// requests and merge again when freed, live blocks never overlap, and what it caches stays bounded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as E from '../../src/engine/index.ts';

const MiB = 2 ** 20;
/** A float32 tensor of `mib` MiB, filled with `value`. */
const block = (mib: number, value: number) => E.full([(mib * MiB) / 4], value).keep();
const held = () => E.memoryStats().allocatedBytes + E.memoryStats().cachedBytes;

test('allocator: a freed 64 MiB block serves 40 and 20 MiB requests without new memory, and merges back', () => {
  E.noGrad(() => {
    const a = block(64, 0);
    a.dispose();
    const before = E.memoryStats();
    const heldBefore = held();
    const b = block(40, 1);
    const c = block(20, 2);
    const afterSplit = E.memoryStats();
    assert.equal(afterSplit.misses, before.misses, 'both pieces came from the cached block');
    assert.equal(held(), heldBefore, 'nothing new was taken from the system');
    // the pieces do not overlap: each keeps its own values after the other was written
    assert.deepEqual([b.min().item(), b.max().item()], [1, 1]);
    assert.deepEqual([c.min().item(), c.max().item()], [2, 2]);
    b.dispose();
    c.dispose();
    const beforeMerged = E.memoryStats().misses; // the checks above made small tensors of their own
    const heldBeforeMerged = held();
    const d = block(64, 3); // needs the two pieces and the remainder merged into one block again
    assert.equal(E.memoryStats().misses, beforeMerged, 'the merged block served the 64 MiB request');
    assert.equal(held(), heldBeforeMerged);
    assert.equal(d.sum().item(), 3 * 16 * MiB);
    d.dispose();
  });
});

test('allocator: a request no free block fits takes the pages of several free blocks, not new memory', () => {
  E.noGrad(() => {
    E.emptyCache(); // fresh mappings: the blocks freed by the test before would change the layout
    const a = block(32, 1);
    const spacer = block(16, 2); // stays live between the two
    const c = block(32, 3);
    a.dispose();
    c.dispose();
    const before = E.memoryStats();
    const heldBefore = held();
    const rssBefore = process.memoryUsage().rss;
    const d = block(60, 5); // more than either free block; filling it touches every page
    const after = E.memoryStats();
    const rssGrowth = (process.memoryUsage().rss - rssBefore) / MiB;
    assert.equal(after.misses, before.misses, 'served from the free blocks');
    assert.equal(held(), heldBefore, 'nothing new was taken from the system');
    assert.ok(rssGrowth < 30, `resident memory grew ${rssGrowth.toFixed(1)} MiB for a 60 MiB block`);
    assert.equal(d.sum().item(), 5 * 15 * MiB);
    assert.deepEqual(
      [spacer.min().item(), spacer.max().item()],
      [2, 2],
      'the live block between was left alone',
    );
    // d's pages came from two mappings, which one mremap cannot move: a larger request moves them in parts
    d.dispose();
    spacer.dispose();
    const free = E.memoryStats().cachedBytes;
    const rss = process.memoryUsage().rss;
    const e = block(112, 7);
    const growth = (process.memoryUsage().rss - rss) / MiB;
    assert.ok(free >= 76 * MiB);
    assert.ok(growth < 112 - 60, `resident memory grew ${growth.toFixed(1)} MiB with ${free / MiB} MiB free`);
    assert.equal(e.sum().item(), 7 * 28 * MiB);
    e.dispose();
  });
});

test('allocator: peak statistics count live and held bytes and restart at resetPeakMemoryStats', () => {
  E.noGrad(() => {
    E.resetPeakMemoryStats();
    const start = E.memoryStats();
    assert.equal(start.peakAllocatedBytes, start.allocatedBytes);
    assert.equal(start.peakReservedBytes, start.allocatedBytes + start.cachedBytes);
    const a = block(8, 1);
    const b = block(8, 2);
    const peak = E.memoryStats().allocatedBytes;
    a.dispose();
    b.dispose();
    const s = E.memoryStats();
    assert.equal(s.peakAllocatedBytes, peak);
    assert.ok(peak - start.allocatedBytes >= 16 * MiB);
    assert.ok(s.peakReservedBytes >= peak);
    E.resetPeakMemoryStats();
    assert.equal(E.memoryStats().peakAllocatedBytes, E.memoryStats().allocatedBytes);
  });
});

test('allocator: emptyCache returns wholly free blocks; a small cache limit is kept', () => {
  E.noGrad(() => {
    const blocks = [block(32, 1), block(48, 2), block(3, 3)];
    for (const t of blocks) t.dispose();
    assert.ok(E.memoryStats().cachedBytes >= 83 * MiB);
    E.emptyCache();
    assert.ok(E.memoryStats().cachedBytes < 2 * MiB, `${E.memoryStats().cachedBytes} bytes still cached`);
  });
  // KNEESEG_CPU_CACHE_MB is read when the addon loads: a child process with a 40 MiB limit frees three
  // 32 MiB blocks; the cache may keep one of them, never more than 40 MiB
  const dir = mkdtempSync(join(tmpdir(), 'allocator-limit-'));
  const script = join(dir, 'limit.mts');
  const engine = fileURLToPath(new URL('../../src/engine/index.ts', import.meta.url));
  writeFileSync(
    script,
    `import * as E from ${JSON.stringify(engine)};
     const ts = [0, 1, 2].map((v) => E.full([8 * 2 ** 20], v));
     const live = E.memoryStats().allocatedBytes;
     let most = 0;
     for (const t of ts) { t.dispose(); most = Math.max(most, E.memoryStats().cachedBytes); }
     const s = E.memoryStats();
     console.log(JSON.stringify({ live, most, cached: s.cachedBytes, limit: s.limitBytes }));`,
  );
  const r = spawnSync(process.execPath, ['--import', 'tsx', script], {
    encoding: 'utf8',
    env: { ...process.env, KNEESEG_CPU_CACHE_MB: '40' },
  });
  assert.equal(r.status, 0, r.stderr);
  const got = JSON.parse(r.stdout) as { live: number; most: number; cached: number; limit: number };
  assert.equal(got.limit, 40 * MiB);
  assert.ok(got.live >= 96 * MiB);
  assert.ok(got.most <= 40 * MiB, `cached ${got.most} bytes over a 40 MiB limit`);
  assert.ok(got.cached >= 32 * MiB, `one freed block fits under the limit and stays cached: ${r.stdout}`);
});
