/*
 * convert_events.c - core/v1 Event <-> events.k8s.io/v1 Event.
 *
 * Both APIs serve the same objects from one storage prefix, stored in the
 * core/v1 shape (as upstream stores events).  The two shapes differ only
 * in field names, so conversion is a rename table applied in one
 * direction or the other; fields that neither table names are carried
 * over unchanged (round-trip fidelity for newer clients).
 */
#include "api.h"

#include <string.h>

#include <kube/json.h>

#include "registry/customresources.h"
#include "registry/registry.h"

/* {core field, events.k8s.io field} */
static const char *const RENAMES[][2] = {
    {"involvedObject", "regarding"},
    {"message", "note"},
    {"source", "deprecatedSource"},
    {"firstTimestamp", "deprecatedFirstTimestamp"},
    {"lastTimestamp", "deprecatedLastTimestamp"},
    {"count", "deprecatedCount"},
    {"reportingComponent", "reportingController"},
};
#define NRENAMES (sizeof(RENAMES) / sizeof(RENAMES[0]))

static json_t *convert(const json_t *in, int from, const char *api_version)
{
  json_t *out = json_object();
  const char *k;
  json_t *v;
  json_object_foreach ((json_t *)in, k, v) {
    const char *nk = k;
    for (size_t i = 0; i < NRENAMES; i++) {
      if (strcmp(k, RENAMES[i][from]) == 0) {
        nk = RENAMES[i][1 - from];
        break;
      }
    }
    if (strcmp(k, "apiVersion") == 0) json_object_set_new(out, k, json_string(api_version));
    else json_object_set(out, nk, v);
  }
  if (!json_object_get(out, "apiVersion")) json_object_set_new(out, "apiVersion", json_string(api_version));
  if (!json_object_get(out, "kind")) json_object_set_new(out, "kind", json_string("Event"));
  return out;
}

json_t *conv_event_to_v1(const json_t *core) { return convert(core, 0, "events.k8s.io/v1"); }

json_t *conv_event_to_core(const json_t *ev) { return convert(ev, 1, "v1"); }

bool api_needs_conversion(const struct resource *res)
{
  const struct cr_version *cr = cr_of(res);
  /* versions share one storage (apiVersion rewritten), or the schema's
   * defaults apply on read */
  if (cr) return cr->multi_version || cr->read_defaults;
  return res && res->group && strcmp(res->group, "events.k8s.io") == 0;
}

json_t *api_to_external(const struct resource *res, json_t *stored)
{
  if (!api_needs_conversion(res) || !stored) return stored;
  if (res->custom) return cr_to_external(res, stored);
  json_t *out = conv_event_to_v1(stored);
  json_decref(stored);
  return out;
}

json_t *api_to_internal(const struct resource *res, json_t *obj)
{
  if (!api_needs_conversion(res) || !obj) return obj;
  if (res->custom) return cr_to_internal(res, obj);
  json_t *out = conv_event_to_core(obj);
  json_decref(obj);
  return out;
}
