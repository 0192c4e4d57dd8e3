/*
 * customresources.c - the strategy of custom resources: the heap
 * descriptors of CRD versions and the hooks behind them (see
 * customresources.h for the design).
 *
 * A descriptor owns copies of every string it points at, the compiled
 * structural schema and the printer columns, so it outlives the CRD
 * object it was built from; the last registry_res_unref frees it.
 */
#define _GNU_SOURCE
#include "registry/customresources.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kube/json.h>
#include <kube/status.h>
#include <kube/timeutil.h>

#include "apiserver.h"
#include "registry/reg_internal.h"
#include "schema/schema.h"
#include "schema/structural.h"
#include "schema/structural_types.h"
#include <kube/xalloc.h>

/* ---------- descriptor lifetime ---------- */

static void cr_version_free(struct cr_version *v)
{
  for (size_t i = 0; i < sizeof(v->strs) / sizeof(v->strs[0]); i++) free(v->strs[i]);
  for (size_t i = 0; i < 6; i++) free(v->short_names[i]);
  for (size_t i = 0; i < 3; i++) free(v->categories[i]);
  free(v->storage_api_version);
  free(v->warning);
  structural_free(v->schema);
  json_decref(v->columns);
  free(v->cols);
  free(v->scale_spec);
  free(v->scale_status);
  free(v->scale_selector);
  for (size_t i = 0; i < CR_MAX_SELECTABLE; i++) free(v->selectable[i]);
  stype_set_free(v->types);
  free(v);
}

void registry_res_unref(const struct resource *res)
{
  struct cr_version *v = cr_of(res);
  if (v && --v->refs == 0) cr_version_free(v);
}

#define META_TYPE "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"

/* ---------- hooks ---------- */

static void cr_validate(struct reg_request *rq, const json_t *obj, const json_t *old, json_t *causes)
{
  struct cr_version *v = cr_of(rq->res);
  if (!v) return;
  reg_validate_object_meta(obj, v->res.namespaced, true, causes);
  if (old) reg_validate_object_meta_update(obj, old, causes);
  structural_validate(v->schema, obj, causes);
}

/* Creates are refused while the CRD is being deleted (upstream's
 * forbidCreateAdmission). */
static json_t *cr_admit(struct reg_request *rq, json_t *obj, const json_t *old)
{
  struct cr_version *v = cr_of(rq->res);
  if (!v || old || !v->terminating) return NULL;
  const char *name = kj_get_str(obj, "metadata.name");
  json_t *st = kstatus_forbidden("%s.%s \"%s\" is forbidden: create not allowed while custom resource definition is "
                                 "terminating",
                                 v->res.plural, v->res.group, name ? name : "");
  kstatus_set_details(st, name ? name : "", v->res.group, v->res.plural);
  return st;
}

/* ---------- building a descriptor ---------- */

static const json_t *find_version(const json_t *crd, const char *name)
{
  size_t i;
  json_t *v;
  json_array_foreach (kj_get(crd, "spec.versions"), i, v) {
    const char *n = kj_get_str(v, "name");
    if (n && strcmp(n, name) == 0) return v;
  }
  return NULL;
}

static char *own(struct cr_version *v, size_t slot, const char *s)
{
  v->strs[slot] = xstrdup(s ? s : "");
  return v->strs[slot];
}

static char *strip_dot(const char *p)
{
  if (!p) return NULL;
  return xstrdup(*p == '.' ? p + 1 : p);
}

/* Upstream's default deprecation warning. */
static char *deprecation_warning(const json_t *crd, const json_t *ver, const char *kind)
{
  const char *custom = kj_get_str(ver, "deprecationWarning");
  if (custom) return xstrdup(custom);
  const char *group = kj_get_str(crd, "spec.group"), *name = kj_get_str(ver, "name");
  const char *best = NULL;
  size_t i;
  json_t *o;
  json_array_foreach (kj_get(crd, "spec.versions"), i, o) {
    const char *on = kj_get_str(o, "name");
    if (!on || !kj_get_bool(o, "served", false) || kj_get_bool(o, "deprecated", false) ||
        crd_version_cmp(name, on) >= 0)
      continue;
    if (!best || crd_version_cmp(on, best) > 0) best = on;
  }
  char *msg = NULL;
  int r = best ? asprintf(&msg, "%s/%s %s is deprecated; use %s/%s %s", group, name, kind, group, best, kind)
               : asprintf(&msg, "%s/%s %s is deprecated", group, name, kind);
  return r < 0 ? NULL : msg;
}

