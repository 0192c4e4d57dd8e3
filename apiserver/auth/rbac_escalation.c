/*
 * rbac_escalation.c - privilege-escalation prevention for writes of
 * Roles, ClusterRoles and bindings (upstream
 * pkg/registry/rbac/validation ConfirmNoEscalation and
 * pkg/registry/rbac EscalationAllowed): a user may only grant rules it
 * holds itself, in the namespace of the write (cluster-wide rules count
 * everywhere).  The caller decides when the check applies (the `escalate`
 * and `bind` verbs, system:masters, the insecure port).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kube/status.h>
#include <kube/xalloc.h>

#include "auth/rbac_internal.h"

bool rbac_escalation_allowed(const struct auth_user *user) { return user && auth_user_in_group(user, SYSTEM_MASTERS); }

struct collect {
  const struct rbac_rule **v;
  size_t n, cap;
  char **errs;
  size_t nerrs;
};

static bool collect_rule(void *arg, const struct rbac_source *src, const struct rbac_rule *rule, const char *err)
{
  (void)src;
  struct collect *c = arg;
  if (rule) {
    if (c->n == c->cap) {
      c->cap = c->cap ? c->cap * 2 : 32;
      c->v = xrealloc(c->v, c->cap * sizeof(*c->v));
    }
    c->v[c->n++] = rule;
  } else if (err) {
    c->errs = xrealloc(c->errs, (c->nerrs + 1) * sizeof(char *));
    c->errs[c->nerrs++] = xstrdup(err);
  }
  return true;
}

json_t *rbac_confirm_no_escalation(const struct rbac *r, const struct auth_user *user, const char *ns,
                                   const struct rbac_rules *rules, const char *resource, const char *name)
{
  struct collect c = {0};
  rbac_visit_rules_for(r, user, ns, collect_rule, &c);
  char *missing = NULL;
  json_t *st = NULL;
  if (!rbac_rules_cover(c.v, c.n, rules, &missing)) {
    char *groups = NULL;
    size_t glen = 0;
    rbac_quote_strv(&groups, &glen, (const char *const *)user->groups, user->ngroups);
    char *errs = NULL;
    size_t elen = 0;
    if (c.nerrs) {
      FILE *f = open_memstream(&errs, &elen);
      fputs("; resolution errors: [", f);
      for (size_t i = 0; i < c.nerrs; i++) fprintf(f, "%s%s", i ? " " : "", c.errs[i]);
      fputc(']', f);
      fclose(f);
    }
    char gr[256];
    snprintf(gr, sizeof(gr), "%s.%s", resource, RBAC_GROUP);
    const char *nm = name ? name : "";
    st = kstatus_new(403, "Forbidden",
                     "%s%s%s%s is forbidden: user \"%s\" (groups=%s) is attempting to grant RBAC permissions not "
                     "currently held:\n%s%s",
                     gr, *nm ? " \"" : "", nm, *nm ? "\"" : "", user->name, groups, missing, errs ? errs : "");
    kstatus_set_details(st, nm, RBAC_GROUP, resource);
    free(groups);
    free(errs);
  }
  free(missing);
  for (size_t i = 0; i < c.nerrs; i++) free(c.errs[i]);
  free(c.errs);
  free(c.v);
  return st;
}
