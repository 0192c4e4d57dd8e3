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

#include "../unit/json_diff.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  bool accepted;
  const char *why = json_diff_check((const char *)data, size, &accepted);
  if (why) {
    fprintf(stderr, "fast path and jansson differ: %s on %.*s\n", why, (int)size, (const char *)data);
    abort();
  }
  return 0;
}
