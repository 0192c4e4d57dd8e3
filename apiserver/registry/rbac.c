/*
 * rbac.c - the rbac.authorization.k8s.io/v1 strategies for Roles,
 * ClusterRoles, RoleBindings and ClusterRoleBindings (upstream
 * pkg/registry/rbac, pkg/apis/rbac/validation, printRole/printRoleBinding).
 *
 * Rules need verbs and either resources (with apiGroups) or
 * nonResourceURLs - the latter only in ClusterRoles.  A binding's roleRef
 * names a Role or ClusterRole of this API group and can never change,
 * since re-pointing a binding would silently re-grant its subjects.
 *
 * Privilege escalation is prevented at admission (upstream's
 * policybased storages): a user may write a Role or ClusterRole only
 * with rules it holds itself (in the role's namespace), unless it may
 * `escalate` roles/clusterroles; and a binding only to a role whose rules
 * it holds, unless it may `bind` that role.  Members of system:masters
 * and the insecure port (no user) are not checked, nor updates that only
 * touch what garbage collection changes (owner references, finalizers).
 * Refusals are 403 Forbidden with upstream's message.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kube/json.h>
#include <kube/names.h>

#include <kube/status.h>

#include "apiserver.h"
#include "auth/authn.h"
#include "auth/rbac_internal.h"
#include "registry/ext_internal.h"
#include "registry/kinds_ext.h"

static void validate_rule(const json_t *rule, const char *f, bool namespaced, json_t *causes)
{
  char ff[256];
  json_t *urls = json_object_get(rule, "nonResourceURLs");
  snprintf(ff, sizeof(ff), "%s.verbs", f);
  if (json_array_size(json_object_get(rule, "verbs")) == 0)
    reg_cause_add(causes, REG_REQUIRED, ff, "Required value: verbs must contain at least one value");
  if (json_array_size(urls) > 0) {
    snprintf(ff, sizeof(ff), "%s.nonResourceURLs", f);
    if (namespaced) reg_cause_invalid(causes, ff, urls, "namespaced rules cannot apply to non-resource URLs");
    else if (json_array_size(json_object_get(rule, "apiGroups")) || json_array_size(json_object_get(rule, "resources")))
      reg_cause_invalid(causes, ff, urls, "rules cannot apply to both regular resources and non-resource URLs");
    return;
  }
  snprintf(ff, sizeof(ff), "%s.apiGroups", f);
  if (json_array_size(json_object_get(rule, "apiGroups")) == 0)
    reg_cause_add(causes, REG_REQUIRED, ff, "Required value: resource rules must supply at least one api group");
  snprintf(ff, sizeof(ff), "%s.resources", f);
  if (json_array_size(json_object_get(rule, "resources")) == 0)
    reg_cause_add(causes, REG_REQUIRED, ff, "Required value: resource rules must supply at least one resource");
}

static void validate_meta(const json_t *obj, const json_t *old, bool namespaced, json_t *causes)
{
  reg_validate_object_meta_fn(obj, namespaced, names_is_path_segment, causes);
  if (old) reg_validate_object_meta_update(obj, old, causes);
}

static void role_validate_common(const json_t *obj, const json_t *old, bool namespaced, json_t *causes)
{
  validate_meta(obj, old, namespaced, causes);
  size_t i;
  json_t *r;
  json_array_foreach (json_object_get(obj, "rules"), i, r) {
    char f[64];
    snprintf(f, sizeof(f), "rules[%zu]", i);
    validate_rule(r, f, namespaced, causes);
  }
}

static void role_validate(struct reg_request *rq, const json_t *obj, const json_t *old, json_t *causes)
{
  role_validate_common(obj, old, true, causes);
}

static void clusterrole_validate(struct reg_request *rq, const json_t *obj, const json_t *old, json_t *causes)
{
  role_validate_common(obj, old, false, causes);
  size_t i;
  json_t *s;
  json_t *agg = json_object_get(obj, "aggregationRule");
  if (agg) {
    json_t *sels = json_object_get(agg, "clusterRoleSelectors");
    if (json_array_size(sels) == 0)
      reg_cause_add(causes, REG_REQUIRED, "aggregationRule.clusterRoleSelectors",
                    "Required value: at least one clusterRoleSelector required if aggregationRule is non-nil");
    json_array_foreach (sels, i, s) {
      char f[96];
      snprintf(f, sizeof(f), "aggregationRule.clusterRoleSelectors[%zu]", i);
      reg_validate_label_selector(s, f, causes);
    }
  }
}

/* Go's %#v of the internal RoleRef, as the immutability message shows it. */
static void roleref_immutable(const json_t *obj, const json_t *old, json_t *causes)
{
  json_t *a = json_object_get(obj, "roleRef"), *b = json_object_get(old, "roleRef");
  if (a == b || (a && b && json_equal(a, b))) return;
  reg_cause_add(causes, REG_INVALID, "roleRef",
                "Invalid value: rbac.RoleRef{APIGroup:\"%s\", Kind:\"%s\", Name:\"%s\"}: cannot change roleRef",
                reg_str_or(kj_get_str(a, "apiGroup"), ""), reg_str_or(kj_get_str(a, "kind"), ""),
                reg_str_or(kj_get_str(a, "name"), ""));
}

