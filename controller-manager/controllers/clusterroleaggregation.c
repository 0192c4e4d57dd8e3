/*
 * clusterroleaggregation.c - the "clusterrole-aggregation" controller
 * (upstream pkg/controller/clusterroleaggregation): a ClusterRole with an
 * aggregationRule holds the union of the rules of the ClusterRoles its
 * selectors pick, so `admin`, `edit` and `view` grow when a CRD's
 * installer labels a role rbac.authorization.k8s.io/aggregate-to-view.
 *
 * Any ClusterRole change may change any aggregate, so every change
 * enqueues every aggregated ClusterRole; sync recomputes the union from
 * the informer cache (selectors in order; selected roles by name; the
 * role itself skipped; a rule equal to one already taken is not repeated)
 * and writes the role when its rules differ.  Only rules are written:
 * labels, annotations and the aggregationRule stay as they are.
 */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller_utils.h"
#include "controllers/clusterroleaggregation.h"
#include "kube/informer.h"
#include "kube/json.h"
#include "kube/selector.h"

#define CM_CLUSTERROLES "/apis/rbac.authorization.k8s.io/v1/clusterroles"

static int by_name(const void *a, const void *b)
{
  const char *x = kj_get_str(*(json_t *const *)a, "metadata.name");
  const char *y = kj_get_str(*(json_t *const *)b, "metadata.name");
  return strcmp(x ? x : "", y ? y : "");
}

static bool rule_in(const json_t *rules, const json_t *r)
{
  size_t i;
  json_t *x;
  json_array_foreach (rules, i, x)
    if (json_equal(x, r)) return true;
  return false;
}

/* The roles of all, sorted by name (borrowed pointers). */
static json_t **sorted_roles(const json_t *all, size_t *n)
{
  *n = json_array_size(all);
  json_t **v = calloc(*n ? *n : 1, sizeof(*v));
  for (size_t i = 0; i < *n; i++) v[i] = json_array_get(all, i);
  qsort(v, *n, sizeof(*v), by_name);
  return v;
}

json_t *cra_aggregate_rules(const json_t *role, const json_t *all)
{
  json_t *agg = json_object_get(role, "aggregationRule");
  if (!json_is_object(agg)) return NULL;
  const char *self = kj_get_str(role, "metadata.name");
  size_t n;
  json_t **roles = sorted_roles(all, &n);
  json_t *out = json_array();
  size_t i;
  json_t *sel;
  json_array_foreach (json_object_get(agg, "clusterRoleSelectors"), i, sel) {
    struct labelsel *ls = labelsel_from_json(sel, NULL, 0);
    if (!ls) continue; /* an invalid selector selects nothing (validation refuses it) */
    for (size_t k = 0; k < n; k++) {
      const char *name = kj_get_str(roles[k], "metadata.name");
      if (self && name && strcmp(name, self) == 0) continue;
      if (!labelsel_matches(ls, kj_get(roles[k], "metadata.labels"))) continue;
      size_t j;
      json_t *r;
      json_array_foreach (json_object_get(roles[k], "rules"), j, r)
        if (!rule_in(out, r)) json_array_append(out, r);
    }
    labelsel_free(ls);
  }
  free(roles);
  return out;
}

void cra_compute(const json_t *role, const json_t *all, struct cm_actions *acts)
{
  json_t *rules = cra_aggregate_rules(role, all);
  if (!rules) return;
  json_t *have = json_object_get(role, "rules");
  bool same = json_array_size(rules) == 0 ? json_array_size(have) == 0 : json_equal(rules, have);
  if (same) {
    json_decref(rules);
    return;
  }
  json_t *c = kj_deep_copy(role);
  json_object_set_new(c, "apiVersion", json_string("rbac.authorization.k8s.io/v1"));
  json_object_set_new(c, "kind", json_string("ClusterRole"));
  json_object_set_new(c, "rules", rules);
  char path[600];
  cm_path(path, sizeof path, "/apis/rbac.authorization.k8s.io/v1", NULL, "clusterroles",
          kj_get_str(role, "metadata.name"), NULL);
  cm_act(acts, CM_PUT, path, c);
}

struct cra_ctl {
  struct cm_base base;
  struct informer *roles;
  json_t *aggregated; /* names of the roles with an aggregationRule -> true */
};

static void cra_sync(struct cm_base *b, const char *key)
{
  struct cra_ctl *c = (struct cra_ctl *)b;
  json_t *role = informer_store_get_obj(c->roles, key);
  struct cm_actions acts;
  cm_actions_init(&acts);
  if (role) {
    json_t *all = informer_store_list(c->roles);
    cra_compute(role, all, &acts);
    json_decref(all);
  }
  json_decref(role);
  cm_base_exec(b, key, &acts, NULL, -1);
  cm_actions_clear(&acts);
}

/* Tracks obj's aggregation, then enqueues every aggregated role: each
 * may depend on any role. */
static void role_changed(struct cra_ctl *c, const json_t *obj, bool gone)
{
  const char *name = kj_get_str(obj, "metadata.name");
  if (name) {
    if (!gone && json_is_object(json_object_get(obj, "aggregationRule")))
      json_object_set_new(c->aggregated, name, json_true());
    else json_object_del(c->aggregated, name);
  }
  const char *k;
  json_t *v;
  json_object_foreach (c->aggregated, k, v) cm_base_enqueue_key(&c->base, k);
}

static void role_added(void *arg, const json_t *obj) { role_changed(arg, obj, false); }
static void role_updated(void *arg, const json_t *o, const json_t *n)
{
  (void)o;
  role_changed(arg, n, false);
}
static void role_deleted(void *arg, const json_t *obj, bool unknown)
{
  (void)unknown;
  role_changed(arg, obj, true);
}

static void cra_fini(struct cm_base *b)
{
  struct cra_ctl *c = (struct cra_ctl *)b;
  json_decref(c->aggregated);
  c->aggregated = NULL;
}

static int cra_init(struct cm_base *b)
{
  struct cra_ctl *c = (struct cra_ctl *)b;
  c->aggregated = json_object();
  c->roles = informer_factory_get(b->ctx->informers, CM_CLUSTERROLES);
  struct informer_handlers h = {role_added, role_updated, role_deleted, c};
  informer_add_handlers(c->roles, &h);
  return 0;
}

const struct controller_def ctrl_clusterrole_aggregation = {
    .name = "clusterrole-aggregation",
    .service_account = "clusterrole-aggregation-controller",
    .enabled_by_default = true,
    .size = sizeof(struct cra_ctl),
    .queue = "ClusterRoleAggregator",
    .component = "clusterrole-aggregation-controller",
    .workers = 5,
    .sync = cra_sync,
    .init = cra_init,
    .fini = cra_fini,
};
