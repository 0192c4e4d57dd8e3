/*
 * authn_requestheader.c - the front-proxy (request-header) authenticator
 * (authn.h), first in upstream's order.
 *
 * The proxy's client certificate is verified against the request-header
 * CA (not the --client-ca-file one: the TLS layer requests certificates
 * of both and checks only the latter itself), then its CN against
 * --requestheader-allowed-names.  A verified proxy names the user in the
 * first username header that has a value; without one the request is
 * left to the other authenticators, as upstream does.  Groups are every
 * value of every group header, in order; extra is every
 * PREFIX-KEY header (KEY lowercased and unescaped) with its values.
 */
#define _GNU_SOURCE
#include "auth/authn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <kube/http.h>
#include <kube/log.h>
#include <kube/tls.h>
#include <kube/xalloc.h>

struct requestheader {
  void *store; /* the request-header CA */
  char *allowed, *users, *groups, *extra_prefix;
};

struct requestheader *requestheader_new(const struct requestheader_config *c, bool *failed, char *err, size_t errlen)
{
  *failed = false;
  if (!c || !c->client_ca_file || !*c->client_ca_file) return NULL;
  void *store = ktls_ca_store(c->client_ca_file, err, errlen);
  if (!store) {
    *failed = true;
    return NULL;
  }
  struct requestheader *rh = xcalloc(1, sizeof *rh);
  rh->store = store;
  rh->allowed = xstrdup(c->allowed_names ? c->allowed_names : "");
  rh->users = xstrdup(c->username_headers ? c->username_headers : "");
  rh->groups = xstrdup(c->group_headers ? c->group_headers : "");
  rh->extra_prefix = xstrdup(c->extra_headers_prefix ? c->extra_headers_prefix : "");
  return rh;
}

void requestheader_free(struct requestheader *rh)
{
  if (!rh) return;
  ktls_ca_store_free(rh->store);
  free(rh->allowed);
  free(rh->users);
  free(rh->groups);
  free(rh->extra_prefix);
  free(rh);
}

/* Whether name is one of the comma-separated list (case-insensitive when
 * the list names headers). */
static bool in_list(const char *list, const char *name, bool nocase)
{
  size_t n = strlen(name);
  for (const char *p = list; p && *p;) {
    const char *e = strchr(p, ',');
    size_t len = e ? (size_t)(e - p) : strlen(p);
    if (len == n && (nocase ? !strncasecmp(p, name, n) : !strncmp(p, name, n))) return true;
    p = e ? e + 1 : NULL;
  }
  return false;
}

/* The first non-empty value of the username headers, in their order. */
static const char *username(const struct requestheader *rh, struct http_request *r)
{
  char buf[256];
  for (const char *p = rh->users; p && *p;) {
    const char *e = strchr(p, ',');
    snprintf(buf, sizeof buf, "%.*s", e ? (int)(e - p) : (int)strlen(p), p);
    const char *v = buf[0] ? http_req_header(r, buf) : NULL;
    if (v && *v) return v;
    p = e ? e + 1 : NULL;
  }
  return NULL;
}

/* The values of a header: repeated headers arrive joined with ", " (as
 * impersonation reads them), each one a value. */
static void add_values(struct auth_user *u, const char *extra_key, const char *joined)
{
  char *copy = xstrdup(joined), *save = NULL;
  for (char *v = strtok_r(copy, ",", &save); v; v = strtok_r(NULL, ",", &save)) {
    while (*v == ' ') v++;
    if (!*v) continue;
    if (!extra_key) {
      auth_user_add_group(u, v);
      continue;
    }
    if (!u->extra) u->extra = json_object();
    json_t *arr = json_object_get(u->extra, extra_key);
    if (!arr) json_object_set_new(u->extra, extra_key, arr = json_array());
    json_array_append_new(arr, json_string(v));
  }
  free(copy);
}

int requestheader_user(const struct requestheader *rh, struct http_request *r, struct auth_user **out)
{
  *out = NULL;
  if (!rh) return 0;
  char cn[512], err[256] = "";
  int rc = ktls_peer_verify(http_req_ssl(r), rh->store, cn, sizeof cn, err, sizeof err);
  if (rc <= 0) return 0; /* not a proxy certificate: maybe a client one */
  if (*rh->allowed && !in_list(rh->allowed, cn, false)) {
    KLOG_V(2, "request-header client certificate of %s: CN %s is not in the allowed names", http_req_peer(r), cn);
    return -1;
  }
  const char *name = username(rh, r);
  if (!name) return 0;
  struct auth_user *u = auth_user_new(name);
  size_t plen = strlen(rh->extra_prefix);
  const char *value;
  for (size_t i = 0, n = http_req_header_count(r); i < n; i++) {
    const char *h = http_req_header_at(r, i, &value);
    if (!h || !value) continue;
    if (*rh->groups && in_list(rh->groups, h, true)) {
      add_values(u, NULL, value);
    } else if (plen && strlen(h) > plen && !strncasecmp(h, rh->extra_prefix, plen)) {
      char key[256];
      auth_extra_key(h + plen, key, sizeof key);
      add_values(u, key, value);
    }
  }
  auth_user_add_group(u, "system:authenticated");
  *out = u;
  return 1;
}
