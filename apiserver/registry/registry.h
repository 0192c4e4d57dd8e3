/*
 * registry.h - the per-kind strategy table of kube-apiserver.
 *
 * Every served resource (pods, deployments, ...) is one `struct resource`
 * descriptor.  The generic request path (apiserver/handlers*.c) does the
 * REST verbs for every kind alike; what differs per kind lives in the hooks
 * below, one file per kind under apiserver/registry/ (pods.c, services.c,
 * ...), as upstream keeps one strategy per kind under pkg/registry/.
 *
 * Order of the hooks on a write (upstream's rest.BeforeCreate/BeforeUpdate):
 *   create: defaults -> prepare_create -> admit -> validate -> storage
 *   update: defaults -> prepare_update -> admit -> validate(obj, old) -> storage
 *   delete: before_delete -> storage -> after_delete
 * Hooks see the object as a json_t tree they may change in place.
 *
 * Ownership: hooks never take references they are not told about; `causes`
 * arrays are owned by the caller and hooks append to them with
 * reg_cause_add().
 */
#ifndef APISERVER_REGISTRY_H
#define APISERVER_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

struct apiserver; /* the program's context (apiserver/apiserver.h) */
struct auth_user;

/* subresource bits */
enum {
  RES_SUB_STATUS = 1 << 0,    /* .../NAME/status: spec and status written separately */
  RES_SUB_SCALE = 1 << 1,     /* .../NAME/scale: autoscaling/v1 Scale view */
  RES_SUB_BINDING = 1 << 2,   /* pods/binding */
  RES_SUB_FINALIZE = 1 << 3,  /* namespaces/finalize */
  RES_SUB_EVICTION = 1 << 4,  /* pods/eviction */
  RES_SUB_LOG = 1 << 5,       /* pods/log (proxied to the kubelet later) */
  RES_SUB_EXEC = 1 << 6,      /* pods/exec, attach, portforward */
  RES_SUB_PROXY = 1 << 7,     /* pods/proxy, services/proxy, nodes/proxy */
  RES_SUB_TOKEN = 1 << 8,     /* serviceaccounts/token */
  RES_SUB_EPHEMERAL = 1 << 9, /* pods/ephemeralcontainers */
  RES_SUB_APPROVAL = 1 << 10, /* certificatesigningrequests/approval: conditions only */
};

/* Whether a kind keeps metadata.generation, as its upstream strategy
 * does: set to 1 on create and bumped on every change of anything but
 * metadata and status (REG_GEN_SPEC), or only set on create
 * (REG_GEN_CREATE).  Deletion bumps any generation above 0. */
enum reg_generation { REG_GEN_NONE = 0, REG_GEN_SPEC, REG_GEN_CREATE };

/* One column of `kubectl get` output (meta.k8s.io/v1 Table). */
struct reg_column {
  const char *name;   /* "Name", "Ready", "Status", ... */
  const char *type;   /* "string", "integer", "date", "number", "boolean" */
  const char *format; /* "name" for the name column, else "" */
  int priority;       /* 0 always shown, 1 only with -o wide */
  const char *description;
};

/* The write being performed, handed to hooks. */
struct reg_request {
  struct apiserver *srv;
  const char *verb;        /* "create", "update", "patch", "delete" */
  const char *subresource; /* NULL for the main resource, "status", "scale", ... */
  const char *namespace_;  /* NULL for cluster-scoped */
  const char *name;
  bool dry_run;
  const char *user;           /* authenticated user name ("system:admin" in insecure mode) */
  /* Who asks (auth/auth.h), borrowed; NULL on the insecure port. */
  const struct auth_user *auth;
  const struct resource *res; /* the resource written */
  /* Warnings for the client (Warning headers): hooks append strings to
   * this array when it is not NULL. */
  json_t *warnings;
};

struct resource {
  const char *group;    /* "" for core */
  const char *version;  /* "v1" */
  const char *plural;   /* "pods" */
  const char *singular; /* "pod" */
  const char *kind;     /* "Pod" */
  bool namespaced;
  const char *short_names[6]; /* NULL-terminated, e.g. {"po", NULL} */
  const char *categories[3];  /* NULL-terminated, e.g. {"all", NULL} */
  unsigned subresources;      /* RES_SUB_* bits */
  enum reg_generation generation;
  /* DELETE answers the deleted object (upstream's ReturnDeletedObject)
   * rather than a Status naming it. */
  bool return_deleted_object;
  /* Only POST of the collection is served, nothing is stored: the
   * authorization.k8s.io reviews (apiserver/auth/reviews.c). */
  bool create_only;
  /* Storage key prefix without trailing slash, e.g. "/registry/pods".
   * Two resources may share one (events in core/v1 and events.k8s.io/v1). */
  const char *storage_prefix;
  /* Field selectors this kind supports besides metadata.name and
   * metadata.namespace, NULL-terminated, e.g. {"spec.nodeName", NULL}. */
  const char *const *field_selectors;

