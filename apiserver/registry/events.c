/*
 * events.c - Event strategies for core/v1 and events.k8s.io/v1 (upstream
 * pkg/registry/core/event; both versions share /registry/events, stored in
 * the core/v1 shape; the request path converts events.k8s.io/v1 bodies).
 * Field values and cells accept either shape, converting to core first.
 *
 * Field selectors are upstream's: involvedObject.*, reason,
 * reportingComponent, source, type.  The table is printEvent's: LAST SEEN
 * falls back to the first timestamp and to eventTime; a series overrides
 * count and last seen.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kube/json.h>
#include <kube/timeutil.h>

#include "registry/reg_internal.h"
#include <kube/xalloc.h>

static const char *const map_v1_to_core[][2] = {
    {"regarding", "involvedObject"},
    {"note", "message"},
    {"deprecatedSource", "source"},
    {"deprecatedFirstTimestamp", "firstTimestamp"},
    {"deprecatedLastTimestamp", "lastTimestamp"},
    {"deprecatedCount", "count"},
    {"reportingController", "reportingComponent"},
    {NULL, NULL},
};

/* New reference: obj renamed into the other version's field names. */
static json_t *reg_event_convert(const json_t *obj, const char *api_version)
{
  json_t *out = kj_deep_copy(obj);
  if (!out) return NULL;
  bool to_core = strcmp(api_version, "events.k8s.io/v1") != 0;
  for (size_t i = 0; map_v1_to_core[i][0]; i++) {
    const char *from = map_v1_to_core[i][to_core ? 0 : 1], *to = map_v1_to_core[i][to_core ? 1 : 0];
    json_t *v = json_object_get(out, from);
    if (v) {
      json_object_set(out, to, v);
      json_object_del(out, from);
    }
  }
  json_object_set_new(out, "apiVersion", json_string(to_core ? "v1" : "events.k8s.io/v1"));
  json_object_set_new(out, "kind", json_string("Event"));
  return out;
}

/* The core form of obj: obj itself (borrowed into *tmp = NULL) or a
 * converted copy owned by *tmp. */
static const json_t *as_core(const json_t *obj, json_t **tmp)
{
  *tmp = NULL;
  const char *av = kj_get_str(obj, "apiVersion");
  if ((av && !strcmp(av, "events.k8s.io/v1")) ||
      (!json_object_get(obj, "involvedObject") && json_object_get(obj, "regarding"))) {
    *tmp = reg_event_convert(obj, "v1");
    return *tmp;
  }
  return obj;
}

static const char *const event_types[] = {"Normal", "Warning", NULL};

static void event_validate(struct reg_request *rq, const json_t *obj, const json_t *old, json_t *causes)
{
  reg_validate_object_meta(obj, true, true, causes);
  if (old) reg_validate_object_meta_update(obj, old, causes);
  const char *ns = kj_get_str(obj, "metadata.namespace");
  const char *ions = kj_get_str(obj, "involvedObject.namespace");
  if (ions && *ions && ns && strcmp(ns, ions))
    reg_cause_invalid_str(causes, "involvedObject.namespace", ions, "does not match event.namespace");
  const char *type = kj_get_str(obj, "type");
  if (type && *type) reg_check_enum(causes, "type", type, event_types);
}

static void event_v1_validate(struct reg_request *rq, const json_t *obj, const json_t *old, json_t *causes)
{
  reg_validate_object_meta(obj, true, true, causes);
  if (old) reg_validate_object_meta_update(obj, old, causes);
  if (!kj_get_str(obj, "eventTime")) reg_cause_add(causes, REG_REQUIRED, "eventTime", "Required value");
  const char *type = kj_get_str(obj, "type");
  if (!type || !*type) reg_cause_add(causes, REG_REQUIRED, "type", "Required value");
  else reg_check_enum(causes, "type", type, event_types);
  static const char *const required[] = {"reportingController", "reportingInstance", "action", "reason", NULL};
  for (size_t i = 0; required[i]; i++) {
    const char *s = kj_get_str(obj, required[i]);
    if (!s || !*s) reg_cause_add(causes, REG_REQUIRED, required[i], "Required value");
  }
  const char *note = kj_get_str(obj, "note");
  if (note && strlen(note) > 1024)
    reg_cause_add(causes, REG_TOO_LONG, "note", "Too long: may not be more than 1024 bytes");
  const char *ns = kj_get_str(obj, "metadata.namespace");
  const char *rns = kj_get_str(obj, "regarding.namespace");
  if (rns && *rns && ns && strcmp(ns, rns))
    reg_cause_invalid_str(causes, "regarding.namespace", rns, "does not match event.namespace");
}