static void binding_validate_common(const json_t *obj, const json_t *old, bool namespaced, json_t *causes)
{
  validate_meta(obj, old, namespaced, causes);
  const json_t *ref = json_object_get(obj, "roleRef");
  static const char *const groups[] = {RBAC_GROUP, NULL};
  static const char *const ns_kinds[] = {"Role", "ClusterRole", NULL};
  static const char *const cl_kinds[] = {"ClusterRole", NULL};
  const char *g = kj_get_str(ref, "apiGroup");
  const char *k = kj_get_str(ref, "kind");
  const char *n = kj_get_str(ref, "name");
  if (!g || strcmp(g, RBAC_GROUP)) reg_cause_not_supported(causes, "roleRef.apiGroup", g ? g : "", groups);
  if (!k || !*k) reg_cause_not_supported(causes, "roleRef.kind", "", namespaced ? ns_kinds : cl_kinds);
  else reg_check_enum(causes, "roleRef.kind", k, namespaced ? ns_kinds : cl_kinds);
  char msg[512];
  if (!n || !*n) reg_cause_add(causes, REG_REQUIRED, "roleRef.name", "Required value");
  else if (!names_is_path_segment(n, msg, sizeof(msg))) reg_cause_invalid_str(causes, "roleRef.name", n, msg);

  size_t i;
  json_t *s;
  json_array_foreach (json_object_get(obj, "subjects"), i, s) {
    char f[64], ff[128];
    snprintf(f, sizeof(f), "subjects[%zu]", i);
    const char *sk = kj_get_str(s, "kind"), *sn = kj_get_str(s, "name"), *sg = kj_get_str(s, "apiGroup");
    const char *sns = kj_get_str(s, "namespace");
    snprintf(ff, sizeof(ff), "%s.name", f);
    if (!sn || !*sn) reg_cause_add(causes, REG_REQUIRED, ff, "Required value");
    static const char *const kinds[] = {"ServiceAccount", "User", "Group", NULL};
    snprintf(ff, sizeof(ff), "%s.kind", f);
    if (!sk || !*sk) {
      reg_cause_not_supported(causes, ff, "", kinds);
      continue;
    }
    if (!strcmp(sk, "ServiceAccount")) {
      static const char *const empty[] = {"", NULL};
      snprintf(ff, sizeof(ff), "%s.apiGroup", f);
      if (sg && *sg) reg_cause_not_supported(causes, ff, sg, empty);
      if (sn && *sn && !names_is_dns1123_subdomain(sn, msg, sizeof(msg))) {
        snprintf(ff, sizeof(ff), "%s.name", f);
        reg_cause_invalid_str(causes, ff, sn, msg);
      }
      if (!namespaced && (!sns || !*sns)) {
        snprintf(ff, sizeof(ff), "%s.namespace", f);
        reg_cause_add(causes, REG_REQUIRED, ff, "Required value");
      }
    } else if (!strcmp(sk, "User") || !strcmp(sk, "Group")) {
      snprintf(ff, sizeof(ff), "%s.apiGroup", f);
      if (!sg || strcmp(sg, RBAC_GROUP)) reg_cause_not_supported(causes, ff, sg ? sg : "", groups);
    } else {
      reg_check_enum(causes, ff, sk, kinds);
    }
  }
  if (old) roleref_immutable(obj, old, causes);
}

