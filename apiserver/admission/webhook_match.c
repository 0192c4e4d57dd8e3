/*
 * webhook_match.c - which webhooks a request reaches, as upstream's
 * webhook/predicates (rules.Matcher, namespace.Matcher, object.Matcher).
 *
 * A rule matches when each of its lists does: operations ("*" or the
 * operation), apiGroups and apiVersions ("*" or the value), resources
 * ("*" every resource but no subresource, "* / *" everything, "pods" the
 * main resource only, "pods/ *" every subresource of pods, "* /status" the
 * status of every resource, "pods/status" exactly) and scope ("*",
 * "Cluster": cluster-scoped resources and Namespace objects, "Namespaced":
 * namespaced resources); the spaced forms above are written without spaces.  Selectors are LabelSelectors evaluated with the
 * common selector code; an absent or empty selector matches everything.
 */
#define _GNU_SOURCE
#include "admission/webhook.h"

#include <stdio.h>
#include <string.h>

#include <kube/json.h>
#include <kube/selector.h>

static bool list_has(const json_t *list, const char *v)
{
  size_t i;
  json_t *e;
  json_array_foreach (list, i, e) {
    const char *s = json_string_value(e);
    if (s && (!strcmp(s, "*") || !strcmp(s, v))) return true;
  }
  return false;
}

/* One `resources` entry against resource and subresource ("" for none). */
static bool resource_entry_matches(const char *entry, const char *res, const char *sub)
{
  const char *slash = strchr(entry, '/');
  size_t rlen = slash ? (size_t)(slash - entry) : strlen(entry);
  const char *esub = slash ? slash + 1 : "";
  bool res_ok = (rlen == 1 && entry[0] == '*') || (strlen(res) == rlen && !strncmp(entry, res, rlen));
  if (!res_ok) return false;
  if (!slash) return !*sub;
  return !strcmp(esub, "*") || !strcmp(esub, sub);
}

static bool is_namespace_object(const struct webhook_attrs *a)
{
  return !*a->group && !strcmp(a->resource, "namespaces");
}

static bool scope_matches(const char *scope, const struct webhook_attrs *a)
{
  if (!scope || !strcmp(scope, "*")) return true;
  bool has_ns = a->namespace_ && *a->namespace_;
  if (!strcmp(scope, "Namespaced")) return !is_namespace_object(a) && has_ns;
  if (!strcmp(scope, "Cluster")) return is_namespace_object(a) || !has_ns;
  return false;
}

static bool rule_matches(const json_t *rule, const struct webhook_attrs *a)
{
  const char *sub = a->subresource ? a->subresource : "";
  if (!list_has(json_object_get(rule, "operations"), a->operation)) return false;
  if (!list_has(json_object_get(rule, "apiGroups"), a->group)) return false;
  if (!list_has(json_object_get(rule, "apiVersions"), a->version)) return false;
  size_t i;
  json_t *e;
  bool res_ok = false;
  json_array_foreach (json_object_get(rule, "resources"), i, e) {
    const char *s = json_string_value(e);
    if (s && resource_entry_matches(s, a->resource, sub)) {
      res_ok = true;
      break;
    }
  }
  return res_ok && scope_matches(json_string_value(json_object_get(rule, "scope")), a);
}

bool webhook_rules_match(const json_t *rules, const struct webhook_attrs *a)
{
  size_t i;
  json_t *r;
  json_array_foreach (rules, i, r)
    if (rule_matches(r, a)) return true;
  return false;
}

bool webhook_is_exempt(const struct webhook_attrs *a)
{
  return !strcmp(a->group, "admissionregistration.k8s.io") &&
         (!strcmp(a->resource, "validatingwebhookconfigurations") ||
          !strcmp(a->resource, "mutatingwebhookconfigurations"));
}

bool webhook_namespace_selector_applies(const struct webhook_attrs *a)
{
  return a->namespaced || is_namespace_object(a);
}

const json_t *webhook_namespace_labels(const struct webhook_attrs *a, const json_t *ns_obj)
{
  if (is_namespace_object(a) && !(a->subresource && *a->subresource)) {
    const json_t *o = a->object ? a->object : a->old_object;
    return kj_get(o, "metadata.labels");
  }
  return kj_get(ns_obj, "metadata.labels");
}

bool webhook_selector_matches(const json_t *selector, const json_t *labels)
{
  if (!selector || json_is_null(selector) || json_object_size(selector) == 0) return true;
  char err[256];
  struct labelsel *s = labelsel_from_json(selector, err, sizeof err);
  if (!s) return false; /* validation refuses such selectors; match nothing */
  bool ok = labelsel_matches(s, labels);
  labelsel_free(s);
  return ok;
}

bool webhook_object_selector_matches(const json_t *selector, const struct webhook_attrs *a)
{
  if (!selector || json_object_size(selector) == 0) return true;
  if (a->object && webhook_selector_matches(selector, kj_get(a->object, "metadata.labels"))) return true;
  return a->old_object && webhook_selector_matches(selector, kj_get(a->old_object, "metadata.labels"));
}
