/*
 * status.c - metav1.Status objects, the error shape of the Kubernetes API.
 *
 * Messages, reasons and codes follow k8s.io/apimachinery/pkg/api/errors
 * exactly, because clients match on them: kubectl prints the message
 * verbatim and client libraries branch on reason and code.  A resource in a
 * named group is qualified as "deployments.apps"; an Invalid status names
 * the Kind ("Deployment.apps") and its message aggregates the causes as
 * upstream's field.ErrorList does: "field: detail", several joined by ", "
 * inside brackets.
 */
#define _GNU_SOURCE
#include "kube/status.h"
#include "kube/xalloc.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Members appear in upstream's order: kind, apiVersion, metadata, status,
 * message, reason, details, code. */
static json_t *kstatus_vnew(int code, const char *reason, const char *fmt, va_list ap)
{
  char *msg = NULL;
  json_t *st = json_object();
  if (!st) return NULL;
  json_object_set_new(st, "kind", json_string("Status"));
  json_object_set_new(st, "apiVersion", json_string("v1"));
  json_object_set_new(st, "metadata", json_object());
  json_object_set_new(st, "status", json_string(code >= 200 && code < 300 ? "Success" : "Failure"));
  if (fmt && vasprintf(&msg, fmt, ap) >= 0 && msg) {
    if (*msg) json_object_set_new(st, "message", json_string(msg));
    free(msg);
  }
  if (reason && *reason) json_object_set_new(st, "reason", json_string(reason));
  json_object_set_new(st, "code", json_integer(code));
  return st;
}

json_t *kstatus_new(int code, const char *reason, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  json_t *st = kstatus_vnew(code, reason, fmt, ap);
  va_end(ap);
  return st;
}

static json_t *kstatus_plain(int code, const char *reason) { return kstatus_new(code, reason, "%s", ""); }

json_t *kstatus_success(void) { return kstatus_plain(200, NULL); }

/* Keeps "details" ahead of "code" so the object reads in upstream order. */
static json_t *kstatus_details(json_t *st)
{
  json_t *d = json_object_get(st, "details");
  if (json_is_object(d)) return d;
  json_t *code = json_object_get(st, "code");
  json_incref(code);
  json_object_del(st, "code");
  d = json_object();
  json_object_set_new(st, "details", d);
  if (code) json_object_set_new(st, "code", code);
  return d;
}

void kstatus_set_details(json_t *st, const char *name, const char *group, const char *kind)
{
  if (!st) return;
  json_t *d = kstatus_details(st);
  if (name && *name) json_object_set_new(d, "name", json_string(name));
  if (group && *group) json_object_set_new(d, "group", json_string(group));
  if (kind && *kind) json_object_set_new(d, "kind", json_string(kind));
}

void kstatus_add_cause(json_t *st, const char *reason, const char *message, const char *field)
{
  if (!st) return;
  json_t *d = kstatus_details(st);
  json_t *causes = json_object_get(d, "causes");
  if (!json_is_array(causes)) {
    causes = json_array();
    json_object_set_new(d, "causes", causes);
  }
  json_t *c = json_object();
  if (reason && *reason) json_object_set_new(c, "reason", json_string(reason));
  if (message && *message) json_object_set_new(c, "message", json_string(message));
  if (field && *field) json_object_set_new(c, "field", json_string(field));
  json_array_append_new(causes, c);
}

int kstatus_code(const json_t *st) { return (int)json_integer_value(json_object_get(st, "code")); }

const char *kstatus_reason(const json_t *st) { return json_string_value(json_object_get(st, "reason")); }

/* "pods" or "deployments.apps"; caller frees. */
static char *qualify(const char *name, const char *group)
{
  char *out = NULL;
  if (group && *group) {
    if (asprintf(&out, "%s.%s", name ? name : "", group) < 0) return NULL;
    return out;
  }
  return xstrdup(name ? name : "");
}

static json_t *kstatus_for_object(int code, const char *reason, const char *group, const char *resource,
                                  const char *name, const char *fmt, const char *extra)
{
  char *qr = qualify(resource, group);
  if (!qr) return NULL;
  json_t *st = extra ? kstatus_new(code, reason, fmt, qr, name ? name : "", extra)
                     : kstatus_new(code, reason, fmt, qr, name ? name : "");
  free(qr);
  kstatus_set_details(st, name, group, resource);
  return st;
}

json_t *kstatus_not_found(const char *group, const char *resource, const char *name)
{
  return kstatus_for_object(404, "NotFound", group, resource, name, "%s \"%s\" not found", NULL);
}

json_t *kstatus_already_exists(const char *group, const char *resource, const char *name)
{
  return kstatus_for_object(409, "AlreadyExists", group, resource, name, "%s \"%s\" already exists", NULL);
}