static const char AGE_DESC[] = "CreationTimestamp is a timestamp representing the server time when this object was "
                               "created. It is not guaranteed to be set in happens-before order across separate "
                               "operations. Clients may not set this value. It is represented in RFC3339 form and "
                               "is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: "
                               "https://git.k8s.io/community/contributors/devel/sig-architecture/"
                               "api-conventions.md#metadata";

/* additionalPrinterColumns, or upstream's default Age column. */
static int build_columns(struct cr_version *v, const json_t *ver)
{
  json_t *cols = kj_get(ver, "additionalPrinterColumns");
  if (json_array_size(cols)) v->columns = kj_deep_copy(cols);
  else
    v->columns = json_pack("[{s:s,s:s,s:s,s:s}]", "name", "Age", "type", "date", "jsonPath",
                           ".metadata.creationTimestamp", "description", AGE_DESC);
  size_t n = json_array_size(v->columns);
  v->cols = xcalloc(n + 1, sizeof(*v->cols));
  if (!v->columns || !v->cols) return -ENOMEM;
  size_t i;
  json_t *c;
  json_array_foreach (v->columns, i, c) {
    const char *path = kj_get_str(c, "jsonPath");
    const char *desc = kj_get_str(c, "description");
    if (!desc || !*desc) {
      char *d = NULL;
      if (asprintf(&d, "Custom resource definition column (in JSONPath format): %s", path ? path : "") < 0)
        return -ENOMEM;
      json_object_set_new(c, "description", json_string(d));
      free(d);
      desc = kj_get_str(c, "description");
    }
    v->cols[i].name = reg_str_or(kj_get_str(c, "name"), "");
    v->cols[i].type = reg_str_or(kj_get_str(c, "type"), "string");
    v->cols[i].format = reg_str_or(kj_get_str(c, "format"), "");
    v->cols[i].priority = (int)kj_get_int(c, "priority", 0);
    v->cols[i].description = desc;
  }
  return 0;
}

static void build_names(struct cr_version *v, const json_t *accepted)
{
  size_t i;
  json_t *s;
  size_t n = 0;
  json_array_foreach (json_object_get(accepted, "shortNames"), i, s) {
    if (n < 5 && json_is_string(s)) v->short_names[n++] = xstrdup(json_string_value(s));
  }
  for (i = 0; i < n; i++) v->res.short_names[i] = v->short_names[i];
  n = 0;
  json_array_foreach (json_object_get(accepted, "categories"), i, s) {
    if (n < 2 && json_is_string(s)) v->categories[n++] = xstrdup(json_string_value(s));
  }
  for (i = 0; i < n; i++) v->res.categories[i] = v->categories[i];
}

static void build_subresources(struct cr_version *v, const json_t *ver)
{
  const json_t *sub = kj_get(ver, "subresources");
  if (json_object_get(sub, "status")) v->res.subresources |= RES_SUB_STATUS;
  const json_t *scale = json_object_get(sub, "scale");
  if (scale) {
    v->res.subresources |= RES_SUB_SCALE;
    v->scale_spec = strip_dot(kj_get_str(scale, "specReplicasPath"));
    v->scale_status = strip_dot(kj_get_str(scale, "statusReplicasPath"));
    v->scale_selector = strip_dot(kj_get_str(scale, "labelSelectorPath"));
    v->res.scale_spec_path = v->scale_spec;
    v->res.scale_status_path = v->scale_status;
    /* "" = no selector (the Scale's status.selector stays empty) */
    v->res.scale_selector_path = v->scale_selector ? v->scale_selector : "";
  }
}

/* selectableFields (validated at CRD write: simple paths, at most 8). */
static void build_selectable(struct cr_version *v, const json_t *ver)
{
  size_t i, n = 0;
  json_t *f;
  json_array_foreach (kj_get(ver, "selectableFields"), i, f) {
    const char *jp = kj_get_str(f, "jsonPath");
    if (!jp || jp[0] != '.' || n >= CR_MAX_SELECTABLE) continue;
    v->selectable[n] = xstrdup(jp + 1);
    v->selectable_ptrs[n] = v->selectable[n];
    n++;
  }
  v->selectable_ptrs[n] = NULL;
  if (n) v->res.field_selectors = v->selectable_ptrs;
}