/* core/v1's selectable fields.  The events.k8s.io names are listed too:
 * both versions share one storage prefix and the stored selector
 * attributes are built from this list, so a regarding.* selector can only
 * match if its value is stored. */
static const char *const event_fields[] = {"involvedObject.kind",
                                           "involvedObject.namespace",
                                           "involvedObject.name",
                                           "involvedObject.uid",
                                           "involvedObject.apiVersion",
                                           "involvedObject.resourceVersion",
                                           "involvedObject.fieldPath",
                                           "reason",
                                           "reportingComponent",
                                           "source",
                                           "type",
                                           "regarding.kind",
                                           "regarding.namespace",
                                           "regarding.name",
                                           "regarding.uid",
                                           "regarding.apiVersion",
                                           "regarding.resourceVersion",
                                           "regarding.fieldPath",
                                           "reportingController",
                                           NULL};

/* events.k8s.io/v1's selectable fields (upstream's field label
 * conversions: each maps to its core/v1 counterpart). */
static const char *const event_v1_fields[] = {"regarding.kind",
                                              "regarding.namespace",
                                              "regarding.name",
                                              "regarding.uid",
                                              "regarding.apiVersion",
                                              "regarding.resourceVersion",
                                              "regarding.fieldPath",
                                              "reason",
                                              "reportingController",
                                              "type",
                                              NULL};

/* Values come from the core/v1 shape.  For an object already in that
 * shape (what storage holds) the value is borrowed from obj rather than
 * copied into buf, so that all the fields fit the callers' buffers. */
static const char *event_field_value(const json_t *obj, const char *field, char *buf, size_t len)
{
  bool known = false;
  for (size_t i = 0; event_fields[i]; i++)
    if (!strcmp(field, event_fields[i])) known = true;
  if (!known) return NULL;
  json_t *tmp;
  const json_t *e = as_core(obj, &tmp);
  const char *v = NULL;
  if (!strcmp(field, "source")) v = kj_get_str(e, "source.component");
  else if (!strcmp(field, "reportingController")) v = kj_get_str(e, "reportingComponent");
  else if (!strncmp(field, "involvedObject.", 15))
    v = json_string_value(json_object_get(json_object_get(e, "involvedObject"), field + 15));
  else if (!strncmp(field, "regarding.", 10))
    v = json_string_value(json_object_get(json_object_get(e, "involvedObject"), field + 10));
  else v = kj_get_str(e, field);
  if (!tmp) return v ? v : "";
  snprintf(buf, len, "%s", v ? v : "");
  json_decref(tmp);
  return buf;
}

static void since(const char *ts, char *out, size_t len)
{
  int64_t us;
  char age[32];
  if (!ts || ktime_parse(ts, &us) != 0) {
    snprintf(out, len, "<unknown>");
    return;
  }
  int64_t s = (ktime_now_us() - us) / 1000000;
  snprintf(out, len, "%s", ktime_human_age(s < 0 ? 0 : s, age, sizeof(age)));
}

