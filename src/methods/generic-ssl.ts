/**
 * GenericSSL baseline (Wang & Li, "Towards generic semi-supervised framework for volumetric medical
 * image segmentation", NeurIPS 2023), as its official 2-D code defines it (xmed-lab/GenericSSL at
 * e73bde9: code/train_diffusion_2d.py, code/DiffVNet/diff_vnet_2d.py, code/utils/loss.py; line numbers
 * below are of those files). Its Aggregating & Decoupling design: one shared encoder and three decoders
 * of one architecture,
 * - D_xi, a diffusion denoiser: given the image and the one-hot label diffused to a random step t
 *   (x_0 = 2 onehot - 1, 1000 linear-beta steps), it predicts x_0; trained with CE + Dice (`deno`),
 * - D_psi, trained on the labelled slices with CE + Dice weighted per class by the difficulty of
 *   each class for D_xi (a running measure of how D_xi's Dice learns / unlearns it, `diff`),
 * - D_theta, the predictor: before every step its parameters move towards the mean of D_xi's and
 *   D_psi's (EMA 0.99, l.235-240), and it learns CE + Dice on pseudo labels of the unlabelled slices
 *   (`unsup`, weight mu = 2 sigmoid_rampup over the run). The pseudo label is the argmax of
 *   GaussianSmoothing(gumbel_softmax(x_0 sampled by 10 DDIM steps of D_xi)) + softmax(D_psi).
 *   total = deno + diff + mu(t) unsup (l.278).
 *
 * On kneeseg's backbones (the house rule for baselines: same backbone, the method decides the rest):
 * the shared encoder is the configured backbone (MedT or U-Net), the decoders are pixel-wise heads of
 * f_PW's shape on its features, D_theta being the predictor's own f_PW, so a GenericSSL model file
 * loads and predicts like any other. The denoising path enters the backbone through a stem
 * (image + conv3x3([image, x_t]) + time projection) and its head adds the time projection too
 * (src/models/denoiser.ts); the official V-Net adds it in every block instead.
 *
 * Where the 2-D code departs from the 3-D script (train_diffusion.py) we follow the 2-D code: one-hot
 * via F.one_hot (l.252), Gaussian smoothing in 2-D (l.270, dim=2). Where the 2-D code cannot run as
 * written we take the evident intent and say so: it reads `args.unsup_loss` (l.217) without defining it
 * (its parser has `--cps_loss` 'w_ce+dice', l.16): that loss with no weight set, i.e. plain CE + Dice,
 * as the 3-D script's default; `TembFusion` broadcasts over 2 spatial dims (see denoiser.ts). Not taken
 * from the code: SGD with nesterov momentum and poly lr (l.111-117, l.303) are the run's optimizer
 * settings here, the same for every method; mixed precision (l.14) is off (float32); the ramp of mu is
 * per iteration over the run instead of per epoch over max_epoch; D_psi's prediction on the unlabelled
 * slices reuses D_theta's forward pass through the shared backbone (the same values: same input, batch
 * statistics, no dropout in our heads).
 */
import { z } from 'zod';
import {
  conv2d,
  crossEntropy,
  noGrad,
  rand,
  randint,
  randn,
  scalar,
  tensor,
  where,
  zeros,
  ones,
  Module,
  type Tensor,
} from '../engine/index.ts';
import { decodeFlat } from '../hierarchy/decode.ts';
import { sigmoidRampup } from '../levelset/schedule.ts';
import { ConfigError } from '../errors.ts';
import { PixelWiseHead } from '../models/heads.ts';
import { SegmentationNet } from '../models/registry.ts';
import { DenoisingHead, DiffusionStem, TimeEmbedding } from '../models/denoiser.ts';
import type { Batch, LossTerms, Method, MethodContext, StepContext } from './method.ts';
import { flatClassCount, flatClasses, oneHotClasses, splitBatch } from './common.ts';
import { alphasCumprod, ddimSample, linearBetas, qSample, spacedTimesteps } from './gaussian-diffusion.ts';

