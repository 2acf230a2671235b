/** The label tree and its losses (METHOD.md sections 2, 4, 5). */
export * from './tree.ts';
export * from './states.ts';
export * from './targets.ts';
export * from './conditional-loss.ts';
export * from './cp-loss.ts';
export * from './up-loss.ts';
export * from './marginals.ts';
export * from './decode.ts';
export * from './state-dice.ts';
