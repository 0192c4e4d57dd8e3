/*
 * openapi.c - the OpenAPI v3 documents kubectl reads, and the Swagger 2.0
 * document (/openapi/v2), generated from the schema table and the
 * resource registry.
 *
 * GET /openapi/v3 answers an index naming one document per group/version
 * ("api/v1", "apis/apps/v1", ...) with a serverRelativeURL that carries a
 * hash of the document, so clients cache a document until it changes.
 * Each document has:
 *   - paths: for every resource of the group/version, the collection path
 *     (list, create, deletecollection), the item path (read, replace, patch,
 *     delete), the all-namespaces list of namespaced kinds and the status /
 *     scale subresources.  Every operation names its kind in
 *     x-kubernetes-group-version-kind; writes declare the dryRun,
 *     fieldManager and fieldValidation query parameters, which is how
 *     kubectl learns that the server validates fields itself.
 *   - components.schemas: every named type reachable from those kinds
 *     (plus Status, DeleteOptions, WatchEvent and Patch), with upstream's
 *     list and patch extensions, read by `kubectl explain` and by clients
 *     that compute strategic merge patches.
 * Documents are built deterministically (table order, fixed key order) so
 * the hash changes only when the content does.
 *
 * The Swagger 2.0 document is the same content in the older shape: one
 * document for every group/version, `definitions` and `#/definitions/`
 * references (a field's description and list extensions sit next to its
 * $ref, as upstream's do), int-or-string and quantities as strings, body
 * parameters and consumes/produces instead of request bodies and content
 * maps.  kubectl reads it (as protobuf, openapi_pb.c) to validate
 * documents client-side, e.g. the items of a `kind: List`.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "kube/json.h"
#include "registry/customresources.h"
#include "registry/registry.h"
#include "schema/schema_int.h"
#include "schema/structural.h"
#include "kube/xalloc.h"

#define META "io.k8s.apimachinery.pkg.apis.meta.v1."

/* Which document is built: OpenAPI v3 (components, requestBody, content
 * types) or Swagger 2.0 (definitions, body parameters, consumes/produces). */
struct ospec {
  bool v2;
};

static json_t *ref_schema(const struct ospec *o, const char *name)
{
  return json_pack("{s:s+}", "$ref", o->v2 ? "#/definitions/" : "#/components/schemas/", name);
}

static const char *action_desc(const char *action)
{
  if (strcmp(action, "list") == 0) return "list or watch objects of kind";
  if (strcmp(action, "post") == 0) return "create";
  if (strcmp(action, "deletecollection") == 0) return "delete collection of";
  if (strcmp(action, "get") == 0) return "read the specified";
  if (strcmp(action, "put") == 0) return "replace the specified";
  if (strcmp(action, "patch") == 0) return "partially update the specified";
  return "delete";
}

/* ---- components.schemas ---- */

static json_t *type_schema(const struct ospec *os, const struct stype *t);

static void add_extensions(json_t *o, const struct sfield *f)
{
  bool is_list = f->type->kind == ST_ARRAY;
  if (f->merge_key) json_object_set_new(o, "x-kubernetes-patch-merge-key", json_string(f->merge_key));
  if (f->strategy) json_object_set_new(o, "x-kubernetes-patch-strategy", json_string(f->strategy));
  if (f->list_type && is_list) json_object_set_new(o, "x-kubernetes-list-type", json_string(f->list_type));
  if (f->list_keys && is_list) {
    json_t *keys = json_array();
    char *dup = xstrdup(f->list_keys), *save = NULL;
    for (char *k = dup ? strtok_r(dup, ",", &save) : NULL; k; k = strtok_r(NULL, ",", &save))
      json_array_append_new(keys, json_string(k));
    free(dup);
    json_object_set_new(o, "x-kubernetes-list-map-keys", keys);
  }
  if (f->map_type && (f->type->kind == ST_MAP || f->type->kind == ST_STRUCT))
    json_object_set_new(o, "x-kubernetes-map-type", json_string(f->map_type));
}

