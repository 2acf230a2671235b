// libtorch's optimizers (torch::optim Adam, AdamW, SGD) over tensors that JavaScript holds. The update
// rules are libtorch's, never re-implemented; JavaScript sets learning rates per parameter group and
// moves the per-parameter state in and out (for checkpoints).
#include <torch/optim/adam.h>
#include <torch/optim/adamw.h>
#include <torch/optim/sgd.h>

#include "common.h"

namespace kneeseg {
namespace {

struct OptimHandle {
  std::string kind;
  std::unique_ptr<torch::optim::Optimizer> opt;
  std::vector<at::Tensor> params;  // flattened, in group order: the order of the state arrays
};

double Num(const Napi::Object& o, const char* key, double def) {
  Napi::Value v = o.Get(key);
  return v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : def;
}
bool Flag(const Napi::Object& o, const char* key, bool def) {
  Napi::Value v = o.Get(key);
  return v.IsBoolean() ? v.As<Napi::Boolean>().Value() : def;
}

std::unique_ptr<torch::optim::OptimizerOptions> OptionsFor(const std::string& kind, const Napi::Object& g) {
  if (kind == "adam" || kind == "adamw") {
    double wd_default = kind == "adam" ? 0.0 : 1e-2;
    auto betas = std::make_tuple(Num(g, "beta1", 0.9), Num(g, "beta2", 0.999));
    if (kind == "adam")
      return std::make_unique<torch::optim::AdamOptions>(torch::optim::AdamOptions(Num(g, "lr", 1e-3))
                                                             .betas(betas)
                                                             .eps(Num(g, "eps", 1e-8))
                                                             .weight_decay(Num(g, "weightDecay", wd_default))
                                                             .amsgrad(Flag(g, "amsgrad", false)));
    return std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions(Num(g, "lr", 1e-3))
                                                            .betas(betas)
                                                            .eps(Num(g, "eps", 1e-8))
                                                            .weight_decay(Num(g, "weightDecay", wd_default))
                                                            .amsgrad(Flag(g, "amsgrad", false)));
  }
  if (kind == "sgd")
    return std::make_unique<torch::optim::SGDOptions>(torch::optim::SGDOptions(Num(g, "lr", 1e-2))
                                                          .momentum(Num(g, "momentum", 0))
                                                          .dampening(Num(g, "dampening", 0))
                                                          .weight_decay(Num(g, "weightDecay", 0))
                                                          .nesterov(Flag(g, "nesterov", false)));
  return nullptr;
}

OptimHandle* Unwrap(const Napi::Value& v) {
  if (!v.IsExternal()) throw Napi::TypeError::New(v.Env(), "expected an optimizer");
  return v.As<Napi::External<OptimHandle>>().Data();
}

// optimCreate(kind, groups: [{params: handle[], lr, beta1, beta2, eps, weightDecay, amsgrad, momentum, ...}])
Napi::Value OptimCreate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string kind = info[0].As<Napi::String>();
  Napi::Array groups = info[1].As<Napi::Array>();
  auto h = std::make_unique<OptimHandle>();
  h->kind = kind;
  std::vector<torch::optim::OptimizerParamGroup> pgs;
  for (uint32_t i = 0; i < groups.Length(); i++) {
    Napi::Object g = groups.Get(i).As<Napi::Object>();
    Napi::Array ps = g.Get("params").As<Napi::Array>();
    std::vector<at::Tensor> params;
    for (uint32_t j = 0; j < ps.Length(); j++) {
      params.push_back(UnwrapTensor(ps.Get(j), "optimizer"));
      h->params.push_back(params.back());
    }
    auto opts = OptionsFor(kind, g);
    if (!opts) throw Napi::Error::New(env, "unknown optimizer '" + kind + "' (adam, adamw, sgd)");
    pgs.emplace_back(params, std::move(opts));
  }
  try {
    if (kind == "adam") h->opt = std::make_unique<torch::optim::Adam>(pgs, torch::optim::AdamOptions());
    if (kind == "adamw") h->opt = std::make_unique<torch::optim::AdamW>(pgs, torch::optim::AdamWOptions());
    if (kind == "sgd") h->opt = std::make_unique<torch::optim::SGD>(pgs, torch::optim::SGDOptions(1e-2));
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, "optimizer: " + ErrorMessage(e));
  }
  return Napi::External<OptimHandle>::New(env, h.release(), [](Napi::BasicEnv, OptimHandle* p) { delete p; });
}

Napi::Value OptimStep(const Napi::CallbackInfo& info) {
  try {
    torch::NoGradGuard no_grad;
    Unwrap(info[0])->opt->step();
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Napi::Error::New(info.Env(), "optimizer.step: " + ErrorMessage(e));
  }
  return info.Env().Undefined();
}

// Gradients are dropped (set to None), as PyTorch's zero_grad(set_to_none=True) does: no memset, and
// the next backward allocates them fresh from the caching allocator.
Napi::Value OptimZeroGrad(const Napi::CallbackInfo& info) {
  for (auto& p : Unwrap(info[0])->params) p.mutable_grad().reset();
  return info.Env().Undefined();
}

