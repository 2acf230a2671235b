// One generic entry point for every ATen operator: look an operator up once by its schema name, then
// call it through c10's dispatcher with arguments converted by the schema's declared types. Autograd,
// CPU/CUDA kernels and type promotion are the dispatcher's; TypeScript holds typed wrappers
// (src/engine/ops.ts). A new op therefore needs no new C++.
#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/core/stack.h>

#include <sstream>

#include "common.h"

namespace kneeseg {
namespace {

enum class Kind {
  Tensor, Int, Float, Bool, Scalar, IntList, FloatList, BoolList, TensorList, OptTensorList, String, Device,
  Generator, Unsupported
};

struct ArgSpec {
  Kind kind;
  bool optional;
  std::string name;
  std::string type;
  c10::optional<c10::IValue> default_value;
};

struct OpEntry {
  c10::OperatorHandle handle;
  std::string name;
  std::vector<ArgSpec> args;
};

std::vector<OpEntry>& Ops() {
  static auto* ops = new std::vector<OpEntry>();
  return *ops;
}

Kind KindOf(const c10::TypePtr& t) {
  switch (t->kind()) {
    case c10::TypeKind::TensorType: return Kind::Tensor;
    case c10::TypeKind::IntType:
    case c10::TypeKind::SymIntType: return Kind::Int;
    case c10::TypeKind::FloatType: return Kind::Float;
    case c10::TypeKind::BoolType: return Kind::Bool;
    case c10::TypeKind::NumberType: return Kind::Scalar;
    case c10::TypeKind::StringType: return Kind::String;
    case c10::TypeKind::DeviceObjType: return Kind::Device;
    case c10::TypeKind::GeneratorType: return Kind::Generator;
    case c10::TypeKind::ListType: {
      auto elem = t->expectRef<c10::ListType>().getElementType();
      switch (elem->kind()) {
        case c10::TypeKind::IntType:
        case c10::TypeKind::SymIntType: return Kind::IntList;
        case c10::TypeKind::FloatType: return Kind::FloatList;
        case c10::TypeKind::BoolType: return Kind::BoolList;
        case c10::TypeKind::TensorType: return Kind::TensorList;
        case c10::TypeKind::OptionalType:
          if (elem->expectRef<c10::OptionalType>().getElementType()->kind() == c10::TypeKind::TensorType)
            return Kind::OptTensorList;
          return Kind::Unsupported;
        default: return Kind::Unsupported;
      }
    }
    default: return Kind::Unsupported;
  }
}

// opLookup(name, overload) -> id
Napi::Value OpLookup(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = info[0].As<Napi::String>();
  std::string overload = info.Length() > 1 && info[1].IsString() ? std::string(info[1].As<Napi::String>()) : "";
  auto op = c10::Dispatcher::singleton().findSchema({name, overload});
  if (!op.has_value())
    throw Napi::Error::New(env, "unknown operator " + name + (overload.empty() ? "" : "." + overload));
  OpEntry entry{*op, name + (overload.empty() ? "" : "." + overload), {}};
  for (const auto& a : op->schema().arguments()) {
    c10::TypePtr t = a.type();
    bool optional = t->kind() == c10::TypeKind::OptionalType;
    if (optional) t = t->expectRef<c10::OptionalType>().getElementType();
    entry.args.push_back({KindOf(t), optional, a.name(), a.type()->str(), a.default_value()});
  }
  Ops().push_back(std::move(entry));
  return Napi::Number::New(env, double(Ops().size() - 1));
}

// opSchema(id) -> the schema as text, for error messages and documentation
Napi::Value OpSchema(const Napi::CallbackInfo& info) {
  const OpEntry& e = Ops().at(info[0].As<Napi::Number>().Uint32Value());
  std::ostringstream s;
  s << e.handle.schema();
  return Napi::String::New(info.Env(), s.str());
}

std::vector<int64_t> IntList(const Napi::Value& v) {
  if (v.IsNumber()) return {v.As<Napi::Number>().Int64Value()};
  Napi::Array a = v.As<Napi::Array>();
  std::vector<int64_t> out(a.Length());
  for (uint32_t i = 0; i < a.Length(); i++) out[i] = a.Get(i).As<Napi::Number>().Int64Value();
  return out;
}

c10::IValue ToIValue(const Napi::Value& v, const ArgSpec& spec, const char* op) {
  switch (spec.kind) {
    case Kind::Tensor: return UnwrapTensor(v, op);
    case Kind::Int: return v.As<Napi::Number>().Int64Value();
    case Kind::Float: return v.As<Napi::Number>().DoubleValue();
    case Kind::Bool: return v.ToBoolean().Value();
    case Kind::Scalar: {
      if (v.IsBoolean()) return v.As<Napi::Boolean>().Value();
      double d = v.As<Napi::Number>().DoubleValue();
      // Integral values stay integral so integer tensors keep their dtype (as in Python).
      if (d == double(int64_t(d)) && std::abs(d) < 9.007199254740992e15) return int64_t(d);
      return d;
    }
    case Kind::IntList: return IntList(v);
    case Kind::FloatList: {
      Napi::Array a = v.As<Napi::Array>();
      std::vector<double> out(a.Length());
      for (uint32_t i = 0; i < a.Length(); i++) out[i] = a.Get(i).As<Napi::Number>().DoubleValue();
      return out;
    }
    case Kind::BoolList: {
      Napi::Array a = v.As<Napi::Array>();
      c10::List<bool> out;
      for (uint32_t i = 0; i < a.Length(); i++) out.push_back(a.Get(i).ToBoolean().Value());
      return out;
    }
    case Kind::TensorList: {
      Napi::Array a = v.As<Napi::Array>();
      std::vector<at::Tensor> out;
      out.reserve(a.Length());
      for (uint32_t i = 0; i < a.Length(); i++) out.push_back(UnwrapTensor(a.Get(i), op));
      return out;
    }
    case Kind::OptTensorList: {
      Napi::Array a = v.As<Napi::Array>();
      c10::List<c10::optional<at::Tensor>> out;
      for (uint32_t i = 0; i < a.Length(); i++) {
        Napi::Value e = a.Get(i);
        if (e.IsNull() || e.IsUndefined())
          out.push_back(c10::nullopt);
        else
          out.push_back(UnwrapTensor(e, op));
      }
      return out;
    }
    case Kind::String: return std::string(v.As<Napi::String>());
    case Kind::Device: return c10::Device(std::string(v.As<Napi::String>()));
    case Kind::Generator: return c10::IValue();  // default generator; seeds come from manualSeed
    case Kind::Unsupported: break;
  }
  throw Napi::TypeError::New(v.Env(), std::string(op) + ": argument '" + spec.name + "' of type " + spec.type +
                                          " cannot be passed from JavaScript");
}

Napi::Value FromIValue(Napi::Env env, const c10::IValue& v) {
  if (v.isTensor()) return WrapTensor(env, v.toTensor());
  if (v.isNone()) return env.Null();
  if (v.isInt()) return Napi::Number::New(env, double(v.toInt()));
  if (v.isDouble()) return Napi::Number::New(env, v.toDouble());
  if (v.isBool()) return Napi::Boolean::New(env, v.toBool());
  if (v.isTensorList()) {
    auto list = v.toTensorList();
    Napi::Array a = Napi::Array::New(env, list.size());
    for (size_t i = 0; i < list.size(); i++) a.Set(uint32_t(i), WrapTensor(env, list.get(i)));
    return a;
  }
  if (v.isIntList()) {
    auto list = v.toIntList();
    Napi::Array a = Napi::Array::New(env, list.size());
    for (size_t i = 0; i < list.size(); i++) a.Set(uint32_t(i), double(list.get(i)));
    return a;
  }
  if (v.isTuple()) {
    const auto& elems = v.toTupleRef().elements();
    Napi::Array a = Napi::Array::New(env, elems.size());
    for (size_t i = 0; i < elems.size(); i++) a.Set(uint32_t(i), FromIValue(env, elems[i]));
    return a;
  }
  if (v.isString()) return Napi::String::New(env, v.toStringRef());
  throw Napi::TypeError::New(env, std::string("cannot return a value of kind ") + v.tagKind() + " to JavaScript");
}

std::string DescribeArgs(const Napi::CallbackInfo& info, const OpEntry& e) {
  std::ostringstream s;
  s << e.name << "(";
  for (size_t i = 0; i < e.args.size(); i++) {
    if (i) s << ", ";
    s << e.args[i].name;
    if (i + 1 >= info.Length()) continue;
    Napi::Value v = info[i + 1];
    if (v.IsExternal()) {
      Handle* h = v.As<Napi::External<Handle>>().Data();
      if (h && h->magic == kHandleMagic && h->tensor.defined())
        s << "=Tensor" << h->tensor.sizes() << " " << h->tensor.scalar_type();
    } else if (v.IsNumber()) {
      s << "=" << v.As<Napi::Number>().DoubleValue();
    } else if (v.IsArray()) {
      s << "=[" << v.As<Napi::Array>().Length() << " items]";
    }
  }
  s << ")";
  return s.str();
}

c10::Stack BuildStack(const Napi::CallbackInfo& info, const OpEntry& e) {
  c10::Stack stack;
  stack.reserve(e.args.size());
  for (size_t i = 0; i < e.args.size(); i++) {
    const ArgSpec& spec = e.args[i];
    Napi::Value v = i + 1 < info.Length() ? info[i + 1] : info.Env().Undefined();
    if (v.IsUndefined()) {
      if (!spec.default_value.has_value())
        throw Napi::TypeError::New(info.Env(), e.name + ": missing argument '" + spec.name + "'");
      stack.push_back(*spec.default_value);
    } else if (v.IsNull()) {
      if (!spec.optional) throw Napi::TypeError::New(info.Env(), e.name + ": argument '" + spec.name + "' cannot be null");
      stack.emplace_back();
    } else {
      stack.push_back(ToIValue(v, spec, e.name.c_str()));
    }
  }
  return stack;
}

// opCall(id, ...args) -> result(s); opCallVoid(id, ...args) drops the results (in-place ops)
template <bool kReturn>
Napi::Value OpCall(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const OpEntry& e = Ops()[info[0].As<Napi::Number>().Uint32Value()];
  try {
    c10::Stack stack = BuildStack(info, e);
    e.handle.callBoxed(&stack);
    if (!kReturn) return env.Undefined();
    if (stack.size() == 1) return FromIValue(env, stack[0]);
    Napi::Array a = Napi::Array::New(env, stack.size());
    for (size_t i = 0; i < stack.size(); i++) a.Set(uint32_t(i), FromIValue(env, stack[i]));
    return a;
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::exception& ex) {
    throw Napi::Error::New(env, DescribeArgs(info, e) + ": " + ErrorMessage(ex));
  }
}

}  // namespace

void InitDispatch(Napi::Env env, Napi::Object exports) {
  exports.Set("opLookup", Napi::Function::New(env, OpLookup));
  exports.Set("opSchema", Napi::Function::New(env, OpSchema));
  exports.Set("opCall", Napi::Function::New(env, OpCall<true>));
  exports.Set("opCallVoid", Napi::Function::New(env, OpCall<false>));
}

}  // namespace kneeseg