static json_t *event_cells(const json_t *obj)
{
  json_t *tmp;
  const json_t *e = as_core(obj, &tmp);
  char first[32], last[32];
  const char *ft = kj_get_str(e, "firstTimestamp");
  since(ft ? ft : kj_get_str(e, "eventTime"), first, sizeof(first));
  const char *lt = kj_get_str(e, "lastTimestamp");
  if (lt) since(lt, last, sizeof(last));
  else snprintf(last, sizeof(last), "%s", first);
  int64_t count = kj_get_int(e, "count", 0);
  if (kj_get(e, "series")) {
    since(kj_get_str(e, "series.lastObservedTime"), last, sizeof(last));
    count = kj_get_int(e, "series.count", 0);
  } else if (count == 0) {
    count = 1;
  }
  const char *kind = reg_str_or(kj_get_str(e, "involvedObject.kind"), "");
  const char *name = kj_get_str(e, "involvedObject.name");
  char *target = NULL;
  char *lk = xstrdup(kind);
  for (char *p = lk; *p; p++) *p = (char)tolower((unsigned char)*p);
  if (asprintf(&target, name && *name ? "%s/%s" : "%s", lk, name ? name : "") < 0) target = NULL;
  free(lk);
  const char *comp = reg_str_or(kj_get_str(e, "source.component"), reg_str_or(kj_get_str(e, "reportingComponent"), ""));
  const char *inst = reg_str_or(kj_get_str(e, "source.host"), reg_str_or(kj_get_str(e, "reportingInstance"), ""));
  char *source = NULL;
  if (asprintf(&source, *inst ? "%s, %s" : "%s", comp, inst) < 0) source = NULL;
  /* strings.TrimSpace(message) */
  const char *msg = reg_str_or(kj_get_str(e, "message"), "");
  while (isspace((unsigned char)*msg)) msg++;
  size_t ml = strlen(msg);
  while (ml && isspace((unsigned char)msg[ml - 1])) ml--;

  json_t *row = json_array();
  json_array_append_new(row, json_string(last));
  json_array_append_new(row, json_string(reg_str_or(kj_get_str(e, "type"), "")));
  json_array_append_new(row, json_string(reg_str_or(kj_get_str(e, "reason"), "")));
  json_array_append_new(row, json_string(target ? target : ""));
  json_array_append_new(row, json_string(reg_str_or(kj_get_str(e, "involvedObject.fieldPath"), "")));
  json_array_append_new(row, json_string(source ? source : ""));
  json_array_append_new(row, json_stringn(msg, ml));
  json_array_append_new(row, json_string(first));
  json_array_append_new(row, json_integer(count));
  json_array_append_new(row, json_string(reg_str_or(kj_get_str(e, "metadata.name"), "")));
  free(target);
  free(source);
  json_decref(tmp);
  return row;
}

static const struct reg_column event_columns[] = {
    {"Last Seen", "string", "", 0, "The time at which the most recent occurrence of this event was recorded."},
    {"Type", "string", "", 0, "Type of this event (Normal, Warning), new types could be added in the future."},
    {"Reason", "string", "", 0,
     "This should be a short, machine understandable string that gives the reason for the transition into the object's "
     "current status."},
    {"Object", "string", "", 0, "The object that this event is about."},
    {"Subobject", "string", "", 1, "The subobject (field path) of the object that this event is about."},
    {"Source", "string", "", 1, "The component reporting this event. Should be a short machine understandable string."},
    {"Message", "string", "", 0, "A human-readable description of the status of this operation."},
    {"First Seen", "string", "", 1, "The time at which the event was first recorded."},
    {"Count", "string", "", 1, "The number of times this event has occurred."},
    {"Name", "string", "name", 1, "Name must be unique within a namespace."},
    {NULL},
};

const struct resource reg_events = {
    .group = "",
    .version = "v1",
    .plural = "events",
    .singular = "event",
    .kind = "Event",
    .namespaced = true,
    .short_names = {"ev", NULL},
    .storage_prefix = "/registry/events",
    .field_selectors = event_fields,
    .validate = event_validate,
    .field_value = event_field_value,
    .columns = event_columns,
    .cells = event_cells,
};

const struct resource reg_events_v1 = {
    .group = "events.k8s.io",
    .version = "v1",
    .plural = "events",
    .singular = "event",
    .kind = "Event",
    .namespaced = true,
    .short_names = {"ev", NULL},
    .storage_prefix = "/registry/events",
    .field_selectors = event_v1_fields,
    .validate = event_v1_validate,
    .field_value = event_field_value,
    .columns = event_columns,
    .cells = event_cells,
};
