/*
 * api.h - internals shared by the request-path files of kube-apiserver
 * (server.c, router.c, query.c, discovery.c, handlers*.c, watch.c,
 * table.c, subresources.c, convert_events.c).
 *
 * A request is parsed into a `struct api_route` (pure string work, no
 * allocation), wrapped in a heap `struct api_req` that lives until the
 * answer is sent (asynchronous storage writes and watches outlive the
 * handler call), and answered through api_reply_*() which also record
 * metrics and the httplog line.
 */
#ifndef APISERVER_API_H
#define APISERVER_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "apiserver.h"
#include "registry/registry.h"

struct http_request;
struct resource;
struct kv;
struct labelsel;
struct fieldsel;
struct auth_user;
struct audit_req;

/* ---------- routing (router.c) ---------- */

enum api_route_kind {
  ROUTE_NOT_FOUND = 0,
  ROUTE_API_VERSIONS,  /* /api */
  ROUTE_GROUP_LIST,    /* /apis */
  ROUTE_GROUP,         /* /apis/G */
  ROUTE_RESOURCE_LIST, /* /api/v1, /apis/G/V */
  ROUTE_RESOURCE,      /* a resource path */
};

struct api_route {
  enum api_route_kind kind;
  char group[128];
  char version[32];
  char resource[128];
  char ns[256];   /* "" when not namespaced in the path */
  char name[256]; /* "" for collections */
  char sub[64];   /* "" for the main resource */
};

/* Parses a decoded path.  Returns rt->kind. */
enum api_route_kind api_route_parse(const char *path, struct api_route *rt);
/* Storage key of one object ("/registry/pods/NS/NAME") or the collection
 * prefix ending in '/' when name is NULL (ns NULL or "" = all namespaces).
 * Caller frees. */
char *api_storage_key(const struct resource *res, const char *ns, const char *name);

/* ---------- query parsing (query.c) ---------- */

/* Continue tokens: opaque base64url of {"v":"meta.k8s.io/v1","rv":N,"start":"KEY"}. */
char *api_continue_encode(int64_t rev, const char *start_key);
/* 0, or -EINVAL for a malformed token.  *start_key is allocated. */
int api_continue_decode(const char *tok, int64_t *rev, char **start_key);

struct api_list_opts {
  struct labelsel *lsel; /* NULL = everything */
  struct fieldsel *fsel; /* NULL = everything */
  int64_t limit;         /* 0 = no limit */
  int64_t cont_rev;      /* from continue, 0 if none */
  char *cont_start;      /* key to start after, from continue */
  char *rv;              /* resourceVersion as sent, NULL if absent */
  char *rv_match;        /* resourceVersionMatch */
  bool watch;
  bool bookmarks;
  int64_t timeout_s; /* 0 = server default */
};
/* Parses a raw query string.  On error returns a new reference to a
 * Status (400) and leaves opts cleared.  res may be NULL (no field check). */
json_t *api_list_opts_parse(const char *query, const struct resource *res, struct api_list_opts *opts);
void api_list_opts_free(struct api_list_opts *opts);

/* Returns true when the field is selectable on res. */
bool api_field_supported(const struct resource *res, const char *field);

/* Output formats: plain JSON or YAML, or a conversion to a meta.k8s.io
 * kind (Table, PartialObjectMetadata, PartialObjectMetadataList). */
enum api_format { FMT_JSON = 0, FMT_YAML, FMT_TABLE, FMT_PARTIAL, FMT_PARTIAL_LIST };
struct api_media {
  enum api_format fmt;
  char meta_gv[24]; /* apiVersion of a conversion: meta.k8s.io/v1 or v1beta1 */
};
/* The first media range of an Accept header that can be served (NULL or
 * empty: JSON).  False when none can (upstream answers 406), with JSON
 * in m. */
bool api_negotiate_media(const char *accept, struct api_media *m);
/* The format alone (JSON when nothing can be served). */
enum api_format api_negotiate(const char *accept);
/* 406 NotAcceptable listing what the server can encode. */
json_t *api_not_acceptable(const char *why);

