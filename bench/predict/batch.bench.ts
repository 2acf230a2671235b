/**
 * The network's time per slice against the batch size, for predict's default (`defaultBatch` of
 * src/infer/predict.ts): no-grad forward of backbone and f_PW with batch norm folded, then the argmax,
 * on random slices, each batch size twice (the second round is printed after the first, so a load
 * that comes and goes shows).
 *
 *   node --import tsx bench/predict/batch.bench.ts [--backbone unet|medt] [--size 288,240]
 *     [--base-channels 16] [--slices 32] [--batches 1,2,4,8,16] [--channels-last]
 *
 * --channels-last also runs every batch size with the input and the convolution weights in channels-
 * last memory format (NHWC, oneDNN's native layout), beside the default layout.
 *
 * bench/ measures; it never asserts.
 */
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { noGrad, randn, scope, setNumThreads } from '../../src/engine/index.ts';
import { channelsLast, weightsToChannelsLast } from '../../src/models/channels-last.ts';
import { foldBatchNorm } from '../../src/models/fold-batchnorm.ts';
import { buildModel } from '../../src/models/registry.ts';

const { values: args } = parseArgs({
  options: {
    backbone: { type: 'string', default: 'unet' },
    size: { type: 'string', default: '288,240' },
    'base-channels': { type: 'string', default: '16' },
    slices: { type: 'string', default: '32' },
    batches: { type: 'string', default: '1,2,4,8,16' },
    'channels-last': { type: 'boolean', default: false },
  },
});
const size = args.size.split(',').map(Number) as [number, number];
const slices = Number(args.slices);
setNumThreads(2);
const backbone = args.backbone as 'unet' | 'medt';
const net = buildModel({
  backbone,
  inChannels: 3,
  imageSize: size,
  ...(backbone === 'unet' ? { unet: { baseChannels: Number(args['base-channels']), depth: 4 } } : {}),
});
net.eval();
// the inference copies predict uses: batch norm folded, and (--channels-last) one with NHWC weights
const folded = foldBatchNorm(net);
const variants = [{ net: folded, nhwc: false }];
if (args['channels-last']) {
  const nhwc = foldBatchNorm(net);
  weightsToChannelsLast(nhwc);
  variants.push({ net: nhwc, nhwc: true });
}
console.log(
  `${backbone} ${size.join('x')}, 2 threads, ${slices} slices per measurement, load ${loadavg()[0]!.toFixed(1)}`,
);
for (let round = 1; round <= 2; round++)
  for (const b of args.batches.split(',').map(Number))
    for (const v of variants) {
      const x = randn([b, 3, ...size]).keep();
      const input = v.nhwc ? channelsLast(x).keep() : x;
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      for (let s = 0; s < slices; s += b)
        scope(() =>
          noGrad(() => v.net.pw_head.forward(v.net.backbone.forward(input)).argmax(1).sum().item()),
        );
      const c = process.cpuUsage(c0);
      const wall = (performance.now() - t0) / slices;
      const cpu = (c.user + c.system) / 1e3 / slices;
      const name = v.nhwc ? ', channels-last' : '';
      console.log(
        `round ${round}, batch ${String(b).padStart(2)}${name}: ${wall.toFixed(1)} ms per slice (CPU ${cpu.toFixed(1)} ms)`,
      );
      x.dispose();
      if (input !== x) input.dispose();
    }
console.log(`load after ${loadavg()[0]!.toFixed(1)}`);
