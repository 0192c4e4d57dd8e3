/*
 * query.c - query parameters of list and watch requests, continue tokens
 * and content negotiation.
 *
 * A continue token is opaque to clients; ours is the unpadded base64url of
 * {"v":"meta.k8s.io/v1","rv":REV,"start":"LAST_KEY"}, so the next page is
 * read at the same revision (a consistent snapshot) starting after the
 * last key served.  A revision that left the storage's history window
 * makes the page 410 Expired, as upstream.
 */
#define _GNU_SOURCE
#include "api.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <kube/base64.h>
#include <kube/json.h>
#include <kube/selector.h>
#include <kube/status.h>
#include <kube/strconv.h>

#include "registry/registry.h"

char *api_continue_encode(int64_t rev, const char *start_key)
{
  json_t *t =
      json_pack("{s:s,s:I,s:s}", "v", "meta.k8s.io/v1", "rv", (json_int_t)rev, "start", start_key ? start_key : "");
  char *s = kj_dumps(t);
  json_decref(t);
  if (!s) return NULL;
  char *out = kb64_encode(s, strlen(s), KB64_RAW_URL);
  free(s);
  return out;
}

int api_continue_decode(const char *tok, int64_t *rev, char **start_key)
{
  size_t len = 0, bad_at;
  unsigned char *raw = NULL;
  if (kb64_decode(tok, strlen(tok), KB64_RAW_URL, &raw, &len, &bad_at) != 0) return -EINVAL;
  json_t *t = kj_loadb((const char *)raw, len, false, NULL, 0);
  free(raw);
  const char *v = kj_get_str(t, "v");
  const char *start = kj_get_str(t, "start");
  json_t *jrev = json_object_get(t, "rv");
  if (!t || !v || strcmp(v, "meta.k8s.io/v1") != 0 || !start || !json_is_integer(jrev) ||
      json_integer_value(jrev) <= 0) {
    json_decref(t);
    return -EINVAL;
  }
  *rev = json_integer_value(jrev);
  *start_key = strdup(start);
  json_decref(t);
  return *start_key ? 0 : -ENOMEM;
}

bool api_field_supported(const struct resource *res, const char *field)
{
  if (strcmp(field, "metadata.name") == 0 || strcmp(field, "metadata.namespace") == 0) return true;
  if (!res || !res->field_selectors) return false;
  for (const char *const *f = res->field_selectors; *f; f++)
    if (strcmp(*f, field) == 0) return true;
  return false;
}

bool api_query_bool(const char *query, const char *key, bool dflt)
{
  char *v = kstr_query_get(query, key);
  bool out = dflt;
  if (v && kstr_parse_bool(v, &out) != 0) out = dflt;
  free(v);
  return out;
}

void api_list_opts_free(struct api_list_opts *o)
{
  labelsel_free(o->lsel);
  fieldsel_free(o->fsel);
  free(o->cont_start);
  free(o->rv);
  free(o->rv_match);
  memset(o, 0, sizeof(*o));
}

json_t *api_list_opts_parse(const char *query, const struct resource *res, struct api_list_opts *o)
{
  memset(o, 0, sizeof(*o));
  char err[512] = "";
  json_t *st = NULL;
  char *ls = kstr_query_get(query, "labelSelector");
  char *fs = kstr_query_get(query, "fieldSelector");
  char *limit = kstr_query_get(query, "limit");
  char *cont = kstr_query_get(query, "continue");
  char *timeout = kstr_query_get(query, "timeoutSeconds");
  char *watch = kstr_query_get(query, "watch");
  o->rv = kstr_query_get(query, "resourceVersion");
  o->rv_match = kstr_query_get(query, "resourceVersionMatch");
  o->bookmarks = api_query_bool(query, "allowWatchBookmarks", false);

  if (watch && *watch && kstr_parse_bool(watch, &o->watch) != 0) {
    st = kstatus_bad_request("invalid value for watch: \"%s\"", watch);
    goto out;
  }
  if (ls && *ls) {
    o->lsel = labelsel_parse(ls, err, sizeof(err));
    if (!o->lsel) {
      st = kstatus_bad_request("%s", err);
      goto out;
    }
  }
  if (fs && *fs) {
    o->fsel = fieldsel_parse(fs, err, sizeof(err));
    if (!o->fsel) {
      st = kstatus_bad_request("invalid field selector: %s", err);
      goto out;
    }
    for (size_t i = 0; i < fieldsel_count(o->fsel); i++) {
      const char *f, *op, *v;
      fieldsel_term(o->fsel, i, &f, &op, &v);
      if (!api_field_supported(res, f)) {
        st = kstatus_bad_request("field label not supported: %s", f);
        goto out;
      }
    }
  }
  if (limit && *limit) {
    if (kstr_parse_int64(limit, &o->limit) != 0 || o->limit < 0) {
      st = kstatus_bad_request("invalid value for limit: \"%s\"", limit);
      goto out;
    }
  }
  if (timeout && *timeout) {
    if (kstr_parse_int64(timeout, &o->timeout_s) != 0 || o->timeout_s < 0) {
      st = kstatus_bad_request("invalid value for timeoutSeconds: \"%s\"", timeout);
      goto out;
    }
  }
  if (o->rv && *o->rv) {
    int64_t r;
    if (kstr_parse_int64(o->rv, &r) != 0 || r < 0) {
      st = kstatus_bad_request("invalid resource version: \"%s\"", o->rv);
      goto out;
    }
  }
  if (o->rv_match && *o->rv_match && strcmp(o->rv_match, "NotOlderThan") != 0 && strcmp(o->rv_match, "Exact") != 0) {
    st = kstatus_bad_request("resourceVersionMatch: Unsupported value: \"%s\": supported values: "
                             "\"Exact\", \"NotOlderThan\", \"\"",
                             o->rv_match);
    goto out;
  }
  if (o->rv_match && *o->rv_match && (!o->rv || !*o->rv)) {
    st = kstatus_bad_request("resourceVersionMatch is forbidden unless resourceVersion is provided");
    goto out;
  }
  if (cont && *cont && !o->watch) {
    if (o->rv && *o->rv && strcmp(o->rv, "0") != 0) {
      st = kstatus_bad_request("specifying resource version is not allowed when using continue");
      goto out;
    }
    if (api_continue_decode(cont, &o->cont_rev, &o->cont_start) != 0) {
      st = kstatus_bad_request(
          "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)");
      goto out;
    }
  }
out:
  free(ls);
  free(fs);
  free(limit);
  free(cont);
  free(timeout);
  free(watch);
  if (st) api_list_opts_free(o);
  return st;
}

