/*
 * router.c - maps a request path onto the REST shape of the API.
 *
 *   /api                                   APIVersions
 *   /apis                                  APIGroupList
 *   /apis/G                                APIGroup
 *   /api/v1, /apis/G/V                     APIResourceList
 *   PREFIX/RES[/NAME[/SUB]]                cluster-wide or cluster-scoped
 *   PREFIX/namespaces/NS/RES[/NAME[/SUB]]  namespaced
 *   PREFIX/namespaces/NAME/{status,finalize}  the namespace's own subresources
 *
 * Parsing is pure string work into fixed buffers (segments longer than
 * any valid name make the path unknown); whether the resource exists is
 * decided later against the registry.
 */
#define _GNU_SOURCE
#include "api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry/registry.h"

#define MAX_SEGS 9

static int split(char *p, char **segs)
{
  int n = 0;
  while (*p) {
    while (*p == '/') p++;
    if (!*p) break;
    if (n == MAX_SEGS) return -1;
    segs[n++] = p;
    while (*p && *p != '/') p++;
    if (*p) *p++ = '\0';
  }
  return n;
}

static bool copy(char *dst, size_t cap, const char *src)
{
  size_t l = strlen(src);
  if (l >= cap) return false;
  memcpy(dst, src, l + 1);
  return true;
}

#define COPY(field, src) copy((field), sizeof(field), (src))

enum api_route_kind api_route_parse(const char *path, struct api_route *rt)
{
  memset(rt, 0, sizeof(*rt));
  char buf[2048];
  if (!path || strlen(path) >= sizeof(buf)) return ROUTE_NOT_FOUND;
  strcpy(buf, path);
  char *s[MAX_SEGS];
  int n = split(buf, s);
  if (n < 1) return ROUTE_NOT_FOUND;
  int i;
  if (strcmp(s[0], "api") == 0) {
    if (n == 1) return rt->kind = ROUTE_API_VERSIONS;
    if (!COPY(rt->version, s[1])) return ROUTE_NOT_FOUND;
    i = 2;
  } else if (strcmp(s[0], "apis") == 0) {
    if (n == 1) return rt->kind = ROUTE_GROUP_LIST;
    if (!COPY(rt->group, s[1])) return ROUTE_NOT_FOUND;
    if (n == 2) return rt->kind = ROUTE_GROUP;
    if (!COPY(rt->version, s[2])) return ROUTE_NOT_FOUND;
    i = 3;
  } else {
    return ROUTE_NOT_FOUND;
  }
  if (n == i) return rt->kind = ROUTE_RESOURCE_LIST;
  int rest = n - i;
  if (strcmp(s[i], "namespaces") == 0 && rest >= 2) {
    /* namespaces/NAME/{status,finalize} are the namespace's subresources;
     * namespaces/NS/RES... a namespaced resource. */
    if (rest == 3 && (strcmp(s[i + 2], "status") == 0 || strcmp(s[i + 2], "finalize") == 0)) {
      if (!COPY(rt->resource, "namespaces") || !COPY(rt->name, s[i + 1]) || !COPY(rt->sub, s[i + 2]))
        return ROUTE_NOT_FOUND;
      return rt->kind = ROUTE_RESOURCE;
    }
    if (rest == 2) {
      if (!COPY(rt->resource, "namespaces") || !COPY(rt->name, s[i + 1])) return ROUTE_NOT_FOUND;
      return rt->kind = ROUTE_RESOURCE;
    }
    if (!COPY(rt->ns, s[i + 1])) return ROUTE_NOT_FOUND;
    i += 2;
    rest -= 2;
  }
  if (rest > 3) return ROUTE_NOT_FOUND;
  if (!COPY(rt->resource, s[i])) return ROUTE_NOT_FOUND;
  if (rest >= 2 && !COPY(rt->name, s[i + 1])) return ROUTE_NOT_FOUND;
  if (rest == 3 && !COPY(rt->sub, s[i + 2])) return ROUTE_NOT_FOUND;
  return rt->kind = ROUTE_RESOURCE;
}

char *api_storage_key(const struct resource *res, const char *ns, const char *name)
{
  char *out = NULL;
  int r;
  bool has_ns = res->namespaced && ns && *ns;
  if (name) {
    if (has_ns) r = asprintf(&out, "%s/%s/%s", res->storage_prefix, ns, name);
    else r = asprintf(&out, "%s/%s", res->storage_prefix, name);
  } else {
    if (has_ns) r = asprintf(&out, "%s/%s/", res->storage_prefix, ns);
    else r = asprintf(&out, "%s/", res->storage_prefix);
  }
  return r < 0 ? NULL : out;
}
