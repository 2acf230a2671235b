// A bounded caching CPU allocator, installed when the addon loads.
//
// Why: touching freshly mapped memory costs ~20 us per 4 KiB page on these machines, and glibc returns
// large buffers to the system after each op, so every conv maps and faults its buffers again (FACTS.md:
// a training step 3-25x slower, and a heap that can balloon). Freed blocks are kept and handed back to
// later requests, so a training step faults once.
//
// Two pools, as PyTorch's CUDA caching allocator has:
// - small requests (up to 1 MiB) round to a size class and reuse blocks of exactly that class;
// - large ones take the best-fitting free block of any size, split off what they do not need, and
//   merge with their free neighbours when freed. With exact-size reuse for large blocks too (the
//   earlier design), the blocks cached for one size could not serve another: a MedT training step
//   held 3.3 GB of live tensors at its peak but 5.5 GB resident (bench/train/medt-step.bench.ts).
// What the cache holds in free blocks is bounded (KNEESEG_CPU_CACHE_MB, default 4096): beyond it,
// wholly free large segments and cached small blocks go back to the system.
#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>

#include <cstdlib>
#include <mutex>
#include <set>
#include <unordered_map>
#include <vector>

#include "common.h"

namespace kneeseg {
namespace {

constexpr size_t kAlignment = 64;
constexpr size_t kSmallMax = size_t(1) << 20;      // requests up to this use the small pool
constexpr size_t kLargeRound = size_t(64) << 10;   // large requests round up to 64 KiB
constexpr size_t kMinRemainder = size_t(1) << 20;  // a split leaves at least this much free

// Small sizes round to 64 bytes; larger ones to a quarter of their power of two (at most 25% waste).
size_t SmallSize(size_t n) {
  if (n <= 4096) return (n + 63) & ~size_t(63);
  size_t p = size_t(1) << (63 - __builtin_clzll(n));
  size_t step = p / 4;
  return (n + step - 1) / step * step;
}

size_t LargeSize(size_t n) { return (n + kLargeRound - 1) / kLargeRound * kLargeRound; }

// A piece of a large segment (one posix_memalign), linked to its neighbours in address order.
struct Block;
struct BySize {
  bool operator()(const Block* a, const Block* b) const;
};
using FreeSet = std::set<Block*, BySize>;

struct Block {
  char* ptr;
  size_t size;
  bool free;
  Block* prev;     // null: this block starts its segment
  Block* next;     // null: this block ends its segment
};

bool BySize::operator()(const Block* a, const Block* b) const {
  return a->size != b->size ? a->size < b->size : a->ptr < b->ptr;
}

struct Cache {
  std::mutex mu;
  std::unordered_map<size_t, std::vector<void*>> small_free;  // size class -> blocks ready for reuse
  std::unordered_map<void*, size_t> small_live;               // live small block -> its size class
  FreeSet large_free;                                         // free large blocks, best fit first
  std::unordered_map<void*, Block*> large_live;               // live large block by address
  size_t cached_bytes = 0;     // in free blocks of both pools
  size_t allocated_bytes = 0;  // in live blocks (rounded sizes)
  size_t peak_allocated_bytes = 0;
  size_t peak_reserved_bytes = 0;  // live + cached: what the process holds from the system
  size_t limit_bytes = size_t(4096) << 20;
  uint64_t hits = 0, misses = 0;

  void count_allocated(size_t size) {
    allocated_bytes += size;
    if (allocated_bytes > peak_allocated_bytes) peak_allocated_bytes = allocated_bytes;
    if (allocated_bytes + cached_bytes > peak_reserved_bytes) peak_reserved_bytes = allocated_bytes + cached_bytes;
  }

  // Frees cached small blocks, then wholly free large segments (largest first), until the cache holds
  // at most `keep` bytes.
  void trim_locked(size_t keep) {
    for (auto it = small_free.begin(); cached_bytes > keep && it != small_free.end(); ++it) {
      while (cached_bytes > keep && !it->second.empty()) {
        std::free(it->second.back());
        it->second.pop_back();
        cached_bytes -= it->first;
      }
    }
    for (auto it = large_free.end(); cached_bytes > keep && it != large_free.begin();) {
      Block* b = *--it;
      if (b->prev != nullptr || b->next != nullptr) continue;  // part of a segment still in use
      it = large_free.erase(it);
      cached_bytes -= b->size;
      std::free(b->ptr);
      delete b;
    }
  }

  // The best-fitting free block, split if much larger; null when none fits.
  void* allocate_large_locked(size_t size) {
    Block key{nullptr, size, true, nullptr, nullptr};
    auto it = large_free.lower_bound(&key);
    if (it == large_free.end()) return nullptr;
    Block* b = *it;
    large_free.erase(it);
    cached_bytes -= b->size;
    if (b->size - size >= kMinRemainder) {
      Block* rest = new Block{b->ptr + size, b->size - size, true, b, b->next};
      if (b->next != nullptr) b->next->prev = rest;
      b->next = rest;
      b->size = size;
      large_free.insert(rest);
      cached_bytes += rest->size;
    }
    b->free = false;
    large_live[b->ptr] = b;
    count_allocated(b->size);
    return b->ptr;
  }

  // A new segment from the system, for a request no free block fits.
  void add_segment_locked(void* p, size_t size) {
    large_free.insert(new Block{static_cast<char*>(p), size, true, nullptr, nullptr});
    cached_bytes += size;
  }

