/*
 * impersonate.c - Impersonate-User, -Group, -Uid and -Extra-KEY headers
 * (authn.h), as upstream's impersonation filter: each value is authorized
 * for the requester with the verb `impersonate` on
 *   users NAME, or serviceaccounts NAME in NS for system:serviceaccount:NS:NAME
 *   groups NAME
 *   uids NAME (authentication.k8s.io)
 *   userextras/KEY VALUE (authentication.k8s.io)
 * and the request then runs as the impersonated user, with
 * system:authenticated (system:unauthenticated for system:anonymous) and,
 * for a service account, its groups added.  Groups, uid or extras without
 * a user are a 400.
 */
#define _GNU_SOURCE
#include "auth/authn.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <kube/http.h>
#include <kube/status.h>
#include <kube/xalloc.h>

#include "api.h"

#define SA_PREFIX "system:serviceaccount:"

/* Checks one impersonation; false after answering 403. */
static bool may(struct api_req *ar, const char *group, const char *resource, const char *sub, const char *ns,
                const char *name)
{
  struct authz_attrs a = {.user = ar->user,
                          .verb = "impersonate",
                          .resource_request = true,
                          .api_group = group,
                          .api_version = "",
                          .resource = resource,
                          .subresource = sub,
                          .ns = ns,
                          .name = name,
                          .path = ""};
  char reason[512] = "";
  if (authz_decide(ar->srv, &a, reason, sizeof reason) == AUTHZ_ALLOW) return true;
  api_reply_status(ar, authz_forbidden(&a, reason));
  return false;
}

static bool may_user(struct api_req *ar, const char *user)
{
  if (!strncmp(user, SA_PREFIX, strlen(SA_PREFIX))) {
    const char *rest = user + strlen(SA_PREFIX), *colon = strchr(rest, ':');
    if (colon && colon != rest && colon[1]) {
      char ns[256];
      snprintf(ns, sizeof ns, "%.*s", (int)(colon - rest), rest);
      return may(ar, "", "serviceaccounts", "", ns, colon + 1);
    }
  }
  return may(ar, "", "users", "", "", user);
}

/* Splits a header's joined values (", ") and calls fn on each. */
static bool each_value(struct api_req *ar, const char *joined, bool (*fn)(struct api_req *, const char *, void *),
                       void *arg)
{
  char *copy = xstrdup(joined), *save = NULL;
  bool ok = true;
  for (char *v = strtok_r(copy, ",", &save); v && ok; v = strtok_r(NULL, ",", &save)) {
    while (*v == ' ') v++;
    if (*v) ok = fn(ar, v, arg);
  }
  free(copy);
  return ok;
}

static bool group_value(struct api_req *ar, const char *g, void *arg)
{
  if (!may(ar, "", "groups", "", "", g)) return false;
  auth_user_add_group(arg, g);
  return true;
}

struct extra_ctx {
  struct auth_user *u;
  char key[128];
};

static bool extra_value(struct api_req *ar, const char *v, void *arg)
{
  struct extra_ctx *x = arg;
  if (!may(ar, "authentication.k8s.io", "userextras", x->key, "", v)) return false;
  if (!x->u->extra) x->u->extra = json_object();
  json_t *arr = json_object_get(x->u->extra, x->key);
  if (!arr) json_object_set_new(x->u->extra, x->key, arr = json_array());
  json_array_append_new(arr, json_string(v));
  return true;
}

void auth_extra_key(const char *raw, char *key, size_t cap)
{
  size_t n = 0;
  for (const char *p = raw; *p && n + 1 < cap; p++) {
    if (*p == '%' && isxdigit((unsigned char)p[1]) && isxdigit((unsigned char)p[2])) {
      char hex[3] = {p[1], p[2], 0};
      key[n++] = (char)strtol(hex, NULL, 16);
      p += 2;
    } else {
      key[n++] = (char)tolower((unsigned char)*p);
    }
  }
  key[n] = 0;
}

static bool extras(struct api_req *ar, struct auth_user *u)
{
  static const char prefix[] = "Impersonate-Extra-";
  const char *value;
  for (size_t i = 0, n = http_req_header_count(ar->http); i < n; i++) {
    const char *name = http_req_header_at(ar->http, i, &value);
    if (!name || strncasecmp(name, prefix, sizeof(prefix) - 1) != 0) continue;
    struct extra_ctx x = {.u = u};
    auth_extra_key(name + sizeof(prefix) - 1, x.key, sizeof x.key);
    if (!each_value(ar, value, extra_value, &x)) return false;
  }
  return true;
}

static bool has_extras(struct http_request *r)
{
  const char *value;
  for (size_t i = 0, n = http_req_header_count(r); i < n; i++) {
    const char *name = http_req_header_at(r, i, &value);
    if (name && !strncasecmp(name, "Impersonate-Extra-", 18)) return true;
  }
  return false;
}

static void add_implied_groups(struct auth_user *u)
{
  if (!strncmp(u->name, SA_PREFIX, strlen(SA_PREFIX))) {
    const char *rest = u->name + strlen(SA_PREFIX), *colon = strchr(rest, ':');
    char g[300];
    auth_user_add_group(u, "system:serviceaccounts");
    snprintf(g, sizeof g, "system:serviceaccounts:%.*s", colon ? (int)(colon - rest) : 0, rest);
    if (colon) auth_user_add_group(u, g);
  }
  auth_user_add_group(u, strcmp(u->name, "system:anonymous") ? "system:authenticated" : "system:unauthenticated");
}

bool api_impersonate(struct api_req *ar)
{
  struct http_request *r = ar->http;
  const char *user = http_req_header(r, "Impersonate-User"), *groups = http_req_header(r, "Impersonate-Group");
  const char *uid = http_req_header(r, "Impersonate-Uid");
  if (!user && !groups && !uid && !has_extras(r)) return true;
  if (!user || !*user) {
    api_reply_status(ar, kstatus_bad_request("requested impersonation of groups, uid or extra without "
                                             "impersonating a user"));
    return false;
  }
  if (!may_user(ar, user)) return false;
  struct auth_user *u = auth_user_new(user);
  bool ok = (!groups || each_value(ar, groups, group_value, u)) && extras(ar, u);
  if (ok && uid && *uid) {
    ok = may(ar, "authentication.k8s.io", "uids", "", "", uid);
    free(u->uid);
    u->uid = xstrdup(uid);
  }
  if (!ok) {
    auth_user_free(u);
    return false;
  }
  add_implied_groups(u);
  auth_user_free(ar->user);
  ar->user = u;
  return true;
}
