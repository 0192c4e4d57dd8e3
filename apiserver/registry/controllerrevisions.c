/*
 * controllerrevisions.c - the apps/v1 ControllerRevision strategy
 * (upstream pkg/registry/apps/controllerrevision): immutable snapshots of
 * a StatefulSet's or DaemonSet's template; data is required and may never
 * change, revision is a non-negative number.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ctype.h>

#include <kube/json.h>

#include "registry/ext_internal.h"
#include "registry/kinds_ext.h"
#include <kube/xalloc.h>

static void cr_validate(struct reg_request *rq, const json_t *obj, const json_t *old, json_t *causes)
{
  reg_validate_object_meta(obj, true, true, causes);
  if (old) reg_validate_object_meta_update(obj, old, causes);
  json_t *data = json_object_get(obj, "data");
  if (!data || json_is_null(data)) reg_cause_add(causes, REG_REQUIRED, "data", "Required value: data is mandatory");
  ext_nonneg(obj, "", "revision", causes);
  if (old) {
    json_t *od = json_object_get(old, "data");
    if (!(data == od || (data && od && json_equal(data, od))))
      ext_cause_invalid_any(causes, "data", data ? data : json_null(), "field is immutable");
  }
}

/* "statefulset.apps/web": lower-cased Kind.group of the controller. */
static char *controller_name(const json_t *obj)
{
  size_t i;
  json_t *ref;
  json_array_foreach (kj_get(obj, "metadata.ownerReferences"), i, ref) {
    if (!kj_get_bool(ref, "controller", false)) continue;
    const char *api = reg_str_or(kj_get_str(ref, "apiVersion"), "");
    const char *kind = reg_str_or(kj_get_str(ref, "kind"), "");
    const char *slash = strchr(api, '/');
    char *s = NULL;
    if (asprintf(&s, "%s%s%.*s/%s", kind, slash ? "." : "", slash ? (int)(slash - api) : 0, api,
                 reg_str_or(kj_get_str(ref, "name"), "")) < 0)
      return NULL;
    char *end = strchr(s, '/');
    for (char *p = s; p < end; p++) *p = (char)tolower((unsigned char)*p);
    if (!*kind) {
      char *n = xstrdup(reg_str_or(kj_get_str(ref, "name"), ""));
      free(s);
      return n;
    }
    return s;
  }
  return xstrdup("<none>");
}

static json_t *cr_cells(const json_t *obj)
{
  json_t *row = reg_row(obj);
  char *c = controller_name(obj);
  reg_cell_str(row, c);
  free(c);
  reg_cell_int(row, kj_get_int(obj, "revision", 0));
  json_array_append_new(row, reg_age_cell(obj));
  return row;
}

static const struct reg_column cr_columns[] = {
    {"Name", "string", "name", 0, EXT_DESC_NAME},
    {"Controller", "string", "", 0, "Controller of the object"},
    {"Revision", "string", "", 0, "Revision indicates the revision of the state represented by Data."},
    {"Age", "string", "", 0, EXT_DESC_AGE},
    {NULL},
};

const struct resource reg_controllerrevisions = {
    .group = "apps",
    .version = "v1",
    .plural = "controllerrevisions",
    .singular = "controllerrevision",
    .kind = "ControllerRevision",
    .namespaced = true,
    .short_names = {NULL},
    .categories = {NULL},
    .storage_prefix = "/registry/controllerrevisions",
    .validate = cr_validate,
    .columns = cr_columns,
    .cells = cr_cells,
};
