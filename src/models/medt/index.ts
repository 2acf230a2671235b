/** MedT: gated axial attention with the local-global scheme. */
export { MedT } from './medt.ts';
export { MedTConfigSchema, AttentionKind, type MedTConfig, type MedTConfigInput } from './config.ts';
export { AxialAttention, GATE_INIT } from './axial-attention.ts';
export { AxialBlock } from './gated-axial-block.ts';