/* Schema of a value of type t used in place (a field, an item). */
static json_t *type_schema(const struct ospec *os, const struct stype *t)
{
  if (t->name) return ref_schema(os, t->name);
  json_t *o = json_object();
  switch (t->kind) {
  case ST_STRING: json_object_set_new(o, "type", json_string("string")); break;
  case ST_BYTES:
    json_object_set_new(o, "type", json_string("string"));
    json_object_set_new(o, "format", json_string("byte"));
    break;
  case ST_BOOLEAN: json_object_set_new(o, "type", json_string("boolean")); break;
  case ST_INTEGER:
  case ST_NUMBER:
    json_object_set_new(o, "type", json_string(t->kind == ST_INTEGER ? "integer" : "number"));
    if (t->format) json_object_set_new(o, "format", json_string(t->format));
    break;
  case ST_ARRAY:
    json_object_set_new(o, "type", json_string("array"));
    json_object_set_new(o, "items", type_schema(os, t->elem));
    break;
  case ST_MAP:
    json_object_set_new(o, "type", json_string("object"));
    json_object_set_new(o, "additionalProperties", type_schema(os, t->elem));
    break;
  default: json_object_set_new(o, "type", json_string("object")); break;
  }
  return o;
}

static json_t *field_schema(const struct ospec *os, const struct sfield *f)
{
  json_t *o;
  bool has_ext = f->merge_key || f->strategy || f->list_type || f->map_type;
  if (f->type->name && (f->desc || has_ext) && !os->v2) {
    /* siblings of a bare $ref are ignored by OpenAPI 3.0, hence allOf;
     * Swagger 2.0 documents keep them next to the $ref, as upstream's */
    o = json_object();
    json_object_set_new(o, "allOf", json_pack("[o]", ref_schema(os, f->type->name)));
  } else {
    o = type_schema(os, f->type);
  }
  if (f->desc) json_object_set_new(o, "description", json_string(f->desc));
  add_extensions(o, f);
  return o;
}

static json_t *gvk_list(const struct schema *s, const struct stype *t)
{
  json_t *arr = NULL;
  for (size_t i = 0; i < s->nkinds; i++) {
    if (s->kinds[i].type != t) continue;
    if (!arr) arr = json_array();
    json_array_append_new(arr, json_pack("{s:s,s:s,s:s}", "group", s->kinds[i].group, "kind", s->kinds[i].kind,
                                         "version", s->kinds[i].version));
  }
  return arr;
}

/* The component (definition) of a named type. */
static json_t *named_schema(const struct ospec *os, const struct schema *s, const struct stype *t)
{
  json_t *o = json_object();
  if (t->desc) json_object_set_new(o, "description", json_string(t->desc));
  switch (t->kind) {
  case ST_INT_OR_STRING:
    json_object_set_new(o, "format", json_string("int-or-string"));
    if (os->v2) {
      json_object_set_new(o, "type", json_string("string"));
      return o;
    }
    json_object_set_new(o, "oneOf", json_pack("[{s:s},{s:s}]", "type", "integer", "type", "string"));
    json_object_set_new(o, "x-kubernetes-int-or-string", json_true());
    return o;
  case ST_QUANTITY:
    if (os->v2) json_object_set_new(o, "type", json_string("string"));
    else json_object_set_new(o, "oneOf", json_pack("[{s:s},{s:s}]", "type", "string", "type", "number"));
    return o;
  case ST_TIME:
    json_object_set_new(o, "format", json_string("date-time"));
    json_object_set_new(o, "type", json_string("string"));
    return o;
  case ST_STRUCT: break;
  default: json_object_set_new(o, "type", json_string("object")); return o;
  }
  json_t *props = json_object(), *req = json_array();
  for (size_t i = 0; i < t->nfields; i++) {
    json_object_set_new(props, t->fields[i].name, field_schema(os, &t->fields[i]));
    if (t->fields[i].required) json_array_append_new(req, json_string(t->fields[i].name));
  }
  json_object_set_new(o, "properties", props);
  if (json_array_size(req)) json_object_set_new(o, "required", req);
  else json_decref(req);
  json_object_set_new(o, "type", json_string("object"));
  json_t *gvks = gvk_list(s, t);
  if (gvks) json_object_set_new(o, "x-kubernetes-group-version-kind", gvks);
  if (t->struct_type) json_object_set_new(o, "x-kubernetes-map-type", json_string(t->struct_type));
  return o;
}