static void rolebinding_validate(struct reg_request *rq, const json_t *obj, const json_t *old, json_t *causes)
{
  binding_validate_common(obj, old, true, causes);
}

static void clusterrolebinding_validate(struct reg_request *rq, const json_t *obj, const json_t *old, json_t *causes)
{
  binding_validate_common(obj, old, false, causes);
}

static void subject_defaults(json_t *obj)
{
  /* SetDefaults_Subject: User/Group subjects get the RBAC API group. */
  size_t i;
  json_t *s;
  json_array_foreach (json_object_get(obj, "subjects"), i, s) {
    const char *k = kj_get_str(s, "kind");
    if (!k || json_object_get(s, "apiGroup")) continue;
    if (!strcmp(k, "User") || !strcmp(k, "Group")) json_object_set_new(s, "apiGroup", json_string(RBAC_GROUP));
  }
  json_t *ref = json_object_get(obj, "roleRef");
  if (json_is_object(ref) && !json_object_get(ref, "apiGroup"))
    json_object_set_new(ref, "apiGroup", json_string(RBAC_GROUP));
}

/* ---- escalation checks ---- */

/* Upstream's IsOnlyMutatingGCFields: obj and old equal but for owner
 * references and finalizers (and what the server maintains). */
static bool only_gc_fields(const json_t *obj, const json_t *old)
{
  if (!old) return false;
  json_t *a = kj_deep_copy(obj), *b = kj_deep_copy(old);
  static const char *const skip[] = {"metadata.ownerReferences", "metadata.finalizers", "metadata.resourceVersion",
                                     "metadata.managedFields", "metadata.generation", NULL};
  for (const char *const *p = skip; *p; p++) {
    kj_del(a, *p);
    kj_del(b, *p);
  }
  bool same = json_equal(a, b);
  json_decref(a);
  json_decref(b);
  return same;
}

/* The authorizer chain allows verb on RESOURCE/NAME of this API group
 * in ns (upstream asks the whole chain, not RBAC alone). */
static bool authorized(const struct reg_request *rq, const char *verb, const char *resource, const char *ns,
                       const char *name)
{
  struct authz_attrs a = {.user = rq->auth,
                          .verb = verb,
                          .resource_request = true,
                          .api_group = RBAC_GROUP,
                          .api_version = "v1",
                          .resource = resource,
                          .subresource = "",
                          .ns = ns ? ns : "",
                          .name = name ? name : ""};
  char reason[512] = "";
  return authz_decide(rq->srv, &a, reason, sizeof reason) == AUTHZ_ALLOW;
}

/* Whether the escalation checks apply to this write at all. */
static bool checked(const struct reg_request *rq, const json_t *obj, const json_t *old)
{
  return rq->auth && rq->srv && rq->srv->rbac && !rbac_escalation_allowed(rq->auth) && !only_gc_fields(obj, old);
}

