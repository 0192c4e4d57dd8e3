/*
 * ext_internal.h - helpers shared by the strategy files of kinds_ext.h
 * (status/spec split, workload template rules, table cell formatting).
 */
#ifndef APISERVER_EXT_INTERNAL_H
#define APISERVER_EXT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#include "registry/reg_internal.h"

#define EXT_DESC_NAME                                                                                                  \
  "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a "  \
  "client to request the generation of an appropriate name automatically. Name is primarily intended for creation "    \
  "idempotence and configuration definition. Cannot be updated."
#define EXT_DESC_AGE                                                                                                   \
  "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed "  \
  "to be set in happens-before order across separate operations. Clients may not set this value. It is represented "   \
  "in RFC3339 form and is in UTC."

/* True for writes of the status subresource. */
bool ext_is_status(const struct reg_request *rq);
/* Create: status emptied, generation 1. */
void ext_prepare_create(struct reg_request *rq, json_t *obj);
/* Update: status (or spec) carried from old per rq->subresource;
 * generation kept on status writes, bumped on spec changes. */
void ext_prepare_update(struct reg_request *rq, json_t *obj, const json_t *old);

/* Status integers Go always encodes (no omitempty): each field of the
 * NULL-terminated list set to 0 in obj.status when absent, status created
 * when missing.  Clients that model them as required (the official Python
 * client refuses a ReplicaSetStatus without replicas) read objects before
 * any controller wrote a status. */
void ext_status_zero(json_t *obj, const char *const *fields);

/* Kinds without status: generation 1 on create, bumped on spec change. */
void ext_prepare_create_gen(struct reg_request *rq, json_t *obj);
void ext_prepare_update_gen(struct reg_request *rq, json_t *obj, const json_t *old);

/* `FIELD: Invalid value: N: must be greater than or equal to 0` for
 * obj[key] when present and negative; field is prefix + "." + key. */
void ext_nonneg(const json_t *obj, const char *prefix, const char *key, json_t *causes);
/* Invalid cause whose value is rendered as compact JSON when it is an
 * object or array (Go would dump the struct). */
void ext_cause_invalid_any(json_t *causes, const char *field, const json_t *value, const char *detail);
/* Go's %#v of a label map: map[string]string{"a":"b"} or
 * map[string]string(nil) when empty.  Caller frees. */
char *ext_go_labels(const json_t *labels);
/* IntOrString: integer >= 0 or "N%" with N <= 100 (percent_ok). */
void ext_validate_intstr(const json_t *v, const char *field, bool percent_ok, json_t *causes);
/* IntOrString as upstream's String(): "3" or "25%".  Caller frees. */
char *ext_intstr_string(const json_t *v);

/* Pod-template workloads (StatefulSet, DaemonSet): selector required,
 * non-empty and matching the template labels; template valid with
 * restartPolicy Always and no activeDeadlineSeconds.  kind is
 * "StatefulSet" / "DaemonSet" (messages name it). */
void ext_validate_template_workload(const json_t *spec, const char *kind, json_t *causes);
/* Template labels vs selector: `spec.template.metadata.labels: Invalid
 * value: map[...]: `selector` does not match template `labels``. */
void ext_check_selector_matches(const json_t *sel, const json_t *tmpl, const char *tmpl_path, json_t *causes);

/* Job spec rules that do not depend on a generated selector (jobs.c;
 * also used for CronJob's jobTemplate.spec).  path is "spec" or
 * "spec.jobTemplate.spec". */
void ext_validate_job_spec(const json_t *spec, const char *path, json_t *causes);
/* Parses a cron schedule as the CronJob controller does (5 fields or a
 * @descriptor); 0, or -EINVAL with the parser's message in err. */
int ext_cron_parse(const char *schedule, char *err, size_t errlen);

/* Access modes as kubectl prints them: "RWO,ROX,RWX,RWOP" in that order
 * (persistentvolumes.c).  Caller frees. */
char *ext_access_modes_string(const json_t *modes);
/* Each mode one of the four supported (NotSupported otherwise); with
 * required, an empty list is `Required value: MSG`. */
void ext_validate_access_modes(const json_t *modes, const char *field, const char *required_msg, json_t *causes);
/* `storage` quantity string of a resource list, or NULL. */
const char *ext_storage_of(const json_t *list);

/* Table cells. */
char *ext_selector_string(const json_t *sel); /* FormatLabelSelector: "<none>" if empty; caller frees */
const char *ext_bool_ptr(const json_t *v);    /* "True", "False" or "<unset>" */
/* HumanDuration of a span in seconds ("45s", "5m30s", "3h"). */
char *ext_duration(long long secs, char *buf, size_t len);
/* True if condition `type` has status "True". */
bool ext_has_condition(const json_t *obj, const char *type);

#endif