  /* --- strategy hooks; each may be NULL --- */

  /* Upstream defaulting functions: set every field upstream defaults. */
  void (*defaults)(json_t *obj);
  /* Before a create: clear status where upstream does, set generation... */
  void (*prepare_create)(struct reg_request *rq, json_t *obj);
  /* Before an update of the main resource (status preserved from old) or of
   * the status subresource (spec preserved from old), per rq->subresource. */
  void (*prepare_update)(struct reg_request *rq, json_t *obj, const json_t *old);
  /* Admission-time mutation and checks that need the server (IP/port
   * allocation, namespace lifecycle...).  Returns NULL or a new reference
   * to a Status object that fails the request. */
  json_t *(*admit)(struct reg_request *rq, json_t *obj, const json_t *old);
  /* Validation: append every problem as a cause (reg_cause_add) to `causes`.
   * old is NULL on create.  The request path answers 422 Invalid if any. */
  void (*validate)(struct reg_request *rq, const json_t *obj, const json_t *old, json_t *causes);
  /* After a successful delete (release allocated IPs, node ports...). */
  void (*after_delete)(struct reg_request *rq, const json_t *obj);
  /* Value of a selectable field (besides metadata.name/namespace) written
   * to buf; returns buf, a string borrowed from obj (valid while obj is),
   * or NULL when the field is not supported. */
  const char *(*field_value)(const json_t *obj, const char *field, char *buf, size_t len);

  /* Table output: column definitions (terminated by {NULL}) and one row's
   * cells (a new reference to a JSON array of the same length). */
  const struct reg_column *columns;
  json_t *(*cells)(const json_t *obj);

  /* A custom resource served for a CRD version: the descriptor is a heap
   * struct cr_version (registry/customresources.h), reference counted. */
  bool custom;
  /* Scale subresource paths (dotted, without the leading dot); NULL:
   * spec.replicas, status.replicas and spec.selector (a LabelSelector).
   * A custom resource's selector path holds the selector as a string. */
  const char *scale_spec_path, *scale_status_path, *scale_selector_path;
};

/* The registry of every built-in resource. */
const struct resource *const *registry_all(size_t *n);
const struct resource *registry_find(const char *group, const char *version, const char *plural);
const struct resource *registry_find_kind(const char *group, const char *version, const char *kind);

/* Every served resource: the built-in kinds, then the custom resources of
 * established CRDs.  The array is borrowed and valid until the next CRD
 * change (do not keep it past the current callback). */
const struct resource *const *registry_served(struct apiserver *srv, size_t *n);
/* A served resource by group, version and plural, or NULL.  Borrowed:
 * take a reference (registry_res_ref) to keep a custom one. */
const struct resource *registry_lookup(struct apiserver *srv, const char *group, const char *version,
                                       const char *plural);
/* References on custom resource descriptors; no-ops for built-in kinds
 * and NULL. */
void registry_res_ref(const struct resource *res);
void registry_res_unref(const struct resource *res);

/* Append a cause {"reason":REASON,"message":MESSAGE,"field":FIELD} to causes.
 * reason is upstream's cause type: "FieldValueRequired", "FieldValueInvalid",
 * "FieldValueNotSupported", "FieldValueDuplicate", "FieldValueForbidden",
 * "FieldValueTooLong"... message is upstream-shaped, e.g.
 * "Required value" or "Invalid value: \"x\": must be ...". */
void reg_cause_add(json_t *causes, const char *reason, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Shared validation helpers every kind uses (apiserver/registry/common.c). */
void reg_validate_object_meta(const json_t *obj, bool namespaced, bool name_is_subdomain, json_t *causes);
void reg_validate_object_meta_update(const json_t *obj, const json_t *old, json_t *causes);
void reg_validate_labels(const json_t *labels, const char *field, json_t *causes);
void reg_validate_label_selector(const json_t *sel, const char *field, json_t *causes);
/* "Age" cell: time since metadata.creationTimestamp, formatted as kubectl does ("5m", "3d"). */
json_t *reg_age_cell(const json_t *obj);

/* Start-up (registry/registry.c): rebuild allocators from storage, then
 * create what must exist (default, kube-system, kube-public and
 * kube-node-lease namespaces; the `kubernetes` Service with its Endpoints
 * and EndpointSlice pointing at --advertise-address) and keep it current
 * with a periodic timer.  Calls done(arg) once everything is in storage;
 * returns 0 or a negative error. */
int registry_init(struct apiserver *srv, void (*done)(void *arg), void *arg);
void registry_shutdown(struct apiserver *srv);

/* Per-kind descriptors, each defined in its own file. */
extern const struct resource reg_namespaces, reg_pods, reg_nodes, reg_services, reg_endpoints, reg_configmaps,
    reg_secrets, reg_serviceaccounts, reg_events, reg_events_v1, reg_leases, reg_endpointslices, reg_deployments,
    reg_replicasets;

#endif