static void collect(const struct ospec *os, const struct schema *s, const struct stype *t, json_t *schemas)
{
  if (!t) return;
  if (t->name) {
    if (json_object_get(schemas, t->name)) return;
    json_object_set_new(schemas, t->name, named_schema(os, s, t));
  }
  if (t->elem) collect(os, s, t->elem, schemas);
  for (size_t i = 0; i < t->nfields; i++) collect(os, s, t->fields[i].type, schemas);
}

static void collect_name(const struct ospec *os, const struct schema *s, const char *name, json_t *schemas)
{
  collect(os, s, schema_find_type(s, name), schemas);
}

/* ---- paths ---- */

struct gv {
  const char *group, *version;
};

static char *gv_path_of(const char *group, const char *version)
{
  char *p;
  if (asprintf(&p, group[0] ? "apis/%s/%s" : "api/%s", group[0] ? group : version, version) < 0) abort();
  return p;
}

/* Upstream's operation id word for a group: "" -> Core,
 * "rbac.authorization.k8s.io" -> RbacAuthorization, "apps" -> Apps. */
static void group_word(const char *group, char *buf, size_t len)
{
  size_t o = 0;
  const char *g = group[0] ? group : "core";
  size_t glen = strlen(g);
  if (glen > 7 && strcmp(g + glen - 7, ".k8s.io") == 0) glen -= 7;
  bool up = true;
  for (size_t i = 0; i < glen && o + 1 < len; i++) {
    if (g[i] == '.' || g[i] == '-') {
      up = true;
      continue;
    }
    buf[o++] = up ? (char)toupper((unsigned char)g[i]) : g[i];
    up = false;
  }
  buf[o] = '\0';
}

static void tag_of(const char *group, const char *version, char *buf, size_t len)
{
  char w[96];
  group_word(group, w, sizeof w);
  w[0] = (char)tolower((unsigned char)w[0]);
  snprintf(buf, len, "%s_%s", w, version);
}

static json_t *param(const struct ospec *os, const char *name, const char *in, const char *type, const char *desc)
{
  json_t *p;
  if (os->v2)
    p = json_pack("{s:s,s:s,s:s,s:s,s:b}", "description", desc, "in", in, "name", name, "type", type, "uniqueItems", 1);
  else
    p = json_pack("{s:s,s:s,s:s,s:{s:s,s:b}}", "description", desc, "in", in, "name", name, "schema", "type", type,
                  "uniqueItems", 1);
  if (strcmp(in, "path") == 0) json_object_set_new(p, "required", json_true());
  return p;
}

static void add_list_params(const struct ospec *os, json_t *ps, bool watch)
{
  if (watch)
    json_array_append_new(ps,
                          param(os, "allowWatchBookmarks", "query", "boolean", "Ask for BOOKMARK events in a watch."));
  json_array_append_new(ps,
                        param(os, "continue", "query", "string", "The continue token of a previous paginated list."));
  json_array_append_new(
      ps, param(os, "fieldSelector", "query", "string", "Restrict the result to objects whose fields match."));
  json_array_append_new(
      ps, param(os, "labelSelector", "query", "string", "Restrict the result to objects whose labels match."));
  json_array_append_new(
      ps, param(os, "limit", "query", "integer", "The most objects to return; continue with the continue token."));
  json_array_append_new(
      ps, param(os, "resourceVersion", "query", "string", "The resource version the list or watch starts from."));
  json_array_append_new(
      ps, param(os, "resourceVersionMatch", "query", "string", "How resourceVersion applies: Exact or NotOlderThan."));
  json_array_append_new(ps, param(os, "sendInitialEvents", "query", "boolean",
                                  "Start a watch with the current objects as ADDED events."));
  json_array_append_new(
      ps, param(os, "timeoutSeconds", "query", "integer", "End the list or watch after this many seconds."));
  if (watch) json_array_append_new(ps, param(os, "watch", "query", "boolean", "Watch for changes instead of listing."));
}