export const genericSslOptionsSchema = z
  .strictObject({
    /** train_diffusion_2d.py l.21 `-w --mu` 2.0: final weight of the unlabelled loss */
    mu: z.number().nonnegative().default(2),
    /** l.23 `-r --mu_rampup` True: mu * sigmoid_rampup (l.46-53) */
    muRampup: z.boolean().default(true),
    /** l.24 `--rampup_epoch` None -> max_epoch (l.49-50): the whole run; here in iterations */
    rampupIterations: z.number().int().positive().optional(),
    /** l.22 `-s --ema_w` 0.99: D_theta <- ema_w D_theta + (1 - ema_w) (D_xi + D_psi) / 2 (l.240) */
    emaWeight: z.number().min(0).max(1).default(0.99),
    /** diff_vnet_2d.py l.504 `time_steps = 1000` */
    timesteps: z.number().int().min(2).default(1000),
    /** diff_vnet_2d.py l.520 `space_timesteps(self.time_steps, [10])`: DDIM steps of the sampler */
    samplingSteps: z.number().int().positive().default(10),
    /** gaussian_diffusion.py l.34 `beta_start = scale * 0.0001` (l.512: "linear", use_scale=True) */
    betaStart: z.number().positive().default(1e-4),
    /** gaussian_diffusion.py l.35 `beta_end = scale * 0.02` */
    betaEnd: z.number().positive().max(1).default(0.02),
    /** diff_vnet_2d.py l.239 `embed_dim_in = 128` */
    timeEmbedding: z.number().int().min(4).default(128),
    /** diff_vnet_2d.py l.240 `embed_dim_out = embed_dim_in * 4` (and `Linear(512, ...)`, l.225) */
    timeHidden: z.number().int().positive().default(512),
    /** train_diffusion_2d.py l.214 `Difficulty(config.num_cls, accumulate_iters=50)`: EMA momentum 49/50 */
    difficultyWindow: z.number().int().positive().default(50),
    /** l.156 `torch.pow(cur_diff, 1/5)` */
    difficultyPower: z.number().positive().default(0.2),
    /** l.127 `SoftDiceLoss(smooth=1e-8, do_bg=True)`: the Dice the difficulty is measured with */
    difficultySmooth: z.number().positive().default(1e-8),
    /** loss.py l.81 `SoftDiceLoss(..., smooth=1.)` inside DC_and_CE_loss (l.173) */
    diceSmooth: z.number().nonnegative().default(1),
    /** l.271 `F.gumbel_softmax(p_u_xi, dim=1)`: tau = 1 (PyTorch's default) */
    gumbelTau: z.number().positive().default(1),
    /** l.270 `GaussianSmoothing(config.num_cls, 3, 1, dim=2)`: kernel size */
    smoothingKernel: z
      .number()
      .int()
      .positive()
      .refine((k) => k % 2 === 1, 'an odd kernel size')
      .default(3),
    /** l.270: sigma */
    smoothingSigma: z.number().positive().default(1),
  })
  .refine((o) => o.samplingSteps <= o.timesteps, {
    message: 'at most `timesteps` sampling steps',
    path: ['samplingSteps'],
  });
export type GenericSslOptions = z.input<typeof genericSslOptionsSchema>;
export type GenericSslParsedOptions = z.output<typeof genericSslOptionsSchema>;
type Opts = GenericSslParsedOptions;

/**
 * `Difficulty` (train_diffusion_2d.py l.124-160): per class c, the Dice d_c of D_xi's argmax on the
 * labelled slices (background included, whole batch); with delta = d - d_prev,
 * learn = [delta > 0] delta log(d / d_prev), unlearn = [delta <= 0] delta log(d / d_prev), both EMA'd
 * with momentum (n - 1) / n, as is 1 - d; the weight is ((unlearn + 1e-8) / (learn + 1e-8))^(1/5) *
 * EMA(1 - d) * K. Buffers, so checkpoints carry the running state.
 */
export class Difficulty extends Module {
  readonly lastDice: Tensor;
  readonly learn: Tensor;
  readonly unlearn: Tensor;
  readonly diceWeight: Tensor;
  constructor(
    readonly classes: number,
    readonly window: number,
    readonly power: number,
    readonly smooth: number,
  ) {
    super();
    this.lastDice = this.buffer('last_dice', zeros([classes]).add(1e-8));
    this.learn = this.buffer('cls_learn', zeros([classes]));
    this.unlearn = this.buffer('cls_unlearn', zeros([classes]));
    this.diceWeight = this.buffer('dice_weight', ones([classes]));
  }

