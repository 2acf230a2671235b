// A bounded caching CPU allocator, installed when the addon loads.
//
// Why: touching freshly mapped memory costs ~20 us per 4 KiB page on these machines, and glibc returns
// large buffers to the system after each op, so every conv maps and faults its buffers again (FACTS.md:
// a training step 3-25x slower, and a heap that can balloon). Keeping freed blocks in size buckets and
// handing them back on the next request of the same size makes a training step fault once. The cache is
// bounded (KNEESEG_CPU_CACHE_MB, default 4096) so it can never hold more than that in free blocks.
#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>

#include <cstdlib>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "common.h"

namespace kneeseg {
namespace {

constexpr size_t kAlignment = 64;

// Small sizes round to 64 bytes; larger ones to a quarter of their power of two (at most 25% waste).
size_t RoundSize(size_t n) {
  if (n <= 4096) return (n + 63) & ~size_t(63);
  size_t p = size_t(1) << (63 - __builtin_clzll(n));
  size_t step = p / 4;
  return (n + step - 1) / step * step;
}

struct Cache {
  std::mutex mu;
  std::unordered_map<size_t, std::vector<void*>> free_blocks;  // size -> blocks ready for reuse
  std::unordered_map<void*, size_t> sizes;                    // live block -> its rounded size
  size_t cached_bytes = 0;
  size_t allocated_bytes = 0;
  size_t limit_bytes = size_t(4096) << 20;
  uint64_t hits = 0, misses = 0;

  void release_all_locked() {
    for (auto& kv : free_blocks)
      for (void* p : kv.second) std::free(p);
    free_blocks.clear();
    cached_bytes = 0;
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
  auto it = c.sizes.find(p);
  if (it == c.sizes.end()) {  // not ours (cannot happen); free rather than leak
    std::free(p);
    return;
  }
  size_t size = it->second;
  c.sizes.erase(it);
  c.allocated_bytes -= size;
  if (c.cached_bytes + size > c.limit_bytes) {
    std::free(p);
    return;
  }
  c.free_blocks[size].push_back(p);
  c.cached_bytes += size;
}

class CachingCpuAllocator final : public c10::Allocator {
 public:
  c10::DataPtr allocate(size_t n) const override {
    if (n == 0) return {nullptr, nullptr, &Delete, c10::Device(c10::DeviceType::CPU)};
    size_t size = RoundSize(n);
    Cache& c = TheCache();
    void* p = nullptr;
    {
      std::lock_guard<std::mutex> lock(c.mu);
      auto it = c.free_blocks.find(size);
      if (it != c.free_blocks.end() && !it->second.empty()) {
        p = it->second.back();
        it->second.pop_back();
        c.cached_bytes -= size;
        c.hits++;
      } else {
        c.misses++;
      }
    }
    if (p == nullptr) {
      if (posix_memalign(&p, kAlignment, size) != 0) {
        // Out of memory: drop the cache and try once more before failing like libtorch would.
        {
          std::lock_guard<std::mutex> lock(c.mu);
          c.release_all_locked();
        }
        if (posix_memalign(&p, kAlignment, size) != 0)
          TORCH_CHECK(false, "kneeseg allocator: out of memory allocating ", n, " bytes");
      }
    }
    {
      std::lock_guard<std::mutex> lock(c.mu);
      c.sizes[p] = size;
      c.allocated_bytes += size;
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
  o.Set("limitBytes", double(c.limit_bytes));
  o.Set("hits", double(c.hits));
  o.Set("misses", double(c.misses));
  o.Set("liveHandles", double(LiveHandles()));
  return o;
}

Napi::Value EmptyCache(const Napi::CallbackInfo& info) {
  Cache& c = TheCache();
  std::lock_guard<std::mutex> lock(c.mu);
  c.release_all_locked();
  return info.Env().Undefined();
}

}  // namespace

void InitAllocator(Napi::Env env, Napi::Object exports) {
  if (const char* mb = std::getenv("KNEESEG_CPU_CACHE_MB")) TheCache().limit_bytes = size_t(std::atoll(mb)) << 20;
  if (std::getenv("KNEESEG_SYSTEM_ALLOCATOR") == nullptr) c10::SetCPUAllocator(&g_allocator, /*priority=*/100);
  exports.Set("allocatorStats", Napi::Function::New(env, AllocatorStats));
  exports.Set("emptyCache", Napi::Function::New(env, EmptyCache));
}

}  // namespace kneeseg