static void add_write_params(const struct ospec *os, json_t *ps, bool patch)
{
  json_array_append_new(
      ps, param(os, "dryRun", "query", "string", "When All, process the request fully without persisting it."));
  json_array_append_new(
      ps, param(os, "fieldManager", "query", "string", "The name of the actor making the change (field ownership)."));
  json_array_append_new(ps, param(os, "fieldValidation", "query", "string",
                                  "How to treat unknown or duplicate fields in the body: "
                                  "Ignore, Warn or Strict."));
  if (patch)
    json_array_append_new(
        ps, param(os, "force", "query", "boolean", "Take over conflicting fields (server-side apply only)."));
}

static void add_delete_params(const struct ospec *os, json_t *ps)
{
  json_array_append_new(
      ps, param(os, "dryRun", "query", "string", "When All, process the request fully without persisting it."));
  json_array_append_new(ps, param(os, "gracePeriodSeconds", "query", "integer",
                                  "Seconds before the object is deleted; 0 deletes at once."));
  json_array_append_new(ps, param(os, "orphanDependents", "query", "boolean", "Deprecated: use propagationPolicy."));
  json_array_append_new(ps, param(os, "propagationPolicy", "query", "string",
                                  "Garbage collection of dependents: Orphan, Background or "
                                  "Foreground."));
}

static json_t *content(const struct ospec *os, const char *schema_name, const char *const *types)
{
  json_t *c = json_object();
  for (; *types; types++) json_object_set_new(c, *types, json_pack("{s:o}", "schema", ref_schema(os, schema_name)));
  return c;
}

static json_t *strings(const char *const *v)
{
  json_t *a = json_array();
  for (; *v; v++) json_array_append_new(a, json_string(*v));
  return a;
}

/* only what the server can actually answer in */
static const char *const resp_types[] = {"application/json", "application/yaml", NULL};
static const char *const patch_types[] = {"application/apply-patch+yaml", "application/json-patch+json",
                                          "application/merge-patch+json", "application/strategic-merge-patch+json",
                                          NULL};
/* Custom resources take no strategic merge patch (upstream answers 415),
 * and kubectl reads this list to choose how to patch. */
static const char *const cr_patch_types[] = {"application/apply-patch+yaml", "application/json-patch+json",
                                             "application/merge-patch+json", NULL};
static const char *const body_types[] = {"*/*", NULL};

static json_t *responses(const struct ospec *os, const char *schema_name, const char *const *codes)
{
  json_t *r = json_object();
  for (; *codes; codes++) {
    const char *d = strcmp(*codes, "200") == 0 ? "OK" : strcmp(*codes, "201") == 0 ? "Created" : "Accepted";
    if (os->v2)
      json_object_set_new(r, *codes, json_pack("{s:s,s:o}", "description", d, "schema", ref_schema(os, schema_name)));
    else
      json_object_set_new(r, *codes,
                          json_pack("{s:o,s:s}", "content", content(os, schema_name, resp_types), "description", d));
  }
  json_object_set_new(r, "401", json_pack("{s:s}", "description", "Unauthorized"));
  return r;
}

struct opctx {
  const struct ospec *os;
  const char *group, *version; /* x-kubernetes-group-version-kind of the operation */
  const char *kind;
  const char *id_version; /* operation ids name the resource's own version and kind */
  const char *id_kind;
  const char *schema; /* full type name of the kind */
  const char *list_schema;
  char gword[96], tag[128];
  bool namespaced;
  bool custom;        /* a custom resource: no strategic merge patch */
  const char *suffix; /* "", "Status", "Scale" */
};

/* The body of a write: a requestBody (v3) or a body parameter with the
 * content types in `consumes` (v2). */
static void set_body(const struct opctx *c, json_t *op, json_t *ps, const char *schema_name, const char *const *types,
                     bool required)
{
  if (c->os->v2) {
    json_t *b = json_pack("{s:s,s:s,s:o}", "in", "body", "name", "body", "schema", ref_schema(c->os, schema_name));
    if (required) json_object_set_new(b, "required", json_true());
    json_array_insert_new(ps, 0, b);
    json_object_set_new(op, "consumes", strings(types));
    return;
  }
  json_t *rb = json_pack("{s:o}", "content", content(c->os, schema_name, types));
  if (required) json_object_set_new(rb, "required", json_true());
  json_object_set_new(op, "requestBody", rb);
}

