/*
 * authz.c - the answer to a request no authorizer allowed: upstream's
 * responsewriters.Forbidden.  The message names the user, the verb and
 * what was asked for:
 *   pods is forbidden: User "jane" cannot create resource "pods" in API
 *   group "" in the namespace "default"
 *   pods "x" is forbidden: ... cannot get resource "pods/log" ...
 *   nodes is forbidden: ... at the cluster scope
 *   forbidden: User "jane" cannot get path "/foo"
 * followed by ": REASON" when the authorizers gave one.  The Status is
 * 403 Forbidden with details {name, group, kind = the resource}.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kube/status.h>

#include "auth/auth.h"

static const char *s_or(const char *s) { return s ? s : ""; }

json_t *authz_forbidden(const struct authz_attrs *a, const char *reason)
{
  const char *user = a->user ? s_or(a->user->name) : "";
  const char *verb = s_or(a->verb);
  char *what = NULL;
  int rc;
  if (!a->resource_request) {
    rc = asprintf(&what, "User \"%s\" cannot %s path \"%s\"", user, verb, s_or(a->path));
  } else {
    const char *sub = s_or(a->subresource);
    char *res = NULL;
    if (asprintf(&res, "%s%s%s", s_or(a->resource), *sub ? "/" : "", sub) < 0) res = NULL;
    const char *ns = s_or(a->ns);
    if (*ns)
      rc = asprintf(&what, "User \"%s\" cannot %s resource \"%s\" in API group \"%s\" in the namespace \"%s\"", user,
                    verb, res ? res : "", s_or(a->api_group), ns);
    else
      rc = asprintf(&what, "User \"%s\" cannot %s resource \"%s\" in API group \"%s\" at the cluster scope", user, verb,
                    res ? res : "", s_or(a->api_group));
    free(res);
  }
  if (rc < 0) what = NULL;
  const char *group = a->resource_request ? s_or(a->api_group) : "";
  const char *resource = a->resource_request ? s_or(a->resource) : "";
  const char *name = s_or(a->name);
  const char *rs = reason && *reason ? reason : NULL;
  char gr[512];
  snprintf(gr, sizeof(gr), "%s%s%s", resource, *group ? "." : "", group);
  json_t *st;
  /* apierrors.NewForbidden: no group/resource, unnamed, or named */
  if (!*gr) st = kstatus_new(403, "Forbidden", "forbidden: %s%s%s", what ? what : "", rs ? ": " : "", rs ? rs : "");
  else if (!*name)
    st = kstatus_new(403, "Forbidden", "%s is forbidden: %s%s%s", gr, what ? what : "", rs ? ": " : "", rs ? rs : "");
  else
    st = kstatus_new(403, "Forbidden", "%s \"%s\" is forbidden: %s%s%s", gr, name, what ? what : "", rs ? ": " : "",
                     rs ? rs : "");
  free(what);
  kstatus_set_details(st, name, group, resource);
  return st;
}
