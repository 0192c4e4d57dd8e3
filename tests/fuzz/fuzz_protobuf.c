/*
 * fuzz_protobuf.c - libFuzzer target: request bodies in
 * application/vnd.kubernetes.protobuf (apiserver/protobuf.c) decoded
 * through the built-in schema table, both as a kind named by the envelope
 * (protobuf_decode) and as DeleteOptions (protobuf_decode_as, what DELETE
 * bodies are decoded as).
 *
 * A body either decodes to a JSON object, which must serialize, or is
 * refused with 400 or 415 and a message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fuzz_util.h"
#include "kube/json.h"
#include "protobuf.h"
#include "schema/schema.h"

static struct schema *schema;
static const struct stype *delete_options;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
  char err[256] = "";
  schema = schema_load_builtin(err, sizeof err);
  if (!schema) {
    fprintf(stderr, "builtin schema: %s\n", err);
    abort();
  }
  delete_options = schema_named(schema, "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions");
  if (!delete_options) abort();
  return 0;
}

static void check(json_t *obj, int code, const char *err)
{
  if (obj) {
    FUZZ_CHECK(json_is_object(obj), "decoded body is not an object");
    char *s = kj_dumps(obj);
    FUZZ_CHECK(s != NULL, "decoded body does not serialize");
    free(s);
    json_decref(obj);
  } else {
    FUZZ_CHECK(code == 400 || code == 415, "refused with %d", code);
    FUZZ_CHECK(err[0] != '\0', "refused without a message");
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char err[512] = "";
  int code = 0;
  json_t *obj = protobuf_decode(schema, data, size, &code, err, sizeof err);
  check(obj, code, err);
  err[0] = '\0';
  code = 0;
  obj = protobuf_decode_as(delete_options, data, size, &code, err, sizeof err);
  check(obj, code, err);
  return 0;
}
