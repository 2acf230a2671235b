// Tensor handles and the few entry points that are not ATen operators: creation from and copy to
// JavaScript memory, autograd (backward, grad, requires_grad), grad mode, threads, seeds.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>
#include <dlfcn.h>
#include <torch/csrc/api/include/torch/version.h>

#include <atomic>
#include <cstring>
#include <memory>
#include <vector>

#include "common.h"

namespace kneeseg {

static std::atomic<int64_t> g_live_handles{0};

int64_t LiveHandles() { return g_live_handles.load(); }

static int64_t ReportedBytes(const at::Tensor& t) {
  return t.defined() && t.device().is_cpu() ? int64_t(t.nbytes()) : 0;
}

// Runs inside garbage collection (a "basic" finalizer, see binding.gyp): it may release native
// memory and adjust V8's external-memory count, but must not touch JavaScript.
static void Finalize(Napi::BasicEnv env, Handle* h) {
  if (h->reported) Napi::MemoryManagement::AdjustExternalMemory(env, -h->reported);
  if (h->tensor.defined()) g_live_handles--;
  delete h;
}

// Whether new handles report their bytes to V8 now. JavaScript turns it off while a scope is open:
// a scope disposes what it made, and reporting every intermediate (views count their storage again)
// made V8 run a full collection about every 64 MB, dozens per forward pass, to find nothing to free.
// A tensor that leaves the outermost scope is reported then (ReportExternal).
static thread_local bool g_report_external = true;  // per JavaScript thread (workers have their own scopes)

Napi::Value WrapTensor(Napi::Env env, at::Tensor t) {
  if (!t.defined()) return env.Null();
  Handle* h = new Handle();
  h->tensor = std::move(t);
  h->reported = g_report_external ? ReportedBytes(h->tensor) : 0;
  // V8 cannot see libtorch's memory; telling it keeps its GC honest when a handle is not disposed.
  if (h->reported) Napi::MemoryManagement::AdjustExternalMemory(env, h->reported);
  g_live_handles++;
  return Napi::External<Handle>::New(env, h, Finalize);
}

Handle* UnwrapHandle(const Napi::Value& v, const char* what) {
  if (!v.IsExternal()) throw Napi::TypeError::New(v.Env(), std::string(what) + ": expected a tensor");
  Handle* h = v.As<Napi::External<Handle>>().Data();
  if (h == nullptr || h->magic != kHandleMagic)
    throw Napi::TypeError::New(v.Env(), std::string(what) + ": expected a tensor");
  if (!h->tensor.defined())
    throw Napi::Error::New(v.Env(), std::string(what) + ": tensor used after dispose()");
  return h;
}

const at::Tensor& UnwrapTensor(const Napi::Value& v, const char* what) { return UnwrapHandle(v, what)->tensor; }

void ReleaseHandle(Napi::Env env, Handle* h) {
  if (!h->tensor.defined()) return;
  if (h->reported) Napi::MemoryManagement::AdjustExternalMemory(env, -h->reported);
  h->reported = 0;
  h->tensor.reset();
  g_live_handles--;
}

std::string ErrorMessage(const std::exception& e) {
  if (auto* ce = dynamic_cast<const c10::Error*>(&e)) return ce->what_without_backtrace();
  return e.what();
}

namespace {

std::vector<int64_t> ToShape(const Napi::Value& v) {
  Napi::Array a = v.As<Napi::Array>();
  std::vector<int64_t> shape(a.Length());
  for (uint32_t i = 0; i < a.Length(); i++) shape[i] = a.Get(i).As<Napi::Number>().Int64Value();
  return shape;
}

// fromData(bytes: ArrayBufferView, shape: number[], dtype: number, device?: string) -> handle
Napi::Value FromData(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::TypedArray view = info[0].As<Napi::TypedArray>();
  auto shape = ToShape(info[1]);
  auto dtype = static_cast<at::ScalarType>(info[2].As<Napi::Number>().Int32Value());
  try {
    at::Tensor t = at::empty(shape, at::TensorOptions().dtype(dtype));
    size_t bytes = t.nbytes();
    if (view.ByteLength() != bytes)
      throw Napi::RangeError::New(env, "fromData: " + std::to_string(view.ByteLength()) + " bytes given, shape needs " +
                                           std::to_string(bytes));
    auto* src = static_cast<uint8_t*>(view.ArrayBuffer().Data()) + view.ByteOffset();
    if (bytes) std::memcpy(t.data_ptr(), src, bytes);
    if (info.Length() > 3 && info[3].IsString()) {
      std::string device = info[3].As<Napi::String>();
      if (device != "cpu") t = t.to(at::Device(device));
    }
    return WrapTensor(env, std::move(t));
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, "fromData: " + ErrorMessage(e));
  }
}

// toData(handle) -> ArrayBuffer holding the tensor's values, contiguous, row-major
Napi::Value ToData(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  try {
    at::Tensor t = UnwrapTensor(info[0], "toData").detach().to(at::kCPU).contiguous();
    Napi::ArrayBuffer buf = Napi::ArrayBuffer::New(env, t.nbytes());
    if (t.nbytes()) std::memcpy(buf.Data(), t.data_ptr(), t.nbytes());
    return buf;
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, "toData: " + ErrorMessage(e));
  }
}

