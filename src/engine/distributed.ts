/**
 * Process groups for data-parallel training, on libtorch's c10d (native/src/distributed.cc): a
 * TCPStore rendezvous at the master's address, then Gloo collectives on CPU tensors (NCCL when the
 * binding was built against a CUDA libtorch). As torch.distributed does, every rank runs the same
 * program and calls the same collectives in the same order.
 *
 * Collectives are synchronous, like every other engine call: they return when the result is in the
 * tensors, or throw within the group's timeout naming the rank that stopped answering (a peer that
 * exits, crashes or hangs never hangs this process).
 */
import { native, type Handle } from './native.ts';
import { Tensor, callInPlace } from './tensor.ts';
import { isFloating, type DType } from './dtype.ts';

type StoreHandle = { readonly __store: unique symbol };
type GroupHandle = { readonly __group: unique symbol };

/** The binding's distributed entry points (native/src/distributed.cc). */
interface DistributedBinding {
  distBackends(): { gloo: boolean; nccl: boolean };
  distStoreCreate(o: {
    host: string;
    port: number;
    isMaster: boolean;
    worldSize: number;
    timeoutMs: number;
  }): { store: StoreHandle; port: number };
  distGroupCreate(
    store: StoreHandle,
    o: { rank: number; worldSize: number; timeoutMs: number; backend: string; hostname?: string },
  ): GroupHandle;
  distAllReduce(g: GroupHandle, tensors: Handle | Handle[]): void;
  distBroadcast(g: GroupHandle, tensors: Handle | Handle[], root: number): void;
  distBarrier(g: GroupHandle): void;
  distDestroy(g: GroupHandle): void;
}

function binding(): DistributedBinding {
  const b = native as unknown as Partial<DistributedBinding>;
  if (typeof b.distBackends !== 'function')
    throw new Error(
      'the libtorch binding was built without distributed support (native/src/distributed.cc). ' +
        'Fix: npm run build:native',
    );
  return b as DistributedBinding;
}

export type Backend = 'gloo' | 'nccl';

/** Which c10d backends this build of the binding can create. */
export function distributedBackends(): { gloo: boolean; nccl: boolean } {
  return binding().distBackends();
}

export interface ProcessGroupOptions {
  /** the master's (rank 0's) address; default 127.0.0.1 */
  masterAddr?: string;
  /** the master's rendezvous port; rank 0 may pass 0 to pick a free one (see `onListening`) */
  masterPort: number;
  worldSize: number;
  rank: number;
  /** limit for the rendezvous and for every collective, in milliseconds; default 30,000 */
  timeoutMs?: number;
  /** default 'gloo' */
  backend?: Backend;
  /**
   * The address Gloo binds for this rank's connections. Default: the master's address when it is a
   * loopback one (every rank on this machine), else what this machine's hostname resolves to.
   */
  hostname?: string;
  /** rank 0 only: called with the bound rendezvous port before waiting for the other ranks */
  onListening?: (port: number) => void;
}

/** The conventional torchrun variables (MASTER_ADDR, MASTER_PORT, WORLD_SIZE, RANK), when all are set. */
export function processGroupOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): ProcessGroupOptions | null {
  const { MASTER_ADDR, MASTER_PORT, WORLD_SIZE, RANK } = env;
  if (MASTER_PORT === undefined || WORLD_SIZE === undefined || RANK === undefined) return null;
  return {
    masterAddr: MASTER_ADDR ?? '127.0.0.1',
    masterPort: Number(MASTER_PORT),
    worldSize: Number(WORLD_SIZE),
    rank: Number(RANK),
  };
}

const isLoopback = (addr: string) => addr === 'localhost' || addr === '::1' || addr.startsWith('127.');

function checkInteger(name: string, v: number, min: number, max: number): void {
  if (!Number.isInteger(v) || v < min || v > max)
    throw new RangeError(`ProcessGroup: ${name} must be a whole number in [${min}, ${max}], got ${v}`);
}

/** One process's membership in a group of `worldSize` processes. */
export class ProcessGroup {
  readonly rank: number;
  readonly worldSize: number;
  readonly timeoutMs: number;
  readonly backend: Backend;
  /** the rendezvous port (the one rank 0 picked when asked for port 0) */
  readonly masterPort: number;
  #group: GroupHandle | null;

