/*
 * fuzz_yaml.c - libFuzzer target: YAML to JSON (kube/yaml.h), as bodies
 * sent with Content-Type application/yaml and manifests arrive.
 *
 * Every document stream is loaded with kyaml_load_all and kyaml_load.  A
 * stream that loads must dump (kyaml_dump, the -o yaml printer) to YAML
 * that loads back to an equal JSON tree: what the server prints can be
 * applied again unchanged.  Alias expansion must stay bounded (the loader
 * is expected to refuse "billion laughs" documents, not to exhaust memory,
 * which libFuzzer's -rss_limit_mb reports).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fuzz_util.h"
#include "kube/json.h"
#include "kube/yaml.h"

static void check_dump_round_trip(const json_t *v)
{
  char *y = kyaml_dump(v);
  FUZZ_CHECK(y != NULL, "kyaml_dump failed");
  char err[512] = "";
  json_t *back = kyaml_load_all(y, strlen(y), err, sizeof err);
  FUZZ_CHECK(back != NULL, "dumped YAML does not load: %s\n%s", err, y);
  /* One document was dumped, so one comes back (a dumped null loads as an
   * empty stream: empty documents are skipped). */
  json_t *first = json_array_get(back, 0);
  bool same = json_is_null(v) ? json_array_size(back) == 0 || json_is_null(first)
                              : json_array_size(back) == 1 && json_equal(first, v);
  if (!same) {
    char *a = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT), *b = json_dumps(back, JSON_ENCODE_ANY | JSON_COMPACT);
    FUZZ_CHECK(same, "dump/load changed the tree:\n%s\n-- dumped as --\n%s-- loaded as --\n%s", a, y, b);
  }
  json_decref(back);
  free(y);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char err[512] = "";
  json_t *all = kyaml_load_all((const char *)data, size, err, sizeof err);
  if (all) {
    FUZZ_CHECK(json_is_array(all), "kyaml_load_all did not return an array");
    size_t i;
    json_t *doc;
    json_array_foreach(all, i, doc) check_dump_round_trip(doc);
    json_decref(all);
  } else {
    FUZZ_CHECK(err[0] != '\0', "refused without a message");
  }
  json_t *one = kyaml_load((const char *)data, size, err, sizeof err);
  json_decref(one);
  return 0;
}
