// Collective communication for data-parallel training: libtorch's c10d engine (TCPStore rendezvous,
// ProcessGroupGloo on CPU, ProcessGroupNCCL when built against a CUDA libtorch). Only transport lives
// here: which tensors to reduce, averaging and bucketing are TypeScript's (src/train/data-parallel.ts).
// Every collective is waited on with the group's timeout, and c10d's failures become JavaScript errors
// that say which rank stopped answering, instead of hangs.
#include <ATen/ATen.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>

#include "common.h"

// binding.gyp defines these where the headers exist: Gloo's come from libgloo-dev (Debian) or the
// libtorch folder; NCCL only with a CUDA libtorch. Without either, the ops say how to get them.
#if defined(KNEESEG_WITH_GLOO) || defined(KNEESEG_WITH_NCCL)
#define KNEESEG_WITH_C10D 1
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#endif
#ifdef KNEESEG_WITH_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#ifdef KNEESEG_WITH_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

namespace kneeseg {
namespace {

#ifdef KNEESEG_WITH_C10D

constexpr uint32_t kStoreMagic = 0x73746f72;  // "stor"
constexpr uint32_t kGroupMagic = 0x67727570;  // "grup"

struct StoreHandle {
  uint32_t magic = kStoreMagic;
  c10::intrusive_ptr<c10d::Store> store;
  std::string host;
  int port = 0;
};

struct GroupHandle {
  uint32_t magic = kGroupMagic;
  c10::intrusive_ptr<c10d::Store> store;  // kept alive: c10d reads it again for new tags
  c10::intrusive_ptr<c10d::ProcessGroup> pg;
  std::string backend;
  int rank = 0;
  int size = 1;
  std::chrono::milliseconds timeout{0};
};

double Num(const Napi::Object& o, const char* key, double def) {
  Napi::Value v = o.Get(key);
  return v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : def;
}
std::string Str(const Napi::Object& o, const char* key, const std::string& def) {
  Napi::Value v = o.Get(key);
  return v.IsString() ? std::string(v.As<Napi::String>()) : def;
}

std::string Seconds(std::chrono::milliseconds t) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g s", double(t.count()) / 1000.0);
  return buf;
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return s;
}

bool Has(const std::string& haystack, const char* needle) { return haystack.find(needle) != std::string::npos; }

// The ranks this one waits on, by name: with two processes the culprit is known exactly.
std::string Peers(const GroupHandle& g) {
  if (g.size == 2) return "rank " + std::to_string(1 - g.rank);
  std::string s = "one of ranks ";
  for (int r = 0, n = 0; r < g.size && n < 8; r++)
    if (r != g.rank) s += (n++ ? ", " : "") + std::to_string(r);
  if (g.size > 9) s += ", ...";
  return s;
}

bool IsTimeout(const std::string& lower) {
  return Has(lower, "timed out") || Has(lower, "timeout");
}
bool IsPeerGone(const std::string& lower) {
  return Has(lower, "closed") || Has(lower, "reset") || Has(lower, "read error") || Has(lower, "broken pipe") ||
         Has(lower, "connection refused") || Has(lower, "write error");
}

// c10d reports socket-level facts ("Connection closed by peer [127.0.0.1]:41235", "Operation timed
// out!"); the user needs to know which rank and which limit, with c10d's words kept for debugging.
Napi::Error CollectiveError(Napi::Env env, const GroupHandle& g, const std::string& op, const std::exception& e) {
  std::string cause = ErrorMessage(e);
  std::string lower = Lower(cause);
  std::string where = op + " on rank " + std::to_string(g.rank) + " of " + std::to_string(g.size) + ": ";
  std::string what;
  if (IsTimeout(lower))
    what = Peers(g) + " did not answer within " + Seconds(g.timeout) + " (the process group's timeout)";
  else if (IsPeerGone(lower))
    what = Peers(g) + " closed its connection (it exited or crashed)";
  else
    what = "failed";
  return Napi::Error::New(env, "distributed " + where + what + ". c10d: " + cause);
}

StoreHandle* UnwrapStore(const Napi::Value& v) {
  StoreHandle* h = v.IsExternal() ? v.As<Napi::External<StoreHandle>>().Data() : nullptr;
  if (h == nullptr || h->magic != kStoreMagic) throw Napi::TypeError::New(v.Env(), "expected a c10d store");
  return h;
}

GroupHandle* UnwrapGroup(const Napi::Value& v) {
  GroupHandle* h = v.IsExternal() ? v.As<Napi::External<GroupHandle>>().Data() : nullptr;
  if (h == nullptr || h->magic != kGroupMagic) throw Napi::TypeError::New(v.Env(), "expected a process group");
  if (!h->pg) throw Napi::Error::New(v.Env(), "process group used after close()");
  return h;
}

std::vector<at::Tensor> Tensors(const Napi::Value& v, const char* what) {
  std::vector<at::Tensor> out;
  if (v.IsArray()) {
    Napi::Array a = v.As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); i++) out.push_back(UnwrapTensor(a.Get(i), what));
  } else {
    out.push_back(UnwrapTensor(v, what));
  }
  for (const auto& t : out)
    // The collectives write results into the tensor's storage: a strided view would receive garbage.
    if (!t.is_contiguous())
      throw Napi::TypeError::New(v.Env(), std::string(what) + ": tensors must be contiguous (call contiguous())");
  return out;
}

