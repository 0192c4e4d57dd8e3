/*
 * reg_internal.h - helpers shared by the per-kind strategy files of
 * apiserver/registry/ (not part of the request path's interface).
 *
 * Validation helpers append upstream-shaped causes (field.ErrorList
 * semantics: field path + reason + "ErrorBody" message).  Pod spec
 * defaulting and validation are shared by pods, replicasets and
 * deployments (pod templates), as upstream shares them.
 */
#ifndef APISERVER_REG_INTERNAL_H
#define APISERVER_REG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "registry/registry.h"

struct apiserver;

/* Cause reasons (metav1.CauseType). */
#define REG_REQUIRED "FieldValueRequired"
#define REG_INVALID "FieldValueInvalid"
#define REG_NOT_SUPPORTED "FieldValueNotSupported"
#define REG_DUPLICATE "FieldValueDuplicate"
#define REG_FORBIDDEN "FieldValueForbidden"
#define REG_NOT_FOUND "FieldValueNotFound"
#define REG_TOO_LONG "FieldValueTooLong"

/* The string, or dflt when s is NULL or empty. */
const char *reg_str_or(const char *s, const char *dflt);
/* Go's %#v of a JSON value as upstream prints it in Invalid messages:
 * strings quoted, integers bare, string maps as map[string]string{"k":"v"}
 * (keys sorted), string arrays as []string{"a"}.  Caller frees. */
char *reg_go_value(const json_t *v);
/* Invalid cause with a Go-formatted value: `Invalid value: VALUE: detail`. */
void reg_cause_invalid(json_t *causes, const char *field, const json_t *value, const char *detail);
/* upstream's ValidateResourceQuantityValue over a resource list: no
 * negative amount, whole numbers for countable resources.  Fields are
 * PATH[name] when keyed (container resources), else PATH.name. */
void reg_validate_resource_list(const json_t *list, const char *path, bool keyed, json_t *causes);
void reg_cause_invalid_str(json_t *causes, const char *field, const char *value, const char *detail);
/* `Unsupported value: "x": supported values: "a", "b"` (list NULL-terminated). */
void reg_cause_not_supported(json_t *causes, const char *field, const char *value, const char *const *supported);
/* Checks value against a NULL-terminated list; adds NotSupported if absent.
 * A NULL value is skipped (defaulting fills it). */
void reg_check_enum(json_t *causes, const char *field, const char *value, const char *const *allowed);
/* `spec.x: Invalid value: V: field is immutable` when a != b (JSON). */
void reg_check_immutable(json_t *causes, const char *field, const json_t *now, const json_t *old);

/* Name validation of metadata.name with the given names.h checker. */
typedef bool (*reg_name_fn)(const char *s, char *msg, size_t len);
void reg_validate_object_meta_fn(const json_t *obj, bool namespaced, reg_name_fn fn, json_t *causes);
void reg_validate_annotations(const json_t *ann, const char *field, json_t *causes);

/* Storage key of an object: PREFIX/NS/NAME or PREFIX/NAME.  Caller frees. */
char *reg_key(const struct resource *res, const char *ns, const char *name);

/* Status/spec split on update, as upstream's PrepareForUpdate does:
 * main resource: status copied from old; status subresource: everything but
 * status and metadata labels/annotations copied from old. */
void reg_split_status(struct reg_request *rq, json_t *obj, const json_t *old);
/* metadata.generation = 1 on create; +1 on update when spec changed. */
void reg_generation_create(json_t *obj);
void reg_generation_update(json_t *obj, const json_t *old);

/* Selector / label formatting as kubectl prints them.  Caller frees. */
char *reg_format_labels(const json_t *labels);      /* "a=b,c=d" or "<none>" */
char *reg_format_label_selector(const json_t *sel); /* metav1.LabelSelector; "" if empty */
/* True if the LabelSelector matches the label map (matchLabels and
 * matchExpressions), independent of selector.h. */
bool reg_selector_matches(const json_t *sel, const json_t *labels);

/* Pod spec: defaulting (pkg/apis/core/v1/defaults.go) and validation.
 * Used by pods and by the templates of replicasets and deployments. */
void reg_pod_spec_defaults(json_t *spec);
void reg_pod_template_defaults(json_t *tmpl);
void reg_validate_pod_spec(const json_t *spec, const char *path, json_t *causes);
void reg_validate_pod_template(const json_t *tmpl, const char *path, json_t *causes);
/* "c1,c2" container names / images of a pod spec.  Caller frees. */
char *reg_container_names(const json_t *spec);
/* Table cells: a new row holding the object's name, then cells appended. */
json_t *reg_row(const json_t *obj);
void reg_cell_str(json_t *row, const char *s); /* NULL -> "" */
void reg_cell_int(json_t *row, long long v);
void reg_cell_containers(json_t *row, const json_t *pod_spec); /* names, images */
/* -o wide cells of a workload: Containers, Images, Selector. */
void reg_cell_workload_wide(json_t *row, const json_t *obj);
char *reg_container_images(const json_t *spec);