Napi::Value Item(const Napi::CallbackInfo& info) {
  try {
    const at::Tensor& t = UnwrapTensor(info[0], "item");
    if (t.scalar_type() == at::kBool) return Napi::Boolean::New(info.Env(), t.item<bool>());
    return Napi::Number::New(info.Env(), t.item<double>());
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Napi::Error::New(info.Env(), "item: " + ErrorMessage(e));
  }
}

Napi::Value Shape(const Napi::CallbackInfo& info) {
  const at::Tensor& t = UnwrapTensor(info[0], "shape");
  auto sizes = t.sizes();
  Napi::Array a = Napi::Array::New(info.Env(), sizes.size());
  for (size_t i = 0; i < sizes.size(); i++) a.Set(uint32_t(i), double(sizes[i]));
  return a;
}

Napi::Value Dtype(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), int(UnwrapTensor(info[0], "dtype").scalar_type()));
}

Napi::Value DeviceOf(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), UnwrapTensor(info[0], "device").device().str());
}

Napi::Value Dispose(const Napi::CallbackInfo& info) {
  if (!info[0].IsExternal()) return info.Env().Undefined();
  Handle* h = info[0].As<Napi::External<Handle>>().Data();
  if (h && h->magic == kHandleMagic) ReleaseHandle(info.Env(), h);
  return info.Env().Undefined();
}

Napi::Value SetExternalReporting(const Napi::CallbackInfo& info) {
  bool prev = g_report_external;
  g_report_external = info[0].ToBoolean();
  return Napi::Boolean::New(info.Env(), prev);
}

// Reports a handle's bytes to V8 if it has not yet (a tensor leaving the outermost scope).
Napi::Value ReportExternal(const Napi::CallbackInfo& info) {
  Handle* h = UnwrapHandle(info[0], "reportExternal");
  if (h->reported == 0) {
    h->reported = ReportedBytes(h->tensor);
    if (h->reported) Napi::MemoryManagement::AdjustExternalMemory(info.Env(), h->reported);
  }
  return info.Env().Undefined();
}

Napi::Value RequiresGrad(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), UnwrapTensor(info[0], "requiresGrad").requires_grad());
}

Napi::Value SetRequiresGrad(const Napi::CallbackInfo& info) {
  try {
    UnwrapTensor(info[0], "setRequiresGrad").set_requires_grad(info[1].As<Napi::Boolean>());
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Napi::Error::New(info.Env(), "requiresGrad_: " + ErrorMessage(e));
  }
  return info.Env().Undefined();
}

Napi::Value IsLeaf(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), UnwrapTensor(info[0], "isLeaf").is_leaf());
}

Napi::Value Grad(const Napi::CallbackInfo& info) {
  return WrapTensor(info.Env(), UnwrapTensor(info[0], "grad").grad());
}

// setGrad(t, g | null): replaces (or clears) the accumulated gradient
Napi::Value SetGrad(const Napi::CallbackInfo& info) {
  at::Tensor t = UnwrapTensor(info[0], "setGrad");
  if (info[1].IsNull() || info[1].IsUndefined())
    t.mutable_grad().reset();
  else
    t.mutable_grad() = UnwrapTensor(info[1], "setGrad");
  return info.Env().Undefined();
}

// backward(t, gradient | null, retainGraph)
Napi::Value Backward(const Napi::CallbackInfo& info) {
  try {
    const at::Tensor& t = UnwrapTensor(info[0], "backward");
    at::Tensor g;
    if (info.Length() > 1 && !info[1].IsNull() && !info[1].IsUndefined()) g = UnwrapTensor(info[1], "backward");
    bool retain = info.Length() > 2 && info[2].ToBoolean();
    t.backward(g, retain, false);
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Napi::Error::New(info.Env(), "backward: " + ErrorMessage(e));
  }
  return info.Env().Undefined();
}

