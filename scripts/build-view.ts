/** `npm run build:view`: bundles the viewer page (src/view/bundle.ts) into dist/view/app.js. */
import { buildPageBundle } from '../src/view/bundle.ts';

const file = await buildPageBundle();
console.log(`build:view: wrote ${file}`);