enum api_include { INCLUDE_METADATA = 0, INCLUDE_OBJECT, INCLUDE_NONE };
enum api_include api_include_parse(const char *v);

/* Go ParseBool; absent or malformed = dflt. */
bool api_query_bool(const char *query, const char *key, bool dflt);

/* ---------- tables (table.c) ---------- */

/* New reference: a meta.k8s.io/v1 Table with the column definitions of
 * res (or Name + Created At) and no rows. */
json_t *api_table_new(const struct resource *res, bool with_columns);
/* Appends a row for obj (borrowed). */
void api_table_add_row(json_t *table, const struct resource *res, const json_t *obj, enum api_include inc);
/* PartialObjectMetadata of obj (borrowed) in meta_gv; new reference. */
json_t *api_partial_object(const json_t *obj, const char *meta_gv);
/* PartialObjectMetadataList of a list (borrowed); new reference. */
json_t *api_partial_list(const json_t *list, const char *meta_gv);

/* ---------- protobuf request bodies (protobuf.c) ---------- */

/* Decodes a body in the Kubernetes protobuf envelope for the kinds that
 * have a field table; new reference, or NULL with a message in err. */
json_t *api_protobuf_decode(const char *buf, size_t len, char *err, size_t errlen);

/* ---------- events conversion (convert_events.c) ---------- */

/* New references; inputs are borrowed.  core/v1 Event <-> events.k8s.io/v1 Event. */
json_t *conv_event_to_v1(const json_t *core);
json_t *conv_event_to_core(const json_t *ev);
/* True when res is served in another shape than the stored one. */
bool api_needs_conversion(const struct resource *res);
/* Stored (parsed) object -> object as served for res; new reference. */
json_t *api_to_external(const struct resource *res, json_t *stored /* stolen */);
/* Request object for res -> stored shape; new reference. */
json_t *api_to_internal(const struct resource *res, json_t *obj /* stolen */);

/* ---------- the request (server.c) ---------- */

struct api_openapi_doc {
  char *gv_path; /* "api/v1", "apis/apps/v1" */
  char *body;
  size_t len;
  char etag[40];
};

struct api_state {
  char *openapi_index; /* serialized /openapi/v3, built on first use */
  size_t openapi_index_len;
  struct api_openapi_doc *docs;
  size_t ndocs;
  struct api_openapi_doc v2_json, v2_pb; /* /openapi/v2, built on first use */
  struct event *trim_ev;                 /* returns freed heap to the system after a big list */
  unsigned crd_gen;                      /* served set the OpenAPI documents were built for */
};

struct evbuffer;
/* Arms a heap trim for when a large response (body) has been written out:
 * a big list leaves megabytes of freed buffer chains behind. */
int api_trim_after(struct apiserver *srv, struct evbuffer *body);

struct api_req {
  struct apiserver *srv;
  struct http_request *http; /* NULL once the client went away */
  struct api_route rt;
  const struct resource *res;
  const char *verb; /* upstream verb for metrics: get, list, watch, create... */
  int64_t start_us;
  bool pending; /* answered later (write or watch in flight) */
  bool closed;
  void *watch; /* struct api_watch * while a watch streams */
  /* Who asks (auth/auth.h), owned; NULL on the insecure port, where
   * every request is allowed. */
  struct auth_user *user;
  /* Audit state (audit.c), owned; NULL when the request is not audited. */
  struct audit_req *audit;
};

/* Reply helpers; record metrics and log, and mark the request answered.
 * They are no-ops when the client is gone. */
void api_reply_status(struct api_req *ar, json_t *status /* stolen */);
void api_reply_obj(struct api_req *ar, int code, json_t *obj /* stolen */);
/* Raw JSON bytes of one object, honoring the negotiated format. */
void api_reply_bytes(struct api_req *ar, int code, const char *bytes, size_t len);
void api_reply_raw(struct api_req *ar, int code, const char *ctype, const char *body, size_t len);
struct evbuffer;
/* Moves body's contents out (no copy); body stays the caller's to free. */
void api_reply_evbuffer(struct api_req *ar, int code, const char *ctype, struct evbuffer *body);
/* Ends a request that went asynchronous (frees ar). */
void api_req_done(struct api_req *ar);
void api_record(struct api_req *ar, int code);
void api_add_warning(struct api_req *ar, const char *msg);

