// A bounded caching CPU allocator, installed when the addon loads.
//
// Why: touching freshly mapped memory costs ~20 us per 4 KiB page on these machines, and glibc returns
// large buffers to the system after each op, so every conv maps and faults its buffers again (FACTS.md:
// a training step 3-25x slower, and a heap that can balloon). Freed blocks are kept and handed back to
// later requests, so a training step faults once.
//
// Two pools:
// - small requests (up to 1 MiB) round to a size class and reuse blocks of exactly that class;
// - large ones are anonymous mappings of their own. A request takes the best-fitting free chunk and
//   leaves its tail free; freed chunks merge with free neighbours. When no free chunk is large enough,
//   a fresh mapping is made and the pages of free chunks are moved into it with mremap (page tables
//   only: no copy, no fault), so only what they cannot cover is new memory. So what the process holds
//   stays near the most it has live at once: a MedT training step at 288 x 240 holds 3.05 GB for 3.04
//   GB live at its peak, where reusing only blocks of the same size held 5.5 GB
//   (bench/train/medt-step.bench.ts), and after the first steps it takes no new pages at all.
// What the cache holds in free blocks is bounded (KNEESEG_CPU_CACHE_MB, default 4096): beyond it,
// cached small blocks and then the largest free chunks go back to the system.
#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>

#include <sys/mman.h>  // mmap, munmap; mremap on Linux (_GNU_SOURCE, which g++ defines)

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <map>
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

// Small sizes round to 64 bytes; larger ones to a quarter of their power of two (at most 25% waste).
size_t SmallSize(size_t n) {
  if (n <= 4096) return (n + 63) & ~size_t(63);
  size_t p = size_t(1) << (63 - __builtin_clzll(n));
  size_t step = p / 4;
  return (n + step - 1) / step * step;
}

size_t LargeSize(size_t n) { return (n + kLargeRound - 1) / kLargeRound * kLargeRound; }

struct Cache {
  std::mutex mu;
  std::unordered_map<size_t, std::vector<void*>> small_free;  // size class -> blocks ready for reuse
  std::unordered_map<void*, size_t> small_live;               // live small block -> its size class
  // free large chunks, by address (to merge neighbours) and by size (best fit first)
  std::map<char*, size_t> large_free;
  std::set<std::pair<size_t, char*>> large_by_size;
  std::unordered_map<void*, size_t> large_live;  // live large block -> its size
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

  void take_free_locked(char* p, size_t size) {
    large_free.erase(p);
    large_by_size.erase({size, p});
    cached_bytes -= size;
  }

  // Adds a free chunk, merged with the free chunks right before and after it.
  void put_free_locked(char* p, size_t size) {
    auto next = large_free.find(p + size);
    if (next != large_free.end()) {
      size_t n = next->second;
      take_free_locked(p + size, n);
      size += n;
    }
    auto after = large_free.lower_bound(p);
    if (after != large_free.begin()) {
      auto before = std::prev(after);
      if (before->first + before->second == p) {
        char* q = before->first;
        size_t n = before->second;
        take_free_locked(q, n);
        p = q;
        size += n;
      }
    }
    large_free[p] = size;
    large_by_size.insert({size, p});
    cached_bytes += size;
  }

  // Frees cached small blocks, then free large chunks (largest first, the last one in part), until the
  // cache holds at most `keep` bytes.
  void trim_locked(size_t keep) {
    for (auto it = small_free.begin(); cached_bytes > keep && it != small_free.end(); ++it) {
      while (cached_bytes > keep && !it->second.empty()) {
        std::free(it->second.back());
        it->second.pop_back();
        cached_bytes -= it->first;
      }
    }
    while (cached_bytes > keep && !large_by_size.empty()) {
      auto [size, p] = *large_by_size.rbegin();
      take_free_locked(p, size);
      size_t excess = (cached_bytes + size - keep + kLargeRound - 1) / kLargeRound * kLargeRound;
      if (excess >= size) {
        munmap(p, size);
      } else {  // only the tail goes back; the rest stays cached
        munmap(p + size - excess, excess);
        put_free_locked(p, size - excess);
      }
    }
  }

  // A large block of `size` bytes (a multiple of kLargeRound): the best-fitting free chunk, its tail
  // left free; else a fresh mapping into which free chunks are moved (largest first) so that only what
  // they cannot cover is new memory.
  void* allocate_large_locked(size_t size) {
    char* p = nullptr;
    auto fit = large_by_size.lower_bound({size, nullptr});
    if (fit != large_by_size.end()) {
      auto [have, q] = *fit;
      take_free_locked(q, have);
      if (have > size) put_free_locked(q + size, have - size);
      p = q;
      hits++;
    } else {
      p = MapFresh(size);
      size_t filled = 0;
      while (filled < size && !large_by_size.empty()) {
        auto [have, q] = *large_by_size.rbegin();
        size_t n = std::min(have, size - filled);
        take_free_locked(q, have);
        MovePages(q, n, p + filled);
        if (n < have) put_free_locked(q + n, have - n);
        filled += n;
      }
      if (filled < size) misses++;
      else hits++;
    }
    large_live[p] = size;
    count_allocated(size);
    return p;
  }

  // Without MAP_NORESERVE: the kernel then refuses a request past what the machine can hold (ENOMEM,
  // reported as out of memory) instead of granting it and killing the process when it is touched.
  char* MapFresh(size_t size) {
    void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
      trim_locked(0);  // out of memory: give the cache back and try once more
      p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    }
    TORCH_CHECK(p != MAP_FAILED, "kneeseg allocator: out of memory allocating ", size, " bytes");
    return static_cast<char*>(p);
  }

  // Moves the pages of [src, src + n) to dst (page tables only: no copy, no fault). A chunk merged from
  // neighbours may span several kernel mappings, which one mremap cannot move: then in halves. A range
  // that cannot move at all is unmapped, and dst keeps fresh pages there.
  static void MovePages(char* src, size_t n, char* dst) {
#ifdef MREMAP_FIXED  // Linux; elsewhere the pages go back and dst faults fresh ones
    if (mremap(src, n, n, MREMAP_MAYMOVE | MREMAP_FIXED, dst) != MAP_FAILED) return;
    if (errno == EFAULT && n > kLargeRound) {
      size_t half = std::max(kLargeRound, n / 2 / kLargeRound * kLargeRound);
      MovePages(src, half, dst);
      MovePages(src + half, n - half, dst + half);
      return;
    }
#endif
    munmap(src, n);
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
    size_t size = it->second;
    c.large_live.erase(it);
    c.allocated_bytes -= size;
    c.put_free_locked(static_cast<char*>(p), size);
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
      std::lock_guard<std::mutex> lock(c.mu);
      p = c.allocate_large_locked(LargeSize(n));
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
