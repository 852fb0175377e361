/*
 * glibc's malloc_trim and mallinfo2 for Node (issue 29, docs/memory.md).
 *
 * glibc keeps the memory a program frees in its heaps: it returns only the free space at the top
 * of the main heap to the system by itself, so the pages of freed native objects (OpenSSL's
 * per-connection state and record buffers, Node's native objects) stay in the RSS after a load.
 * malloc_trim(0) gives back every free whole page inside every arena (glibc >= 2.8 madvises them
 * away, not only the top). Node exposes neither function.
 *
 * Without glibc (musl, macOS) the module exports nothing and the loader reports it missing.
 */
#define NAPI_VERSION 8
#include <node_api.h>

#if defined(__GLIBC__)
#include <malloc.h>

/* trim(): whether glibc gave any memory back. */
static napi_value Trim(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value result;
  napi_get_boolean(env, malloc_trim(0) == 1, &result);
  return result;
}

static void SetField(napi_env env, napi_value object, const char* name, double value) {
  napi_value number;
  napi_create_double(env, value, &number);
  napi_set_named_property(env, object, name, number);
}

/*
 * info(): mallinfo2's figures over all arenas, in bytes. mallinfo2 came with glibc 2.33; the older
 * mallinfo has int fields, which wrap past 2 GiB.
 */
static napi_value Info(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value result;
  napi_create_object(env, &result);
#if __GLIBC_PREREQ(2, 33)
  struct mallinfo2 m = mallinfo2();
  SetField(env, result, "arena", (double)m.arena);
  SetField(env, result, "hblkhd", (double)m.hblkhd);
  SetField(env, result, "uordblks", (double)m.uordblks);
  SetField(env, result, "fordblks", (double)m.fordblks);
  SetField(env, result, "keepcost", (double)m.keepcost);
#else
  struct mallinfo m = mallinfo();
  SetField(env, result, "arena", (double)(unsigned)m.arena);
  SetField(env, result, "hblkhd", (double)(unsigned)m.hblkhd);
  SetField(env, result, "uordblks", (double)(unsigned)m.uordblks);
  SetField(env, result, "fordblks", (double)(unsigned)m.fordblks);
  SetField(env, result, "keepcost", (double)(unsigned)m.keepcost);
#endif
  return result;
}
#endif

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */) {
#if defined(__GLIBC__)
  napi_property_descriptor methods[] = {
      {"trim", NULL, Trim, NULL, NULL, NULL, napi_enumerable, NULL},
      {"info", NULL, Info, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof(methods) / sizeof(methods[0]), methods);
#else
  (void)env;
#endif
  return exports;
}
