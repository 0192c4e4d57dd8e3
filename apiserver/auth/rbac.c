/*
 * rbac.c - the RBAC authorizer (upstream plugin/pkg/auth/authorizer/rbac
 * and the registry's DefaultRuleResolver), over in-memory indexes.
 *
 * Indexes.  Every Role, ClusterRole, RoleBinding and ClusterRoleBinding
 * is held parsed: roles by "NS/NAME" (Role) or "NAME" (ClusterRole) with
 * their rules as string vectors, bindings by the same keys with their
 * roleRef and subjects.  A subject index maps each subject a binding
 * names to the bindings naming it, per scope:
 *     "<NS>\x01u:<user>"  and  "<NS>\x01g:<group>"
 * with NS empty for ClusterRoleBindings.  A ServiceAccount subject is
 * indexed as the user "system:serviceaccount:NS:NAME" (its namespace
 * defaults to the RoleBinding's; a ClusterRoleBinding's without one never
 * applies).  So a request looks up only 2 x (1 + groups) keys and walks
 * only bindings that concern its user, whatever the number of objects.
 *
 * Currency.  rbac_new lists the four prefixes from storage at one
 * revision and watches each from that revision, so every later committed
 * change is applied in revision order, in the loop that serves requests
 * (no locks, no storage read per request).  An in-process storage watch
 * never loses events; should one not be creatable (the revision left the
 * history window), the indexes are rebuilt from a fresh list.
 *
 * Decisions follow upstream's RBACAuthorizer: ClusterRoleBindings first,
 * then the RoleBindings of the request's namespace; the first rule that
 * allows wins, with the reason `RBAC: allowed by ClusterRoleBinding "x"
 * of ClusterRole "y" to User "z"`; otherwise no opinion, the reason then
 * listing the roles that bindings of the user refer to but do not exist.
 * RoleBindings may refer to ClusterRoles (granting in their namespace).
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kube/json.h>
#include <kube/hmap.h>
#include <kube/log.h>
#include <kube/xalloc.h>

#include "apiserver.h"
#include "auth/rbac_internal.h"
#include "storage/mirror.h"
#include "storage/storage.h"

/* ---- indexed objects ---- */

struct rbac_role {
  struct rbac_rules rules;
};

struct rbac_subject {
  char *kind, *name, *ns;
};

struct rbac_binding {
  bool cluster;
  char *ns, *name;
  char *role_kind, *role_name;
  char *role_key; /* the roleRef's key in its kind's map */
  int role_k;     /* K_ROLE, K_CLUSTERROLE, or -1 (unsupported kind) */
  struct rbac_subject *subj;
  size_t nsubj;
};

/* The bindings naming one subject in one scope. */
struct blist {
  struct rbac_binding **v;
  size_t n, cap;
};

enum { K_ROLE, K_CLUSTERROLE, K_ROLEBINDING, K_CLUSTERROLEBINDING, K_COUNT };

static const char *const kind_names[K_COUNT] = {"Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"};
static const char *const kind_prefixes[K_COUNT] = {"/registry/roles/", "/registry/clusterroles/",
                                                   "/registry/rolebindings/", "/registry/clusterrolebindings/"};

struct rbac {
  struct apiserver *srv; /* NULL for rbac_new_empty */
  struct khmap objs[K_COUNT];
  struct khmap subjects; /* scope key -> struct blist */
  struct storage_mirror *mirror; /* NULL for rbac_new_empty */
};

static int kind_index(const char *kind)
{
  for (int i = 0; i < K_COUNT; i++)
    if (strcmp(kind_names[i], kind) == 0) return i;
  return -1;
}

static void role_free(void *p)
{
  struct rbac_role *r = p;
  if (!r) return;
  rbac_rules_free(&r->rules);
  free(r);
}

static void binding_free(void *p)
{
  struct rbac_binding *b = p;
  if (!b) return;
  for (size_t i = 0; i < b->nsubj; i++) {
    free(b->subj[i].kind);
    free(b->subj[i].name);
    free(b->subj[i].ns);
  }
  free(b->subj);
  free(b->ns);
  free(b->name);
  free(b->role_kind);
  free(b->role_name);
  free(b->role_key);
  free(b);
}

