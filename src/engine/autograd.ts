/** Grad mode, like torch.no_grad(): inference and bookkeeping run without recording a graph. */
import { native } from './native.ts';

export function noGrad<T>(fn: () => T): T {
  const prev = native.setGradEnabled(false);
  try {
    return fn();
  } finally {
    native.setGradEnabled(prev);
  }
}

export function enableGrad<T>(fn: () => T): T {
  const prev = native.setGradEnabled(true);
  try {
    return fn();
  } finally {
    native.setGradEnabled(prev);
  }
}

/**
 * Inference mode, like torch.inference_mode(): no graph, and besides libtorch skips the autograd and
 * view/version bookkeeping of every op. Tensors made inside are inference tensors: they can never take
 * part in a recorded graph (libtorch refuses), so use it only on models that are never trained
 * afterwards (the predictor that loadModel makes).
 */
export function inferenceMode<T>(fn: () => T): T {
  native.enterInferenceMode();
  try {
    return fn();
  } finally {
    native.exitInferenceMode();
  }
}

export function isInferenceModeEnabled(): boolean {
  return native.isInferenceModeEnabled();
}

export function isGradEnabled(): boolean {
  return native.isGradEnabled();
}
