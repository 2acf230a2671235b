#!/usr/bin/env node
// Entry point of the `kneeseg` command. TypeScript sources run through tsx's loader, so there is no
// separate build output that could go stale next to the sources.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv);
