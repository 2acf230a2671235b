import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { CaseList } from '../../src/view/api.ts';
import { kneeseg } from '../helpers/cli.ts';
import { makeViewFixture, type ViewFixture } from '../view/fixtures.ts';

const BIN = fileURLToPath(new URL('../../bin/kneeseg.js', import.meta.url));

describe('kneeseg view', () => {
  let dir: string;
  let fx: ViewFixture;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kneeseg-cli-view-'));
    fx = await makeViewFixture(dir);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('names a PATH that is not a folder, and a bad port', async () => {
    const missing = await kneeseg('view', join(dir, 'nothing'), '--port', '0');
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /nothing: is not a folder/);
    const port = await kneeseg('view', fx.dataset, '--port', 'http');
    assert.equal(port.code, 1);
    assert.match(port.stderr, /port/);
  });

  it('serves a dataset on loopback, prints the URL, and stops on SIGINT', async () => {
    const child = spawn(process.execPath, [BIN, 'view', fx.dataset, '--port', '0'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      let out = '';
      const url = await new Promise<string>((resolve, reject) => {
        child.stdout.on('data', (c: Buffer) => {
          out += c.toString();
          const m = /open (http:\/\/127\.0\.0\.1:\d+\/)\n/.exec(out);
          if (m) resolve(m[1]!);
        });
        child.once('exit', (code) => reject(new Error(`exited with ${code}: ${out}`)));
      });
      assert.match(out, /3 case\(s\) of dataset/);
      const list = (await (await fetch(`${url}api/cases`)).json()) as CaseList;
      assert.equal(list.kind, 'dataset');
      assert.equal(list.cases.length, 3);
      const page = await fetch(url);
      assert.match(await page.text(), /<canvas id="canvas-a">/);
      const code = new Promise<number | null>((resolve) => child.once('exit', resolve));
      child.kill('SIGINT');
      assert.equal(await code, 0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