  private constructor(
    group: GroupHandle,
    o: Required<Omit<ProcessGroupOptions, 'hostname' | 'onListening'>>,
  ) {
    this.#group = group;
    this.rank = o.rank;
    this.worldSize = o.worldSize;
    this.timeoutMs = o.timeoutMs;
    this.backend = o.backend;
    this.masterPort = o.masterPort;
  }

  /** Joins the group; blocks until every rank has joined, or throws after the timeout. */
  static init(opts: ProcessGroupOptions): ProcessGroup {
    const o = {
      masterAddr: opts.masterAddr ?? '127.0.0.1',
      masterPort: opts.masterPort,
      worldSize: opts.worldSize,
      rank: opts.rank,
      timeoutMs: opts.timeoutMs ?? 30_000,
      backend: opts.backend ?? 'gloo',
    };
    checkInteger('worldSize', o.worldSize, 1, 65536);
    checkInteger('rank', o.rank, 0, o.worldSize - 1);
    checkInteger('masterPort', o.masterPort, o.rank === 0 ? 0 : 1, 65535);
    checkInteger('timeoutMs', o.timeoutMs, 1, 2 ** 31 - 1);
    const b = binding();
    const { store, port } = b.distStoreCreate({
      host: o.masterAddr,
      port: o.masterPort,
      isMaster: o.rank === 0,
      worldSize: o.worldSize,
      timeoutMs: o.timeoutMs,
    });
    if (o.rank === 0) opts.onListening?.(port);
    const hostname = opts.hostname ?? (isLoopback(o.masterAddr) ? o.masterAddr : undefined);
    const group = b.distGroupCreate(store, {
      rank: o.rank,
      worldSize: o.worldSize,
      timeoutMs: o.timeoutMs,
      backend: o.backend,
      ...(hostname === undefined ? {} : { hostname: hostname === 'localhost' ? '127.0.0.1' : hostname }),
    });
    return new ProcessGroup(group, { ...o, masterPort: port });
  }

  get closed(): boolean {
    return this.#group === null;
  }

  get #handle(): GroupHandle {
    if (this.#group === null) throw new Error('ProcessGroup used after close()');
    return this.#group;
  }

  /**
   * Sums each tensor over all ranks, in place. Several tensors go as one coalesced collective per
   * dtype; tensors must be contiguous.
   */
  allReduceSum(tensors: Tensor | readonly Tensor[]): void {
    const list = tensors instanceof Tensor ? [tensors] : tensors;
    // c10d's coalesced all-reduce takes one dtype at a time
    const byDtype = new Map<DType, Handle[]>();
    for (const t of list) {
      const d = t.dtype;
      if (!byDtype.has(d)) byDtype.set(d, []);
      byDtype.get(d)!.push(t.handle);
    }
    for (const handles of byDtype.values())
      binding().distAllReduce(this.#handle, handles.length === 1 ? handles[0]! : handles);
  }

  /** Averages each (floating-point) tensor over all ranks, in place. */
  allReduceMean(tensors: Tensor | readonly Tensor[]): void {
    const list = tensors instanceof Tensor ? [tensors] : tensors;
    for (const t of list)
      if (!isFloating(t.dtype)) throw new TypeError(`allReduceMean: ${t.dtype} tensors cannot hold a mean`);
    this.allReduceSum(list);
    if (this.worldSize > 1) for (const t of list) callInPlace('aten::div_.Scalar', t, this.worldSize);
  }

  /** Overwrites each tensor, on every rank, with its value on `root`. */
  broadcast(tensors: Tensor | readonly Tensor[], root = 0): void {
    checkInteger('broadcast root', root, 0, this.worldSize - 1);
    const list = tensors instanceof Tensor ? [tensors] : tensors;
    if (list.length === 0) return;
    binding().distBroadcast(
      this.#handle,
      list.map((t) => t.handle),
      root,
    );
  }

  /** Returns when every rank has reached its barrier. */
  barrier(): void {
    binding().distBarrier(this.#handle);
  }

  /** Leaves the group: stops c10d's threads and closes the connections. Idempotent. */
  close(): void {
    if (this.#group === null) return;
    const g = this.#group;
    this.#group = null;
    binding().distDestroy(g);
  }
}
