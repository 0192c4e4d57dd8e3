/*
 * rbac_rules.c - PolicyRule evaluation, with upstream's semantics
 * (pkg/apis/rbac/v1/evaluation_helpers.go, the authorizer's RuleAllows,
 * component-helpers' policy comparator and the registry's CompactRules).
 *
 * Matching a request (rbac_rule_allows):
 *  - verbs: "*" or the request's verb;
 *  - resource requests: apiGroups "*" or the group; resources "*", the
 *    combined "resource/subresource", or "*\/subresource"; resourceNames
 *    empty, or containing the request's name (so a request without a
 *    name - list, watch, create of a collection - never matches a rule
 *    with resourceNames);
 *  - non-resource requests: nonResourceURLs "*", the path, or a prefix
 *    ending in "*".
 *
 * Coverage (rbac_rules_cover, for escalation checks) breaks every servant
 * rule down into one-verb, one-group, one-resource(, one-name) rules and
 * requires each to be covered by a single owner rule.  Uncovered rules
 * are merged by group/resource/name (verbs joined) and printed as Go's
 * CompactString, sorted.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kube/xalloc.h>

#include "auth/rbac_internal.h"

static void strv_parse(const json_t *arr, struct rbac_strv *out)
{
  out->v = NULL;
  out->n = 0;
  if (!json_is_array(arr) || json_array_size(arr) == 0) return;
  out->v = xcalloc(json_array_size(arr), sizeof(char *));
  size_t i;
  json_t *s;
  json_array_foreach (arr, i, s)
    if (json_is_string(s)) out->v[out->n++] = xstrdup(json_string_value(s));
}

static void strv_free(struct rbac_strv *s)
{
  for (size_t i = 0; i < s->n; i++) free(s->v[i]);
  free(s->v);
  s->v = NULL;
  s->n = 0;
}

void rbac_rules_parse(const json_t *rules, struct rbac_rules *out)
{
  out->v = NULL;
  out->n = 0;
  if (!json_is_array(rules) || json_array_size(rules) == 0) return;
  out->v = xcalloc(json_array_size(rules), sizeof(*out->v));
  size_t i;
  json_t *r;
  json_array_foreach (rules, i, r) {
    if (!json_is_object(r)) continue;
    struct rbac_rule *d = &out->v[out->n++];
    strv_parse(json_object_get(r, "verbs"), &d->verbs);
    strv_parse(json_object_get(r, "apiGroups"), &d->groups);
    strv_parse(json_object_get(r, "resources"), &d->resources);
    strv_parse(json_object_get(r, "resourceNames"), &d->names);
    strv_parse(json_object_get(r, "nonResourceURLs"), &d->urls);
  }
}

void rbac_rules_free(struct rbac_rules *r)
{
  for (size_t i = 0; i < r->n; i++) {
    strv_free(&r->v[i].verbs);
    strv_free(&r->v[i].groups);
    strv_free(&r->v[i].resources);
    strv_free(&r->v[i].names);
    strv_free(&r->v[i].urls);
  }
  free(r->v);
  r->v = NULL;
  r->n = 0;
}

static json_t *strv_json(const struct rbac_strv *s)
{
  json_t *a = json_array();
  for (size_t i = 0; i < s->n; i++) json_array_append_new(a, json_string(s->v[i]));
  return a;
}

json_t *rbac_rule_json(const struct rbac_rule *rule)
{
  json_t *o = json_object();
  json_object_set_new(o, "verbs", strv_json(&rule->verbs));
  if (rule->groups.n) json_object_set_new(o, "apiGroups", strv_json(&rule->groups));
  if (rule->resources.n) json_object_set_new(o, "resources", strv_json(&rule->resources));
  if (rule->names.n) json_object_set_new(o, "resourceNames", strv_json(&rule->names));
  if (rule->urls.n) json_object_set_new(o, "nonResourceURLs", strv_json(&rule->urls));
  return o;
}

static bool has(const struct rbac_strv *s, const char *x)
{
  for (size_t i = 0; i < s->n; i++)
    if (strcmp(s->v[i], x) == 0) return true;
  return false;
}

static bool has_or_star(const struct rbac_strv *s, const char *x)
{
  for (size_t i = 0; i < s->n; i++)
    if ((s->v[i][0] == '*' && s->v[i][1] == '\0') || strcmp(s->v[i], x) == 0) return true;
  return false;
}

/* ResourceMatches: resource is "pods" or "pods/log"; sub "" or "log". */
static bool resource_matches(const struct rbac_strv *s, const char *res, const char *sub, const char *combined)
{
  size_t sublen = strlen(sub);
  for (size_t i = 0; i < s->n; i++) {
    const char *r = s->v[i];
    if ((r[0] == '*' && r[1] == '\0') || strcmp(r, combined) == 0) return true;
    if (sublen && r[0] == '*' && r[1] == '/' && strlen(r) == sublen + 2 && strcmp(r + 2, sub) == 0) return true;
  }
  (void)res;
  return false;
}