const char *api_req_query(struct api_req *ar);
const char *api_req_accept(struct api_req *ar);

/* ---------- handlers ---------- */
void api_handle_resource(struct api_req *ar); /* handlers.c: dispatch by method */
void api_handle_get(struct api_req *ar);
void api_handle_list(struct api_req *ar);
void api_handle_watch(struct api_req *ar, struct api_list_opts *opts /* taken */);
void api_watch_closed(struct api_req *ar); /* watch.c: on_close */
void api_handle_create(struct api_req *ar);
void api_handle_update(struct api_req *ar);
void api_handle_patch(struct api_req *ar);
void api_handle_delete(struct api_req *ar);
void api_handle_eviction(struct api_req *ar); /* eviction.c: pods/eviction */
/* The deletion an admitted eviction ends with (handlers_delete.c);
 * delete_options borrowed (the Eviction's deleteOptions, may be NULL). */
void api_evict_delete(struct api_req *ar, const json_t *delete_options);
void api_handle_delete_collection(struct api_req *ar);
/* The kind's after-delete work for an object an update deleted (its last
 * finalizer removed); gone is its last stored value. */
void api_after_finalized_delete(struct api_req *ar, const struct resource *res, const struct kv *gone);
void api_handle_subresource(struct api_req *ar); /* subresources.c */
/* The subresources of res the server serves (RES_SUB_* bits, of those res
 * declares): subresources.c's, and the kubelet's through proxy.c.
 * Discovery lists only these. */
unsigned api_served_subresources(const struct resource *res);
/* proxy.c: pods/NAME/{log,exec,attach,portforward} and nodes/NAME/proxy/...
 * forwarded to the node's kubelet; false when the path is none of those. */
bool api_proxy_try(struct api_req *ar, const char *raw_path);
/* The TLS client context for kubelets from --kubelet-client-certificate,
 * --kubelet-client-key and --kubelet-certificate-authority (SSL_CTX *);
 * NULL with a message naming the file. */
void *api_kubelet_tls_new(const struct apiserver_config *c, char *err, size_t errlen);

/* token.c: service account tokens (set up from apiserver.h). */
void api_handle_token_request(struct api_req *ar);          /* POST serviceaccounts/NAME/token */
void api_handle_oidc(struct api_req *ar, const char *path); /* /openid/v1/jwks, /.well-known/openid-configuration */

/* discovery.c */
void api_handle_discovery(struct api_req *ar);
void api_handle_openapi(struct api_req *ar, const char *path);
void api_handle_openapi_v2(struct api_req *ar);
void api_discovery_free(struct apiserver *srv);

/* Helpers shared by handlers */
/* Parses a request body (JSON or YAML by Content-Type).  NULL with a
 * Status in *status on error.  *dups receives a new array of duplicate
 * field names (JSON only) or NULL. */
json_t *api_decode_body(struct api_req *ar, json_t **status, json_t **dups);
/* Every repeated key of a well-formed JSON document, as paths
 * ("spec.replicas", "spec.containers[0].name"); new array (dups.c). */
json_t *api_json_duplicates(const char *buf, size_t len);
/* Builds the storage attributes for obj. Caller frees. */
char *api_attrs_for(const struct resource *res, const json_t *obj);
/* Accessor usable with selectors: kv as arg; handles metadata.name and
 * metadata.namespace from the key. */
bool api_kv_matches(const struct resource *res, struct kv *kv, const struct api_list_opts *o);
/* Parsed and converted object of a stored value; new reference or NULL. */
json_t *api_kv_object(const struct resource *res, const struct kv *kv);
/* Group/resource text for messages: resource plural and group. */
json_t *api_not_found(struct api_req *ar, const char *name);

/* ---------- the write pipeline (handlers_write.c) ---------- */

struct api_write;
/* Computes the object to store from the current one (borrowed, as served).
 * Returns a new reference, or NULL with a Status in *status. */
