/** The tensor engine: libtorch from TypeScript. Import from here, not from the files. */
export { Tensor, call, callMany, callAny, callInPlace, opId, type Arg } from './tensor.ts';
export * from './ops.ts';
export { scope } from './scope.ts';
export { noGrad, enableGrad, inferenceMode, isGradEnabled, isInferenceModeEnabled } from './autograd.ts';
export { type DType, type TypedArray, DTYPES, isFloating } from './dtype.ts';
export { Module, Layer, Sequential } from './nn/module.ts';
export * as nn from './nn/layers.ts';
export { softDiceLoss } from './nn/losses.ts';
export { Adam, AdamW, SGD, Optimizer, type OptimizerState } from './optim.ts';
export { saveSafetensors, loadSafetensors, encodeSafetensors, decodeSafetensors } from './safetensors.ts';
export * from './runtime.ts';
export { MAX_WEIGHT, firstBadWeight, describeBadWeight, type BadWeight } from './weight-check.ts';