  // Returns a large block to the free set, merged with free neighbours of its segment.
  void free_large_locked(Block* b) {
    allocated_bytes -= b->size;
    b->free = true;
    for (Block* n : {b->next, b->prev}) {
      if (n == nullptr || !n->free) continue;
      large_free.erase(n);
      cached_bytes -= n->size;
      Block* lo = n == b->next ? b : n;
      Block* hi = n == b->next ? n : b;
      lo->size += hi->size;
      lo->next = hi->next;
      if (hi->next != nullptr) hi->next->prev = lo;
      delete hi;
      b = lo;
    }
    large_free.insert(b);
    cached_bytes += b->size;
  }
};

Cache& TheCache() {
  static Cache* cache = new Cache();  // never destroyed: tensors may be freed during process exit
  return *cache;
}

void Delete(void* p) {
  if (p == nullptr) return;
  Cache& c = TheCache();
  std::lock_guard<std::mutex> lock(c.mu);
  if (auto it = c.large_live.find(p); it != c.large_live.end()) {
    Block* b = it->second;
    c.large_live.erase(it);
    c.free_large_locked(b);
  } else if (auto s = c.small_live.find(p); s != c.small_live.end()) {
    size_t size = s->second;
    c.small_live.erase(s);
    c.allocated_bytes -= size;
    c.small_free[size].push_back(p);
    c.cached_bytes += size;
  } else {  // not ours (cannot happen); free rather than leak
    std::free(p);
    return;
  }
  if (c.cached_bytes > c.limit_bytes) c.trim_locked(c.limit_bytes);
}

void* SystemAlloc(Cache& c, size_t size) {
  void* p = nullptr;
  if (posix_memalign(&p, kAlignment, size) == 0) return p;
  // Out of memory: drop the cache and try once more before failing like libtorch would.
  {
    std::lock_guard<std::mutex> lock(c.mu);
    c.trim_locked(0);
  }
  if (posix_memalign(&p, kAlignment, size) != 0)
    TORCH_CHECK(false, "kneeseg allocator: out of memory allocating ", size, " bytes");
  return p;
}

class CachingCpuAllocator final : public c10::Allocator {
 public:
  c10::DataPtr allocate(size_t n) const override {
    if (n == 0) return {nullptr, nullptr, &Delete, c10::Device(c10::DeviceType::CPU)};
    Cache& c = TheCache();
    void* p = nullptr;
    if (n > kSmallMax) {
      size_t size = LargeSize(n);
      {
        std::lock_guard<std::mutex> lock(c.mu);
        p = c.allocate_large_locked(size);
        if (p != nullptr) c.hits++;
        else c.misses++;
      }
      if (p == nullptr) {
        void* seg = SystemAlloc(c, size);
        std::lock_guard<std::mutex> lock(c.mu);
        c.add_segment_locked(seg, size);
        p = c.allocate_large_locked(size);
      }
    } else {
      size_t size = SmallSize(n);
      {
        std::lock_guard<std::mutex> lock(c.mu);
        auto it = c.small_free.find(size);
        if (it != c.small_free.end() && !it->second.empty()) {
          p = it->second.back();
          it->second.pop_back();
          c.cached_bytes -= size;
          c.hits++;
        } else {
          c.misses++;
        }
      }
      if (p == nullptr) p = SystemAlloc(c, size);
      std::lock_guard<std::mutex> lock(c.mu);
      c.small_live[p] = size;
      c.count_allocated(size);
    }
    return {p, p, &Delete, c10::Device(c10::DeviceType::CPU)};
  }
  c10::DeleterFnPtr raw_deleter() const override { return &Delete; }
};

CachingCpuAllocator g_allocator;

Napi::Value AllocatorStats(const Napi::CallbackInfo& info) {
  Cache& c = TheCache();
  std::lock_guard<std::mutex> lock(c.mu);
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("cachedBytes", double(c.cached_bytes));
  o.Set("allocatedBytes", double(c.allocated_bytes));
  o.Set("peakAllocatedBytes", double(c.peak_allocated_bytes));
  o.Set("peakReservedBytes", double(c.peak_reserved_bytes));
  o.Set("limitBytes", double(c.limit_bytes));
  o.Set("hits", double(c.hits));
  o.Set("misses", double(c.misses));
  o.Set("liveHandles", double(LiveHandles()));
  return o;
}

Napi::Value ResetPeakStats(const Napi::CallbackInfo& info) {
  Cache& c = TheCache();
  std::lock_guard<std::mutex> lock(c.mu);
  c.peak_allocated_bytes = c.allocated_bytes;
  c.peak_reserved_bytes = c.allocated_bytes + c.cached_bytes;
  return info.Env().Undefined();
}

Napi::Value EmptyCache(const Napi::CallbackInfo& info) {
  Cache& c = TheCache();
  std::lock_guard<std::mutex> lock(c.mu);
  c.trim_locked(0);
  return info.Env().Undefined();
}

}  // namespace

void InitAllocator(Napi::Env env, Napi::Object exports) {
  if (const char* mb = std::getenv("KNEESEG_CPU_CACHE_MB")) TheCache().limit_bytes = size_t(std::atoll(mb)) << 20;
  if (std::getenv("KNEESEG_SYSTEM_ALLOCATOR") == nullptr) c10::SetCPUAllocator(&g_allocator, /*priority=*/100);
  exports.Set("allocatorStats", Napi::Function::New(env, AllocatorStats));
  exports.Set("emptyCache", Napi::Function::New(env, EmptyCache));
  exports.Set("resetPeakStats", Napi::Function::New(env, ResetPeakStats));
}

}  // namespace kneeseg