static json_t *role_admit_common(struct reg_request *rq, json_t *obj, const json_t *old, const char *resource)
{
  if (!checked(rq, obj, old)) return NULL;
  const char *ns = kj_get_str(obj, "metadata.namespace"), *name = kj_get_str(obj, "metadata.name");
  if (authorized(rq, "escalate", resource, ns, name)) return NULL;
  struct rbac_rules rules;
  rbac_rules_parse(json_object_get(obj, "rules"), &rules);
  json_t *st = rbac_confirm_no_escalation(rq->srv->rbac, rq->auth, ns, &rules, resource, name);
  rbac_rules_free(&rules);
  if (st || !json_is_object(json_object_get(obj, "aggregationRule"))) return st;
  /* an aggregationRule can gather anything: it takes full authority */
  json_t *full = json_pack("[{s:[s],s:[s],s:[s]},{s:[s],s:[s]}]", "verbs", "*", "apiGroups", "*", "resources", "*",
                           "verbs", "*", "nonResourceURLs", "*");
  rbac_rules_parse(full, &rules);
  json_decref(full);
  json_t *fst = rbac_confirm_no_escalation(rq->srv->rbac, rq->auth, NULL, &rules, resource, name);
  rbac_rules_free(&rules);
  if (!fst) return NULL;
  json_decref(fst);
  st = kstatus_new(403, "Forbidden",
                   "%s.%s \"%s\" is forbidden: must have cluster-admin privileges to use the aggregationRule", resource,
                   RBAC_GROUP, name ? name : "");
  kstatus_set_details(st, name, RBAC_GROUP, resource);
  return st;
}

static json_t *role_admit(struct reg_request *rq, json_t *obj, const json_t *old)
{
  return role_admit_common(rq, obj, old, "roles");
}

static json_t *clusterrole_admit(struct reg_request *rq, json_t *obj, const json_t *old)
{
  return role_admit_common(rq, obj, old, "clusterroles");
}

static json_t *binding_admit_common(struct reg_request *rq, json_t *obj, const json_t *old, const char *resource)
{
  if (!checked(rq, obj, old)) return NULL;
  const char *ns = kj_get_str(obj, "metadata.namespace"), *name = kj_get_str(obj, "metadata.name");
  const char *kind = reg_str_or(kj_get_str(obj, "roleRef.kind"), "");
  const char *role = reg_str_or(kj_get_str(obj, "roleRef.name"), "");
  const char *role_res = strcmp(kind, "Role") == 0 ? "roles" : strcmp(kind, "ClusterRole") == 0 ? "clusterroles" : "";
  if (*role_res && authorized(rq, "bind", role_res, ns, role)) return NULL;
  char err[700];
  const struct rbac_rules *rules = rbac_role_rules(rq->srv->rbac, kind, ns, role, err, sizeof(err));
  if (!rules) {
    json_t *st = kstatus_new(403, "Forbidden", "%s.%s \"%s\" is forbidden: %s", resource, RBAC_GROUP,
                             name ? name : "", err);
    kstatus_set_details(st, name, RBAC_GROUP, resource);
    return st;
  }
  return rbac_confirm_no_escalation(rq->srv->rbac, rq->auth, ns, rules, resource, name);
}

static json_t *rolebinding_admit(struct reg_request *rq, json_t *obj, const json_t *old)
{
  return binding_admit_common(rq, obj, old, "rolebindings");
}

static json_t *clusterrolebinding_admit(struct reg_request *rq, json_t *obj, const json_t *old)
{
  return binding_admit_common(rq, obj, old, "clusterrolebindings");
}

static json_t *created_at_cells(const json_t *obj)
{
  json_t *row = reg_row(obj);
  const char *ts = kj_get_str(obj, "metadata.creationTimestamp");
  json_array_append_new(row, ts ? json_string(ts) : json_null());
  return row;
}

static char *subjects_of(const json_t *obj, const char *kind)
{
  char *buf = NULL;
  size_t len = 0, i, n = 0;
  FILE *f = open_memstream(&buf, &len);
  json_t *s;
  json_array_foreach (json_object_get(obj, "subjects"), i, s) {
    const char *k = kj_get_str(s, "kind");
    if (!k || strcmp(k, kind)) continue;
    if (!strcmp(kind, "ServiceAccount"))
      fprintf(f, "%s%s:%s", n ? ", " : "", reg_str_or(kj_get_str(s, "namespace"), ""),
              reg_str_or(kj_get_str(s, "name"), ""));
    else fprintf(f, "%s%s", n ? ", " : "", reg_str_or(kj_get_str(s, "name"), ""));
    n++;
  }
  fclose(f);
  return buf;
}