static bool url_matches(const struct rbac_strv *s, const char *path)
{
  for (size_t i = 0; i < s->n; i++) {
    const char *u = s->v[i];
    if ((u[0] == '*' && u[1] == '\0') || strcmp(u, path) == 0) return true;
    size_t l = strlen(u);
    if (l && u[l - 1] == '*') {
      while (l && u[l - 1] == '*') l--; /* TrimRight "*" */
      if (strncmp(path, u, l) == 0) return true;
    }
  }
  return false;
}

bool rbac_rule_allows(const struct rbac_rule *rule, const struct authz_attrs *a)
{
  if (!has_or_star(&rule->verbs, a->verb ? a->verb : "")) return false;
  if (!a->resource_request) return url_matches(&rule->urls, a->path ? a->path : "");
  if (!has_or_star(&rule->groups, a->api_group ? a->api_group : "")) return false;
  const char *res = a->resource ? a->resource : "", *sub = a->subresource ? a->subresource : "";
  char buf[256];
  const char *combined = res;
  char *heap = NULL;
  if (*sub) {
    size_t need = strlen(res) + strlen(sub) + 2;
    char *p = need <= sizeof(buf) ? buf : (heap = xmalloc(need));
    snprintf(p, need, "%s/%s", res, sub);
    combined = p;
  }
  bool ok = resource_matches(&rule->resources, res, sub, combined);
  free(heap);
  if (!ok) return false;
  if (rule->names.n == 0) return true;
  return has(&rule->names, a->name ? a->name : "");
}

/* ---- coverage ---- */

/* One broken-down servant rule: at most one of each. */
struct subrule {
  const char *verb, *group, *resource, *name, *url;
};

static bool resource_covers(const struct rbac_strv *owner, const char *res)
{
  if (has_or_star(owner, res)) return true;
  const char *slash = strchr(res, '/');
  if (!slash) return false;
  for (size_t i = 0; i < owner->n; i++)
    if (owner->v[i][0] == '*' && owner->v[i][1] == '/' && strcmp(owner->v[i] + 2, slash + 1) == 0) return true;
  return false;
}

static bool url_covers(const struct rbac_strv *owner, const char *path)
{
  for (size_t i = 0; i < owner->n; i++) {
    const char *o = owner->v[i];
    if (strcmp(o, path) == 0) return true;
    size_t l = strlen(o);
    if (l && o[l - 1] == '*') {
      while (l && o[l - 1] == '*') l--;
      if (strncmp(path, o, l) == 0) return true;
    }
  }
  return false;
}

/* ruleCovers for a broken-down rule. */
static bool rule_covers(const struct rbac_rule *o, const struct subrule *s)
{
  if (!has_or_star(&o->verbs, s->verb)) return false;
  if (s->url) return url_covers(&o->urls, s->url);
  if (!has_or_star(&o->groups, s->group)) return false;
  if (!resource_covers(&o->resources, s->resource)) return false;
  if (!s->name) return o->names.n == 0;
  return o->names.n == 0 || has(&o->names, s->name);
}

void rbac_quote_strv(char **buf, size_t *len, const char *const *v, size_t n)
{
  FILE *f = open_memstream(buf, len);
  fputc('[', f);
  for (size_t i = 0; i < n; i++) {
    if (i) fputc(' ', f);
    fputc('"', f);
    for (const char *p = v[i]; *p; p++) {
      if (*p == '"' || *p == '\\') fputc('\\', f);
      fputc(*p, f);
    }
    fputc('"', f);
  }
  fputc(']', f);
  fclose(f);
}

/* An uncovered rule as upstream compacts it: one group, one resource, at
 * most one name and the verbs gathered; or one URL and a verb. */
struct missing {
  const char *group, *resource, *name, *url;
  const char **verbs;
  size_t nverbs;
};

static void append_field(FILE *f, bool *first, const char *label, const char *const *v, size_t n)
{
  if (!n) return;
  char *q = NULL;
  size_t ql = 0;
  rbac_quote_strv(&q, &ql, v, n);
  fprintf(f, "%s%s:%s", *first ? "" : ", ", label, q);
  *first = false;
  free(q);
}

/* Go's rbacv1helpers.CompactString. */
static char *missing_string(const struct missing *m)
{
  char *out = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&out, &len);
  bool first = true;
  fputc('{', f);
  if (m->url) {
    append_field(f, &first, "NonResourceURLs", &m->url, 1);
  } else {
    append_field(f, &first, "APIGroups", &m->group, 1);
    append_field(f, &first, "Resources", &m->resource, 1);
    if (m->name) append_field(f, &first, "ResourceNames", &m->name, 1);
  }
  append_field(f, &first, "Verbs", m->verbs, m->nverbs);
  fputc('}', f);
  fclose(f);
  return out;
}

static bool same(const char *a, const char *b) { return (!a && !b) || (a && b && strcmp(a, b) == 0); }