static void blist_free(void *p)
{
  struct blist *l = p;
  if (!l) return;
  free(l->v);
  free(l);
}

/* The index key of subject s of b, or false when it can never apply. */
static bool subject_key(const struct rbac_binding *b, const struct rbac_subject *s, char **out)
{
  const char *scope = b->cluster ? "" : b->ns;
  if (strcmp(s->kind, "User") == 0) return asprintf(out, "%s\x01u:%s", scope, s->name) >= 0;
  if (strcmp(s->kind, "Group") == 0) return asprintf(out, "%s\x01g:%s", scope, s->name) >= 0;
  if (strcmp(s->kind, "ServiceAccount") == 0) {
    const char *ns = *s->ns ? s->ns : (b->cluster ? "" : b->ns);
    if (!*ns) return false;
    return asprintf(out, "%s\x01u:system:serviceaccount:%s:%s", scope, ns, s->name) >= 0;
  }
  return false;
}

static void subjects_link(struct rbac *r, struct rbac_binding *b)
{
  for (size_t i = 0; i < b->nsubj; i++) {
    char *key = NULL;
    if (!subject_key(b, &b->subj[i], &key)) continue;
    struct blist *l = khmap_get(&r->subjects, key);
    if (!l) {
      l = xcalloc(1, sizeof(*l));
      khmap_put(&r->subjects, key, l);
    }
    bool dup = false;
    for (size_t j = 0; j < l->n && !dup; j++) dup = l->v[j] == b;
    if (!dup) {
      if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 4;
        l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
      }
      l->v[l->n++] = b;
    }
    free(key);
  }
}

static void subjects_unlink(struct rbac *r, struct rbac_binding *b)
{
  for (size_t i = 0; i < b->nsubj; i++) {
    char *key = NULL;
    if (!subject_key(b, &b->subj[i], &key)) continue;
    struct blist *l = khmap_get(&r->subjects, key);
    for (size_t j = 0; l && j < l->n; j++) {
      if (l->v[j] != b) continue;
      memmove(&l->v[j], &l->v[j + 1], (l->n - j - 1) * sizeof(*l->v));
      l->n--;
      break;
    }
    if (l && l->n == 0) blist_free(khmap_del(&r->subjects, key));
    free(key);
  }
}

static char *dup_or_empty(const char *s) { return xstrdup(s ? s : ""); }

static struct rbac_binding *binding_parse(const json_t *obj, bool cluster)
{
  struct rbac_binding *b = xcalloc(1, sizeof(*b));
  b->cluster = cluster;
  b->ns = dup_or_empty(cluster ? "" : kj_get_str(obj, "metadata.namespace"));
  b->name = dup_or_empty(kj_get_str(obj, "metadata.name"));
  b->role_kind = dup_or_empty(kj_get_str(obj, "roleRef.kind"));
  b->role_name = dup_or_empty(kj_get_str(obj, "roleRef.name"));
  b->role_k = strcmp(b->role_kind, "Role") == 0          ? K_ROLE
              : strcmp(b->role_kind, "ClusterRole") == 0 ? K_CLUSTERROLE
                                                         : -1;
  if (b->role_k == K_ROLE) {
    if (asprintf(&b->role_key, "%s/%s", b->ns, b->role_name) < 0) b->role_key = NULL;
  } else {
    b->role_key = xstrdup(b->role_name);
  }
  json_t *subs = json_object_get(obj, "subjects");
  size_t n = json_is_array(subs) ? json_array_size(subs) : 0;
  b->subj = xcalloc(n ? n : 1, sizeof(*b->subj));
  for (size_t i = 0; i < n; i++) {
    json_t *s = json_array_get(subs, i);
    struct rbac_subject *d = &b->subj[b->nsubj++];
    d->kind = dup_or_empty(kj_get_str(s, "kind"));
    d->name = dup_or_empty(kj_get_str(s, "name"));
    d->ns = dup_or_empty(kj_get_str(s, "namespace"));
  }
  return b;
}

