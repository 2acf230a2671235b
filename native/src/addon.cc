#include "common.h"

namespace kneeseg {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  InitAllocator(env, exports);  // first: every later allocation goes through the cache
  InitTensor(env, exports);
  InitDispatch(env, exports);
  InitOptim(env, exports);
  InitDistributed(env, exports);
  return exports;
}

NODE_API_MODULE(kneeseg_torch, Init)

}  // namespace kneeseg
