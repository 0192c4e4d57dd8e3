/*
 * bootstrap_policy.c - upstream's bootstrap RBAC policy, created and
 * reconciled at every start (upstream's rbac/bootstrap-roles post-start
 * hook and pkg/registry/rbac/reconciliation).
 *
 * Every bootstrap ClusterRole and ClusterRoleBinding, and the Roles and
 * RoleBindings of kube-system and kube-public, carries the label
 * kubernetes.io/bootstrapping=rbac-defaults and the annotation
 * rbac.authorization.kubernetes.io/autoupdate=true.  At start each one is
 * compared with what is stored:
 *  - absent: created;
 *  - annotated autoupdate "false": left exactly as it is (the cluster
 *    operator took it over);
 *  - otherwise reconciled by union, never removing anything a user
 *    added: missing labels and annotations are added (stored values win),
 *    rules the stored role does not cover are appended broken down (one
 *    verb, group, resource each, as upstream), missing aggregation
 *    selectors appended; a binding gets its missing subjects appended and
 *    upstream's roleRef.
 * Objects are written straight to storage with the kind's defaults, as
 * bootstrap.c writes the registry's own objects; nothing is written when
 * everything is up to date.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kube/json.h>
#include <kube/log.h>
#include <kube/names.h>
#include <kube/timeutil.h>
#include <kube/xalloc.h>

#include "apiserver.h"
#include "auth/bootstrap_policy.h"
#include "auth/rbac_internal.h"
#include "registry/kinds_ext.h"
#include "registry/reg_internal.h"
#include "registry/registry.h"
#include "schema/schema.h"
#include "storage/storage.h"

#define BOOTSTRAP_LABEL "kubernetes.io/bootstrapping"
#define CONTROLLER_PREFIX "system:controller:"

/* "a,b" -> ["a","b"]; "" -> [""]; NULL -> NULL.  New reference. */
static json_t *csv_array(const char *csv)
{
  if (!csv) return NULL;
  json_t *a = json_array();
  const char *p = csv;
  for (;;) {
    const char *c = strchr(p, ',');
    size_t n = c ? (size_t)(c - p) : strlen(p);
    json_array_append_new(a, json_stringn(p, n));
    if (!c) break;
    p = c + 1;
  }
  return a;
}

static json_t *rule_json(const struct bp_rule *r)
{
  json_t *o = json_object();
  json_object_set_new(o, "verbs", csv_array(r->verbs));
  if (r->groups) json_object_set_new(o, "apiGroups", csv_array(r->groups));
  if (r->resources) json_object_set_new(o, "resources", csv_array(r->resources));
  if (r->names) json_object_set_new(o, "resourceNames", csv_array(r->names));
  if (r->urls) json_object_set_new(o, "nonResourceURLs", csv_array(r->urls));
  return o;
}

static json_t *bootstrap_meta(const char *name, const char *label)
{
  json_t *labels = json_pack("{s:s}", BOOTSTRAP_LABEL, "rbac-defaults");
  if (label) json_object_set_new(labels, label, json_string("true"));
  return json_pack("{s:s,s:o,s:{s:s}}", "name", name, "labels", labels, "annotations", RBAC_AUTOUPDATE_ANNOTATION,
                   "true");
}

/* A Role (ns set) or ClusterRole (ns NULL) from its table entry. */
static json_t *role_json(const struct bp_role *role, const char *prefix, const char *ns)
{
  char name[256];
  snprintf(name, sizeof(name), "%s%s", prefix, role->name);
  json_t *meta = bootstrap_meta(name, role->label);
  if (ns) json_object_set_new(meta, "namespace", json_string(ns));
  json_t *o = json_pack("{s:s,s:s,s:o}", "apiVersion", RBAC_GROUP "/v1", "kind", ns ? "Role" : "ClusterRole",
                        "metadata", meta);
  if (role->agg)
    json_object_set_new(o, "aggregationRule",
                        json_pack("{s:[{s:{s:s}}]}", "clusterRoleSelectors", "matchLabels", role->agg, "true"));
  json_t *rules = json_array();
  for (const struct bp_rule *r = role->rules; r && r->verbs; r++) json_array_append_new(rules, rule_json(r));
  json_object_set_new(o, "rules", rules);
  return o;
}