static json_t *operation(const struct opctx *c, const char *verb, const char *action, bool all_ns)
{
  const struct ospec *os = c->os;
  char id[256];
  const char *scope = all_ns ? "" : c->namespaced ? "Namespaced" : "";
  const char *coll = strcmp(action, "deletecollection") == 0 ? "Collection" : "";
  bool vword = c->id_version[0] == 'v';
  snprintf(id, sizeof id, "%s%s%s%s%s%s%s%s%s", verb, c->gword, vword ? "V" : "", c->id_version + vword, coll, scope,
           c->id_kind, c->suffix, all_ns ? "ForAllNamespaces" : "");
  char desc[256];
  snprintf(desc, sizeof desc, "%s %s%s%s", action_desc(action), c->suffix[0] ? c->suffix : "",
           c->suffix[0] ? " of " : "", c->id_kind);
  json_t *op = json_pack("{s:s,s:s}", "description", desc, "operationId", id);
  json_t *ps = json_array();
  const char *const c200[] = {"200", NULL}, *const c2001[] = {"200", "201", NULL},
                    *const c20012[] = {"200", "201", "202", NULL}, *const c2002[] = {"200", "202", NULL};
  if (strcmp(action, "list") == 0) {
    add_list_params(os, ps, true);
    json_object_set_new(op, "responses", responses(os, c->list_schema, c200));
  } else if (strcmp(action, "post") == 0) {
    add_write_params(os, ps, false);
    set_body(c, op, ps, c->schema, body_types, true);
    json_object_set_new(op, "responses", responses(os, c->schema, c20012));
  } else if (strcmp(action, "put") == 0) {
    add_write_params(os, ps, false);
    set_body(c, op, ps, c->schema, body_types, true);
    json_object_set_new(op, "responses", responses(os, c->schema, c2001));
  } else if (strcmp(action, "patch") == 0) {
    add_write_params(os, ps, true);
    set_body(c, op, ps, META "Patch", c->custom ? cr_patch_types : patch_types, true);
    json_object_set_new(op, "responses", responses(os, c->schema, c2001));
  } else if (strcmp(action, "get") == 0) {
    json_object_set_new(op, "responses", responses(os, c->schema, c200));
  } else if (strcmp(action, "delete") == 0) {
    add_delete_params(os, ps);
    set_body(c, op, ps, META "DeleteOptions", body_types, false);
    json_object_set_new(op, "responses", responses(os, META "Status", c2002));
  } else { /* deletecollection */
    add_list_params(os, ps, false);
    add_delete_params(os, ps);
    set_body(c, op, ps, META "DeleteOptions", body_types, false);
    json_object_set_new(op, "responses", responses(os, META "Status", c200));
  }
  json_object_set_new(op, "parameters", ps);
  if (os->v2) {
    if (!json_object_get(op, "consumes")) json_object_set_new(op, "consumes", strings(body_types));
    json_object_set_new(op, "produces", strings(resp_types));
    json_object_set_new(op, "schemes", json_pack("[s]", "https"));
  }
  json_object_set_new(op, "tags", json_pack("[s]", c->tag));
  json_object_set_new(op, "x-kubernetes-action", json_string(action));
  json_object_set_new(op, "x-kubernetes-group-version-kind",
                      json_pack("{s:s,s:s,s:s}", "group", c->group, "kind", c->kind, "version", c->version));
  return op;
}

static json_t *path_item(const struct ospec *os, bool ns, bool name)
{
  json_t *ps = json_array();
  if (name) json_array_append_new(ps, param(os, "name", "path", "string", "The name of the object."));
  if (ns) json_array_append_new(ps, param(os, "namespace", "path", "string", "The namespace of the object."));
  json_array_append_new(ps, param(os, "pretty", "query", "string", "Pretty-print the output."));
  return json_pack("{s:o}", "parameters", ps);
}

/* Upstream's definition name of a custom resource: the group reversed
 * ("stable.example.com" -> "com.example.stable"), version, kind. */