  /** logits [L, K, H, W] (of D_xi), cls [L, H, W] -> class weights [K]; updates the running state */
  update(logits: Tensor, cls: Tensor): Tensor {
    return noGrad(() => {
      const K = this.classes;
      const x = oneHotClasses(logits.argmax(1), K);
      const y = oneHotClasses(cls, K);
      const dims = [0, 2, 3];
      const tp = x.mul(y).sum(dims);
      const fp = x.mul(y.rsub(1)).sum(dims);
      const fn = x.rsub(1).mul(y).sum(dims);
      const dice = tp.mul(2).add(this.smooth).div(tp.mul(2).add(fp).add(fn).add(this.smooth).add(1e-8));
      const delta = dice.sub(this.lastDice);
      const logRatio = dice.div(this.lastDice).log();
      const learn = where(delta.gt(0), delta, 0).mul(logRatio);
      const unlearn = where(delta.le(0), delta, 0).mul(logRatio);
      const m = (this.window - 1) / this.window;
      this.lastDice.copy_(dice);
      this.learn.mul_(m).add_(learn, 1 - m);
      this.unlearn.mul_(m).add_(unlearn, 1 - m);
      this.diceWeight.mul_(m).add_(dice.rsub(1), 1 - m);
      const difficulty = this.unlearn.add(1e-8).div(this.learn.add(1e-8)).pow(this.power);
      return difficulty.mul(this.diceWeight).mul(K);
    });
  }
}

/**
 * `DC_and_CE_loss` (loss.py l.149-207) on logits against class indices: cross-entropy (class-weighted
 * mean when `weight` is given) plus SoftDiceLoss(batch_dice, do_bg=False): -mean over foreground
 * classes of w_c (2 tp + s) / (2 tp + fp + fn + s + 1e-8) on the softmax. The Dice part is negative.
 */
export function dcAndCe(
  logits: Tensor,
  cls: Tensor,
  weight: Tensor | null = null,
  smooth = 1,
): { ce: Tensor; dice: Tensor } {
  const K = logits.size(1);
  const p = logits.softmax(1);
  const y = oneHotClasses(cls, K, p.dtype);
  const dims = [0, 2, 3];
  const tp = p.mul(y).sum(dims);
  const fp = p.mul(y.rsub(1)).sum(dims);
  const fn = p.rsub(1).mul(y).sum(dims);
  let dc = tp
    .mul(2)
    .add(smooth)
    .div(tp.mul(2).add(fp).add(fn).add(smooth).add(1e-8))
    .narrow(0, 1, K - 1);
  if (weight) dc = dc.mul(weight.narrow(0, 1, K - 1));
  return { ce: crossEntropy(logits, cls, weight ? { weight } : {}), dice: dc.mean().neg() };
}

/**
 * `GaussianSmoothing(K, size, sigma, dim=2)` (utils/__init__.py l.16-79): a depthwise normalized
 * Gaussian, padding "same" (zeros); odd sizes.
 */
export function gaussianSmoothing(x: Tensor, size: number, sigma: number): Tensor {
  const K = x.size(1);
  const mean = (size - 1) / 2;
  const g = Array.from({ length: size }, (_, i) => Math.exp(-(((i - mean) / sigma) ** 2) / 2));
  const k2 = g.flatMap((a) => g.map((b) => a * b));
  const total = k2.reduce((a, b) => a + b, 0);
  const kernel = tensor(
    Array.from({ length: K }, () => k2.map((v) => v / total)).flat(),
    [K, 1, size, size],
    { dtype: x.dtype },
  );
  // padding "same" of an odd kernel: (size - 1) / 2 on each side
  return conv2d(x, kernel, null, { padding: (size - 1) / 2, groups: K });
}

/** Gumbel(0, 1) samples: -log(E), E ~ Exp(1) = -log(U). */
export function gumbelNoise(shape: readonly number[]): Tensor {
  return rand(shape).clamp(1e-12, null).log().neg().log().neg();
}

