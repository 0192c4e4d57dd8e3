/*
 * requestinfo.c - what a request asks to do, as upstream's
 * RequestInfoFactory reads it from the method and the path (authn.h).
 *
 *   /api/v1[/watch]/[namespaces/NS/]RES[/NAME[/SUB[/...]]]
 *   /apis/G/V[/watch]/[namespaces/NS/]RES[/NAME[/SUB[/...]]]
 *
 * A GET without a name is a list (a watch with ?watch=true), a DELETE
 * without one a deletecollection; /namespaces/NAME is the namespace
 * itself, in its own namespace.  Anything else (including /api, /apis,
 * /apis/G, /api/v1, /apis/G/V) is a non-resource request whose verb is
 * the lowercased method.  Segments longer than the buffers make a
 * request non-resource (it then fails to route anyway).
 */
#define _GNU_SOURCE
#include "auth/authn.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define MAX_PARTS 12

static int split(char *p, char **parts)
{
  int n = 0;
  while (*p) {
    while (*p == '/') p++;
    if (!*p) break;
    if (n == MAX_PARTS) return n;
    parts[n++] = p;
    while (*p && *p != '/') p++;
    if (*p) *p++ = '\0';
  }
  return n;
}

static bool put(char *dst, size_t cap, const char *src)
{
  size_t l = strlen(src);
  if (l >= cap) return false;
  memcpy(dst, src, l + 1);
  return true;
}
#define PUT(field, src) put((field), sizeof(field), (src))

static const char *method_verb(const char *method)
{
  static const struct {
    const char *m, *v;
  } map[] = {{"POST", "create"}, {"GET", "get"},     {"HEAD", "get"},
             {"PUT", "update"},  {"PATCH", "patch"}, {"DELETE", "delete"}};
  for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
    if (!strcmp(map[i].m, method)) return map[i].v;
  return NULL;
}

static bool truthy(const char *v) { return v && (!strcmp(v, "1") || !strcasecmp(v, "true") || !strcmp(v, "t")); }

/* metadata.name=X (or ==X) of a field selector, into name. */
static void selector_name(const char *sel, char *name, size_t cap)
{
  if (!sel) return;
  const char *p = strstr(sel, "metadata.name=");
  if (!p || (p != sel && p[-1] != ',')) return;
  p += strlen("metadata.name=");
  if (*p == '=') p++;
  size_t l = strcspn(p, ",");
  if (l < cap) snprintf(name, cap, "%.*s", (int)l, p);
}

static void non_resource(const char *method, struct authz_request_info *ri)
{
  memset(ri, 0, sizeof(*ri));
  size_t i;
  for (i = 0; method[i] && i + 1 < sizeof(ri->verb); i++) ri->verb[i] = (char)tolower((unsigned char)method[i]);
  ri->verb[i] = 0;
}

/* parts[i..n) after the group version: [watch/][namespaces/NS/]RES[/NAME[/SUB]]. */
static bool resource_parts(char **parts, int i, int n, struct authz_request_info *ri)
{
  if (i < n && !strcmp(parts[i], "watch")) {
    PUT(ri->verb, "watch");
    i++;
  }
  if (i < n && !strcmp(parts[i], "namespaces") && i + 1 < n) {
    if (!PUT(ri->ns, parts[i + 1])) return false;
    /* namespaces/NAME and namespaces/NAME/{status,finalize} are the namespace */
    if (i + 2 < n && strcmp(parts[i + 2], "status") != 0 && strcmp(parts[i + 2], "finalize") != 0) i += 2;
  }
  if (i >= n) return false;
  if (!PUT(ri->resource, parts[i])) return false;
  if (i + 1 < n && !PUT(ri->name, parts[i + 1])) return false;
  if (i + 2 < n && !PUT(ri->sub, parts[i + 2])) return false;
  return true;
}

void authz_request_info_parse(const char *method, const char *path, const char *watch, const char *field_selector,
                              struct authz_request_info *ri)
{
  non_resource(method, ri);
  const char *verb = method_verb(method);
  char buf[4096], *parts[MAX_PARTS];
  if (!verb || !path || strlen(path) >= sizeof(buf)) return;
  strcpy(buf, path);
  int n = split(buf, parts), i;
  if (n >= 2 && !strcmp(parts[0], "api")) i = 1;
  else if (n >= 3 && !strcmp(parts[0], "apis")) i = 2;
  else return;
  struct authz_request_info r = {0};
  if (i == 2 && !PUT(r.api_group, parts[1])) return;
  if (!PUT(r.api_version, parts[i])) return;
  PUT(r.verb, verb);
  if (!resource_parts(parts, i + 1, n, &r)) return;
  if (!strcmp(r.verb, "watch") && strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) return;
  if (!r.name[0] && !strcmp(r.verb, "get")) PUT(r.verb, truthy(watch) ? "watch" : "list");
  if (!r.name[0] && !strcmp(r.verb, "delete")) PUT(r.verb, "deletecollection");
  if (!strcmp(r.verb, "list") || !strcmp(r.verb, "watch")) selector_name(field_selector, r.name, sizeof(r.name));
  r.resource_request = true;
  *ri = r;
}

void authz_attrs_from_info(const struct authz_request_info *ri, const struct auth_user *user, const char *path,
                           struct authz_attrs *a)
{
  *a = (struct authz_attrs){
      .user = user,
      .verb = ri->verb,
      .resource_request = ri->resource_request,
      .api_group = ri->api_group,
      .api_version = ri->api_version,
      .resource = ri->resource,
      .subresource = ri->sub,
      .ns = ri->ns,
      .name = ri->name,
      .path = path ? path : "",
  };
}
