/*
 * limit_ranger.c - the LimitRanger admission plugin.
 *
 * The LimitRanges of the pod's namespace first fill in what the pod's
 * containers leave out (limits from `default`, requests from
 * `defaultRequest`, recorded in the kubernetes.io/limit-ranger
 * annotation), then every container (type Container) and the pod as a
 * whole (type Pod) must stay within `min`,
 * `max` and `maxLimitRequestRatio`; otherwise 403 with upstream's
 * messages.  Init containers are held to the same per-container rules;
 * the pod-level check counts the pod as podutil's pod_requests and
 * pod_limits do (the one implementation of upstream's PodRequests and
 * PodLimits), leaving pod overhead out as upstream's LimitRanger does.
 */
#define _GNU_SOURCE
#include "admission/admission.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kube/json.h>
#include <kube/podutil.h>
#include <kube/quantity.h>

#include "registry/registry.h"
#include <kube/xalloc.h>

static const char *const CONTAINER_LISTS[] = {"spec.initContainers", "spec.containers", NULL};

/* Fills the resources of `field` ("limits", "requests") that dflt has
 * and c lacks; their names are appended to `set` ("cpu, memory"). */
static void apply_defaults(json_t *c, const json_t *dflt, const char *field, char *set, size_t setlen)
{
  /* upstream lists the names sorted */
  json_t *names = json_array();
  const char *res;
  json_t *v;
  char path[300];
  snprintf(path, sizeof(path), "resources.%s", field);
  json_object_foreach ((json_t *)dflt, res, v) {
    json_t *m = kj_obj(c, path);
    if (!m || json_object_get(m, res)) continue;
    json_object_set(m, res, v);
    size_t at = json_array_size(names);
    while (at > 0 && strcmp(json_string_value(json_array_get(names, at - 1)), res) > 0) at--;
    json_array_insert_new(names, at, json_string(res));
  }
  size_t i;
  json_array_foreach (names, i, v) {
    size_t n = strlen(set);
    snprintf(set + n, setlen - n, "%s%s", n ? ", " : "", json_string_value(v));
  }
  json_decref(names);
}

/* One container's part of the kubernetes.io/limit-ranger annotation. */
static void note_container(char *note, size_t len, const char *reqs, const char *lims, const char *prefix,
                           const char *name)
{
  const char *what[2] = {reqs, lims};
  const char *kind[2] = {"request", "limit"};
  for (int i = 0; i < 2; i++) {
    if (!*what[i]) continue;
    size_t n = strlen(note);
    snprintf(note + n, len - n, "%s%s %s for %s %s", n ? "; " : "", what[i], kind[i], prefix, name);
  }
}

json_t *admission_limit_ranger_mutate(struct reg_request *rq, const struct resource *res, json_t *obj,
                                      const json_t *old)
{
  if (res != &reg_pods || old || !rq->namespace_) return NULL;
  json_t *lrs = adm_list(rq->srv, "limitranges", rq->namespace_);
  char note[2048] = "";
  size_t i, j, k;
  json_t *lr, *item, *c;
  json_array_foreach (lrs, i, lr) {
    json_array_foreach (kj_get(lr, "spec.limits"), j, item) {
      const char *type = kj_get_str(item, "type");
      if (!type || strcmp(type, "Container") != 0) continue;
      for (const char *const *l = CONTAINER_LISTS; *l; l++) {
        json_array_foreach (kj_get(obj, *l), k, c) {
          char reqs[256] = "", lims[256] = "";
          apply_defaults(c, json_object_get(item, "defaultRequest"), "requests", reqs, sizeof(reqs));
          apply_defaults(c, json_object_get(item, "default"), "limits", lims, sizeof(lims));
          const char *cn = kj_get_str(c, "name");
          note_container(note, sizeof(note), reqs, lims, l == CONTAINER_LISTS ? "init container" : "container",
                         cn ? cn : "");
        }
      }
    }
  }
  json_decref(lrs);
  if (*note) {
    char text[2200];
    snprintf(text, sizeof(text), "LimitRanger plugin set: %s", note);
    json_object_set_new(kj_obj(obj, "metadata.annotations"), "kubernetes.io/limit-ranger", json_string(text));
  }
  return NULL;
}

/* Quantity of resources.FIELD.RES in c; false when absent or malformed. */
static bool get_q(const json_t *res_map, const char *name, struct quantity *q)
{
  const char *s = kj_get_str(res_map, name);
  return s && quantity_parse(s, q) == 0;
}

/* Checks one set of requests/limits against one LimitRange item; errors
 * appended to errs. */