/** The random draws of one step, explicit so a reference implementation can replay them. */
export interface GenericSslDraws {
  /** diffusion step of each labelled slice, in [0, T) */
  t: number[];
  /** [L, K, H, W] noise of q(x_t | x_0) */
  noise: Tensor;
  /** [U, K, H, W] starting x_T of the DDIM sampler */
  sampleNoise: Tensor;
  /** [U, K, H, W] Gumbel noise of gumbel_softmax */
  gumbel: Tensor;
}

/** The networks of a GenericSSL method. */
export interface GenericSslParts {
  /** shared backbone + D_theta (its pixel-wise head): the predictor */
  readonly model: SegmentationNet;
  readonly psi: PixelWiseHead;
  readonly xi: DenoisingHead;
  readonly stem: DiffusionStem;
  readonly time: TimeEmbedding;
  readonly difficulty: Difficulty;
}

/** Everything one step computes: the loss terms and, for checks, the intermediate maps. */
export interface GenericSslStep {
  terms: LossTerms;
  /** D_xi's x_0 logits on the labelled slices [L, K, H, W] */
  xiLabelled: Tensor | null;
  psiLabelled: Tensor | null;
  /** difficulty weights [K] used for `diff` */
  weights: Tensor | null;
  /** x_0 sampled for the unlabelled slices [U, K, H, W] (in [-1, 1]) */
  sampled: Tensor | null;
  /** pseudo labels [U, H, W] int64 */
  pseudo: Tensor | null;
  thetaUnlabelled: Tensor | null;
}

/** D_theta <- w D_theta + (1 - w) (D_xi + D_psi) / 2 over the keys they share (l.235-240). */
export function aggregateDecoders(parts: GenericSslParts, w: number): void {
  const xi = new Map(parts.xi.namedParameters());
  const psi = new Map(parts.psi.namedParameters());
  noGrad(() => {
    for (const [name, theta] of parts.model.pw_head.namedParameters()) {
      const a = xi.get(name);
      const b = psi.get(name);
      if (!a || !b || a.shape.join() !== theta.shape.join()) continue;
      theta.mul_(w).add_(a.add(b).mul(0.5), 1 - w);
    }
  });
}

/**
 * One GenericSSL step on `image` ([L labelled, then U unlabelled] slices) with the labelled classes
 * `cls` [L, H, W], given the step's random draws and the weight mu of the unlabelled term.
 */
export function genericSslStep(
  parts: GenericSslParts,
  o: Opts,
  image: Tensor,
  cls: Tensor,
  draws: GenericSslDraws,
  mu: number,
): GenericSslStep {
  const L = cls.size(0);
  const { labelled, unlabelled } = splitBatch(image, L);
  const U = unlabelled.size(0);
  const K = parts.model.outChannels;
  const abar = alphasCumprod(linearBetas(o.timesteps, o.betaStart, o.betaEnd));
  const out: GenericSslStep = {
    terms: { total: scalar(0) },
    xiLabelled: null,
    psiLabelled: null,
    weights: null,
    sampled: null,
    pseudo: null,
    thetaUnlabelled: null,
  };
  const denoise = (img: Tensor, xt: Tensor, t: readonly number[]): Tensor => {
    const temb = parts.time.forward(t);
    return parts.xi.forward(parts.model.forward(parts.stem.forward(img, xt, temb)).features, temb);
  };
  let deno = scalar(0);
  let diff = scalar(0);
  if (L > 0) {
    const x0 = oneHotClasses(cls, K).mul(2).sub(1);
    const xt = qSample(x0, draws.t, draws.noise, abar);
    const xi = denoise(labelled, xt, draws.t);
    const psi = parts.psi.forward(parts.model.forward(labelled).features);
    const d = dcAndCe(xi, cls, null, o.diceSmooth);
    deno = d.ce.add(d.dice);
    const weights = parts.difficulty.update(xi.detach(), cls);
    const s = dcAndCe(psi, cls, weights, o.diceSmooth);
    diff = s.ce.add(s.dice);
    Object.assign(out, { xiLabelled: xi, psiLabelled: psi, weights });
  }
  let unsup = scalar(0);
  if (U > 0) {
    const { features, logits: theta } = parts.model.forward(unlabelled);
    const steps = spacedTimesteps(o.timesteps, o.samplingSteps);
    const sampled = ddimSample(
      (xt, t) => denoise(unlabelled, xt, new Array<number>(U).fill(t)),
      draws.sampleNoise,
      abar,
      steps,
    );
    const pseudo = noGrad(() => {
      const pXi = gaussianSmoothing(
        sampled.add(draws.gumbel).div(o.gumbelTau).softmax(1),
        o.smoothingKernel,
        o.smoothingSigma,
      );
      const pPsi = parts.psi.forward(features.detach()).softmax(1);
      return pXi.add(pPsi).argmax(1);
    });
    const u = dcAndCe(theta, pseudo, null, o.diceSmooth);
    unsup = u.ce.add(u.dice);
    Object.assign(out, { sampled, pseudo, thetaUnlabelled: theta });
  }
  out.terms = { deno, diff, unsup, total: deno.add(diff).add(unsup.mul(mu)) };
  return out;
}

