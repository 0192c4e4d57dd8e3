/*
 * priorityclasses.c - the scheduling.k8s.io/v1 PriorityClass strategy
 * (upstream pkg/registry/scheduling/priorityclass, ValidatePriorityClass,
 * printPriorityClass) and the built-in classes the API server creates at
 * start (system-cluster-critical, system-node-critical).
 *
 * Names starting with "system-" are reserved for the built-in classes
 * with their exact values; user classes may go up to one billion.  value
 * and preemptionPolicy cannot change.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kube/json.h>
#include <kube/log.h>
#include <kube/names.h>
#include <kube/timeutil.h>

#include "apiserver.h"
#include "registry/ext_internal.h"
#include "registry/kinds_ext.h"
#include "storage/storage.h"
#include <kube/xalloc.h>

#define PC_SYSTEM_PREFIX "system-"
#define PC_HIGHEST_USER_PRIORITY 1000000000LL

static const struct {
  const char *name;
  long long value;
  const char *description;
} system_classes[] = {
    {"system-node-critical", 2000001000LL,
     "Used for system critical pods that must not be moved from their current node."},
    {"system-cluster-critical", 2000000000LL,
     "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary."},
};
#define N_SYSTEM_CLASSES (sizeof(system_classes) / sizeof(system_classes[0]))

static void pc_defaults(json_t *obj) { kj_default(obj, "preemptionPolicy", json_string("PreemptLowerPriority")); }

static void pc_validate(struct reg_request *rq, const json_t *obj, const json_t *old, json_t *causes)
{
  reg_validate_object_meta(obj, false, true, causes);
  if (old) reg_validate_object_meta_update(obj, old, causes);
  const char *name = reg_str_or(kj_get_str(obj, "metadata.name"), "");
  long long value = kj_get_int(obj, "value", 0);
  bool global = kj_get_bool(obj, "globalDefault", false);
  if (!strncmp(name, PC_SYSTEM_PREFIX, strlen(PC_SYSTEM_PREFIX))) {
    char err[256] = "";
    size_t i;
    for (i = 0; i < N_SYSTEM_CLASSES; i++)
      if (!strcmp(system_classes[i].name, name)) break;
    if (i == N_SYSTEM_CLASSES) snprintf(err, sizeof(err), "%s is not a known system priority class", name);
    else if (value != system_classes[i].value)
      snprintf(err, sizeof(err), "value of %s PriorityClass must be %lld", name, system_classes[i].value);
    else if (global) snprintf(err, sizeof(err), "globalDefault of %s PriorityClass must be false", name);
    if (*err)
      reg_cause_add(causes, REG_FORBIDDEN, "metadata.name",
                    "Forbidden: priority class names with 'system-' prefix are reserved for system use only. error: %s",
                    err);
  } else if (value > PC_HIGHEST_USER_PRIORITY) {
    reg_cause_add(causes, REG_FORBIDDEN, "value", "Forbidden: maximum allowed value of a user defined priority is %lld",
                  PC_HIGHEST_USER_PRIORITY);
  }
  static const char *const policies[] = {"Never", "PreemptLowerPriority", NULL};
  reg_check_enum(causes, "preemptionPolicy", kj_get_str(obj, "preemptionPolicy"), policies);
  if (old) {
    if (kj_get_int(old, "value", 0) != value)
      reg_cause_add(causes, REG_FORBIDDEN, "value", "Forbidden: may not be changed in an update.");
    json_t *a = json_object_get(obj, "preemptionPolicy"), *b = json_object_get(old, "preemptionPolicy");
    reg_check_immutable(causes, "preemptionPolicy", a ? a : json_null(), b ? b : json_null());
  }
}

static json_t *pc_cells(const json_t *obj)
{
  json_t *row = reg_row(obj);
  reg_cell_int(row, kj_get_int(obj, "value", 0));
  json_array_append_new(row, json_boolean(kj_get_bool(obj, "globalDefault", false)));
  json_array_append_new(row, reg_age_cell(obj));
  reg_cell_str(row, reg_str_or(kj_get_str(obj, "preemptionPolicy"), "<unset>"));
  return row;
}

static const struct reg_column pc_columns[] = {
    {"Name", "string", "name", 0, EXT_DESC_NAME},
    {"Value", "integer", "", 0,
     "value represents the integer value of this priority class. This is the actual priority that pods receive when "
     "they have the name of this class in their pod spec."},
    {"Global-Default", "boolean", "", 0,
     "globalDefault specifies whether this PriorityClass should be considered as the default priority for pods that do "
     "not have any priority class."},
    {"Age", "string", "", 0, EXT_DESC_AGE},
    {"PreemptionPolicy", "string", "", 0, "preemptionPolicy is the Policy for preempting pods with lower priority."},
    {NULL},
};

const struct resource reg_priorityclasses = {
    .generation = REG_GEN_CREATE,
    .group = "scheduling.k8s.io",
    .version = "v1",
    .plural = "priorityclasses",
    .singular = "priorityclass",
    .kind = "PriorityClass",
    .namespaced = false,
    .short_names = {"pc", NULL},
    .categories = {NULL},
    .storage_prefix = "/registry/priorityclasses",
    .defaults = pc_defaults,
    .validate = pc_validate,
    .columns = pc_columns,
    .cells = pc_cells,
};

/* ---- built-in classes ---- */

struct pc_boot {
  int pending;
  void (*done)(void *arg);
  void *arg;
};

static void pc_write_done(void *arg, int err, struct kv *kv, struct kv *prev)
{
  struct pc_boot *b = arg;
  if (err && err != STORAGE_EEXIST) KLOG_E("creating built-in priority class failed: %d", err);
  if (--b->pending == 0) {
    void (*done)(void *) = b->done;
    void *darg = b->arg;
    free(b);
    if (done) done(darg);
  }
}

int registry_ext_bootstrap(struct apiserver *srv, void (*done)(void *arg), void *arg)
{
  if (!srv || !srv->storage) {
    if (done) done(arg);
    return 0;
  }
  struct pc_boot *b = xcalloc(1, sizeof(*b));
  if (!b) return -ENOMEM;
  b->done = done;
  b->arg = arg;
  b->pending = 1; /* held until every write is queued */
  for (size_t i = 0; i < N_SYSTEM_CLASSES; i++) {
    char *key = reg_key(&reg_priorityclasses, NULL, system_classes[i].name);
    if (!key) continue;
    if (storage_get(srv->storage, key)) {
      free(key);
      continue;
    }
    char uid[37], ts[32];
    names_uuid(uid);
    json_t *pc = json_pack("{s:s,s:s,s:{s:s,s:s,s:s},s:I,s:b,s:s}", "apiVersion", "scheduling.k8s.io/v1", "kind",
                           "PriorityClass", "metadata", "name", system_classes[i].name, "uid", uid, "creationTimestamp",
                           ktime_now_str(ts), "value", (json_int_t)system_classes[i].value, "globalDefault", 0,
                           "description", system_classes[i].description);
    pc_defaults(pc);
    char *attrs = registry_attrs(&reg_priorityclasses, pc);
    b->pending++;
    int wrc = storage_create(srv->storage, key, pc, attrs, pc_write_done, b);
    if (wrc) {
      b->pending--;
      if (wrc != STORAGE_EEXIST) KLOG_E("creating built-in priority class %s failed: %d", system_classes[i].name, wrc);
    }
    free(attrs);
    free(key);
    json_decref(pc);
  }
  if (--b->pending == 0) {
    free(b);
    if (done) done(arg);
  }
  return 0;
}