json_t *rbac_bootstrap_cluster_roles(void)
{
  json_t *out = json_array();
  for (const struct bp_role *r = bp_cluster_roles; r->name; r++) json_array_append_new(out, role_json(r, "", NULL));
  for (const struct bp_role *r = bp_controller_roles; r->name; r++)
    json_array_append_new(out, role_json(r, CONTROLLER_PREFIX, NULL));
  return out;
}

static json_t *subject_json(const char *kind, const char *name)
{
  const char *colon = strcmp(kind, "ServiceAccount") == 0 ? strchr(name, ':') : NULL;
  if (colon) {
    json_t *s = json_pack("{s:s,s:s}", "kind", kind, "name", colon + 1);
    json_object_set_new(s, "namespace", json_stringn(name, (size_t)(colon - name)));
    return s;
  }
  return json_pack("{s:s,s:s,s:s}", "kind", kind, "apiGroup", RBAC_GROUP, "name", name);
}

/* A RoleBinding of a Role (ns set) or a ClusterRoleBinding (ns NULL). */
static json_t *binding_json(const char *name, const char *role, const char *ns, json_t *subjects /* stolen */)
{
  json_t *meta = bootstrap_meta(name, NULL);
  if (ns) json_object_set_new(meta, "namespace", json_string(ns));
  json_t *o = json_pack("{s:s,s:s,s:o,s:{s:s,s:s,s:s}}", "apiVersion", RBAC_GROUP "/v1", "kind",
                        ns ? "RoleBinding" : "ClusterRoleBinding", "metadata", meta, "roleRef", "apiGroup",
                        RBAC_GROUP, "kind", ns ? "Role" : "ClusterRole", "name", role);
  if (json_array_size(subjects)) json_object_set(o, "subjects", subjects);
  json_decref(subjects);
  return o;
}

static json_t *table_binding_json(const struct bp_binding *b, const char *ns)
{
  json_t *subs = json_array();
  for (size_t i = 0; i < sizeof b->subjects / sizeof b->subjects[0] && b->subjects[i].kind; i++)
    json_array_append_new(subs, subject_json(b->subjects[i].kind, b->subjects[i].name));
  return binding_json(b->name, b->role, ns, subs);
}

json_t *rbac_bootstrap_cluster_role_bindings(void)
{
  json_t *out = json_array();
  for (const struct bp_binding *b = bp_cluster_role_bindings; b->name; b++)
    json_array_append_new(out, table_binding_json(b, NULL));
  for (const struct bp_role *r = bp_controller_roles; r->name; r++) {
    char name[256], sa[256];
    snprintf(name, sizeof(name), CONTROLLER_PREFIX "%s", r->name);
    snprintf(sa, sizeof(sa), "kube-system:%s", r->name);
    json_t *subs = json_array();
    json_array_append_new(subs, subject_json("ServiceAccount", sa));
    json_array_append_new(out, binding_json(name, name, NULL, subs));
  }
  return out;
}

json_t *rbac_bootstrap_namespace_roles(void)
{
  json_t *out = json_array();
  for (const struct bp_ns_role *r = bp_namespace_roles; r->ns; r++)
    json_array_append_new(out, role_json(&r->role, "", r->ns));
  return out;
}

json_t *rbac_bootstrap_namespace_role_bindings(void)
{
  json_t *out = json_array();
  for (const struct bp_ns_binding *b = bp_namespace_role_bindings; b->ns; b++)
    json_array_append_new(out, table_binding_json(&b->binding, b->ns));
  return out;
}

/* ---- reconciliation ---- */

static bool protected_object(const json_t *existing)
{
  json_t *ann = kj_get(existing, "metadata.annotations");
  const char *v = json_string_value(json_object_get(ann, RBAC_AUTOUPDATE_ANNOTATION));
  return v && strcmp(v, "false") == 0;
}

