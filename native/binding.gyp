{
  # libtorch's headers and libraries: Debian's libtorch-dev by default; LIBTORCH=/path selects another
  # build (an official CUDA libtorch) with no code change.
  "variables": {
    "libtorch%": "<!(node -p \"process.env.LIBTORCH || ''\")"
  },
  "targets": [
    {
      "target_name": "kneeseg_torch",
      "sources": [
        "src/addon.cc",
        "src/allocator.cc",
        "src/tensor.cc",
        "src/dispatch.cc",
        "src/optim.cc"
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
