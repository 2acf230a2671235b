{
  # libtorch's headers and libraries: Debian's libtorch-dev by default; LIBTORCH=/path selects another
  # build (an official CUDA libtorch) with no code change.
  "variables": {
    "libtorch%": "<!(node -p \"process.env.LIBTORCH || ''\")",
    # c10d's Gloo backend needs Gloo's headers next to libtorch's (Debian: libgloo-dev); without them the
    # distributed ops still exist and say how to get them, so the CPU build never breaks on it.
    "gloo%": "<!(node -p \"require('fs').existsSync((process.env.LIBTORCH || '/usr') + '/include/gloo/config.h') ? 1 : 0\")",
    # NCCL only for a CUDA libtorch whose headers can be compiled here (CUDA runtime and nccl.h).
    "cuda_home%": "<!(node -p \"process.env.CUDA_HOME || '/usr/local/cuda'\")",
    "nccl%": "<!(node -p \"const fs = require('fs'), t = process.env.LIBTORCH || '', c = process.env.CUDA_HOME || '/usr/local/cuda'; t && fs.existsSync(t + '/lib/libtorch_cuda.so') && fs.existsSync(c + '/include/cuda_runtime_api.h') && [t + '/include', c + '/include', '/usr/include'].some((d) => fs.existsSync(d + '/nccl.h')) ? 1 : 0\")"
  },
  "targets": [
    {
      "target_name": "kneeseg_torch",
      "sources": [
        "src/addon.cc",
        "src/allocator.cc",
        "src/tensor.cc",
        "src/dispatch.cc",
        "src/optim.cc",
        "src/distributed.cc"
      ],
      "dependencies": ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except_all"],
      # NAPI_EXPERIMENTAL: Node (20.20 here) then runs finalizers during garbage collection instead of
      # queueing them until the event loop turns, so a synchronous training loop cannot pile up one
      # finalizer record per tensor handle (about 1.5 MB per 1,000 steps of a small net). Finalizers
      # must take Napi::BasicEnv: node-addon-api defers any other kind to the event loop again.
      "defines": ["NAPI_EXPERIMENTAL", "_GLIBCXX_USE_CXX11_ABI=1"],
      "cflags!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-frtti", "-O2", "-Wno-unused-parameter", "-Wno-deprecated-declarations"],
      "conditions": [
        ["gloo==1", { "defines": ["USE_C10D_GLOO", "KNEESEG_WITH_GLOO"] }],
        ["nccl==1", {
          "defines": ["USE_C10D_NCCL", "KNEESEG_WITH_NCCL"],
          "include_dirs": ["<(cuda_home)/include"],
          "libraries": ["-ltorch_cuda", "-lc10_cuda"]
        }],
        ["libtorch==''", {
          "include_dirs": ["/usr/include/torch/csrc/api/include", "/usr/include"],
          "libraries": ["-L/usr/lib/x86_64-linux-gnu", "-ltorch", "-ltorch_cpu", "-lc10", "-ldl"]
        }, {
          "include_dirs": ["<(libtorch)/include/torch/csrc/api/include", "<(libtorch)/include"],
          "libraries": ["-L<(libtorch)/lib", "-Wl,-rpath,<(libtorch)/lib", "-Wl,--no-as-needed", "-ltorch", "-ltorch_cpu", "-lc10", "-ldl"]
        }]
      ]
    }
  ]
}