Napi::Value SetGradEnabled(const Napi::CallbackInfo& info) {
  bool prev = at::GradMode::is_enabled();
  at::GradMode::set_enabled(info[0].As<Napi::Boolean>());
  return Napi::Boolean::New(info.Env(), prev);
}

Napi::Value IsGradEnabled(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), at::GradMode::is_enabled());
}

// c10::InferenceMode (torch.inference_mode) for JavaScript's inferenceMode(fn): the guards are kept on
// a per-thread stack, so that enter and exit pair up as JavaScript's try/finally nests them.
static thread_local std::vector<std::unique_ptr<c10::InferenceMode>> g_inference_guards;

Napi::Value EnterInferenceMode(const Napi::CallbackInfo& info) {
  g_inference_guards.push_back(std::make_unique<c10::InferenceMode>(true));
  return Napi::Number::New(info.Env(), double(g_inference_guards.size()));
}

Napi::Value ExitInferenceMode(const Napi::CallbackInfo& info) {
  if (g_inference_guards.empty()) throw Napi::Error::New(info.Env(), "exitInferenceMode without enterInferenceMode");
  g_inference_guards.pop_back();
  return info.Env().Undefined();
}

Napi::Value IsInferenceModeEnabled(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), c10::InferenceMode::is_enabled());
}

Napi::Value IsInference(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), UnwrapTensor(info[0], "isInference").is_inference());
}

// libtorch's intra-op threads; OpenBLAS (matmul) keeps its own pool, so set it too when present.
Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  int n = info[0].As<Napi::Number>().Int32Value();
  at::set_num_threads(n);
  using SetFn = void (*)(int);
  if (auto fn = reinterpret_cast<SetFn>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) fn(n);
  return info.Env().Undefined();
}

Napi::Value GetNumThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), at::get_num_threads());
}

Napi::Value ManualSeed(const Napi::CallbackInfo& info) {
  at::manual_seed(info[0].As<Napi::Number>().Int64Value());
  return info.Env().Undefined();
}

Napi::Value BuildInfo(const Napi::CallbackInfo& info) {
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("torchVersion", TORCH_VERSION);
  o.Set("cuda", at::hasCUDA());
  o.Set("mkldnn", at::hasMKLDNN());
  o.Set("parallel", at::get_parallel_info());
  return o;
}

}  // namespace

void InitTensor(Napi::Env env, Napi::Object exports) {
  exports.Set("fromData", Napi::Function::New(env, FromData));
  exports.Set("toData", Napi::Function::New(env, ToData));
  exports.Set("item", Napi::Function::New(env, Item));
  exports.Set("shape", Napi::Function::New(env, Shape));
  exports.Set("dtype", Napi::Function::New(env, Dtype));
  exports.Set("device", Napi::Function::New(env, DeviceOf));
  exports.Set("dispose", Napi::Function::New(env, Dispose));
  exports.Set("setExternalReporting", Napi::Function::New(env, SetExternalReporting));
  exports.Set("reportExternal", Napi::Function::New(env, ReportExternal));
  exports.Set("requiresGrad", Napi::Function::New(env, RequiresGrad));
  exports.Set("enterInferenceMode", Napi::Function::New(env, EnterInferenceMode));
  exports.Set("exitInferenceMode", Napi::Function::New(env, ExitInferenceMode));
  exports.Set("isInferenceModeEnabled", Napi::Function::New(env, IsInferenceModeEnabled));
  exports.Set("isInference", Napi::Function::New(env, IsInference));
  exports.Set("setRequiresGrad", Napi::Function::New(env, SetRequiresGrad));
  exports.Set("isLeaf", Napi::Function::New(env, IsLeaf));
  exports.Set("grad", Napi::Function::New(env, Grad));
  exports.Set("setGrad", Napi::Function::New(env, SetGrad));
  exports.Set("backward", Napi::Function::New(env, Backward));
  exports.Set("setGradEnabled", Napi::Function::New(env, SetGradEnabled));
  exports.Set("isGradEnabled", Napi::Function::New(env, IsGradEnabled));
  exports.Set("setNumThreads", Napi::Function::New(env, SetNumThreads));
  exports.Set("getNumThreads", Napi::Function::New(env, GetNumThreads));
  exports.Set("manualSeed", Napi::Function::New(env, ManualSeed));
  exports.Set("buildInfo", Napi::Function::New(env, BuildInfo));
}

}  // namespace kneeseg