static void obj_key(int k, const char *ns, const char *name, char *buf, size_t len)
{
  if (k == K_ROLE || k == K_ROLEBINDING) snprintf(buf, len, "%s/%s", ns ? ns : "", name ? name : "");
  else snprintf(buf, len, "%s", name ? name : "");
}

static void index_del(struct rbac *r, int k, const char *key)
{
  void *old = khmap_del(&r->objs[k], key);
  if (k == K_ROLE || k == K_CLUSTERROLE) {
    role_free(old);
  } else if (old) {
    subjects_unlink(r, old);
    binding_free(old);
  }
}

static void index_put(struct rbac *r, int k, const json_t *obj)
{
  char key[600];
  obj_key(k, kj_get_str(obj, "metadata.namespace"), kj_get_str(obj, "metadata.name"), key, sizeof(key));
  index_del(r, k, key);
  if (k == K_ROLE || k == K_CLUSTERROLE) {
    struct rbac_role *role = xcalloc(1, sizeof(*role));
    rbac_rules_parse(json_object_get(obj, "rules"), &role->rules);
    khmap_put(&r->objs[k], key, role);
    return;
  }
  struct rbac_binding *b = binding_parse(obj, k == K_CLUSTERROLEBINDING);
  khmap_put(&r->objs[k], key, b);
  subjects_link(r, b);
}

void rbac_index_put(struct rbac *r, const char *kind, const json_t *obj)
{
  int k = kind_index(kind);
  if (k >= 0 && obj) index_put(r, k, obj);
}

void rbac_index_del(struct rbac *r, const char *kind, const char *ns, const char *name)
{
  int k = kind_index(kind);
  if (k < 0) return;
  char key[600];
  obj_key(k, ns, name, key, sizeof(key));
  index_del(r, k, key);
}

size_t rbac_index_count(const struct rbac *r, const char *kind)
{
  int k = kind_index(kind);
  return k < 0 ? 0 : r->objs[k].n;
}

/* ---- resolution ---- */

const struct rbac_rules *rbac_role_rules(const struct rbac *r, const char *kind, const char *ns, const char *name,
                                         char *err, size_t errlen)
{
  char key[600];
  int k = strcmp(kind, "Role") == 0 ? K_ROLE : strcmp(kind, "ClusterRole") == 0 ? K_CLUSTERROLE : -1;
  if (k < 0) {
    if (err) snprintf(err, errlen, "unsupported role reference kind: \"%s\"", kind);
    return NULL;
  }
  obj_key(k, ns, name, key, sizeof(key));
  struct rbac_role *role = khmap_get(&r->objs[k], key);
  if (!role && err)
    snprintf(err, errlen, "%s.%s \"%s\" not found", k == K_ROLE ? "role" : "clusterrole", RBAC_GROUP, name);
  return role ? &role->rules : NULL;
}

/* Visits one binding's rules; false when the visitor stopped. */
static bool visit_binding(const struct rbac *r, const struct rbac_binding *b, rbac_visit_fn fn, void *arg)
{
  struct rbac_source src = {b};
  const struct rbac_role *role = b->role_k >= 0 && b->role_key ? khmap_get(&r->objs[b->role_k], b->role_key) : NULL;
  if (!role) {
    char err[700];
    rbac_role_rules(r, b->role_kind, b->ns, b->role_name, err, sizeof(err));
    return fn(arg, &src, NULL, err);
  }
  const struct rbac_rules *rules = &role->rules;
  for (size_t i = 0; i < rules->n; i++)
    if (!fn(arg, &src, &rules->v[i], NULL)) return false;
  return true;
}

/* Bindings already visited for this request (a user may match a binding
 * through its name and several groups); small, so a linear set. */
struct seen {
  const struct rbac_binding *inl[32];
  const struct rbac_binding **v;
  size_t n, cap;
};