static json_t *binding_cells(const json_t *obj)
{
  json_t *row = reg_row(obj);
  char role[512];
  snprintf(role, sizeof(role), "%s/%s", reg_str_or(kj_get_str(obj, "roleRef.kind"), ""),
           reg_str_or(kj_get_str(obj, "roleRef.name"), ""));
  reg_cell_str(row, role);
  json_array_append_new(row, reg_age_cell(obj));
  static const char *const kinds[] = {"User", "Group", "ServiceAccount"};
  for (size_t i = 0; i < 3; i++) {
    char *s = subjects_of(obj, kinds[i]);
    reg_cell_str(row, s);
    free(s);
  }
  return row;
}

static const struct reg_column role_columns[] = {
    {"Name", "string", "name", 0, EXT_DESC_NAME},
    {"Created At", "date", "", 0, EXT_DESC_AGE},
    {NULL},
};

static const struct reg_column binding_columns[] = {
    {"Name", "string", "name", 0, EXT_DESC_NAME},
    {"Role", "string", "", 0,
     "RoleRef can reference a Role in the current namespace or a ClusterRole in the global namespace. If the RoleRef "
     "cannot be resolved, the Authorizer must return an error. This field is immutable."},
    {"Age", "string", "", 0, EXT_DESC_AGE},
    {"Users", "string", "", 1, "Users in the roleBinding"},
    {"Groups", "string", "", 1, "Groups in the roleBinding"},
    {"ServiceAccounts", "string", "", 1, "ServiceAccounts in the roleBinding"},
    {NULL},
};

const struct resource reg_roles = {
    .group = RBAC_GROUP,
    .version = "v1",
    .plural = "roles",
    .singular = "role",
    .kind = "Role",
    .namespaced = true,
    .short_names = {NULL},
    .categories = {NULL},
    .storage_prefix = "/registry/roles",
    .admit = role_admit,
    .validate = role_validate,
    .columns = role_columns,
    .cells = created_at_cells,
};

const struct resource reg_clusterroles = {
    .group = RBAC_GROUP,
    .version = "v1",
    .plural = "clusterroles",
    .singular = "clusterrole",
    .kind = "ClusterRole",
    .namespaced = false,
    .short_names = {NULL},
    .categories = {NULL},
    .storage_prefix = "/registry/clusterroles",
    .admit = clusterrole_admit,
    .validate = clusterrole_validate,
    .columns = role_columns,
    .cells = created_at_cells,
};

const struct resource reg_rolebindings = {
    .group = RBAC_GROUP,
    .version = "v1",
    .plural = "rolebindings",
    .singular = "rolebinding",
    .kind = "RoleBinding",
    .namespaced = true,
    .short_names = {NULL},
    .categories = {NULL},
    .storage_prefix = "/registry/rolebindings",
    .defaults = subject_defaults,
    .admit = rolebinding_admit,
    .validate = rolebinding_validate,
    .columns = binding_columns,
    .cells = binding_cells,
};

const struct resource reg_clusterrolebindings = {
    .group = RBAC_GROUP,
    .version = "v1",
    .plural = "clusterrolebindings",
    .singular = "clusterrolebinding",
    .kind = "ClusterRoleBinding",
    .namespaced = false,
    .short_names = {NULL},
    .categories = {NULL},
    .storage_prefix = "/registry/clusterrolebindings",
    .defaults = subject_defaults,
    .admit = clusterrolebinding_admit,
    .validate = clusterrolebinding_validate,
    .columns = binding_columns,
    .cells = binding_cells,
};