static void add_missing(struct missing **ms, size_t *n, const struct subrule *s)
{
  /* URL rules are not "simple" upstream: never merged */
  for (size_t i = 0; !s->url && i < *n; i++) {
    struct missing *m = &(*ms)[i];
    if (!m->url && same(m->group, s->group) && same(m->resource, s->resource) && same(m->name, s->name)) {
      m->verbs = xrealloc(m->verbs, (m->nverbs + 1) * sizeof(char *));
      m->verbs[m->nverbs++] = s->verb;
      return;
    }
  }
  *ms = xrealloc(*ms, (*n + 1) * sizeof(**ms));
  struct missing *m = &(*ms)[(*n)++];
  *m = (struct missing){s->group, s->resource, s->name, s->url, xmalloc(sizeof(char *)), 1};
  m->verbs[0] = s->verb;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Sorted, de-duplicated lines (sets.NewString(...).List()). */
static char *missing_text(struct missing *ms, size_t n)
{
  char **lines = xcalloc(n ? n : 1, sizeof(char *));
  for (size_t i = 0; i < n; i++) lines[i] = missing_string(&ms[i]);
  qsort(lines, n, sizeof(char *), cmp_str);
  char *out = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&out, &len);
  for (size_t i = 0, w = 0; i < n; i++) {
    if (i && strcmp(lines[i], lines[i - 1]) == 0) continue;
    fprintf(f, "%s%s", w++ ? "\n" : "", lines[i]);
  }
  fclose(f);
  for (size_t i = 0; i < n; i++) free(lines[i]);
  free(lines);
  return out;
}

static bool covered(const struct rbac_rule *const *owner, size_t nowner, const struct subrule *s)
{
  for (size_t i = 0; i < nowner; i++)
    if (rule_covers(owner[i], s)) return true;
  return false;
}

/* BreakdownRule, checking each piece as it is made. */
static void check_rule(const struct rbac_rule *const *owner, size_t nowner, const struct rbac_rule *r,
                       struct missing **ms, size_t *nms)
{
  for (size_t g = 0; g < r->groups.n; g++)
    for (size_t res = 0; res < r->resources.n; res++)
      for (size_t v = 0; v < r->verbs.n; v++) {
        struct subrule s = {r->verbs.v[v], r->groups.v[g], r->resources.v[res], NULL, NULL};
        if (!r->names.n) {
          if (!covered(owner, nowner, &s)) add_missing(ms, nms, &s);
          continue;
        }
        for (size_t k = 0; k < r->names.n; k++) {
          s.name = r->names.v[k];
          if (!covered(owner, nowner, &s)) add_missing(ms, nms, &s);
        }
      }
  for (size_t u = 0; u < r->urls.n; u++)
    for (size_t v = 0; v < r->verbs.n; v++) {
      struct subrule s = {r->verbs.v[v], NULL, NULL, NULL, r->urls.v[u]};
      if (!covered(owner, nowner, &s)) add_missing(ms, nms, &s);
    }
}

bool rbac_rules_cover(const struct rbac_rule *const *owner, size_t nowner, const struct rbac_rules *servant,
                      char **missing)
{
  struct missing *ms = NULL;
  size_t nms = 0;
  for (size_t i = 0; i < servant->n; i++) check_rule(owner, nowner, &servant->v[i], &ms, &nms);
  if (nms && missing) *missing = missing_text(ms, nms);
  for (size_t i = 0; i < nms; i++) free(ms[i].verbs);
  free(ms);
  return nms == 0;
}

static json_t *one(const char *s)
{
  json_t *a = json_array();
  json_array_append_new(a, json_string(s));
  return a;
}

json_t *rbac_rules_uncovered(const struct rbac_rules *owner, const struct rbac_rules *servant)
{
  const struct rbac_rule **ov = xcalloc(owner->n + 1, sizeof(*ov));
  for (size_t i = 0; i < owner->n; i++) ov[i] = &owner->v[i];
  json_t *out = json_array();
  for (size_t i = 0; i < servant->n; i++) {
    const struct rbac_rule *r = &servant->v[i];
    for (size_t g = 0; g < r->groups.n; g++)
      for (size_t res = 0; res < r->resources.n; res++)
        for (size_t v = 0; v < r->verbs.n; v++)
          for (size_t k = 0; k < (r->names.n ? r->names.n : 1); k++) {
            struct subrule s = {r->verbs.v[v], r->groups.v[g], r->resources.v[res], r->names.n ? r->names.v[k] : NULL,
                                NULL};
            if (covered(ov, owner->n, &s)) continue;
            json_t *o = json_pack("{s:o,s:o,s:o}", "verbs", one(s.verb), "apiGroups", one(s.group), "resources",
                                  one(s.resource));
            if (s.name) json_object_set_new(o, "resourceNames", one(s.name));
            json_array_append_new(out, o);
          }
    for (size_t u = 0; u < r->urls.n; u++)
      for (size_t v = 0; v < r->verbs.n; v++) {
        struct subrule s = {r->verbs.v[v], NULL, NULL, NULL, r->urls.v[u]};
        if (!covered(ov, owner->n, &s))
          json_array_append_new(out, json_pack("{s:o,s:o}", "verbs", one(s.verb), "nonResourceURLs", one(s.url)));
      }
  }
  free(ov);
  return out;
}
