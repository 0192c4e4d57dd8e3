/*
 * fuzz_selector.c - libFuzzer target: label and field selectors
 * (kube/selector.h), as they arrive in ?labelSelector= and ?fieldSelector=.
 *
 * Input: SELECTOR '\0' LABELS, where LABELS is "k=v" pairs separated by
 * ';' (the object matched against).  Checks:
 *  - a label selector that parses prints a canonical string that parses
 *    again to the same canonical string and selects exactly the same
 *    labels; the getter-based match agrees with the json_t match;
 *  - the field selector parser is run on the same string and every term
 *    it reports is complete with an operator of "=" or "!=";
 *  - a metav1.LabelSelector given as JSON (when SELECTOR is JSON) compiles
 *    or fails without harm, and matches like its own canonical string.
 */
#include <stdint.h>
#include <string.h>

#include <jansson.h>

#include "fuzz_util.h"
#include "kube/json.h"
#include "kube/selector.h"

static json_t *parse_labels(const uint8_t *p, size_t n)
{
  json_t *labels = json_object();
  char *s = fuzz_strndup(p, n), *save = NULL;
  for (char *tok = strtok_r(s, ";", &save); tok; tok = strtok_r(NULL, ";", &save)) {
    char *eq = strchr(tok, '=');
    if (eq) *eq = '\0';
    json_object_set_new(labels, tok, json_string(eq ? eq + 1 : ""));
  }
  free(s);
  return labels;
}

static const char *get_label(void *arg, const char *key)
{
  return json_string_value(json_object_get(arg, key));
}

/* The canonical string must be a fixed point and select the same set. */
static void check_canonical(const char *in, const struct labelsel *s, const json_t *labels)
{
  char *str = labelsel_string(s);
  FUZZ_CHECK(str != NULL, "no string for \"%s\"", in);
  char err[512] = "";
  struct labelsel *s2 = labelsel_parse(str, err, sizeof err);
  FUZZ_CHECK(s2 != NULL, "\"%s\" prints as \"%s\", which fails: %s", in, str, err);
  char *str2 = labelsel_string(s2);
  FUZZ_CHECK(str2 && strcmp(str, str2) == 0, "\"%s\" prints as \"%s\", then \"%s\"", in, str, str2);
  bool m1 = labelsel_matches(s, labels), m2 = labelsel_matches(s2, labels);
  FUZZ_CHECK(m1 == m2, "\"%s\" and its string \"%s\" select differently", in, str);
  FUZZ_CHECK(labelsel_matches_fn(s, get_label, (void *)labels) == m1, "getter and json match differ for \"%s\"",
             in);
  FUZZ_CHECK(labelsel_is_empty(s) == labelsel_is_empty(s2), "emptiness differs for \"%s\"", in);
  free(str2);
  free(str);
  labelsel_free(s2);
}

static void check_fieldsel(const char *in, const json_t *labels)
{
  char err[512] = "";
  struct fieldsel *f = fieldsel_parse(in, err, sizeof err);
  if (!f) {
    FUZZ_CHECK(err[0] != '\0', "field selector \"%s\" refused without a message", in);
    return;
  }
  for (size_t i = 0; i < fieldsel_count(f); i++) {
    const char *field, *op, *value;
    fieldsel_term(f, i, &field, &op, &value);
    FUZZ_CHECK(field && op && value, "incomplete term %zu of \"%s\"", i, in);
    FUZZ_CHECK(!strcmp(op, "=") || !strcmp(op, "!="), "operator \"%s\" in \"%s\"", op, in);
  }
  (void)fieldsel_matches_fn(f, get_label, (void *)labels);
  fieldsel_free(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  const uint8_t *rest;
  size_t rest_len;
  char *in = fuzz_split(data, size, '\0', &rest, &rest_len);
  json_t *labels = parse_labels(rest, rest_len);
  char err[512] = "";
  struct labelsel *s = labelsel_parse(in, err, sizeof err);
  if (s) {
    check_canonical(in, s, labels);
    labelsel_free(s);
  } else {
    FUZZ_CHECK(err[0] != '\0', "label selector \"%s\" refused without a message", in);
  }
  check_fieldsel(in, labels);

  json_t *ls = kj_loadb(in, strlen(in), false, NULL, 0);
  if (ls) {
    s = labelsel_from_json(ls, err, sizeof err);
    if (s) {
      (void)labelsel_matches(s, labels);
      (void)labelsel_is_nothing(s);
      char *str = labelsel_string(s);
      free(str);
      labelsel_free(s);
    }
    json_decref(ls);
  }
  json_decref(labels);
  free(in);
  return 0;
}
