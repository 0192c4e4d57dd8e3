/*
 * discovery.c - API discovery (/api, /apis, /apis/G, /api/v1, /apis/G/V)
 * and the OpenAPI documents (/openapi/v3[/GV], and /openapi/v2 in JSON or
 * the protobuf form kubectl asks for).
 *
 * Discovery is the legacy (unaggregated) form, served as plain
 * application/json: kubectl falls back to it when the Content-Type is not
 * the aggregated one.  Everything is derived from the registry table, so a
 * kind added there appears here with its short names, categories and
 * subresources (those the server serves: a subresource listed but not
 * served would make kubectl report the object itself as missing).
 * OpenAPI documents are generated once from the schema table, serialized
 * and cached with an ETag (they never change while the server runs).
 */
#define _GNU_SOURCE
#include "api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kube/http.h>
#include <kube/json.h>
#include <kube/status.h>

#include "registry/customresources.h"
#include "registry/registry.h"
#include "schema/schema.h"
#include <kube/xalloc.h>

static json_t *strv(const char *const *v, size_t max)
{
  json_t *a = json_array();
  for (size_t i = 0; i < max && v[i]; i++) json_array_append_new(a, json_string(v[i]));
  return a;
}

static json_t *verbs(const char *csv)
{
  json_t *a = json_array();
  char buf[256];
  snprintf(buf, sizeof(buf), "%s", csv);
  char *save = NULL;
  for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) json_array_append_new(a, json_string(t));
  return a;
}

static void add_sub(json_t *list, const struct resource *r, const char *sub, const char *group, const char *version,
                    const char *kind, const char *verb_csv)
{
  char name[192];
  snprintf(name, sizeof(name), "%s/%s", r->plural, sub);
  json_t *e = json_pack("{s:s,s:s,s:b}", "name", name, "singularName", "", "namespaced", r->namespaced);
  if (group) {
    json_object_set_new(e, "group", json_string(group));
    json_object_set_new(e, "version", json_string(version));
  }
  json_object_set_new(e, "kind", json_string(kind));
  json_object_set_new(e, "verbs", verbs(verb_csv));
  json_array_append_new(list, e);
}

