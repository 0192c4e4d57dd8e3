/*
 * fuzz_api_request.c - libFuzzer target: the API server's request-line
 * work before any handler runs (apiserver/router.c, query.c): the path
 * routed to a resource, the list/watch query parsed (selectors, limit,
 * continue token, resourceVersion), the Accept header negotiated and the
 * include-object parameter read.
 *
 * Input: "PATH[?QUERY]" '\n' ACCEPT '\n' INCLUDE.  Checks: a routed path
 * names a group, version and resource that fit their buffers and an empty
 * name for collections implies an empty subresource; a resource the
 * registry knows yields a storage key under its prefix; a query either
 * parses into sane options or is refused with a 400 Status and cleared
 * options; a continue token that decodes re-encodes to one that decodes
 * to the same revision and key.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api.h"
#include "fuzz_util.h"
#include "kube/json.h"
#include "registry/registry.h"

static const struct resource *check_route(const char *path, struct api_route *rt)
{
  enum api_route_kind k = api_route_parse(path, rt);
  FUZZ_CHECK(k == rt->kind, "returned kind differs from rt->kind");
  if (k != ROUTE_RESOURCE) return NULL;
  FUZZ_CHECK(rt->resource[0] != '\0', "resource route without a resource: %s", path);
  FUZZ_CHECK(rt->name[0] || !rt->sub[0], "subresource without a name: %s", path);
  const struct resource *res = registry_find(rt->group, rt->version, rt->resource);
  if (res) {
    char *key = api_storage_key(res, rt->ns, rt->name[0] ? rt->name : NULL);
    FUZZ_CHECK(key && strncmp(key, res->storage_prefix, strlen(res->storage_prefix)) == 0, "bad storage key");
    free(key);
  }
  return res;
}

static void check_query(const char *query, const struct resource *res)
{
  struct api_list_opts o;
  json_t *st = api_list_opts_parse(query, res, &o);
  if (st) {
    FUZZ_CHECK(json_integer_value(json_object_get(st, "code")) == 400, "query refused with a non-400 Status");
    FUZZ_CHECK(!o.lsel && !o.fsel && !o.rv && !o.cont_start, "refused query left options set");
    json_decref(st);
    return;
  }
  FUZZ_CHECK(o.limit >= 0 && o.timeout_s >= 0, "negative limit or timeout accepted");
  if (o.cont_start) {
    FUZZ_CHECK(o.cont_rev > 0, "continue token with revision %lld", (long long)o.cont_rev);
    char *tok = api_continue_encode(o.cont_rev, o.cont_start);
    int64_t rev = 0;
    char *start = NULL;
    FUZZ_CHECK(tok && api_continue_decode(tok, &rev, &start) == 0, "re-encoded continue token does not decode");
    FUZZ_CHECK(rev == o.cont_rev && strcmp(start, o.cont_start) == 0, "continue token changed in a round trip");
    free(start);
    free(tok);
  }
  (void)api_query_bool(query, "allowWatchBookmarks", false);
  api_list_opts_free(&o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  const uint8_t *rest, *rest2;
  size_t rest_len, rest2_len;
  char *line = fuzz_split(data, size, '\n', &rest, &rest_len);
  char *accept = fuzz_split(rest, rest_len, '\n', &rest2, &rest2_len);
  char *include = fuzz_strndup(rest2, rest2_len);
  char *q = strchr(line, '?');
  if (q) *q++ = '\0';

  struct api_route rt;
  const struct resource *res = check_route(line, &rt);
  check_query(q ? q : "", res);

  struct api_media m;
  bool ok = api_negotiate_media(accept, &m);
  FUZZ_CHECK(ok || m.fmt == FMT_JSON, "unservable Accept left a non-JSON format");
  FUZZ_CHECK(memchr(m.meta_gv, '\0', sizeof m.meta_gv) != NULL, "meta_gv not terminated");
  (void)api_negotiate(accept);
  (void)api_include_parse(include);

  free(include);
  free(accept);
  free(line);
  return 0;
}