static bool seen_add(struct seen *s, const struct rbac_binding *b)
{
  for (size_t i = 0; i < s->n; i++)
    if (s->v[i] == b) return false;
  if (s->n == s->cap) {
    size_t cap = s->cap * 2;
    const struct rbac_binding **v = xmalloc(cap * sizeof(*v));
    memcpy(v, s->v, s->n * sizeof(*v));
    if (s->v != s->inl) free(s->v);
    s->v = v;
    s->cap = cap;
  }
  s->v[s->n++] = b;
  return true;
}

/* Visits the bindings of one subject key; false when stopped. */
static bool visit_key(const struct rbac *r, struct seen *seen, const char *scope, char kind, const char *name,
                      rbac_visit_fn fn, void *arg)
{
  char buf[512], *key = buf, *heap = NULL;
  size_t sl = strlen(scope), nl = strlen(name);
  if (sl + nl + 4 > sizeof(buf)) key = heap = xmalloc(sl + nl + 4);
  memcpy(key, scope, sl);
  key[sl] = '\x01';
  key[sl + 1] = kind;
  key[sl + 2] = ':';
  memcpy(key + sl + 3, name, nl + 1);
  const struct blist *l = khmap_get(&r->subjects, key);
  free(heap);
  for (size_t i = 0; l && i < l->n; i++) {
    if (!seen_add(seen, l->v[i])) continue;
    if (!visit_binding(r, l->v[i], fn, arg)) return false;
  }
  return true;
}

static bool visit_scope(const struct rbac *r, struct seen *seen, const struct auth_user *u, const char *scope,
                        rbac_visit_fn fn, void *arg)
{
  if (!visit_key(r, seen, scope, 'u', u->name, fn, arg)) return false;
  for (size_t i = 0; i < u->ngroups; i++)
    if (!visit_key(r, seen, scope, 'g', u->groups[i], fn, arg)) return false;
  return true;
}

void rbac_visit_rules_for(const struct rbac *r, const struct auth_user *user, const char *ns, rbac_visit_fn fn,
                          void *arg)
{
  if (!r || !user) return;
  struct seen seen = {.n = 0, .cap = 32};
  seen.v = seen.inl;
  if (visit_scope(r, &seen, user, "", fn, arg) && ns && *ns) visit_scope(r, &seen, user, ns, fn, arg);
  if (seen.v != seen.inl) free(seen.v);
}

/* The subject of b that applies to user (upstream reports the first). */
static const struct rbac_subject *applying_subject(const struct rbac_binding *b, const struct auth_user *u)
{
  for (size_t i = 0; i < b->nsubj; i++) {
    const struct rbac_subject *s = &b->subj[i];
    if (strcmp(s->kind, "User") == 0 && strcmp(s->name, u->name) == 0) return s;
    if (strcmp(s->kind, "Group") == 0 && auth_user_in_group(u, s->name)) return s;
    if (strcmp(s->kind, "ServiceAccount") == 0) {
      const char *ns = *s->ns ? s->ns : b->ns;
      char want[600];
      snprintf(want, sizeof(want), "system:serviceaccount:%s:%s", ns, s->name);
      if (*ns && strcmp(want, u->name) == 0) return s;
    }
  }
  return NULL;
}

void rbac_source_describe(const struct rbac_source *src, const struct auth_user *user, char *buf, size_t len)
{
  const struct rbac_binding *b = src->binding;
  const struct rbac_subject *s = applying_subject(b, user);
  char subj[600] = "";
  if (s && strcmp(s->kind, "ServiceAccount") == 0)
    snprintf(subj, sizeof(subj), "%s \"%s/%s\"", s->kind, s->name, *s->ns ? s->ns : b->ns);
  else if (s) snprintf(subj, sizeof(subj), "%s \"%s\"", s->kind, s->name);
  if (b->cluster)
    snprintf(buf, len, "ClusterRoleBinding \"%s\" of %s \"%s\" to %s", b->name, b->role_kind, b->role_name, subj);
  else snprintf(buf, len, "RoleBinding \"%s/%s\" of %s \"%s\" to %s", b->name, b->ns, b->role_kind, b->role_name, subj);
}

/* ---- the authorizer ---- */

struct authz_visit {
  const struct authz_attrs *a;
  const struct rbac_source *allowed_by;
  struct rbac_source src;
  char **errs;
  size_t nerrs;
};