double& LrOf(torch::optim::OptimizerParamGroup& g) {
  auto& o = g.options();
  if (auto* a = dynamic_cast<torch::optim::AdamOptions*>(&o)) return a->lr();
  if (auto* a = dynamic_cast<torch::optim::AdamWOptions*>(&o)) return a->lr();
  return dynamic_cast<torch::optim::SGDOptions&>(o).lr();
}

// optimLr(opt, group, lr?) -> lr (sets it when given)
Napi::Value OptimLr(const Napi::CallbackInfo& info) {
  OptimHandle* h = Unwrap(info[0]);
  uint32_t gi = info[1].As<Napi::Number>().Uint32Value();
  auto& groups = h->opt->param_groups();
  if (gi >= groups.size()) throw Napi::RangeError::New(info.Env(), "optimizer: no parameter group " + std::to_string(gi));
  double& lr = LrOf(groups[gi]);
  if (info.Length() > 2 && info[2].IsNumber()) lr = info[2].As<Napi::Number>().DoubleValue();
  return Napi::Number::New(info.Env(), lr);
}

std::string KeyOf(const at::Tensor& p) { return c10::guts::to_string(p.unsafeGetTensorImpl()); }

// optimGetState(opt) -> per parameter: null (no step yet) or {step, tensors: {name: handle}}
Napi::Value OptimGetState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  OptimHandle* h = Unwrap(info[0]);
  auto& state = h->opt->state();
  Napi::Array out = Napi::Array::New(env, h->params.size());
  for (size_t i = 0; i < h->params.size(); i++) {
    auto it = state.find(KeyOf(h->params[i]));
    if (it == state.end()) {
      out.Set(uint32_t(i), env.Null());
      continue;
    }
    Napi::Object s = Napi::Object::New(env);
    Napi::Object ts = Napi::Object::New(env);
    auto put = [&](const char* name, const at::Tensor& t) {
      if (t.defined()) ts.Set(name, WrapTensor(env, t.detach().clone()));
    };
    if (auto* a = dynamic_cast<torch::optim::AdamParamState*>(it->second.get())) {
      s.Set("step", double(a->step()));
      put("exp_avg", a->exp_avg());
      put("exp_avg_sq", a->exp_avg_sq());
      put("max_exp_avg_sq", a->max_exp_avg_sq());
    } else if (auto* w = dynamic_cast<torch::optim::AdamWParamState*>(it->second.get())) {
      s.Set("step", double(w->step()));
      put("exp_avg", w->exp_avg());
      put("exp_avg_sq", w->exp_avg_sq());
      put("max_exp_avg_sq", w->max_exp_avg_sq());
    } else if (auto* g = dynamic_cast<torch::optim::SGDParamState*>(it->second.get())) {
      s.Set("step", 0);
      put("momentum_buffer", g->momentum_buffer());
    }
    s.Set("tensors", ts);
    out.Set(uint32_t(i), s);
  }
  return out;
}

// optimSetState(opt, states) with the shape optimGetState returns
Napi::Value OptimSetState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  OptimHandle* h = Unwrap(info[0]);
  Napi::Array in = info[1].As<Napi::Array>();
  if (in.Length() != h->params.size())
    throw Napi::RangeError::New(env, "optimizer state has " + std::to_string(in.Length()) + " entries, expected " +
                                         std::to_string(h->params.size()));
  auto& state = h->opt->state();
  for (uint32_t i = 0; i < in.Length(); i++) {
    std::string key = KeyOf(h->params[i]);
    Napi::Value v = in.Get(i);
    if (v.IsNull() || v.IsUndefined()) {
      state.erase(key);
      continue;
    }
    Napi::Object s = v.As<Napi::Object>();
    Napi::Object ts = s.Get("tensors").As<Napi::Object>();
    auto get = [&](const char* name) -> at::Tensor {
      Napi::Value t = ts.Get(name);
      return t.IsExternal() ? UnwrapTensor(t, "optimizer state").detach().clone() : at::Tensor();
    };
    int64_t step = s.Get("step").As<Napi::Number>().Int64Value();
    if (h->kind == "adam") {
      auto st = std::make_unique<torch::optim::AdamParamState>();
      st->step(step).exp_avg(get("exp_avg")).exp_avg_sq(get("exp_avg_sq")).max_exp_avg_sq(get("max_exp_avg_sq"));
      state[key] = std::move(st);
    } else if (h->kind == "adamw") {
      auto st = std::make_unique<torch::optim::AdamWParamState>();
      st->step(step).exp_avg(get("exp_avg")).exp_avg_sq(get("exp_avg_sq")).max_exp_avg_sq(get("max_exp_avg_sq"));
      state[key] = std::move(st);
    } else {
      auto st = std::make_unique<torch::optim::SGDParamState>();
      st->momentum_buffer(get("momentum_buffer"));
      state[key] = std::move(st);
    }
  }
  return env.Undefined();
}

}  // namespace

void InitOptim(Napi::Env env, Napi::Object exports) {
  exports.Set("optimCreate", Napi::Function::New(env, OptimCreate));
  exports.Set("optimStep", Napi::Function::New(env, OptimStep));
  exports.Set("optimZeroGrad", Napi::Function::New(env, OptimZeroGrad));
  exports.Set("optimLr", Napi::Function::New(env, OptimLr));
  exports.Set("optimGetState", Napi::Function::New(env, OptimGetState));
  exports.Set("optimSetState", Napi::Function::New(env, OptimSetState));
}

}  // namespace kneeseg