json_t *kstatus_conflict(const char *group, const char *resource, const char *name, const char *msg)
{
  return kstatus_for_object(409, "Conflict", group, resource, name, "Operation cannot be fulfilled on %s \"%s\": %s",
                            msg ? msg : "");
}

/* One cause as upstream's field.Error prints it: "field: detail". */
static char *cause_line(const json_t *c)
{
  const char *field = json_string_value(json_object_get(c, "field"));
  const char *msg = json_string_value(json_object_get(c, "message"));
  char *out = NULL;
  if (field && *field) {
    if (asprintf(&out, "%s: %s", field, msg ? msg : "") < 0) return NULL;
    return out;
  }
  return xstrdup(msg ? msg : "");
}

void kstatus_finish_invalid(json_t *st)
{
  json_t *d = json_object_get(st, "details");
  const char *kind = json_string_value(json_object_get(d, "kind"));
  const char *group = json_string_value(json_object_get(d, "group"));
  const char *name = json_string_value(json_object_get(d, "name"));
  json_t *causes = json_object_get(d, "causes");
  size_t n = json_array_size(causes);
  char **lines = xcalloc(n ? n : 1, sizeof *lines);
  size_t nl = 0, total = 3;
  if (!lines) return;
  /* Identical errors are reported once, as upstream's aggregate dedups. */
  for (size_t i = 0; i < n; i++) {
    char *l = cause_line(json_array_get(causes, i));
    if (!l) continue;
    bool dup = false;
    for (size_t j = 0; j < nl && !dup; j++) dup = strcmp(lines[j], l) == 0;
    if (dup) {
      free(l);
      continue;
    }
    total += strlen(l) + 2;
    lines[nl++] = l;
  }
  char *agg = xmalloc(total);
  if (agg) {
    size_t o = 0;
    if (nl > 1) agg[o++] = '[';
    for (size_t i = 0; i < nl; i++) {
      if (i) {
        memcpy(agg + o, ", ", 2);
        o += 2;
      }
      size_t l = strlen(lines[i]);
      memcpy(agg + o, lines[i], l);
      o += l;
    }
    if (nl > 1) agg[o++] = ']';
    agg[o] = '\0';
    char *qk = qualify(kind, group);
    char *msg = NULL;
    if (qk && (nl ? asprintf(&msg, "%s \"%s\" is invalid: %s", qk, name ? name : "", agg)
                  : asprintf(&msg, "%s \"%s\" is invalid", qk, name ? name : "")) >= 0) {
      json_object_set_new(st, "message", json_string(msg));
      free(msg);
    }
    free(qk);
    free(agg);
  }
  for (size_t i = 0; i < nl; i++) free(lines[i]);
  free(lines);
}

json_t *kstatus_invalid(const char *group, const char *kind, const char *name, json_t *causes)
{
  json_t *st = kstatus_plain(422, "Invalid");
  if (!st) {
    json_decref(causes);
    return NULL;
  }
  kstatus_set_details(st, name, group, kind);
  if (json_is_array(causes) && json_array_size(causes) > 0)
    json_object_set(json_object_get(st, "details"), "causes", causes);
  json_decref(causes);
  /* Keep message ahead of reason, as upstream serializes it. */
  json_t *reason = json_incref(json_object_get(st, "reason"));
  json_t *details = json_incref(json_object_get(st, "details"));
  json_t *code = json_incref(json_object_get(st, "code"));
  json_object_del(st, "reason");
  json_object_del(st, "details");
  json_object_del(st, "code");
  json_object_set_new(st, "message", json_string(""));
  json_object_set_new(st, "reason", reason);
  json_object_set_new(st, "details", details);
  json_object_set_new(st, "code", code);
  kstatus_finish_invalid(st);
  return st;
}

#define KSTATUS_VARIADIC(fn, code, reason)                                                                             \
  json_t *fn(const char *fmt, ...)                                                                                     \
  {                                                                                                                    \
    va_list ap;                                                                                                        \
    va_start(ap, fmt);                                                                                                 \
    json_t *st = kstatus_vnew(code, reason, fmt, ap);                                                                  \
    va_end(ap);                                                                                                        \
    return st;                                                                                                         \
  }

KSTATUS_VARIADIC(kstatus_bad_request, 400, "BadRequest")
KSTATUS_VARIADIC(kstatus_forbidden, 403, "Forbidden")
KSTATUS_VARIADIC(kstatus_method_not_allowed, 405, "MethodNotAllowed")
KSTATUS_VARIADIC(kstatus_gone, 410, "Expired")
KSTATUS_VARIADIC(kstatus_internal, 500, "InternalError")
KSTATUS_VARIADIC(kstatus_too_many_requests, 429, "TooManyRequests")
KSTATUS_VARIADIC(kstatus_unsupported_media_type, 415, "UnsupportedMediaType")
KSTATUS_VARIADIC(kstatus_request_entity_too_large, 413, "RequestEntityTooLarge")