// Waits for every work item against one deadline (the group's timeout), in order.
void WaitAll(Napi::Env env, const GroupHandle& g, const std::string& op,
             const std::vector<c10::intrusive_ptr<c10d::Work>>& works) {
  auto deadline = std::chrono::steady_clock::now() + g.timeout;
  try {
    for (const auto& w : works) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      w->wait(std::max(left, std::chrono::milliseconds(1)));
    }
  } catch (const std::exception& e) {
    throw CollectiveError(env, g, op, e);
  }
}

// distStoreCreate({host, port, isMaster, worldSize, timeoutMs}) -> {store, port}
// The master binds `port` (0 picks a free one, returned as `port`) and serves the rendezvous keys;
// the others connect to it, retrying until the timeout.
Napi::Value StoreCreate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = info[0].As<Napi::Object>();
  std::string host = Str(o, "host", "127.0.0.1");
  int port = int(Num(o, "port", 0));
  bool master = o.Get("isMaster").ToBoolean();
  int world = int(Num(o, "worldSize", 1));
  std::chrono::milliseconds timeout(int64_t(Num(o, "timeoutMs", 30000)));
  if (port < 0 || port > 65535) throw Napi::RangeError::New(env, "distributed: port must be 0-65535");
  if (!master && port == 0) throw Napi::RangeError::New(env, "distributed: a non-master rank needs the master's port");
  c10d::TCPStoreOptions opts;
  opts.port = uint16_t(port);
  opts.isServer = master;
  opts.numWorkers = size_t(world);
  // The process group's own rendezvous waits for every rank; waiting here as well would keep the
  // master from reporting a port it picked itself.
  opts.waitWorkers = false;
  opts.timeout = timeout;
  auto h = std::make_unique<StoreHandle>();
  try {
    auto store = c10::make_intrusive<c10d::TCPStore>(host, opts);
    h->port = store->getPort();
    h->store = store;
  } catch (const std::exception& e) {
    std::string cause = ErrorMessage(e);
    std::string lower = Lower(cause);
    std::string addr = host + ":" + std::to_string(port);
    if (master)
      throw Napi::Error::New(env, "distributed: the master could not listen on " + addr + ". c10d: " + cause);
    if (IsTimeout(lower) || Has(lower, "refused"))
      throw Napi::Error::New(env, "distributed: the master at " + addr + " did not answer within " + Seconds(timeout) +
                                      ". c10d: " + cause);
    throw Napi::Error::New(env, "distributed: could not reach the master at " + addr + ". c10d: " + cause);
  }
  h->host = host;
  Napi::Object out = Napi::Object::New(env);
  out.Set("port", h->port);
  out.Set("store", Napi::External<StoreHandle>::New(env, h.release(), [](Napi::BasicEnv, StoreHandle* p) { delete p; }));
  return out;
}