static json_t *resource_list(struct apiserver *srv, const char *group, const char *version)
{
  size_t n;
  const struct resource *const *all = registry_served(srv, &n);
  json_t *list = json_array();
  bool found = false;
  for (size_t i = 0; i < n; i++) {
    const struct resource *r = all[i];
    if (strcmp(r->group, group) != 0 || strcmp(r->version, version) != 0) continue;
    found = true;
    json_t *e =
        json_pack("{s:s,s:s,s:b,s:s,s:o}", "name", r->plural, "singularName", r->singular, "namespaced", r->namespaced,
                  "kind", r->kind, "verbs",
                  verbs(r->create_only ? "create" : "create,delete,deletecollection,get,list,patch,update,watch"));
    if (r->short_names[0]) json_object_set_new(e, "shortNames", strv(r->short_names, 6));
    if (r->categories[0]) json_object_set_new(e, "categories", strv(r->categories, 3));
    json_array_append_new(list, e);
    unsigned s = api_served_subresources(r);
    if (s & RES_SUB_APPROVAL) add_sub(list, r, "approval", NULL, NULL, r->kind, "get,patch,update");
    if (s & RES_SUB_BINDING) add_sub(list, r, "binding", NULL, NULL, "Binding", "create");
    if (s & RES_SUB_EPHEMERAL) add_sub(list, r, "ephemeralcontainers", NULL, NULL, r->kind, "get,patch,update");
    if (s & RES_SUB_EVICTION) add_sub(list, r, "eviction", "policy", "v1", "Eviction", "create");
    if (s & RES_SUB_EXEC) {
      add_sub(list, r, "attach", NULL, NULL, "PodAttachOptions", "create,get");
      add_sub(list, r, "exec", NULL, NULL, "PodExecOptions", "create,get");
      add_sub(list, r, "portforward", NULL, NULL, "PodPortForwardOptions", "create,get");
    }
    if (s & RES_SUB_FINALIZE) add_sub(list, r, "finalize", NULL, NULL, r->kind, "update");
    if (s & RES_SUB_LOG) add_sub(list, r, "log", NULL, NULL, r->kind, "get");
    if (s & RES_SUB_PROXY) {
      char kind[128];
      snprintf(kind, sizeof(kind), "%sProxyOptions", r->kind);
      add_sub(list, r, "proxy", NULL, NULL, kind, "create,delete,get,patch,update");
    }
    if (s & RES_SUB_SCALE) add_sub(list, r, "scale", "autoscaling", "v1", "Scale", "get,patch,update");
    if (s & RES_SUB_STATUS) add_sub(list, r, "status", NULL, NULL, r->kind, "get,patch,update");
    if (s & RES_SUB_TOKEN) add_sub(list, r, "token", "authentication.k8s.io", "v1", "TokenRequest", "create");
    if ((s & RES_SUB_BINDING) && !*group) {
      json_array_append_new(list, json_pack("{s:s,s:s,s:b,s:s,s:o}", "name", "bindings", "singularName", "binding",
                                            "namespaced", true, "kind", "Binding", "verbs", verbs("create")));
    }
  }
  if (!found) {
    json_decref(list);
    return NULL;
  }
  char gv[256];
  if (*group) snprintf(gv, sizeof(gv), "%s/%s", group, version);
  else snprintf(gv, sizeof(gv), "%s", version);
  return json_pack("{s:s,s:s,s:s,s:o}", "kind", "APIResourceList", "apiVersion", "v1", "groupVersion", gv, "resources",
                   list);
}

/* APIGroup for group, or NULL if the registry has none of it. */
static json_t *api_group(struct apiserver *srv, const char *group)
{
  size_t n;
  const struct resource *const *all = registry_served(srv, &n);
  json_t *versions = json_array();
  for (size_t i = 0; i < n; i++) {
    const struct resource *r = all[i];
    if (strcmp(r->group, group) != 0) continue;
    bool seen = false;
    size_t j;
    json_t *v;
    json_array_foreach (versions, j, v) seen = seen || strcmp(kj_get_str(v, "version"), r->version) == 0;
    if (seen) continue;
    char gv[256];
    snprintf(gv, sizeof(gv), "%s/%s", group, r->version);
    json_array_append_new(versions, json_pack("{s:s,s:s}", "groupVersion", gv, "version", r->version));
  }
  if (json_array_size(versions) == 0) {
    json_decref(versions);
    return NULL;
  }
  json_t *pref = kj_deep_copy(json_array_get(versions, 0));
  return json_pack("{s:s,s:s,s:s,s:o,s:o}", "kind", "APIGroup", "apiVersion", "v1", "name", group, "versions", versions,
                   "preferredVersion", pref);
}

static json_t *group_list(struct apiserver *srv)
{
  size_t n;
  const struct resource *const *all = registry_served(srv, &n);
  json_t *groups = json_array();
  for (size_t i = 0; i < n; i++) {
    const char *g = all[i]->group;
    if (!*g) continue;
    bool seen = false;
    size_t j;
    json_t *v;
    json_array_foreach (groups, j, v) seen = seen || strcmp(kj_get_str(v, "name"), g) == 0;
    if (seen) continue;
    json_t *ag = api_group(srv, g);
    if (!ag) continue;
    json_object_del(ag, "kind");
    json_object_del(ag, "apiVersion");
    json_array_append_new(groups, ag);
  }
  return json_pack("{s:s,s:s,s:o}", "kind", "APIGroupList", "apiVersion", "v1", "groups", groups);
}

