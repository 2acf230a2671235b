// Shared pieces of the binding: the tensor handle that JavaScript holds, and error conversion.
// The binding is thin on purpose: no model or loss logic lives in C++.
#pragma once
#include <ATen/core/Tensor.h>
#include <napi.h>

#include <string>

namespace kneeseg {

constexpr uint32_t kHandleMagic = 0x6b6e6565;  // "knee"

// What a JavaScript tensor holds: an owned at::Tensor that dispose() releases early.
struct Handle {
  uint32_t magic = kHandleMagic;
  at::Tensor tensor;
  int64_t reported = 0;  // bytes reported to V8 as external memory
};

Napi::Value WrapTensor(Napi::Env env, at::Tensor t);
const at::Tensor& UnwrapTensor(const Napi::Value& v, const char* what);
Handle* UnwrapHandle(const Napi::Value& v, const char* what);
void ReleaseHandle(Napi::Env env, Handle* h);

// c10::Error carries a long C++ backtrace; users need the message only.
std::string ErrorMessage(const std::exception& e);

int64_t LiveHandles();

void InitAllocator(Napi::Env env, Napi::Object exports);
void InitTensor(Napi::Env env, Napi::Object exports);
void InitDispatch(Napi::Env env, Napi::Object exports);
void InitOptim(Napi::Env env, Napi::Object exports);
void InitDistributed(Napi::Env env, Napi::Object exports);

}  // namespace kneeseg