// distGroupCreate(store, {rank, worldSize, timeoutMs, backend: 'gloo' | 'nccl', hostname?})
// Blocks until every rank has joined (or the timeout passes). Gloo binds to `hostname` when given
// (127.0.0.1 for a single machine), else to the address this machine's hostname resolves to.
Napi::Value GroupCreate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  StoreHandle* s = UnwrapStore(info[0]);
  Napi::Object o = info[1].As<Napi::Object>();
  auto g = std::make_unique<GroupHandle>();
  g->rank = int(Num(o, "rank", 0));
  g->size = int(Num(o, "worldSize", 1));
  g->timeout = std::chrono::milliseconds(int64_t(Num(o, "timeoutMs", 30000)));
  g->backend = Str(o, "backend", "gloo");
  std::string hostname = Str(o, "hostname", "");
  if (g->rank < 0 || g->rank >= g->size)
    throw Napi::RangeError::New(env, "distributed: rank " + std::to_string(g->rank) + " is outside 0.." +
                                         std::to_string(g->size - 1));
  g->store = s->store;
  try {
    if (g->backend == "gloo") {
#ifdef KNEESEG_WITH_GLOO
      auto opts = c10d::ProcessGroupGloo::Options::create(g->timeout);
      opts->devices.push_back(hostname.empty() ? c10d::ProcessGroupGloo::createDefaultDevice()
                                               : c10d::ProcessGroupGloo::createDeviceForHostname(hostname));
      g->pg = c10::make_intrusive<c10d::ProcessGroupGloo>(g->store, g->rank, g->size, opts);
#else
      throw Napi::Error::New(env, "distributed: this binding was built without Gloo (its headers were missing)");
#endif
    } else if (g->backend == "nccl") {
#ifdef KNEESEG_WITH_NCCL
      auto opts = c10d::ProcessGroupNCCL::Options::create();
      opts->timeout = g->timeout;
      g->pg = c10::make_intrusive<c10d::ProcessGroupNCCL>(g->store, g->rank, g->size, opts);
#else
      throw Napi::Error::New(env, "distributed: this binding was built without NCCL (build it against a CUDA "
                                  "libtorch with LIBTORCH=/path and NCCL's nccl.h available)");
#endif
    } else {
      throw Napi::Error::New(env, "distributed: unknown backend '" + g->backend + "' (gloo, nccl)");
    }
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::exception& e) {
    std::string cause = ErrorMessage(e);
    std::string lower = Lower(cause);
    std::string where = "distributed: rendezvous of rank " + std::to_string(g->rank) + " of " + std::to_string(g->size);
    if (IsTimeout(lower))
      throw Napi::Error::New(env, where + ": not every rank joined within " + Seconds(g->timeout) + ". c10d: " + cause);
    throw Napi::Error::New(env, where + " failed. c10d: " + cause);
  }
  return Napi::External<GroupHandle>::New(env, g.release(), [](Napi::BasicEnv, GroupHandle* p) { delete p; });
}

// distAllReduce(group, tensor | tensor[]): sums in place across ranks. A list goes as one coalesced
// collective (c10d flattens it), not as one round trip per tensor.
Napi::Value AllReduce(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  GroupHandle* g = UnwrapGroup(info[0]);
  auto tensors = Tensors(info[1], "allreduce");
  if (tensors.empty()) return env.Undefined();
  c10d::AllreduceOptions opts;
  opts.reduceOp = c10d::ReduceOp::SUM;
  opts.timeout = g->timeout;
  c10::intrusive_ptr<c10d::Work> work;
  try {
    if (tensors.size() == 1) {
      work = g->pg->allreduce(tensors, opts);
    } else {
      c10d::AllreduceCoalescedOptions copts;
      copts.reduceOp = c10d::ReduceOp::SUM;
      copts.timeout = g->timeout;
      work = g->pg->allreduce_coalesced(tensors, copts);
    }
  } catch (const std::exception& e) {
    throw CollectiveError(env, *g, "allreduce", e);
  }
  WaitAll(env, *g, "allreduce", {work});
  return env.Undefined();
}