const struct stype *cr_field_types(const struct resource *res, const struct schema *schema)
{
  struct cr_version *v = cr_of(res);
  if (!v || !v->schema) return NULL;
  if (!v->types_made) {
    v->types_made = true;
    const struct stype *meta = schema ? schema_named(schema, META_TYPE) : NULL;
    v->root_type = structural_types_new(structural_schema(v->schema), meta, &v->types);
  }
  return v->root_type;
}

const char *cr_selectable_value(const json_t *obj, const char *field, char *buf, size_t len)
{
  const json_t *x = kj_get(obj, field);
  if (json_is_string(x)) return json_string_value(x);
  if (json_is_integer(x)) snprintf(buf, len, "%lld", (long long)json_integer_value(x));
  else if (json_is_boolean(x)) snprintf(buf, len, "%s", json_is_true(x) ? "true" : "false");
  else snprintf(buf, len, "%s", "");
  return buf;
}

struct cr_version *cr_version_new(const json_t *crd, const json_t *accepted, const char *vname)
{
  const json_t *ver = find_version(crd, vname);
  struct cr_version *v = xcalloc(1, sizeof(*v));
  if (!ver || !v) {
    free(v);
    return NULL;
  }
  v->refs = 1;
  struct resource *r = &v->res;
  r->custom = true;
  r->group = own(v, 0, kj_get_str(crd, "spec.group"));
  r->version = own(v, 1, vname);
  r->plural = own(v, 2, kj_get_str(accepted, "plural"));
  r->singular = own(v, 3, kj_get_str(accepted, "singular"));
  r->kind = own(v, 4, kj_get_str(accepted, "kind"));
  char *prefix = NULL;
  if (asprintf(&prefix, "/registry/%s/%s", r->group, r->plural) < 0) prefix = NULL;
  v->strs[5] = prefix;
  r->storage_prefix = prefix;
  const char *scope = kj_get_str(crd, "spec.scope");
  r->namespaced = scope && strcmp(scope, "Namespaced") == 0;
  r->generation = REG_GEN_SPEC;
  r->validate = cr_validate;
  r->admit = cr_admit;
  build_names(v, accepted);
  build_subresources(v, ver);
  build_selectable(v, ver);
  size_t i, nv = 0;
  json_t *o;
  json_array_foreach (kj_get(crd, "spec.versions"), i, o) {
    nv++;
    if (kj_get_bool(o, "storage", false) &&
        asprintf(&v->storage_api_version, "%s/%s", r->group, kj_get_str(o, "name")) < 0)
      v->storage_api_version = NULL;
  }
  v->multi_version = nv > 1;
  v->terminating = kj_get(crd, "metadata.deletionTimestamp") != NULL;
  if (kj_get_bool(ver, "deprecated", false)) v->warning = deprecation_warning(crd, ver, r->kind);
  json_t *schema = kj_get(ver, "schema.openAPIV3Schema");
  if (schema) v->schema = structural_new(kj_deep_copy(schema));
  v->read_defaults = schema && structural_has_defaults(schema);
  if (!prefix || !v->storage_api_version || (schema && !v->schema) || build_columns(v, ver) != 0) {
    cr_version_free(v);
    return NULL;
  }
  r->columns = v->cols;
  return v;
}

/* ---------- decoding and conversion ---------- */


