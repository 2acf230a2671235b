/** `kneeseg model`: parameter count per part and FLOPs per slice of a backbone + heads. */
import type { Command } from 'commander';
import { outOfMemoryBytes } from '../engine/index.ts';
import { ConfigError, KneesegError } from '../errors.ts';
import { buildModel } from '../models/registry.ts';
import { summarizeModel } from '../models/summary.ts';

function parseSize(text: string): [number, number] {
  const m = /^(\d+)x(\d+)$/.exec(text);
  if (!m) throw new ConfigError('--size', `"${text}" is not HEIGHTxWIDTH (e.g. 288x240)`);
  return [Number(m[1]), Number(m[2])];
}

export function modelCommand(program: Command): void {
  program
    .command('model')
    .description('print the parameter count per part and the FLOPs per slice of a network')
    .option('--backbone <name>', 'medt or unet', 'medt')
    .option('--size <HxW>', 'slice size the model is built for', '288x240')
    .option('--in-channels <n>', 'input channels', '3')
    .option('--out-channels <n>', 'logits per pixel (label-tree nodes)', '9')
    .option('--no-level-set', 'without the level-set head')
    .option('--json', 'print JSON')
    .action(
      (o: {
        backbone: string;
        size: string;
        inChannels: string;
        outChannels: string;
        levelSet: boolean;
        json?: boolean;
      }) => {
        const size = parseSize(o.size);
        let s: ReturnType<typeof summarizeModel>;
        try {
          const model = buildModel({
            backbone: o.backbone,
            imageSize: size,
            inChannels: Number(o.inChannels),
            outChannels: Number(o.outChannels),
            levelSet: o.levelSet,
          });
          try {
            s = summarizeModel(model, size);
          } finally {
            model.dispose();
          }
        } catch (err) {
          const bytes = outOfMemoryBytes(err);
          if (bytes === undefined) throw err;
          throw new KneesegError(
            `out of memory${Number.isNaN(bytes) ? '' : ` (${(bytes / 2 ** 30).toFixed(1)} GiB for one tensor)`}: ` +
              `${o.backbone} at --size ${o.size} does not fit in this machine's memory. Fix: give a smaller --size (e.g. 288x240)`,
          );
        }
        if (o.json) {
          console.log(JSON.stringify({ backbone: o.backbone, ...s }, null, 2));
          return;
        }
        const w = Math.max(...s.parts.map((p) => p.name.length), 5);
        console.log(
          `${o.backbone} at ${size.join('x')}, ${o.inChannels} input channels, ${o.outChannels} outputs`,
        );
        for (const p of s.parts)
          console.log(`  ${p.name.padEnd(w)}  ${p.params.toLocaleString('en-US').padStart(11)}`);
        console.log(
          `  ${'total'.padEnd(w)}  ${s.params.toLocaleString('en-US').padStart(11)}  (${(s.params / 1e6).toFixed(3)} M)`,
        );
        if (o.backbone === 'medt')
          console.log(
            '  for comparison: the paper reports 1.73 M; the official MedT code has 1,560,140 at 128x128, 1,524,536 of them in layers it uses',
          );
        console.log(
          `  FLOPs per slice: ${(s.flopsPerSlice / 1e9).toFixed(2)} G (conv, matmul and einsum; 2 per multiply-add)`,
        );
      },
    );
}
