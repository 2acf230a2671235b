/**
 * Element types: our names (PyTorch's), libtorch's ScalarType codes, the typed arrays that hold them in
 * JavaScript, and safetensors' names. One table so the four cannot drift apart.
 */
export type DType =
  'uint8' | 'int8' | 'int16' | 'int32' | 'int64' | 'float16' | 'float32' | 'float64' | 'bool' | 'bfloat16';

export type TypedArray =
  | Uint8Array
  | Int8Array
  | Int16Array
  | Int32Array
  | BigInt64Array
  | Uint16Array
  | Float32Array
  | Float64Array;

interface DTypeInfo {
  code: number; // c10::ScalarType
  bytes: number;
  safetensors: string;
  array: {
    new (buffer: ArrayBufferLike, byteOffset?: number, length?: number): TypedArray;
    BYTES_PER_ELEMENT: number;
  };
}

// float16 / bfloat16 travel as their raw 16-bit patterns.
export const DTYPES: Record<DType, DTypeInfo> = {
  uint8: { code: 0, bytes: 1, safetensors: 'U8', array: Uint8Array },
  int8: { code: 1, bytes: 1, safetensors: 'I8', array: Int8Array },
  int16: { code: 2, bytes: 2, safetensors: 'I16', array: Int16Array },
  int32: { code: 3, bytes: 4, safetensors: 'I32', array: Int32Array },
  int64: { code: 4, bytes: 8, safetensors: 'I64', array: BigInt64Array },
  float16: { code: 5, bytes: 2, safetensors: 'F16', array: Uint16Array },
  float32: { code: 6, bytes: 4, safetensors: 'F32', array: Float32Array },
  float64: { code: 7, bytes: 8, safetensors: 'F64', array: Float64Array },
  bool: { code: 11, bytes: 1, safetensors: 'BOOL', array: Uint8Array },
  bfloat16: { code: 15, bytes: 2, safetensors: 'BF16', array: Uint16Array },
};

const BY_CODE = new Map(Object.entries(DTYPES).map(([name, info]) => [info.code, name as DType]));
const BY_SAFETENSORS = new Map(
  Object.entries(DTYPES).map(([name, info]) => [info.safetensors, name as DType]),
);

export function dtypeFromCode(code: number): DType {
  const d = BY_CODE.get(code);
  if (!d) throw new Error(`unsupported libtorch scalar type ${code}`);
  return d;
}

export function dtypeFromSafetensors(name: string): DType {
  const d = BY_SAFETENSORS.get(name);
  if (!d) throw new Error(`unsupported safetensors dtype ${name}`);
  return d;
}

/** The dtype a typed array holds by default. */
export function dtypeOfArray(a: TypedArray | ArrayLike<number>): DType {
  if (a instanceof Float32Array) return 'float32';
  if (a instanceof Float64Array) return 'float64';
  if (a instanceof Int32Array) return 'int32';
  if (a instanceof BigInt64Array) return 'int64';
  if (a instanceof Uint8Array) return 'uint8';
  if (a instanceof Int8Array) return 'int8';
  if (a instanceof Int16Array) return 'int16';
  return 'float32';
}

export function isFloating(d: DType): boolean {
  return d === 'float32' || d === 'float64' || d === 'float16' || d === 'bfloat16';
}