/* The value of parameter `key` in the parameters of one media range
 * ("application/json;as=Table;v=v1;g=meta.k8s.io"), unquoted, or "". */
static void media_param(const char *range, const char *key, char *out, size_t len)
{
  size_t kl = strlen(key);
  *out = '\0';
  for (const char *p = strchr(range, ';'); p; p = strchr(p + 1, ';')) {
    const char *q = p + 1;
    while (*q == ' ') q++;
    if (strncasecmp(q, key, kl) != 0 || q[kl] != '=') continue;
    q += kl + 1;
    if (*q == '"') q++;
    size_t n = strcspn(q, ";\" ");
    if (n >= len) n = len - 1;
    memcpy(out, q, n);
    out[n] = '\0';
    return;
  }
}

/* One media range: true when it can be served, with what it asks for. */
static bool media_range(const char *range, struct api_media *m)
{
  while (*range == ' ') range++;
  bool json = strncmp(range, "application/json", 16) == 0 || strncmp(range, "*/*", 3) == 0 ||
              strncmp(range, "application/*", 13) == 0;
  bool yaml = strncmp(range, "application/yaml", 16) == 0;
  if (!json && !yaml) return false; /* protobuf, text/html...: not served */
  char as[64], g[64], v[32];
  media_param(range, "as", as, sizeof as);
  if (!*as) {
    m->fmt = yaml ? FMT_YAML : FMT_JSON;
    return true;
  }
  media_param(range, "g", g, sizeof g);
  media_param(range, "v", v, sizeof v);
  /* upstream converts only to these meta.k8s.io kinds */
  if (strcmp(g, "meta.k8s.io") != 0 || (strcmp(v, "v1") != 0 && strcmp(v, "v1beta1") != 0)) return false;
  if (!strcmp(as, "Table")) m->fmt = FMT_TABLE;
  else if (!strcmp(as, "PartialObjectMetadata")) m->fmt = FMT_PARTIAL;
  else if (!strcmp(as, "PartialObjectMetadataList")) m->fmt = FMT_PARTIAL_LIST;
  else return false;
  snprintf(m->meta_gv, sizeof m->meta_gv, "meta.k8s.io/%s", v);
  return true;
}

bool api_negotiate_media(const char *accept, struct api_media *m)
{
  memset(m, 0, sizeof *m);
  m->fmt = FMT_JSON;
  snprintf(m->meta_gv, sizeof m->meta_gv, "meta.k8s.io/v1");
  if (!accept || !*accept) return true;
  /* the first media range we can serve, in the client's order */
  const char *p = accept;
  for (;;) {
    const char *end = strchr(p, ',');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    char one[512];
    if (len >= sizeof(one)) len = sizeof(one) - 1;
    memcpy(one, p, len);
    one[len] = '\0';
    if (media_range(one, m)) return true;
    if (!end) break;
    p = end + 1;
  }
  m->fmt = FMT_JSON;
  return false;
}

enum api_format api_negotiate(const char *accept)
{
  struct api_media m;
  api_negotiate_media(accept, &m);
  return m.fmt;
}

enum api_include api_include_parse(const char *v)
{
  if (v && strcmp(v, "Object") == 0) return INCLUDE_OBJECT;
  if (v && strcmp(v, "None") == 0) return INCLUDE_NONE;
  return INCLUDE_METADATA;
}
