/**
 * The viewer page's script: src/view/page/main.ts and NiiVue bundled by esbuild into one file,
 * DIST/view/app.js, at build time (`npm run build:view`, run by scripts/setup.sh), so the page needs
 * no network when it runs. The page's TypeScript is type-checked with the rest (`tsc -p .`); esbuild
 * only strips types and bundles.
 */
import { existsSync, statSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** src/view/page: index.html, style.css and the script's sources. */
export const PAGE_DIR = fileURLToPath(new URL('./page', import.meta.url));
/** Where `npm run build:view` writes app.js. */
/** modules outside page/ that the page imports (esbuild bundles them in) */
const PAGE_IMPORTS = [fileURLToPath(new URL('../data/palette.ts', import.meta.url))];
export const DEFAULT_BUNDLE_DIR = fileURLToPath(new URL('../../dist/view', import.meta.url));
export const BUNDLE_FILE = 'app.js';

/** Bundles the page into OUT/app.js; returns its path. */
export async function buildPageBundle(out: string = DEFAULT_BUNDLE_DIR): Promise<string> {
  const { build } = await import('esbuild');
  const outfile = join(out, BUNDLE_FILE);
  await build({
    entryPoints: [join(PAGE_DIR, 'main.ts')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    legalComments: 'linked',
    outfile,
    logLevel: 'warning',
  });
  return outfile;
}

/** True when OUT/app.js is missing or older than a source of the page. */
export function bundleIsStale(out: string = DEFAULT_BUNDLE_DIR): boolean {
  const file = join(out, BUNDLE_FILE);
  if (!existsSync(file)) return true;
  const built = statSync(file).mtimeMs;
  const sources = [
    ...readdirSync(PAGE_DIR)
      .filter((f) => f.endsWith('.ts'))
      .map((f) => join(PAGE_DIR, f)),
    ...PAGE_IMPORTS,
  ];
  return sources.some((f) => statSync(f).mtimeMs > built);
}