/* Pod table cells' status logic (pkg/printers printPod): writes STATUS
 * into reason, and ready/total/restarts; last_restart_us is 0 when none. */
struct reg_pod_summary {
  char reason[128];
  int ready, total, restarts;
  int64_t last_restart_us;
};
void reg_pod_summarize(const json_t *pod, struct reg_pod_summary *out);

/* Service allocators (serviceips.c).  The allocator state lives in
 * srv->service_alloc.  Addresses are host-order IPv4. */
struct svc_alloc;
int svc_alloc_setup(struct apiserver *srv); /* parse ranges; 0 or -EINVAL */
void svc_alloc_free(struct apiserver *srv);
struct svc_alloc *svc_alloc_get(struct apiserver *srv);
/* 0 ok; -EEXIST taken; -ERANGE outside range; -ENOSPC full. */
int svc_alloc_ip(struct svc_alloc *a, uint32_t want /* 0 = any */, uint32_t *out);
void svc_release_ip(struct svc_alloc *a, uint32_t ip);
bool svc_ip_in_use(struct svc_alloc *a, uint32_t ip);
int svc_alloc_port(struct svc_alloc *a, int want /* 0 = any */, int *out);
void svc_release_port(struct svc_alloc *a, int port);
bool svc_port_in_use(struct svc_alloc *a, int port);
const char *svc_alloc_cidr(struct svc_alloc *a);
void svc_alloc_port_range(struct svc_alloc *a, int *lo, int *hi);
/* The first usable address of the range (the `kubernetes` service). */
uint32_t svc_alloc_first_ip(struct svc_alloc *a);
/* The tenth address of the range (the `kube-dns` service, as kubeadm's
 * GetDNSIP), or 0 when the range is too small to hold it. */
uint32_t svc_alloc_dns_ip(struct svc_alloc *a);
/* Marks what a stored Service holds (start-up rebuild). */
void svc_alloc_mark_service(struct svc_alloc *a, const json_t *svc);
/* Releases everything a deleted Service held. */
void svc_alloc_release_service(struct svc_alloc *a, const json_t *svc);
/* With a storage watch on Services (bootstrap.c), deletions are released
 * once durable from the DELETED event, and after_delete does nothing. */
void svc_alloc_set_watched(struct svc_alloc *a, bool on);
bool svc_alloc_watched(const struct svc_alloc *a);
/* Repair: clear, mark every stored Service, then end (re-marks values
 * handed out in the last 30 s whose writes may be in flight). */
void svc_alloc_begin_repair(struct svc_alloc *a);
void svc_alloc_end_repair(struct svc_alloc *a);
int reg_parse_ipv4(const char *s, uint32_t *out);
/* qsort comparator of an array of C strings. */
int reg_cmp_str(const void *a, const void *b);
void reg_format_ipv4(uint32_t ip, char out[16]);

/* ConfigMap/Secret data: keys valid and (for update with immutable set)
 * unchanged; total size at most 1 MiB.  Shared by configmaps.c and
 * secrets.c. */
void reg_validate_data_keys(const json_t *data, const char *field, json_t *seen, json_t *causes);
void reg_validate_immutable_data(const json_t *obj, const json_t *old, const char *const *fields, json_t *causes);

/* apps/v1 workloads (workloads.c): spec.replicas >= 0, selector required,
 * non-empty and matching the template labels, template valid with
 * restartPolicy Always; on update the selector is immutable. */
void reg_validate_workload_spec(const json_t *spec, json_t *causes);
void reg_validate_workload_update(const json_t *obj, const json_t *old, json_t *causes);
/* Go's %#v of a metav1.LabelSelector value.  Caller frees. */
char *reg_go_label_selector(const json_t *sel);
/* Nonnegative int64 check: `FIELD: Invalid value: N: must be greater than
 * or equal to 0` when the value is present and negative. */
void reg_check_nonneg(const json_t *obj, const char *path, json_t *causes);

/* Rebuild the Service allocators from stored Services (registry.c). */
int registry_rebuild_allocators(struct apiserver *srv);
/* Selector attributes of obj for storage writes: labels plus
 * metadata.name, metadata.namespace and every field selector of res.
 * Caller frees. */
char *registry_attrs(const struct resource *res, const json_t *obj);

/* Bootstrap objects (bootstrap.c). */
int reg_bootstrap_start(struct apiserver *srv, void (*done)(void *arg), void *arg);
void reg_bootstrap_stop(struct apiserver *srv);
/* Runs one repair round now (what the 10 s timer does). */
void reg_bootstrap_kick(struct apiserver *srv);

#endif