typedef json_t *(*api_mutate_fn)(struct api_write *w, const json_t *old, json_t **status);
/* Builds the response from the stored object (borrowed); new reference. */
typedef json_t *(*api_respond_fn)(struct api_write *w, const json_t *stored);

struct api_write {
  struct api_req *ar;
  const struct resource *res;
  char *key;
  json_t *body;     /* decoded request body (object or JSON patch array) */
  json_t *dups;     /* duplicate field names in the body, or NULL */
  char *patch_type; /* Content-Type of a PATCH */
  api_mutate_fn mutate;
  api_respond_fn respond;
  bool respond_without_object; /* respond ignores the stored object */
  const char *sub;             /* NULL, "status", "scale", "binding", "finalize" */
  bool dry_run;
  bool user_rv;            /* the client asked for a precondition on resourceVersion */
  bool check_fields;       /* run field validation on the result */
  bool spec_only_from_old; /* status subresource: everything but status from old */
  int retries;
  int success_code;
  int64_t expected_rev;
  bool apply;             /* server-side apply: body is the applied configuration */
  bool force;             /* apply: take over fields other managers own */
  bool no_managed_fields; /* binding, finalize: managedFields left as stored */
  char manager[136];      /* ?fieldManager=, else from the User-Agent */
  /* While the admission webhooks run (handlers_write.c): the hooks'
   * request, the object the update started from and its stored value
   * (referenced), and the step that stores the admitted object. */
  struct reg_request wh_rq;
  json_t *wh_old;
  struct kv *wh_kv;
  const json_t *wh_before; /* the object given to the mutating webhooks (not a reference) */
  void (*wh_next)(struct api_write *w, json_t *obj /* taken */);
};

struct api_write *api_write_new(struct api_req *ar);
void api_write_free(struct api_write *w);
/* Runs read-modify-write on w->key with w->mutate; answers the request. */
void api_write_update(struct api_write *w);
/* Runs the create pipeline on obj (stolen) and answers the request; w is
 * freed once the answer is sent. */
void api_create_object(struct api_write *w, json_t *obj);
/* Ends a write with status (taken) as its answer; frees w. */
void api_write_fail(struct api_write *w, json_t *status);
/* obj decoded again as its type (after a webhook changed it); NULL or a
 * Status (new reference). */
json_t *api_write_decode(struct api_write *w, json_t *obj);
/* The kind's validation hook (warnings flushed to the client); NULL or a
 * Status (new reference). */
json_t *api_write_validate(struct api_write *w, struct reg_request *rq, const json_t *obj, const json_t *old);
/* The admission webhook stage (handlers_admit.c): mutating webhooks,
 * validation, validating webhooks, then next(w, obj) stores the object.
 * rq is copied; obj is taken.  Goes pending when a webhook is called. */
void api_write_admit(struct api_write *w, const struct reg_request *rq, json_t *obj,
                     void (*next)(struct api_write *w, json_t *obj));
/* Checks ?fieldManager= and ?force= for options_kind ("CreateOptions",
 * "UpdateOptions", "PatchOptions"); NULL or a Status (new reference). */
json_t *api_write_options(struct api_write *w, const char *options_kind);
/* PATCH with Content-Type application/apply-patch+yaml. */
bool api_is_apply_patch(struct api_req *ar);
/* Sets w up for server-side apply (options, body, force, mutate); NULL or
 * a Status. */
json_t *api_read_apply(struct api_write *w);
/* Patch mutate function (merge, JSON, strategic by w->patch_type). */
json_t *api_apply_patch(struct api_write *w, const json_t *old, json_t **status);
/* Reads the PATCH body: sets w->body and w->patch_type; NULL or a Status. */
json_t *api_read_patch(struct api_write *w);
/* 'dryRun=All' in the query. */
bool api_dry_run(struct api_req *ar);
/* The resource whose strategy hooks and selector attributes the stored
 * shape uses (core events for events.k8s.io). */
const struct resource *api_storage_resource(const struct resource *res);
/* Response for a stored value as the client asked for it. */
void api_reply_kv(struct api_req *ar, int code, struct kv *kv);

#endif