static char *cr_type_name(const struct resource *r, const char *kind)
{
  char rev[512] = "";
  char g[256];
  snprintf(g, sizeof g, "%s", r->group);
  char *parts[32];
  size_t n = 0;
  for (char *save = NULL, *t = strtok_r(g, ".", &save); t && n < 32; t = strtok_r(NULL, ".", &save)) parts[n++] = t;
  for (size_t i = n; i-- > 0;) {
    strncat(rev, parts[i], sizeof rev - strlen(rev) - 1);
    if (i) strncat(rev, ".", sizeof rev - strlen(rev) - 1);
  }
  char *out = NULL;
  if (asprintf(&out, "%s.%s.%s", rev, r->version, kind) < 0) abort();
  return out;
}

/* The schema of a custom resource from its CRD (kubectl explain reads
 * it): the openAPIV3Schema with apiVersion, kind and metadata added. */
static json_t *cr_schema(const struct ospec *os, const struct resource *r)
{
  const struct cr_version *cr = cr_of(r);
  const json_t *src = cr ? structural_schema(cr->schema) : NULL;
  json_t *sc =
      src ? kj_deep_copy(src) : json_pack("{s:s,s:b}", "type", "object", "x-kubernetes-preserve-unknown-fields", 1);
  json_t *props = json_object_get(sc, "properties");
  if (!json_is_object(props)) {
    props = json_object();
    json_object_set_new(sc, "properties", props);
  }
  json_object_set_new(props, "apiVersion",
                      json_pack("{s:s,s:s}", "description",
                                "APIVersion defines the versioned schema of this representation of an object.", "type",
                                "string"));
  json_object_set_new(props, "kind",
                      json_pack("{s:s,s:s}", "description",
                                "Kind is a string value representing the REST resource this object represents.", "type",
                                "string"));
  json_t *meta = ref_schema(os, META "ObjectMeta");
  json_object_set_new(props, "metadata", os->v2 ? meta : json_pack("{s:[o]}", "allOf", meta));
  json_object_set_new(sc, "x-kubernetes-group-version-kind",
                      json_pack("[{s:s,s:s,s:s}]", "group", r->group, "kind", r->kind, "version", r->version));
  return sc;
}

