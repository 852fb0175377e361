{
  "targets": [
    {
      "target_name": "native_memory",
      "sources": ["src/native_memory.c"],
      "cflags": ["-Wall", "-Wextra"],
      "conditions": [
        ["OS!='linux'", { "type": "none", "sources": [] }]
      ]
    }
  ]
}