static json_t *api_versions(struct apiserver *srv)
{
  const char *adv = srv->cfg.advertise_address ? srv->cfg.advertise_address : "127.0.0.1";
  char addr[300];
  snprintf(addr, sizeof(addr), "%s:%d", adv, srv->cfg.insecure_port);
  return json_pack("{s:s,s:[s],s:[{s:s,s:s}]}", "kind", "APIVersions", "versions", "v1", "serverAddressByClientCIDRs",
                   "clientCIDR", "0.0.0.0/0", "serverAddress", addr);
}

static json_t *not_found(void)
{
  json_t *st = kstatus_new(404, "NotFound", "the server could not find the requested resource");
  json_object_set_new(st, "details", json_object());
  return st;
}

void api_handle_discovery(struct api_req *ar)
{
  json_t *out = NULL;
  switch (ar->rt.kind) {
  case ROUTE_API_VERSIONS: out = api_versions(ar->srv); break;
  case ROUTE_GROUP_LIST: out = group_list(ar->srv); break;
  case ROUTE_GROUP: out = api_group(ar->srv, ar->rt.group); break;
  case ROUTE_RESOURCE_LIST: out = resource_list(ar->srv, ar->rt.group, ar->rt.version); break;
  default: break;
  }
  if (!out) {
    api_reply_status(ar, not_found());
    return;
  }
  /* Discovery is never a Table and always JSON. */
  char *s = kj_dumps(out);
  json_decref(out);
  api_reply_raw(ar, 200, "application/json", s ? s : "{}", s ? strlen(s) : 2);
  free(s);
}

/* ---- OpenAPI v3 ---- */

static void api_openapi_refresh(struct apiserver *srv);

static void etag_of(const char *body, size_t len, char out[40])
{
  uint64_t h = 1469598103934665603ULL;
  for (size_t i = 0; i < len; i++) {
    h ^= (unsigned char)body[i];
    h *= 1099511628211ULL;
  }
  snprintf(out, 40, "\"%016llX\"", (unsigned long long)h);
}

static void reply_cached_as(struct api_req *ar, const char *ctype, const char *body, size_t len, const char *etag)
{
  const char *inm = ar->http ? http_req_header(ar->http, "If-None-Match") : NULL;
  if (ar->http) {
    http_add_header(ar->http, "ETag", etag);
    http_add_header(ar->http, "Cache-Control", "no-cache, private");
  }
  if (inm && strstr(inm, etag)) {
    api_reply_raw(ar, 304, ctype, "", 0);
    return;
  }
  api_reply_raw(ar, 200, ctype, body, len);
}

static void reply_cached(struct api_req *ar, const char *body, size_t len, const char *etag)
{
  reply_cached_as(ar, "application/json", body, len, etag);
}

/* the type upstream answers with; clients ask with an "@" Go cannot parse */
#define OPENAPI_V2_PB "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"

/* Builds both forms of /openapi/v2 once; false on failure. */
static bool openapi_v2_build(struct apiserver *srv)
{
  struct api_state *st = srv->api;
  if (st->v2_json.body) return true;
  size_t n;
  const struct resource *const *all = registry_served(srv, &n);
  json_t *doc = schema_openapi_v2(srv->schema, all, n);
  char *text = doc ? kj_dumps(doc) : NULL;
  unsigned char *pb = NULL;
  size_t pblen = 0;
  if (!text || schema_openapi_v2_protobuf(doc, &pb, &pblen) < 0) {
    json_decref(doc);
    free(text);
    free(pb);
    return false;
  }
  json_decref(doc);
  st->v2_json.body = text;
  st->v2_json.len = strlen(text);
  etag_of(text, st->v2_json.len, st->v2_json.etag);
  st->v2_pb.body = (char *)pb;
  st->v2_pb.len = pblen;
  etag_of((const char *)pb, pblen, st->v2_pb.etag);
  return true;
}

