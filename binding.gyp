{
  "targets": [
    {
      "target_name": "srt_native",
      "sources": ["native/addon.cc", "native/reactor.cc", "native/gate.cc", "native/options.cc", "native/guard.cc"],
      "include_dirs": ["<!@(node -p \"require('node-addon-api').include\")"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_CPP_EXCEPTIONS", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"],
      "cflags_cc": ["-std=c++17", "-O2", "-fno-exceptions", "<!@(pkg-config --cflags srt)"],
      "libraries": ["<!@(pkg-config --libs srt)"]
    }
  ]
}