static bool authz_visit(void *arg, const struct rbac_source *src, const struct rbac_rule *rule, const char *err)
{
  struct authz_visit *v = arg;
  if (rule && rbac_rule_allows(rule, v->a)) {
    v->src = *src;
    v->allowed_by = &v->src;
    return false;
  }
  if (err) {
    for (size_t i = 0; i < v->nerrs; i++)
      if (strcmp(v->errs[i], err) == 0) return true;
    v->errs = xrealloc(v->errs, (v->nerrs + 1) * sizeof(char *));
    v->errs[v->nerrs++] = xstrdup(err);
  }
  return true;
}

/* utilerrors.Aggregate's text: one error alone, else "[a, b]". */
static void errors_text(char **errs, size_t n, char *buf, size_t len)
{
  if (n == 1) {
    snprintf(buf, len, "RBAC: %s", errs[0]);
    return;
  }
  size_t off = (size_t)snprintf(buf, len, "RBAC: [");
  for (size_t i = 0; i < n && off < len; i++)
    off += (size_t)snprintf(buf + off, len - off, "%s%s", i ? ", " : "", errs[i]);
  if (off < len) snprintf(buf + off, len - off, "]");
}

enum authz_decision rbac_authorize(const struct rbac *r, const struct authz_attrs *a, char *reason, size_t reasonlen)
{
  if (reason && reasonlen) reason[0] = '\0';
  if (!r || !a || !a->user) return AUTHZ_NO_OPINION;
  struct authz_visit v = {.a = a};
  rbac_visit_rules_for(r, a->user, a->ns, authz_visit, &v);
  enum authz_decision d = AUTHZ_NO_OPINION;
  if (v.allowed_by) {
    d = AUTHZ_ALLOW;
    if (reason && reasonlen) {
      char desc[1600];
      rbac_source_describe(v.allowed_by, a->user, desc, sizeof(desc));
      snprintf(reason, reasonlen, "RBAC: allowed by %s", desc);
    }
  } else if (v.nerrs && reason && reasonlen) {
    errors_text(v.errs, v.nerrs, reason, reasonlen);
  }
  for (size_t i = 0; i < v.nerrs; i++) free(v.errs[i]);
  free(v.errs);
  return d;
}

/* ---- storage: list, then watch (storage/mirror.h) ---- */

static void mirror_apply(void *arg, size_t k, const char *rest, const json_t *obj)
{
  struct rbac *r = arg;
  if (obj) index_put(r, (int)k, obj);
  else index_del(r, (int)k, rest);
}

static void index_clear(void *arg)
{
  struct rbac *r = arg;
  khmap_clear(&r->objs[K_ROLE], role_free);
  khmap_clear(&r->objs[K_CLUSTERROLE], role_free);
  khmap_clear(&r->objs[K_ROLEBINDING], binding_free);
  khmap_clear(&r->objs[K_CLUSTERROLEBINDING], binding_free);
  khmap_clear(&r->subjects, blist_free);
}

struct rbac *rbac_new_empty(void) { return xcalloc(1, sizeof(struct rbac)); }

struct rbac *rbac_new(struct apiserver *srv)
{
  if (!srv || !srv->storage) return NULL;
  struct rbac *r = rbac_new_empty();
  r->srv = srv;
  int err = 0;
  r->mirror = storage_mirror_new(srv->storage, kind_prefixes, K_COUNT, mirror_apply, index_clear, r, "rbac", &err);
  if (!r->mirror) {
    KLOG_E("rbac: loading roles and bindings from storage: %d", err);
    rbac_free(r);
    return NULL;
  }
  KLOG_I("rbac: indexed %zu roles, %zu clusterroles, %zu rolebindings, %zu clusterrolebindings", r->objs[K_ROLE].n,
         r->objs[K_CLUSTERROLE].n, r->objs[K_ROLEBINDING].n, r->objs[K_CLUSTERROLEBINDING].n);
  return r;
}

void rbac_free(struct rbac *r)
{
  if (!r) return;
  storage_mirror_free(r->mirror);
  index_clear(r);
  free(r);
}