void api_handle_openapi_v2(struct api_req *ar)
{
  api_openapi_refresh(ar->srv);
  if (!ar->srv->schema || !ar->srv->api || !openapi_v2_build(ar->srv)) {
    api_reply_status(ar, kstatus_internal("failed to build the OpenAPI v2 document"));
    return;
  }
  struct api_state *st = ar->srv->api;
  const char *accept = api_req_accept(ar);
  /* protobuf when asked for, in either spelling upstream accepts */
  if (accept && (strstr(accept, "com.github.proto-openapi.spec.v2@v1.0+protobuf") ||
                 strstr(accept, "com.github.proto-openapi.spec.v2.v1.0+protobuf"))) {
    reply_cached_as(ar, OPENAPI_V2_PB, st->v2_pb.body, st->v2_pb.len, st->v2_pb.etag);
    return;
  }
  reply_cached(ar, st->v2_json.body, st->v2_json.len, st->v2_json.etag);
}

void api_handle_openapi(struct api_req *ar, const char *rest)
{
  struct apiserver *srv = ar->srv;
  api_openapi_refresh(srv);
  struct api_state *st = srv->api;
  size_t n;
  const struct resource *const *all = registry_served(srv, &n);
  if (!srv->schema || !st) {
    api_reply_status(ar, not_found());
    return;
  }
  while (*rest == '/') rest++;
  if (!*rest) {
    if (!st->openapi_index) {
      json_t *idx = schema_openapi_v3_index(srv->schema, all, n);
      st->openapi_index = kj_dumps(idx);
      json_decref(idx);
      if (!st->openapi_index) {
        api_reply_status(ar, kstatus_internal("failed to build the OpenAPI index"));
        return;
      }
      st->openapi_index_len = strlen(st->openapi_index);
    }
    char etag[40];
    etag_of(st->openapi_index, st->openapi_index_len, etag);
    reply_cached(ar, st->openapi_index, st->openapi_index_len, etag);
    return;
  }
  for (size_t i = 0; i < st->ndocs; i++) {
    if (strcmp(st->docs[i].gv_path, rest) == 0) {
      reply_cached(ar, st->docs[i].body, st->docs[i].len, st->docs[i].etag);
      return;
    }
  }
  json_t *doc = schema_openapi_v3_doc(srv->schema, rest, all, n);
  if (!doc) {
    api_reply_status(ar, not_found());
    return;
  }
  char *body = kj_dumps(doc);
  json_decref(doc);
  struct api_openapi_doc *docs = xrealloc(st->docs, (st->ndocs + 1) * sizeof(*docs));
  if (!body || !docs) {
    free(body);
    if (docs) st->docs = docs;
    api_reply_status(ar, kstatus_internal("failed to build the OpenAPI document"));
    return;
  }
  st->docs = docs;
  struct api_openapi_doc *d = &docs[st->ndocs++];
  d->gv_path = xstrdup(rest);
  d->body = body;
  d->len = strlen(body);
  etag_of(body, d->len, d->etag);
  reply_cached(ar, d->body, d->len, d->etag);
}

/* The OpenAPI documents are built once per set of served resources:
 * dropped when a CRD change altered the set. */
static void api_openapi_refresh(struct apiserver *srv)
{
  struct api_state *st = srv->api;
  unsigned gen = crd_generation(srv);
  if (st && st->crd_gen != gen) {
    api_discovery_free(srv);
    st->crd_gen = gen;
  }
}

void api_discovery_free(struct apiserver *srv)
{
  struct api_state *st = srv->api;
  if (!st) return;
  free(st->openapi_index);
  st->openapi_index = NULL;
  for (size_t i = 0; i < st->ndocs; i++) {
    free(st->docs[i].gv_path);
    free(st->docs[i].body);
  }
  free(st->docs);
  st->docs = NULL;
  st->ndocs = 0;
  free(st->v2_json.body);
  free(st->v2_pb.body);
  memset(&st->v2_json, 0, sizeof st->v2_json);
  memset(&st->v2_pb, 0, sizeof st->v2_pb);
}
