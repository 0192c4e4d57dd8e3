/*
 * authorize.c - the secure port's gate (authn.h): authenticate,
 * impersonate, then ask the authorizers.
 *
 * The chain, as upstream builds it: members of system:masters are
 * allowed first (the privileged group authorizer), then each mode of
 * --authorization-mode in order; the first that allows or denies
 * decides, and no opinion from all of them is a denial.  Node (the Node
 * authorizer) has no opinion on requests it does not know, RBAC allows
 * what a binding grants.
 */
#define _GNU_SOURCE
#include "auth/authn.h"
#include "auth/node.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kube/http.h>
#include <kube/log.h>
#include <kube/status.h>

#include "api.h"
#include "audit.h"

static const struct {
  const char *name;
  enum authz_mode mode;
} mode_names[] = {
    {"AlwaysAllow", AUTHZ_MODE_ALWAYS_ALLOW},
    {"AlwaysDeny", AUTHZ_MODE_ALWAYS_DENY},
    {"Node", AUTHZ_MODE_NODE},
    {"RBAC", AUTHZ_MODE_RBAC},
};

static int mode_of(const char *name, size_t len)
{
  for (size_t i = 0; i < sizeof(mode_names) / sizeof(mode_names[0]); i++)
    if (strlen(mode_names[i].name) == len && !strncmp(mode_names[i].name, name, len)) return (int)mode_names[i].mode;
  return -1;
}

int authz_modes_parse(const char *modes, enum authz_mode out[AUTHZ_MAX_MODES], size_t *n, char *err, size_t errlen)
{
  *n = 0;
  const char *p = modes ? modes : "";
  while (*p) {
    size_t l = strcspn(p, ",");
    int m = mode_of(p, l);
    if (m < 0) {
      snprintf(err, errlen,
               "invalid argument \"%s\" for \"--authorization-mode\" flag: authorization mode \"%.*s\" is not "
               "supported (one of AlwaysAllow, AlwaysDeny, Node, RBAC)",
               modes, (int)l, p);
      return -1;
    }
    for (size_t i = 0; i < *n; i++)
      if ((int)out[i] == m) {
        snprintf(err, errlen, "--authorization-mode: authorization mode %.*s specified more than once", (int)l, p);
        return -1;
      }
    out[(*n)++] = (enum authz_mode)m;
    p += l;
    if (*p == ',') p++;
  }
  if (*n == 0) {
    snprintf(err, errlen, "--authorization-mode: at least one authorization mode must be passed");
    return -1;
  }
  return 0;
}

/* Upstream's union authorizer: the reasons of the authorizers that had
 * no opinion are kept, joined by newlines, for the Forbidden message. */
static void reason_append(char *reason, size_t reasonlen, const char *r)
{
  if (!reason || !reasonlen || !*r) return;
  size_t l = strlen(reason);
  snprintf(reason + l, reasonlen - l, "%s%s", l ? "\n" : "", r);
}

enum authz_decision authz_decide(const struct apiserver *srv, const struct authz_attrs *a, char *reason, size_t reasonlen)
{
  if (reason && reasonlen) reason[0] = '\0';
  if (auth_user_in_group(a->user, "system:masters")) return AUTHZ_ALLOW;
  size_t n = 0;
  const enum authz_mode *modes = authn_modes(srv, &n);
  for (size_t i = 0; i < n; i++) {
    enum authz_decision d = AUTHZ_NO_OPINION;
    char r[512] = "";
    switch (modes[i]) {
    case AUTHZ_MODE_ALWAYS_ALLOW: d = AUTHZ_ALLOW; break;
    case AUTHZ_MODE_ALWAYS_DENY: d = AUTHZ_DENY; break;
    case AUTHZ_MODE_NODE: d = node_authorize(srv->node_graph, a, r, sizeof r); break;
    case AUTHZ_MODE_RBAC: d = srv->rbac ? rbac_authorize(srv->rbac, a, r, sizeof r) : AUTHZ_NO_OPINION; break;
    }
    if (d != AUTHZ_NO_OPINION) {
      if (reason && reasonlen) snprintf(reason, reasonlen, "%s", r);
      return d;
    }
    reason_append(reason, reasonlen, r);
  }
  return AUTHZ_NO_OPINION;
}

static json_t *unauthorized(void) { return kstatus_new(401, "Unauthorized", "Unauthorized"); }

bool api_auth_request(struct api_req *ar)
{
  struct http_request *r = ar->http;
  struct auth_user *u = NULL;
  if (authn_request(ar->srv, r, &u) == AUTHN_FAILED || !u) {
    api_reply_status(ar, unauthorized());
    return false;
  }
  ar->user = u;
  if (!api_impersonate(ar)) return false;
  struct authz_request_info ri;
  const char *path = http_req_path(r);
  authz_request_info_parse(http_req_method(r), path, http_req_param(r, "watch"), http_req_param(r, "fieldSelector"),
                           &ri);
  audit_request_received_info(ar, &ri);
  struct authz_attrs a;
  authz_attrs_from_info(&ri, ar->user, path, &a);
  char reason[512] = "";
  if (authz_decide(ar->srv, &a, reason, sizeof reason) == AUTHZ_ALLOW) return true;
  KLOG_V(3, "forbidden: user %s %s %s", ar->user->name, a.verb, path);
  api_reply_status(ar, authz_forbidden(&a, reason));
  return false;
}
