/*
 * scheduling.c - tolerations against taints and NodeSelectors against
 * nodes (see kube/scheduling.h).
 */
#include "kube/scheduling.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char *jstr(const json_t *o, const char *k) { return json_string_value(json_object_get(o, k)); }

static bool same(const char *a, const char *b) { return strcmp(a ? a : "", b ? b : "") == 0; }

bool toleration_tolerates(const json_t *tol, const char *tkey, const char *tvalue, const char *teff)
{
  const char *eff = jstr(tol, "effect");
  if (eff && *eff && !same(eff, teff)) return false;
  const char *key = jstr(tol, "key");
  if (key && *key && !same(key, tkey)) return false;
  const char *op = jstr(tol, "operator");
  if (!op || !*op || strcmp(op, "Equal") == 0) return same(jstr(tol, "value"), tvalue);
  return strcmp(op, "Exists") == 0;
}

bool tolerations_tolerate(const json_t *tolerations, const char *key, const char *value, const char *effect)
{
  size_t i;
  json_t *t;
  json_array_foreach (tolerations, i, t)
    if (toleration_tolerates(t, key, value, effect)) return true;
  return false;
}

bool tolerations_tolerate_taint(const json_t *tolerations, const json_t *taint)
{
  return tolerations_tolerate(tolerations, jstr(taint, "key"), jstr(taint, "value"), jstr(taint, "effect"));
}

static bool parse_int64(const char *s, long long *out)
{
  char *end;
  if (!s || !*s) return false;
  errno = 0;
  *out = strtoll(s, &end, 10);
  return errno == 0 && *end == '\0';
}

static bool value_in(const json_t *values, const char *v)
{
  size_t i;
  json_t *x;
  json_array_foreach (values, i, x)
    if (json_is_string(x) && strcmp(json_string_value(x), v) == 0) return true;
  return false;
}

/* One NodeSelectorRequirement against the value (NULL when absent). */
static bool requirement_matches(const json_t *req, const char *val)
{
  const char *op = jstr(req, "operator");
  const json_t *values = json_object_get(req, "values");
  if (!op) return false;
  if (strcmp(op, "In") == 0) return val && value_in(values, val);
  if (strcmp(op, "NotIn") == 0) return !val || !value_in(values, val);
  if (strcmp(op, "Exists") == 0) return val != NULL;
  if (strcmp(op, "DoesNotExist") == 0) return val == NULL;
  if (strcmp(op, "Gt") == 0 || strcmp(op, "Lt") == 0) {
    long long have, want;
    if (!val || json_array_size(values) != 1) return false;
    if (!parse_int64(val, &have) || !parse_int64(json_string_value(json_array_get(values, 0)), &want)) return false;
    return op[0] == 'G' ? have > want : have < want;
  }
  return false;
}

bool node_selector_term_matches(const json_t *term, const json_t *node)
{
  const json_t *exprs = json_object_get(term, "matchExpressions"), *fields = json_object_get(term, "matchFields");
  if (json_array_size(exprs) == 0 && json_array_size(fields) == 0) return false;
  const json_t *md = json_object_get(node, "metadata");
  const json_t *labels = json_object_get(md, "labels");
  size_t i;
  json_t *r;
  json_array_foreach (exprs, i, r) {
    const char *key = jstr(r, "key");
    if (!key || !requirement_matches(r, jstr(labels, key))) return false;
  }
  json_array_foreach (fields, i, r) {
    const char *key = jstr(r, "key");
    /* metadata.name is the only field upstream supports here. */
    if (!key || strcmp(key, "metadata.name") != 0) return false;
    if (!requirement_matches(r, jstr(md, "name"))) return false;
  }
  return true;
}

bool node_selector_matches(const json_t *node_selector, const json_t *node)
{
  size_t i;
  json_t *term;
  json_array_foreach (json_object_get(node_selector, "nodeSelectorTerms"), i, term)
    if (node_selector_term_matches(term, node)) return true;
  return false;
}

bool pod_matches_node_affinity(const json_t *pod, const json_t *node)
{
  const json_t *spec = json_object_get(pod, "spec");
  const json_t *sel = json_object_get(spec, "nodeSelector");
  const json_t *labels = json_object_get(json_object_get(node, "metadata"), "labels");
  const char *k;
  json_t *v;
  json_object_foreach ((json_t *)sel, k, v) {
    const char *have = jstr(labels, k);
    if (!have || !json_is_string(v) || strcmp(have, json_string_value(v)) != 0) return false;
  }
  const json_t *req = json_object_get(json_object_get(json_object_get(spec, "affinity"), "nodeAffinity"),
                                      "requiredDuringSchedulingIgnoredDuringExecution");
  return !req || node_selector_matches(req, node);
}
