/*
 * priority.c - the Priority admission plugin: a pod's
 * spec.priorityClassName is resolved to spec.priority (and
 * spec.preemptionPolicy) from the stored PriorityClass; without a class
 * name the pod gets the class marked globalDefault, if any, else priority
 * 0.  A class that does not exist, or a priority the pod sets itself that
 * disagrees with its class, is refused (403) as upstream does.  The two
 * system classes are created by the registry at start.
 *
 * For PriorityClasses themselves the plugin keeps one default: a class
 * marked globalDefault is refused while another one is (403 "PriorityClass
 * X is already marked as default. Only one default can exist").
 */
#define _GNU_SOURCE
#include "admission/admission.h"

#include <stdio.h>
#include <string.h>

#include <kube/json.h>

#include "registry/registry.h"

/* New reference to the globalDefault class, or NULL. */
static json_t *global_default(struct reg_request *rq)
{
  json_t *all = adm_list(rq->srv, "priorityclasses", NULL);
  json_t *best = NULL;
  size_t i;
  json_t *pc;
  json_array_foreach (all, i, pc) {
    if (!kj_get_bool(pc, "globalDefault", false)) continue;
    /* upstream picks the lowest value when several claim to be default */
    if (!best || kj_get_int(pc, "value", 0) < kj_get_int(best, "value", 0)) best = pc;
  }
  json_incref(best);
  json_decref(all);
  return best;
}

/* upstream's validatePriorityClass: only one default */
static json_t *one_default(struct reg_request *rq, const struct resource *res, const json_t *pc)
{
  if (!kj_get_bool(pc, "globalDefault", false)) return NULL;
  const char *name = kj_get_str(pc, "metadata.name");
  json_t *dflt = global_default(rq);
  const char *dname = dflt ? kj_get_str(dflt, "metadata.name") : NULL;
  json_t *st = NULL;
  if (dname && (!name || strcmp(dname, name) != 0))
    st = adm_forbidden(res, name, "PriorityClass %s is already marked as default. Only one default can exist", dname);
  json_decref(dflt);
  return st;
}

json_t *admission_priority(struct reg_request *rq, const struct resource *res, json_t *obj, const json_t *old)
{
  if (!strcmp(res->plural, "priorityclasses") && !strcmp(res->group, "scheduling.k8s.io"))
    return one_default(rq, res, obj);
  if (res != &reg_pods || old || !kj_obj(obj, "spec")) return NULL;
  const char *name = kj_get_str(obj, "metadata.name");
  const char *cls = kj_get_str(obj, "spec.priorityClassName");
  json_t *pc = NULL;
  if (cls && *cls) {
    char key[600];
    snprintf(key, sizeof(key), "/registry/priorityclasses/%s", cls);
    pc = adm_get(rq->srv, key);
    if (!pc) return adm_forbidden(res, name, "no PriorityClass with name %s was found", cls);
  } else {
    pc = global_default(rq);
    if (pc) kj_set_str(obj, "spec.priorityClassName", kj_get_str(pc, "metadata.name"));
  }
  int64_t value = pc ? kj_get_int(pc, "value", 0) : 0;
  json_t *given = kj_get(obj, "spec.priority");
  if (json_is_integer(given) && json_integer_value(given) != value) {
    json_decref(pc);
    return adm_forbidden(res, name,
                         "the integer value of priority (%lld) must not be provided in pod spec; priority "
                         "admission controller computed %lld from the given PriorityClass name",
                         (long long)json_integer_value(given), (long long)value);
  }
  kj_set_int(obj, "spec.priority", value);
  const char *pp = pc ? kj_get_str(pc, "preemptionPolicy") : NULL;
  const char *given_pp = kj_get_str(obj, "spec.preemptionPolicy");
  const char *eff = pp && *pp ? pp : "PreemptLowerPriority";
  if (given_pp && *given_pp && strcmp(given_pp, eff) != 0) {
    json_decref(pc);
    return adm_forbidden(res, name,
                         "the string value of PreemptionPolicy (%s) must not be provided in pod spec; priority "
                         "admission controller computed %s from the given PriorityClass name",
                         given_pp, eff);
  }
  kj_set_str(obj, "spec.preemptionPolicy", eff);
  json_decref(pc);
  return NULL;
}
