/*
 * fuzz_quantity.c - libFuzzer target: resource quantities (kube/quantity.h).
 *
 * The input is one quantity string.  A string that parses must format to
 * a string that parses back to the same exact value and formats the same
 * way again (parse -> format -> parse is stable); arithmetic on it must
 * stay consistent (q - q == 0, q + q compares >= q for q >= 0).  The same
 * bytes are also decoded as a JSON value through quantity_from_json.
 */
#include <stdint.h>
#include <string.h>

#include <jansson.h>

#include "fuzz_util.h"
#include "kube/json.h"
#include "kube/quantity.h"

static void check_round_trip(const char *in, const struct quantity *q)
{
  char s1[QUANTITY_STRING_MAX], s2[QUANTITY_STRING_MAX];
  quantity_format(q, s1, sizeof s1);
  struct quantity q2;
  int rc = quantity_parse(s1, &q2);
  FUZZ_CHECK(rc == 0, "\"%s\" formats as \"%s\", which does not parse (%s)", in, s1, quantity_strerror(rc));
  FUZZ_CHECK(q2.nano == q->nano, "\"%s\" formats as \"%s\", which parses to another value", in, s1);
  FUZZ_CHECK(quantity_cmp(q, &q2) == 0, "\"%s\" and \"%s\" compare unequal", in, s1);
  quantity_format(&q2, s2, sizeof s2);
  FUZZ_CHECK(strcmp(s1, s2) == 0, "\"%s\" formats as \"%s\", then as \"%s\"", in, s1, s2);
}

static void check_arith(const struct quantity *q)
{
  struct quantity d = *q;
  if (quantity_sub(&d, q) == 0) FUZZ_CHECK(quantity_is_zero(&d), "q - q is not zero");
  struct quantity s = *q;
  if (quantity_add(&s, q) == 0 && quantity_sign(q) >= 0) FUZZ_CHECK(quantity_cmp(&s, q) >= 0, "q + q < q");
  int64_t v = quantity_value(q), m = quantity_milli(q);
  if (quantity_sign(q) > 0) FUZZ_CHECK(v > 0 && m > 0, "positive quantity rounds to %lld / %lldm", (long long)v,
                                       (long long)m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char *in = fuzz_strndup(data, size);
  struct quantity q;
  int rc = quantity_parse(in, &q);
  if (rc == 0) {
    check_round_trip(in, &q);
    check_arith(&q);
  } else {
    FUZZ_CHECK(quantity_strerror(rc) != NULL, "no message for %d", rc);
  }
  json_t *v = kj_loadb(in, strlen(in), false, NULL, 0);
  if (v && quantity_from_json(v, &q) == 0) check_round_trip(in, &q);
  json_decref(v);
  free(in);
  return 0;
}
