/*
 * fuzz_patch.c - libFuzzer target: the three patch kinds (kube/patch.h) on
 * a fuzzed document and a fuzzed patch, as PATCH requests bring them.
 *
 * Input: DOCUMENT '\0' PATCH, both JSON (inputs that are not JSON end the
 * run early).  Checks:
 *  - the inputs are never modified (the header promises deep copies);
 *  - merge patch (RFC 7386) is idempotent: applying the patch to its own
 *    result changes nothing;
 *  - JSON patch (RFC 6902) succeeds with a result or fails with a message;
 *  - strategic merge patch runs with the API server's schema table (the
 *    document as a Pod, where lists merge by key) and with no schema;
 *    it succeeds with a result or fails with a message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fuzz_util.h"
#include "kube/json.h"
#include "kube/patch.h"
#include "schema/schema.h"

static struct schema *schema;
static const struct stype *pod_type;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
  char err[256] = "";
  schema = schema_load_builtin(err, sizeof err);
  if (!schema) {
    fprintf(stderr, "builtin schema: %s\n", err);
    abort();
  }
  pod_type = schema_kind(schema, "", "v1", "Pod");
  if (!pod_type) abort();
  return 0;
}

static char *dump(const json_t *v) { return json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_SORT_KEYS); }

static void check_merge(const json_t *doc, const json_t *patch)
{
  json_t *r1 = patch_merge(doc, patch);
  FUZZ_CHECK(r1 != NULL, "merge patch returned NULL");
  json_t *r2 = patch_merge(r1, patch);
  FUZZ_CHECK(r2 != NULL, "second merge patch returned NULL");
  if (!json_equal(r1, r2)) {
    char *a = dump(r1), *b = dump(r2);
    FUZZ_CHECK(0, "merge patch is not idempotent:\n%s\n%s", a, b);
  }
  json_decref(r1);
  json_decref(r2);
}

static void check_result(const char *what, json_t *r, const char *err)
{
  if (r) json_decref(r);
  else FUZZ_CHECK(err[0] != '\0', "%s failed without a message", what);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  const uint8_t *rest;
  size_t rest_len;
  char *dtext = fuzz_split(data, size, '\0', &rest, &rest_len);
  json_t *doc = kj_loadb(dtext, strlen(dtext), false, NULL, 0);
  json_t *patch = doc ? kj_loadb((const char *)rest, rest_len, false, NULL, 0) : NULL;
  free(dtext);
  if (!doc || !patch) {
    json_decref(doc);
    return 0;
  }
  json_t *doc0 = json_deep_copy(doc), *patch0 = json_deep_copy(patch);

  check_merge(doc, patch);
  char err[512] = "";
  if (json_is_array(patch)) check_result("JSON patch", patch_json(doc, patch, err, sizeof err), err);
  err[0] = '\0';
  check_result("strategic merge patch (Pod schema)",
               patch_strategic(doc, patch, schema_smp_lookup, schema, pod_type, err, sizeof err), err);
  err[0] = '\0';
  check_result("strategic merge patch (no schema)", patch_strategic(doc, patch, NULL, NULL, NULL, err, sizeof err),
               err);

  FUZZ_CHECK(json_equal(doc, doc0), "a patch modified the original document");
  FUZZ_CHECK(json_equal(patch, patch0), "a patch modified the patch");
  json_decref(doc0);
  json_decref(patch0);
  json_decref(doc);
  json_decref(patch);
  return 0;
}