/** mu(t) = mu sigmoid_rampup(t, length) (l.46-53), length = the run unless `rampupIterations`. */
export function muAt(o: Opts, c: StepContext): number {
  if (!o.muRampup) return o.mu;
  return o.mu * sigmoidRampup(c.iteration, o.rampupIterations ?? c.maxIterations);
}

/** Builds the networks: the configured backbone with f_PW = D_theta, D_psi, D_xi, the stem, the time MLP. */
export function genericSslParts(ctx: MethodContext, o: Opts): GenericSslParts {
  const K = flatClassCount(ctx.tree);
  const model = ctx.buildModel({ outChannels: K, levelSet: false });
  if (!(model instanceof SegmentationNet))
    throw new ConfigError(
      'method.name',
      'generic-ssl needs a kneeseg segmentation network (a backbone with the pixel-wise head f_PW)',
    );
  const F = model.featureChannels;
  const hidden = model.pw_head.first.outChannels;
  const parts: GenericSslParts = {
    model,
    psi: new PixelWiseHead(F, K, hidden),
    xi: new DenoisingHead(F, hidden, K, o.timeHidden),
    stem: new DiffusionStem(model.config.inChannels, K, o.timeHidden),
    time: new TimeEmbedding(o.timeEmbedding, o.timeHidden),
    difficulty: new Difficulty(K, o.difficultyWindow, o.difficultyPower, o.difficultySmooth),
  };
  return parts;
}

export function createGenericSsl(ctx: MethodContext, options: GenericSslOptions = {}): Method {
  const o = genericSslOptionsSchema.parse(options);
  const { tree } = ctx;
  const parts = genericSslParts(ctx, o);
  const { model } = parts;
  const K = model.outChannels;
  const supervised = (logits: Tensor, cls: Tensor) => {
    const d = dcAndCe(logits, cls, null, o.diceSmooth);
    return d.ce.add(d.dice);
  };
  return {
    name: 'generic-ssl',
    twoStage: false,
    modules: { model, psi: parts.psi, xi: parts.xi, stem: parts.stem, time: parts.time },
    frozen: { difficulty: parts.difficulty },
    predictor: model,
    decoding: 'softmax',
    decode: (logits) => decodeFlat(logits, tree),
    step(batch: Batch, c: StepContext): LossTerms {
      aggregateDecoders(parts, o.emaWeight);
      const L = batch.numLabelled;
      const U = batch.image.size(0) - L;
      const [H, W] = [batch.image.size(2), batch.image.size(3)];
      const draws: GenericSslDraws = {
        t: L > 0 ? randint(0, o.timesteps, [L]).toArray().map(Number) : [],
        noise: randn([L, K, H, W]),
        sampleNoise: randn([U, K, H, W]),
        gumbel: gumbelNoise([U, K, H, W]),
      };
      const cls = flatClasses(batch.label, tree);
      return genericSslStep(parts, o, batch.image, cls, draws, muAt(o, c)).terms;
    },
    validationLoss: (batch): Tensor =>
      noGrad(() =>
        supervised(
          splitBatch(model.forward(batch.image).logits, batch.numLabelled).labelled,
          flatClasses(batch.label, tree),
        ),
      ),
  };
}
