/**
 * Methods by name. Each entry is a factory `(ctx, options) => Method` and the zod schema of its
 * options (defaults cite their source in the method's file). The trainer picks one by the config's
 * `method.name` and knows nothing else about it.
 */
import type { z } from 'zod';
import { ConfigError } from '../errors.ts';
import type { Method, MethodContext } from './method.ts';
import { createSshcps, sshcpsOptionsSchema } from './sshcps.ts';
import { createSegTh, segThOptionsSchema } from './seg-th.ts';
import { createSegThUp, segThUpOptionsSchema } from './seg-th-up.ts';
import { createSegLs, segLsOptionsSchema } from './seg-ls.ts';
import { createHcps, hcpsOptionsSchema } from './hcps.ts';
import { createSupervised, supervisedOptionsSchema } from './supervised.ts';
import { createDtc, dtcOptionsSchema } from './dtc.ts';
import { createCct, cctOptionsSchema } from './cct.ts';
import { createCld, cldOptionsSchema } from './cld.ts';
import { createMeanTeacher, meanTeacherOptionsSchema } from './mean-teacher.ts';
import { createUaMt, uaMtOptionsSchema } from './ua-mt.ts';
import { createGenericSsl, genericSslOptionsSchema } from './generic-ssl.ts';

export interface MethodEntry {
  readonly schema: z.ZodType;
  readonly create: (ctx: MethodContext, options: never) => Method;
  readonly description: string;
}

export const METHODS = {
  sshcps: {
    schema: sshcpsOptionsSchema,
    create: createSshcps,
    description: 'SSHCPS: L_CTU + alpha L_C + beta(t) L_LS (Eq. 17)',
  },
  'seg-th': {
    schema: segThOptionsSchema,
    create: createSegTh,
    description: 'ablation: conditional stage only (cond + cp)',
  },
  'seg-th-up': {
    schema: segThUpOptionsSchema,
    create: createSegThUp,
    description: 'ablation: conditional then unconditional (L_CTU)',
  },
  'seg-ls': {
    schema: segLsOptionsSchema,
    create: createSegLs,
    description: 'ablation: L_CTU + level-set branch, labelled only',
  },
  hcps: { schema: hcpsOptionsSchema, create: createHcps, description: 'HCPS: the supervised half of SSHCPS' },
  supervised: {
    schema: supervisedOptionsSchema,
    create: createSupervised,
    description: 'flat softmax CE + Dice (the MedT baseline)',
  },
  dtc: {
    schema: dtcOptionsSchema,
    create: createDtc,
    description: 'DTC (Luo et al. AAAI 2021), one SDF per class',
  },
  cct: {
    schema: cctOptionsSchema,
    create: createCct,
    description: 'CCT (Ouali et al. CVPR 2020), perturbed auxiliary decoders',
  },
  cld: {
    schema: cldOptionsSchema,
    create: createCld,
    description: 'CLD (Lin et al. MICCAI 2022), weighted cross pseudo supervision',
  },
  'generic-ssl': {
    schema: genericSslOptionsSchema,
    create: createGenericSsl,
    description: 'GenericSSL (Wang & Li NeurIPS 2023), diffusion-guided aggregating & decoupling decoders',
  },
  'mean-teacher': {
    schema: meanTeacherOptionsSchema,
    create: createMeanTeacher,
    description: 'mean teacher (Tarvainen & Valpola 2017)',
  },
  'ua-mt': {
    schema: uaMtOptionsSchema,
    create: createUaMt,
    description: 'uncertainty-aware mean teacher (Yu et al. 2019)',
  },
} as const satisfies Record<string, MethodEntry>;

export type MethodName = keyof typeof METHODS;
export const METHOD_NAMES = Object.keys(METHODS) as MethodName[];

/** Validates `options` against the method's schema (errors name the option) and builds the method. */
export function createMethod(name: string, ctx: MethodContext, options: unknown = {}): Method {
  const entry = (METHODS as Record<string, MethodEntry>)[name];
  if (!entry)
    throw new ConfigError('method.name', `unknown method "${name}"; one of ${METHOD_NAMES.join(', ')}`);
  const parsed = entry.schema.safeParse(options ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ConfigError(
      `method.options${issue.path.length ? '.' + issue.path.join('.') : ''}`,
      issue.message,
    );
  }
  return entry.create(ctx, parsed.data as never);
}
