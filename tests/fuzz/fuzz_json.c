/*
 * fuzz_json.c - libFuzzer target: the fast JSON path (json.c) against
 * jansson on arbitrary bytes.  Both parsers must accept the same inputs and
 * build equal trees (with and without duplicate-key rejection), the
 * managedFields-free parse must equal jansson's tree with those members
 * removed, and kj_dumps must write what jansson's compact dump writes.
 * Any difference aborts, which libFuzzer reports with the input.
 * Build: CC=clang cmake -S . -B build-fuzz -DKUBE_FUZZ=ON && cmake --build build-fuzz --target fuzz_json
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/json.h"

static void strip(json_t *v)
{
  if (json_is_object(v)) {
    json_object_del(json_object_get(v, "metadata"), "managedFields");
    const char *k;
    json_t *m;
    json_object_foreach(v, k, m) strip(m);
  } else if (json_is_array(v)) {
    size_t i;
    json_t *m;
    json_array_foreach(v, i, m) strip(m);
  }
}

static void differ(const char *what, const uint8_t *d, size_t n)
{
  fprintf(stderr, "fast path and jansson differ: %s on %.*s\n", what, (int)n, (const char *)d);
  abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  const char *buf = (const char *)data;
  for (int dups = 0; dups < 2; dups++) {
    json_error_t je;
    json_t *mine = kj_loadb(buf, size, dups, NULL, 0);
    json_t *ref = json_loadb(buf, size, JSON_DECODE_ANY | (dups ? JSON_REJECT_DUPLICATES : 0), &je);
    if ((mine == NULL) != (ref == NULL)) differ("acceptance", data, size);
    if (mine && !json_equal(mine, ref)) differ("tree", data, size);
    if (mine && !dups) {
      char *a = kj_dumps(ref);
      char *b = kj_dumps_flags(ref, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
      if ((a == NULL) != (b == NULL) || (a && strcmp(a, b) != 0)) differ("serialization", data, size);
      free(a);
      free(b);
      json_t *noman = kj_loadb_without_managed_fields(buf, size, NULL, 0);
      strip(ref);
      if (!noman || !json_equal(noman, ref)) differ("managedFields-free parse", data, size);
      json_decref(noman);
    }
    json_decref(mine);
    json_decref(ref);
  }
  return 0;
}