static void add_resource_paths(const struct ospec *os, const struct schema *s, const struct resource *r, json_t *paths,
                               json_t *schemas)
{
  const struct stype *t = schema_kind(s, r->group, r->version, r->kind);
  char lkind[128];
  snprintf(lkind, sizeof lkind, "%sList", r->kind);
  const struct stype *lt = schema_kind(s, r->group, r->version, lkind);
  char *tname = NULL, *lname = NULL;
  if (t && lt) {
    collect(os, s, t, schemas);
    collect(os, s, lt, schemas);
  } else if (r->custom) {
    tname = cr_type_name(r, r->kind);
    lname = cr_type_name(r, lkind);
    json_object_set_new(schemas, tname, cr_schema(os, r));
    json_t *items = ref_schema(os, tname);
    json_object_set_new(schemas, lname,
                        json_pack("{s:s,s:{s:{s:s},s:{s:s},s:{s:s,s:o},s:o},s:[s],s:[{s:s,s:s,s:s}]}", "type", "object",
                                  "properties", "apiVersion", "type", "string", "kind", "type", "string", "items",
                                  "type", "array", "items", items, "metadata", ref_schema(os, META "ListMeta"),
                                  "required", "items", "x-kubernetes-group-version-kind", "group", r->group, "kind",
                                  lkind, "version", r->version));
    collect_name(os, s, META "ListMeta", schemas);
    collect_name(os, s, META "ObjectMeta", schemas);
  } else {
    /* A served kind the table lacks still gets its paths (kubectl needs
     * them to send fieldValidation) with a free-form schema. */
    if (asprintf(&tname, "%s.%s.%s", r->group[0] ? r->group : "core", r->version, r->kind) < 0 ||
        asprintf(&lname, "%sList", tname) < 0)
      abort();
    json_object_set_new(schemas, tname,
                        json_pack("{s:s,s:b,s:[{s:s,s:s,s:s}]}", "type", "object",
                                  "x-kubernetes-preserve-unknown-fields", 1, "x-kubernetes-group-version-kind", "group",
                                  r->group, "kind", r->kind, "version", r->version));
    json_object_set_new(schemas, lname,
                        json_pack("{s:s,s:b,s:[{s:s,s:s,s:s}]}", "type", "object",
                                  "x-kubernetes-preserve-unknown-fields", 1, "x-kubernetes-group-version-kind", "group",
                                  r->group, "kind", lkind, "version", r->version));
    collect_name(os, s, META "ListMeta", schemas);
    collect_name(os, s, META "ObjectMeta", schemas);
  }

  struct opctx c = {.os = os,
                    .group = r->group,
                    .version = r->version,
                    .kind = r->kind,
                    .id_version = r->version,
                    .id_kind = r->kind,
                    .schema = t && lt ? t->name : tname,
                    .list_schema = t && lt ? lt->name : lname,
                    .namespaced = r->namespaced,
                    .custom = r->custom,
                    .suffix = ""};
  group_word(r->group, c.gword, sizeof c.gword);
  tag_of(r->group, r->version, c.tag, sizeof c.tag);

  char *gvp = gv_path_of(r->group, r->version), *coll, *item;
  if (r->namespaced) {
    if (asprintf(&coll, "/%s/namespaces/{namespace}/%s", gvp, r->plural) < 0) abort();
  } else if (asprintf(&coll, "/%s/%s", gvp, r->plural) < 0) {
    abort();
  }
  if (asprintf(&item, "%s/{name}", coll) < 0) abort();

  json_t *p = path_item(os, r->namespaced, false);
  json_object_set_new(p, "delete", operation(&c, "delete", "deletecollection", false));
  json_object_set_new(p, "get", operation(&c, "list", "list", false));
  json_object_set_new(p, "post", operation(&c, "create", "post", false));
  json_object_set_new(paths, coll, p);

  p = path_item(os, r->namespaced, true);
  json_object_set_new(p, "delete", operation(&c, "delete", "delete", false));
  json_object_set_new(p, "get", operation(&c, "read", "get", false));
  json_object_set_new(p, "patch", operation(&c, "patch", "patch", false));
  json_object_set_new(p, "put", operation(&c, "replace", "put", false));
  json_object_set_new(paths, item, p);

  if (r->subresources & RES_SUB_STATUS) {
    char *sp;
    if (asprintf(&sp, "%s/status", item) < 0) abort();
    c.suffix = "Status";
    p = path_item(os, r->namespaced, true);
    json_object_set_new(p, "get", operation(&c, "read", "get", false));
    json_object_set_new(p, "patch", operation(&c, "patch", "patch", false));
    json_object_set_new(p, "put", operation(&c, "replace", "put", false));
    json_object_set_new(paths, sp, p);
    free(sp);
    c.suffix = "";
  }
  const struct stype *scale = schema_kind(s, "autoscaling", "v1", "Scale");
  if ((r->subresources & RES_SUB_SCALE) && scale) {
    char *sp;
    if (asprintf(&sp, "%s/scale", item) < 0) abort();
    collect(os, s, scale, schemas);
    struct opctx sc = c;
    sc.group = "autoscaling";
    sc.version = "v1";
    sc.kind = "Scale";
    sc.schema = scale->name;
    sc.suffix = "Scale";
    p = path_item(os, r->namespaced, true);
    json_object_set_new(p, "get", operation(&sc, "read", "get", false));
    json_object_set_new(p, "patch", operation(&sc, "patch", "patch", false));
    json_object_set_new(p, "put", operation(&sc, "replace", "put", false));
    json_object_set_new(paths, sp, p);
    free(sp);
  }
  if (r->namespaced) {
    char *ap;
    if (asprintf(&ap, "/%s/%s", gvp, r->plural) < 0) abort();
    p = path_item(os, false, false);
    json_object_set_new(p, "get", operation(&c, "list", "list", true));
    json_object_set_new(paths, ap, p);
    free(ap);
  }
  free(gvp);
  free(coll);
  free(item);
  free(tname);
  free(lname);
}

