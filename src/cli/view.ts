/**
 * `kneeseg view PATH [--dataset DIR] [--compare DIR] [--port N] [--host ADDRESS]`: a local web page to
 * review, compare and correct segmentations (src/view/). PATH is a dataset, a `kneeseg predict`
 * output folder, a run folder or an experiment folder. Prints the URL and serves until interrupted
 * (Ctrl-C); opens nothing.
 */
import type { Command } from 'commander';
import { ConfigError } from '../errors.ts';
import { buildPageBundle, bundleIsStale, DEFAULT_BUNDLE_DIR } from '../view/bundle.ts';
import { DEFAULT_HOST, DEFAULT_PORT, startViewServer } from '../view/server.ts';

interface ViewFlags {
  dataset?: string;
  compare?: string;
  port: string;
  host: string;
}

export function viewCommand(program: Command): void {
  program
    .command('view')
    .description('review, compare and correct segmentations in the browser (a local web server)')
    .argument(
      '<path>',
      'a dataset folder, a `kneeseg predict` output folder, a run folder or a `kneeseg experiment` folder',
    )
    .option(
      '--dataset <dir>',
      'dataset holding the scans of a predict output folder (and where corrections are saved)',
    )
    .option('--compare <dir>', 'a second folder of label maps (e.g. another run) to show beside the first')
    .option('--port <n>', 'port to listen on (0: any free port)', String(DEFAULT_PORT))
    .option(
      '--host <address>',
      'address to bind; any other than loopback requires the printed token',
      DEFAULT_HOST,
    )
    .action(async (path: string, flags: ViewFlags) => {
      const port = Number(flags.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535)
        throw new ConfigError('port', `must be a whole number 0..65535, got "${flags.port}"`);
      if (bundleIsStale()) {
        console.log(`building the page into ${DEFAULT_BUNDLE_DIR} (npm run build:view) ...`);
        await buildPageBundle();
      }
      const server = await startViewServer({
        path,
        dataset: flags.dataset,
        compare: flags.compare,
        port,
        host: flags.host,
      });
      const catalog = server.catalog();
      console.log(`kneeseg view: ${catalog.cases.length} case(s) of ${catalog.kind} ${path}`);
      if (server.token)
        console.log(`listening on ${flags.host}: every request needs the token in this URL; keep it private`);
      console.log(`open ${server.url}`);
      console.log('Ctrl-C stops the server');
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await server.close();
    });
}