/* Adds the keys of want missing from result's metadata.FIELD. */
static bool merge_map(json_t *result, const json_t *expected, const char *field)
{
  json_t *want = json_object_get(json_object_get(expected, "metadata"), field);
  if (!json_object_size(want)) return false;
  json_t *meta = kj_obj(result, "metadata");
  json_t *have = json_object_get(meta, field);
  if (!json_is_object(have)) {
    have = json_object();
    json_object_set_new(meta, field, have);
  }
  bool changed = false;
  const char *k;
  json_t *v;
  json_object_foreach (want, k, v) {
    if (json_object_get(have, k)) continue;
    json_object_set(have, k, v);
    changed = true;
  }
  return changed;
}

static bool add_missing_rules(json_t *result, const json_t *expected)
{
  struct rbac_rules have, want;
  rbac_rules_parse(json_object_get(result, "rules"), &have);
  rbac_rules_parse(json_object_get(expected, "rules"), &want);
  json_t *missing = rbac_rules_uncovered(&have, &want);
  rbac_rules_free(&have);
  rbac_rules_free(&want);
  bool changed = json_array_size(missing) > 0;
  if (changed) {
    json_t *rules = json_object_get(result, "rules");
    if (!json_is_array(rules)) {
      rules = json_array();
      json_object_set_new(result, "rules", rules);
    }
    json_array_extend(rules, missing);
  }
  json_decref(missing);
  return changed;
}

/* Appends the elements of want[field] not found (deep equal) in
 * result[field] (path given as parent object + key). */
static bool add_missing_items(json_t *parent, const char *key, const json_t *want)
{
  if (!json_array_size(want)) return false;
  json_t *have = json_object_get(parent, key);
  if (!json_is_array(have)) {
    have = json_array();
    json_object_set_new(parent, key, have);
  }
  bool changed = false;
  size_t i, j;
  json_t *w, *h;
  json_array_foreach (want, i, w) {
    bool found = false;
    json_array_foreach (have, j, h) found = found || json_equal(h, w);
    if (found) continue;
    json_array_append(have, w);
    changed = true;
  }
  return changed;
}

json_t *rbac_reconcile_role(const json_t *expected, const json_t *existing)
{
  if (!existing) return kj_deep_copy(expected);
  if (protected_object(existing)) return NULL;
  json_t *result = kj_deep_copy(existing);
  bool changed = merge_map(result, expected, "labels");
  changed |= merge_map(result, expected, "annotations");
  changed |= add_missing_rules(result, expected);
  json_t *want_sel = kj_get(expected, "aggregationRule.clusterRoleSelectors");
  if (json_array_size(want_sel)) {
    json_t *agg = kj_obj(result, "aggregationRule");
    if (agg) changed |= add_missing_items(agg, "clusterRoleSelectors", want_sel);
  }
  if (changed) return result;
  json_decref(result);
  return NULL;
}

json_t *rbac_reconcile_binding(const json_t *expected, const json_t *existing)
{
  if (!existing) return kj_deep_copy(expected);
  if (protected_object(existing)) return NULL;
  json_t *result = kj_deep_copy(existing);
  bool changed = merge_map(result, expected, "labels");
  changed |= merge_map(result, expected, "annotations");
  json_t *ref = json_object_get(expected, "roleRef");
  if (!json_equal(ref, json_object_get(result, "roleRef"))) {
    json_object_set(result, "roleRef", ref);
    changed = true;
  }
  changed |= add_missing_items(result, "subjects", json_object_get(expected, "subjects"));
  if (changed) return result;
  json_decref(result);
  return NULL;
}

/* ---- writing to storage ---- */

struct bp_run {
  struct apiserver *srv;
  void (*done)(void *arg);
  void *arg;
  int pending;
  bool queued_all;
  int created, updated;
};