static int key_cmp(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

/* New object: o's members in key order (steals o), so that a document
 * does not depend on the order resources were handed in. */
static json_t *sorted(json_t *o)
{
  size_t nk = json_object_size(o), k = 0;
  const char **keys = xmalloc((nk ? nk : 1) * sizeof *keys);
  const char *key;
  json_t *val, *out = json_object();
  if (!keys) abort();
  json_object_foreach (o, key, val) keys[k++] = key;
  qsort(keys, k, sizeof *keys, key_cmp);
  for (size_t i = 0; i < k; i++) json_object_set(out, keys[i], json_object_get(o, keys[i]));
  free(keys);
  json_decref(o);
  return out;
}

/* Types every document carries besides those of its kinds. */
static void collect_always(const struct ospec *os, const struct schema *s, json_t *schemas)
{
  static const char *const always[] = {META "Status", META "DeleteOptions", META "WatchEvent", META "Patch", NULL};
  for (const char *const *a = always; *a; a++) collect_name(os, s, *a, schemas);
}

json_t *schema_openapi_v3_doc(const struct schema *s, const char *gv_path, const struct resource *const *res, size_t n)
{
  if (!s || !gv_path) return NULL;
  const struct ospec os = {.v2 = false};
  json_t *paths = json_object(), *schemas = json_object();
  bool found = false;
  for (size_t i = 0; i < n; i++) {
    char *p = gv_path_of(res[i]->group, res[i]->version);
    if (strcmp(p, gv_path) == 0) {
      found = true;
      add_resource_paths(&os, s, res[i], paths, schemas);
    }
    free(p);
  }
  if (!found) {
    json_decref(paths);
    json_decref(schemas);
    return NULL;
  }
  collect_always(&os, s, schemas);
  return json_pack("{s:{s:o},s:{s:s,s:s},s:s,s:o}", "components", "schemas", sorted(schemas), "info", "title",
                   "Kubernetes", "version", "v1.32.0", "openapi", "3.0.0", "paths", paths);
}

json_t *schema_openapi_v2(const struct schema *s, const struct resource *const *res, size_t n)
{
  if (!s) return NULL;
  const struct ospec os = {.v2 = true};
  json_t *paths = json_object(), *defs = json_object();
  for (size_t i = 0; i < n; i++) add_resource_paths(&os, s, res[i], paths, defs);
  collect_always(&os, s, defs);
  return json_pack("{s:s,s:{s:s,s:s},s:o,s:o,s:[{s:[]}],s:{s:{s:s,s:s,s:s,s:s}}}", "swagger", "2.0", "info", "title",
                   "Kubernetes", "version", "v1.32.0", "paths", sorted(paths), "definitions", sorted(defs), "security",
                   "BearerToken", "securityDefinitions", "BearerToken", "description", "Bearer Token authentication",
                   "in", "header", "name", "authorization", "type", "apiKey");
}

/* Upstream hashes each document with SHA-512 and prints it in upper-case
 * hex; any stable digest would do, this one keeps the URLs familiar. */
static void doc_hash(const json_t *doc, char out[129])
{
  char *txt = kj_dumps_flags(doc, JSON_COMPACT | JSON_SORT_KEYS);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdlen = 0;
  out[0] = '\0';
  if (!txt) return;
  if (EVP_Digest(txt, strlen(txt), md, &mdlen, EVP_sha512(), NULL) == 1)
    for (unsigned i = 0; i < mdlen && i < 64; i++) snprintf(out + 2 * i, 3, "%02X", md[i]);
  free(txt);
}

json_t *schema_openapi_v3_index(const struct schema *s, const struct resource *const *res, size_t n)
{
  if (!s) return NULL;
  json_t *paths = json_object();
  for (size_t i = 0; i < n; i++) {
    char *p = gv_path_of(res[i]->group, res[i]->version);
    if (!json_object_get(paths, p)) {
      json_t *doc = schema_openapi_v3_doc(s, p, res, n);
      char hash[129], *url;
      doc_hash(doc, hash);
      json_decref(doc);
      if (asprintf(&url, "/openapi/v3/%s?hash=%s", p, hash) < 0) abort();
      json_object_set_new(paths, p, json_pack("{s:s}", "serverRelativeURL", url));
      free(url);
    }
    free(p);
  }
  return json_pack("{s:o}", "paths", paths);
}