int cr_decode(struct apiserver *srv, const struct resource *res, json_t *obj, json_t *unknown, char *err, size_t errlen)
{
  struct cr_version *v = cr_of(res);
  if (!v) return 0;
  json_t *meta = json_object_get(obj, "metadata");
  if (meta && !json_is_object(meta)) {
    snprintf(err, errlen,
             "error decoding metadata: json: cannot unmarshal %s into Go value of type "
             "v1.ObjectMeta",
             json_is_array(meta)    ? "array"
             : json_is_string(meta) ? "string"
                                    : "number");
    return -EINVAL;
  }
  const struct stype *mt = srv->schema ? schema_named(srv->schema, META_TYPE) : NULL;
  if (meta && mt) {
    json_t *mu = json_array();
    if (schema_decode(srv->schema, mt, meta, mu, err, errlen) < 0) {
      json_decref(mu);
      return -EINVAL;
    }
    size_t i;
    json_t *u;
    json_array_foreach (mu, i, u) {
      /* `unknown field "x"` of metadata is `unknown field "metadata.x"` */
      const char *s = json_string_value(u);
      const char *q = s ? strchr(s, '"') : NULL;
      char *msg = NULL;
      if (q && unknown && asprintf(&msg, "unknown field \"metadata.%s", q + 1) >= 0) {
        json_array_append_new(unknown, json_string(msg));
        free(msg);
      }
    }
    json_decref(mu);
  }
  structural_prune(v->schema, obj, unknown);
  structural_default(v->schema, obj);
  return 0;
}

static json_t *set_api_version(json_t *obj, const char *gv)
{
  const char *cur = kj_get_str(obj, "apiVersion");
  if (obj && gv && (!cur || strcmp(cur, gv) != 0)) json_object_set_new(obj, "apiVersion", json_string(gv));
  return obj;
}

json_t *cr_to_external(const struct resource *res, json_t *obj)
{
  char gv[512];
  snprintf(gv, sizeof gv, "%s/%s", res->group, res->version);
  struct cr_version *v = cr_of(res);
  /* upstream defaults on read as well, so a default added to the schema
   * shows on objects stored before it */
  if (v && v->read_defaults && obj) structural_default(v->schema, obj);
  return set_api_version(obj, gv);
}

json_t *cr_to_internal(const struct resource *res, json_t *obj)
{
  struct cr_version *v = cr_of(res);
  return v ? set_api_version(obj, v->storage_api_version) : obj;
}

/* ---------- printer columns ---------- */

const struct reg_column *cr_columns(const struct resource *res)
{
  struct cr_version *v = cr_of(res);
  return v ? v->cols : NULL;
}

/* One step of a JSONPath: .name, ['name'], [N] or [?(@.key=="value")]. */
static const json_t *jp_step(const json_t *cur, const char **pp)
{
  const char *p = *pp;
  char name[256];
  size_t n = 0;
  if (*p == '.') {
    p++;
    while (*p && *p != '.' && *p != '[' && n < sizeof(name) - 1) name[n++] = *p++;
    name[n] = '\0';
    *pp = p;
    return json_object_get(cur, name);
  }
  if (*p != '[') return NULL;
  p++;
  if (*p == '\'' || *p == '"') {
    char q = *p++;
    while (*p && *p != q && n < sizeof(name) - 1) name[n++] = *p++;
    name[n] = '\0';
    if (*p == q) p++;
    if (*p == ']') p++;
    *pp = p;
    return json_object_get(cur, name);
  }
  if (*p == '?') {
    /* ?(@.key=="value") or ?(@.key=='value') */
    const char *at = strstr(p, "@.");
    const char *eq = at ? strstr(at, "==") : NULL;
    const char *end = eq ? strstr(eq, ")]") : NULL;
    if (!end) return NULL;
    char key[128], val[256];
    size_t kl = (size_t)(eq - (at + 2)), vl;
    const char *vs = eq + 2;
    while (*vs == ' ') vs++;
    if (*vs == '"' || *vs == '\'') vs++;
    vl = (size_t)(end - vs);
    while (vl && (vs[vl - 1] == '"' || vs[vl - 1] == '\'' || vs[vl - 1] == ' ')) vl--;
    while (kl && at[2 + kl - 1] == ' ') kl--;
    if (kl >= sizeof key || vl >= sizeof val) return NULL;
    memcpy(key, at + 2, kl);
    key[kl] = '\0';
    memcpy(val, vs, vl);
    val[vl] = '\0';
    *pp = end + 2;
    size_t i;
    json_t *e;
    json_array_foreach (cur, i, e) {
      const json_t *kv = kj_get(e, key);
      const char *s = json_string_value(kv);
      char num[64];
      if (!s && json_is_integer(kv)) {
        snprintf(num, sizeof num, "%lld", (long long)json_integer_value(kv));
        s = num;
      } else if (!s && json_is_boolean(kv)) {
        s = json_is_true(kv) ? "true" : "false";
      }
      if (s && strcmp(s, val) == 0) return e;
    }
    return NULL;
  }
  if (*p == '*') {
    *pp = strchr(p, ']') ? strchr(p, ']') + 1 : p + strlen(p);
    return json_array_get(cur, 0);
  }
  char *end;
  long idx = strtol(p, &end, 10);
  if (*end != ']') return NULL;
  *pp = end + 1;
  if (idx < 0) idx += (long)json_array_size(cur);
  return idx >= 0 ? json_array_get(cur, (size_t)idx) : NULL;
}