static void check(const json_t *item, const char *type, const json_t *req, const json_t *lim, json_t *errs)
{
  char msg[512], a[64];
  const char *r;
  json_t *v;
  json_object_foreach (json_object_get(item, "min"), r, v) {
    struct quantity min, got;
    if (!json_is_string(v) || quantity_parse(json_string_value(v), &min) != 0) continue;
    if (!get_q(req, r, &got))
      snprintf(msg, sizeof(msg), "minimum %s usage per %s is %s.  No request is specified", r, type,
               json_string_value(v));
    else if (quantity_cmp(&got, &min) < 0)
      snprintf(msg, sizeof(msg), "minimum %s usage per %s is %s, but request is %s", r, type, json_string_value(v),
               quantity_format(&got, a, sizeof(a)));
    else continue;
    json_array_append_new(errs, json_string(msg));
  }
  json_object_foreach (json_object_get(item, "max"), r, v) {
    struct quantity max, got;
    if (!json_is_string(v) || quantity_parse(json_string_value(v), &max) != 0) continue;
    if (!get_q(lim, r, &got))
      snprintf(msg, sizeof(msg), "maximum %s usage per %s is %s.  No limit is specified", r, type,
               json_string_value(v));
    else if (quantity_cmp(&got, &max) > 0)
      snprintf(msg, sizeof(msg), "maximum %s usage per %s is %s, but limit is %s", r, type, json_string_value(v),
               quantity_format(&got, a, sizeof(a)));
    else continue;
    json_array_append_new(errs, json_string(msg));
  }
  json_object_foreach (json_object_get(item, "maxLimitRequestRatio"), r, v) {
    struct quantity ratio, rq, lq;
    if (!json_is_string(v) || quantity_parse(json_string_value(v), &ratio) != 0) continue;
    if (!get_q(lim, r, &lq)) continue;
    if (!get_q(req, r, &rq) || quantity_is_zero(&rq)) {
      snprintf(msg, sizeof(msg),
               "%s max limit to request ratio per %s is %s, but no request is specified or request is 0", r, type,
               json_string_value(v));
    } else {
      double obs = (double)quantity_milli(&lq) / (double)quantity_milli(&rq);
      if (obs <= (double)quantity_milli(&ratio) / 1000.0) continue;
      snprintf(msg, sizeof(msg), "%s max limit to request ratio per %s is %s, but provided ratio is %f", r, type,
               json_string_value(v), obs);
    }
    json_array_append_new(errs, json_string(msg));
  }
}

json_t *admission_limit_ranger_validate(struct reg_request *rq, const struct resource *res, json_t *obj,
                                        const json_t *old)
{
  if (res != &reg_pods || old || !rq->namespace_) return NULL;
  json_t *lrs = adm_list(rq->srv, "limitranges", rq->namespace_);
  json_t *errs = json_array();
  size_t i, j, k;
  json_t *lr, *item, *c;
  json_array_foreach (lrs, i, lr) {
    json_array_foreach (kj_get(lr, "spec.limits"), j, item) {
      const char *type = kj_get_str(item, "type");
      if (type && strcmp(type, "Container") == 0) {
        for (const char *const *l = CONTAINER_LISTS; *l; l++)
          json_array_foreach (kj_get(obj, *l), k, c)
            check(item, "Container", kj_get(c, "resources.requests"), kj_get(c, "resources.limits"), errs);
      } else if (type && strcmp(type, "Pod") == 0) {
        /* the pod as a whole, as upstream's PodRequests/PodLimits count
         * it (init containers and sidecars too), overhead left out */
        struct pod_resource_opts o = {.exclude_overhead = true};
        struct kres_list rl = {0}, ll = {0};
        pod_requests(obj, &o, &rl);
        pod_limits(obj, &o, &ll);
        json_t *req = kres_to_json(&rl), *lim = kres_to_json(&ll);
        check(item, "Pod", req, lim, errs);
        json_decref(req);
        json_decref(lim);
        kres_list_free(&rl);
        kres_list_free(&ll);
      }
    }
  }
  json_decref(lrs);
  json_t *st = NULL;
  size_t n = json_array_size(errs);
  if (n) {
    size_t total = 4;
    json_t *e;
    json_array_foreach (errs, i, e) total += strlen(json_string_value(e)) + 2;
    char *msg = xcalloc(1, total);
    if (msg) {
      if (n > 1) strcat(msg, "[");
      json_array_foreach (errs, i, e) {
        if (i) strcat(msg, ", ");
        strcat(msg, json_string_value(e));
      }
      if (n > 1) strcat(msg, "]");
      st = adm_forbidden(res, kj_get_str(obj, "metadata.name"), "%s", msg);
      free(msg);
    }
  }
  json_decref(errs);
  return st;
}