static void run_maybe_done(struct bp_run *run)
{
  if (run->pending > 0 || !run->queued_all) return;
  KLOG_I("rbac: bootstrap policy reconciled (%d created, %d updated)", run->created, run->updated);
  if (run->done) run->done(run->arg);
  free(run);
}

static void write_done(void *arg, int err, struct kv *kv, struct kv *prev)
{
  (void)kv;
  (void)prev;
  struct bp_run *run = arg;
  if (err) KLOG_E("rbac: bootstrap policy write failed: %d", err);
  run->pending--;
  run_maybe_done(run);
}

/* Metadata and defaults a create would give, and the Go type's encoding. */
static void finish_object(struct apiserver *srv, const struct resource *res, json_t *obj, bool created)
{
  if (created) {
    char uid[37], ts[40];
    names_uuid(uid);
    kj_set_str(obj, "metadata.uid", uid);
    kj_set_str(obj, "metadata.creationTimestamp", ktime_now_str(ts));
  }
  if (res->defaults) res->defaults(obj);
  const struct schema *sc = srv->schema;
  const struct stype *t = sc ? schema_kind(sc, res->group, res->version, res->kind) : NULL;
  char err[256];
  if (t && schema_decode(sc, t, obj, NULL, err, sizeof err) < 0)
    KLOG_E("rbac: bootstrap %s does not encode: %s", res->kind, err);
}

static void reconcile_one(struct bp_run *run, const struct resource *res, const json_t *expected,
                          json_t *(*reconcile)(const json_t *, const json_t *))
{
  const char *name = kj_get_str(expected, "metadata.name");
  char *key = reg_key(res, kj_get_str(expected, "metadata.namespace"), name);
  struct kv *kv = storage_get(run->srv->storage, key);
  json_t *existing = kv ? kj_loadb(kv->bytes, kv->len, false, NULL, 0) : NULL;
  json_t *obj = reconcile(expected, existing);
  if (obj) {
    finish_object(run->srv, res, obj, !existing);
    char *attrs = registry_attrs(res, obj);
    run->pending++;
    int rc = existing ? storage_update(run->srv->storage, key, obj, attrs, kv->mod_rev, write_done, run)
                      : storage_create(run->srv->storage, key, obj, attrs, write_done, run);
    if (rc) {
      run->pending--;
      KLOG_E("rbac: bootstrap write of %s failed: %d", key, rc);
    } else if (existing) {
      run->updated++;
      KLOG_I("rbac: updated %s %s with missing %s", res->kind, name,
             res == &reg_clusterroles || res == &reg_roles ? "permissions" : "subjects or role reference");
    } else {
      run->created++;
    }
    free(attrs);
    json_decref(obj);
  }
  json_decref(existing);
  free(key);
}

int rbac_bootstrap_policy(struct apiserver *srv, void (*done)(void *arg), void *arg)
{
  if (!srv || !srv->storage) return -1;
  struct bp_run *run = xcalloc(1, sizeof(*run));
  run->srv = srv;
  run->done = done;
  run->arg = arg;
  json_t *roles = rbac_bootstrap_cluster_roles();
  json_t *bindings = rbac_bootstrap_cluster_role_bindings();
  size_t i;
  json_t *o;
  json_array_foreach (roles, i, o) reconcile_one(run, &reg_clusterroles, o, rbac_reconcile_role);
  json_array_foreach (bindings, i, o) reconcile_one(run, &reg_clusterrolebindings, o, rbac_reconcile_binding);
  json_decref(roles);
  json_decref(bindings);
  roles = rbac_bootstrap_namespace_roles();
  bindings = rbac_bootstrap_namespace_role_bindings();
  json_array_foreach (roles, i, o) reconcile_one(run, &reg_roles, o, rbac_reconcile_role);
  json_array_foreach (bindings, i, o) reconcile_one(run, &reg_rolebindings, o, rbac_reconcile_binding);
  json_decref(roles);
  json_decref(bindings);
  run->queued_all = true;
  run_maybe_done(run);
  return 0;
}