const json_t *cr_jsonpath(const json_t *obj, const char *path)
{
  if (!path) return NULL;
  const char *p = path;
  if (*p == '{') p++;
  const json_t *cur = obj;
  while (cur && *p && *p != '}') {
    const char *before = p;
    cur = jp_step(cur, &p);
    if (p == before) return NULL;
  }
  return cur;
}

static json_t *cell_for(const char *type, const json_t *v)
{
  if (!v || json_is_null(v)) return json_null();
  if (strcmp(type, "string") == 0) {
    if (json_is_string(v)) return json_incref((json_t *)v);
    char *s = kj_dumps(v);
    json_t *out = json_string(s ? s : "");
    free(s);
    return out;
  }
  if (strcmp(type, "integer") == 0) {
    if (json_is_integer(v)) return json_incref((json_t *)v);
    if (json_is_real(v)) return json_integer((json_int_t)json_real_value(v));
  } else if (strcmp(type, "number") == 0) {
    if (json_is_number(v)) return json_real(json_number_value(v));
  } else if (strcmp(type, "boolean") == 0) {
    if (json_is_boolean(v)) return json_incref((json_t *)v);
  } else if (strcmp(type, "date") == 0) {
    if (json_is_string(v)) {
      int64_t us;
      char buf[32];
      if (ktime_parse(json_string_value(v), &us) != 0) return json_string("<invalid>");
      int64_t secs = (ktime_now_us() - us) / 1000000;
      return json_string(ktime_human_age(secs < 0 ? 0 : secs, buf, sizeof buf));
    }
  }
  return json_null();
}

json_t *cr_cells(const struct resource *res, const json_t *obj)
{
  struct cr_version *v = cr_of(res);
  json_t *row = json_array();
  if (!v) return row;
  size_t i;
  json_t *c;
  json_array_foreach (v->columns, i, c) {
    const json_t *val = cr_jsonpath(obj, kj_get_str(c, "jsonPath"));
    json_array_append_new(row, cell_for(reg_str_or(kj_get_str(c, "type"), "string"), val));
  }
  return row;
}

/* ---------- version ordering ---------- */

/* Splits "v1beta2" into major 1, stage 1 (alpha 0, beta 1, GA 2), minor 2;
 * false when not of the kube form. */
static bool kube_version(const char *s, long *major, int *stage, long *minor)
{
  if (s[0] != 'v' || !isdigit((unsigned char)s[1])) return false;
  char *end;
  *major = strtol(s + 1, &end, 10);
  *minor = 0;
  if (!*end) {
    *stage = 2;
    return true;
  }
  if (strncmp(end, "alpha", 5) == 0) {
    *stage = 0;
    end += 5;
  } else if (strncmp(end, "beta", 4) == 0) {
    *stage = 1;
    end += 4;
  } else {
    return false;
  }
  if (!isdigit((unsigned char)*end)) return false;
  *minor = strtol(end, &end, 10);
  return *end == '\0';
}

int crd_version_cmp(const char *a, const char *b)
{
  long ma, mb, na, nb;
  int sa, sb;
  bool ka = kube_version(a, &ma, &sa, &na), kb = kube_version(b, &mb, &sb, &nb);
  if (ka && kb) {
    if (sa != sb) return sa < sb ? -1 : 1;
    if (ma != mb) return ma < mb ? -1 : 1;
    if (na != nb) return na < nb ? -1 : 1;
    return 0;
  }
  if (ka != kb) return ka ? 1 : -1;
  return -strcmp(a, b); /* non-kube versions sort alphabetically, first is greatest */
}