// distBroadcast(group, tensor | tensor[], root): overwrites every rank's tensors with root's.
Napi::Value Broadcast(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  GroupHandle* g = UnwrapGroup(info[0]);
  auto tensors = Tensors(info[1], "broadcast");
  int root = info[2].As<Napi::Number>().Int32Value();
  if (root < 0 || root >= g->size)
    throw Napi::RangeError::New(env, "broadcast: root " + std::to_string(root) + " is not a rank");
  c10d::BroadcastOptions opts;
  opts.rootRank = root;
  opts.rootTensor = 0;
  opts.timeout = g->timeout;
  std::vector<c10::intrusive_ptr<c10d::Work>> works;
  try {
    // c10d's list form means "copies on several devices of this process"; each tensor is its own
    // collective, all queued before waiting so they pipeline.
    for (auto& t : tensors) {
      std::vector<at::Tensor> one{t};
      works.push_back(g->pg->broadcast(one, opts));
    }
  } catch (const std::exception& e) {
    throw CollectiveError(env, *g, "broadcast", e);
  }
  WaitAll(env, *g, "broadcast", works);
  return env.Undefined();
}

Napi::Value Barrier(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  GroupHandle* g = UnwrapGroup(info[0]);
  c10d::BarrierOptions opts;
  opts.timeout = g->timeout;
  c10::intrusive_ptr<c10d::Work> work;
  try {
    work = g->pg->barrier(opts);
  } catch (const std::exception& e) {
    throw CollectiveError(env, *g, "barrier", e);
  }
  WaitAll(env, *g, "barrier", {work});
  return env.Undefined();
}

// distDestroy(group): stops c10d's worker threads and closes the sockets now rather than at GC.
Napi::Value Destroy(const Napi::CallbackInfo& info) {
  Napi::Value v = info[0];
  GroupHandle* g = v.IsExternal() ? v.As<Napi::External<GroupHandle>>().Data() : nullptr;
  if (g == nullptr || g->magic != kGroupMagic) throw Napi::TypeError::New(info.Env(), "expected a process group");
  try {
    g->pg.reset();
    g->store.reset();
  } catch (const std::exception& e) {
    throw Napi::Error::New(info.Env(), "distributed: close failed. c10d: " + ErrorMessage(e));
  }
  return info.Env().Undefined();
}

#else  // built without c10d's backends: the ops exist and say how to get them

Napi::Value Unavailable(const Napi::CallbackInfo& info) {
  throw Napi::Error::New(info.Env(),
                         "distributed: this binding was built without c10d/Gloo (Gloo's headers were missing). Fix: "
                         "apt-get install libgloo-dev, then npm run build:native");
}

#endif

// distBackends() -> {gloo, nccl}: what this build can create.
Napi::Value Backends(const Napi::CallbackInfo& info) {
  Napi::Object out = Napi::Object::New(info.Env());
#ifdef KNEESEG_WITH_GLOO
  out.Set("gloo", true);
#else
  out.Set("gloo", false);
#endif
#ifdef KNEESEG_WITH_NCCL
  out.Set("nccl", true);
#else
  out.Set("nccl", false);
#endif
  return out;
}

}  // namespace

void InitDistributed(Napi::Env env, Napi::Object exports) {
  exports.Set("distBackends", Napi::Function::New(env, Backends));
#ifdef KNEESEG_WITH_C10D
  exports.Set("distStoreCreate", Napi::Function::New(env, StoreCreate));
  exports.Set("distGroupCreate", Napi::Function::New(env, GroupCreate));
  exports.Set("distAllReduce", Napi::Function::New(env, AllReduce));
  exports.Set("distBroadcast", Napi::Function::New(env, Broadcast));
  exports.Set("distBarrier", Napi::Function::New(env, Barrier));
  exports.Set("distDestroy", Napi::Function::New(env, Destroy));
#else
  for (const char* name :
       {"distStoreCreate", "distGroupCreate", "distAllReduce", "distBroadcast", "distBarrier", "distDestroy"})
    exports.Set(name, Napi::Function::New(env, Unavailable));
#endif
}

}  // namespace kneeseg
