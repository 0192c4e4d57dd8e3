/*
 * status.h - metav1.Status, the upstream error shape:
 * {"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
 *  "message":"pods \"x\" not found","reason":"NotFound",
 *  "details":{"name":"x","kind":"pods"},"code":404}
 * All functions return new references.
 */
#ifndef KUBE_STATUS_H
#define KUBE_STATUS_H

#include <jansson.h>

json_t *kstatus_new(int code, const char *reason, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
json_t *kstatus_success(void);
/* Sets details.{name,group,kind} (kind is the resource plural, as upstream). */
void kstatus_set_details(json_t *st, const char *name, const char *group, const char *kind);
void kstatus_add_cause(json_t *st, const char *reason, const char *message, const char *field);
int kstatus_code(const json_t *st);
const char *kstatus_reason(const json_t *st);

/* Upstream constructors (k8s.io/apimachinery/pkg/api/errors).  `resource`
 * is the plural ("pods"), `group` "" for core. */
json_t *kstatus_not_found(const char *group, const char *resource, const char *name);
json_t *kstatus_already_exists(const char *group, const char *resource, const char *name);
/* 409 Conflict: Operation cannot be fulfilled on pods "x": MESSAGE */
json_t *kstatus_conflict(const char *group, const char *resource, const char *name, const char *msg);
/* 422: KIND "name" is invalid: field: msg, ... (causes appended by caller,
 * then kstatus_finish_invalid builds the message from them). */
json_t *kstatus_invalid(const char *group, const char *kind, const char *name, json_t *causes /* stolen */);
/* Rebuilds the message of an Invalid status from details.causes (after
 * kstatus_add_cause); details.{kind,group,name} name the object.  Causes
 * are {"reason","message","field"} as in metav1.StatusCause. */
void kstatus_finish_invalid(json_t *st);
json_t *kstatus_bad_request(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
json_t *kstatus_forbidden(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
json_t *kstatus_method_not_allowed(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
json_t *kstatus_gone(const char *fmt, ...) __attribute__((format(printf, 1, 2))); /* 410 Expired */
json_t *kstatus_internal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
json_t *kstatus_too_many_requests(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
json_t *kstatus_unsupported_media_type(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
json_t *kstatus_request_entity_too_large(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
