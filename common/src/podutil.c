/*
 * podutil.c - pod requests/limits, QoS, conditions, controller references,
 * container lookups and per-pod quota usage (see kube/podutil.h).
 *
 * Requests and limits follow upstream's PodRequests/PodLimits: app
 * containers and sidecars (init containers with restartPolicy Always) run
 * together, so they add up; a plain init container runs alone next to the
 * sidecars started before it, so the pod needs the larger of that and the
 * running sum.  The lists are small (a handful of resources), so entries
 * are found by a linear scan.
 */
#include "kube/podutil.h"

#include <stdlib.h>
#include <string.h>

#include "kube/json.h"
#include "kube/timeutil.h"
#include "kube/xalloc.h"

/* --- resource lists --- */

void kres_list_clear(struct kres_list *l)
{
  for (size_t i = 0; i < l->n; i++) free(l->items[i].name);
  l->n = 0;
}

void kres_list_free(struct kres_list *l)
{
  kres_list_clear(l);
  free(l->items);
  l->items = NULL;
  l->cap = 0;
}

static struct kres *find(const struct kres_list *l, const char *name)
{
  for (size_t i = 0; i < l->n; i++)
    if (strcmp(l->items[i].name, name) == 0) return &l->items[i];
  return NULL;
}

const struct quantity *kres_get(const struct kres_list *l, const char *name)
{
  struct kres *r = find(l, name);
  return r ? &r->q : NULL;
}

static struct kres *append(struct kres_list *l, const char *name)
{
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 8;
    l->items = xrealloc(l->items, cap * sizeof *l->items);
    l->cap = cap;
  }
  struct kres *r = &l->items[l->n++];
  r->name = xstrdup(name);
  memset(&r->q, 0, sizeof r->q);
  return r;
}

void kres_set(struct kres_list *l, const char *name, const struct quantity *q)
{
  struct kres *r = find(l, name);
  if (!r) r = append(l, name);
  r->q = *q;
}

void kres_add(struct kres_list *l, const char *name, const struct quantity *q)
{
  struct kres *r = find(l, name);
  if (!r) {
    append(l, name)->q = *q;
    return;
  }
  quantity_add(&r->q, q); /* -ERANGE keeps the old sum: far beyond any real amount */
}

void kres_add_json(struct kres_list *l, const json_t *list)
{
  const char *k;
  json_t *v;
  struct quantity q;
  json_object_foreach ((json_t *)list, k, v) {
    if (quantity_from_json(v, &q) == 0) kres_add(l, k, &q);
  }
}

void kres_max(struct kres_list *l, const struct kres_list *other)
{
  for (size_t i = 0; i < other->n; i++) {
    struct kres *r = find(l, other->items[i].name);
    if (!r) append(l, other->items[i].name)->q = other->items[i].q;
    else if (quantity_cmp(&other->items[i].q, &r->q) > 0) r->q = other->items[i].q;
  }
}

json_t *kres_to_json(const struct kres_list *l)
{
  json_t *o = json_object();
  char buf[QUANTITY_STRING_MAX];
  for (size_t i = 0; i < l->n; i++)
    json_object_set_new(o, l->items[i].name, json_string(quantity_format(&l->items[i].q, buf, sizeof buf)));
  return o;
}

static void kres_add_list(struct kres_list *l, const struct kres_list *other)
{
  for (size_t i = 0; i < other->n; i++) kres_add(l, other->items[i].name, &other->items[i].q);
}

/* --- requests and limits --- */

bool container_is_sidecar(const json_t *container)
{
  const char *rp = json_string_value(json_object_get(container, "restartPolicy"));
  return rp && strcmp(rp, "Always") == 0;
}

/* One container's requests or limits into `out` (cleared first), with the
 * non-missing defaults applied to requests. */
static void container_amounts(const json_t *c, const char *field, const struct pod_resource_opts *o,
                              struct kres_list *out)
{
  kres_list_clear(out);
  const json_t *list = json_object_get(json_object_get(c, "resources"), field);
  kres_add_json(out, list);
  if (!o || strcmp(field, "requests") != 0) return;
  struct quantity q;
  if (o->non_missing_milli_cpu > 0 && !json_object_get(list, "cpu")) {
    quantity_set_milli(&q, o->non_missing_milli_cpu, QF_DECIMAL_SI);
    kres_set(out, "cpu", &q);
  }
  if (o->non_missing_memory > 0 && !json_object_get(list, "memory")) {
    quantity_set_int(&q, o->non_missing_memory, QF_BINARY_SI);
    kres_set(out, "memory", &q);
  }
}

static void pod_amounts(const json_t *pod, const char *field, const struct pod_resource_opts *o, struct kres_list *out)
{
  const json_t *spec = json_object_get(pod, "spec");
  struct kres_list c = {0}, sidecars = {0}, init_max = {0}, tmp = {0};
  size_t i;
  json_t *ct;
  json_array_foreach (json_object_get(spec, "containers"), i, ct) {
    container_amounts(ct, field, o, &c);
    kres_add_list(out, &c);
  }
  json_array_foreach (json_object_get(spec, "initContainers"), i, ct) {
    container_amounts(ct, field, o, &c);
    kres_list_clear(&tmp);
    if (container_is_sidecar(ct)) {
      kres_add_list(out, &c);
      kres_add_list(&sidecars, &c);
      kres_add_list(&tmp, &sidecars);
    } else {
      kres_add_list(&tmp, &c);
      kres_add_list(&tmp, &sidecars);
    }
    kres_max(&init_max, &tmp);
  }
  kres_max(out, &init_max);
  kres_list_free(&c);
  kres_list_free(&sidecars);
  kres_list_free(&init_max);
  kres_list_free(&tmp);
}

void pod_requests(const json_t *pod, const struct pod_resource_opts *opts, struct kres_list *out)
{
  pod_amounts(pod, "requests", opts, out);
  if (!opts || !opts->exclude_overhead) kres_add_json(out, kj_get(pod, "spec.overhead"));
}

void pod_limits(const json_t *pod, const struct pod_resource_opts *opts, struct kres_list *out)
{
  pod_amounts(pod, "limits", opts, out);
  if (opts && opts->exclude_overhead) return;
  const char *k;
  json_t *v;
  struct quantity q;
  json_object_foreach (kj_get(pod, "spec.overhead"), k, v) {
    if (find(out, k) && quantity_from_json(v, &q) == 0) kres_add(out, k, &q);
  }
}

/* --- quota usage --- */

bool pod_counts_for_quota(const json_t *pod, int64_t now_us)
{
  if (pod_is_terminal(pod)) return false;
  const char *dt = kj_get_str(pod, "metadata.deletionTimestamp");
  json_t *grace = kj_get(pod, "metadata.deletionGracePeriodSeconds");
  int64_t at;
  if (dt && json_is_integer(grace) && ktime_parse(dt, &at) == 0 && now_us > at + json_integer_value(grace) * 1000000)
    return false;
  return true;
}

/* IsNativeResource: no domain, or a kubernetes.io domain. */
static bool is_native_resource(const char *name)
{
  const char *slash = strchr(name, '/');
  if (!slash) return true;
  size_t dlen = (size_t)(slash - name);
  static const char k8s[] = "kubernetes.io";
  size_t klen = sizeof k8s - 1;
  return dlen >= klen && memcmp(slash - klen, k8s, klen) == 0 && (dlen == klen || slash[-(long)klen - 1] == '.');
}

/* IsExtendedResourceName (the name is already a valid qualified name). */
static bool is_extended_resource(const char *name)
{
  return !is_native_resource(name) && strncmp(name, "requests.", 9) != 0;
}

static void usage_pair(struct kres_list *out, const struct kres_list *reqs, const struct kres_list *lims,
                       const char *res)
{
  char name[128];
  const struct quantity *r = kres_get(reqs, res), *l = kres_get(lims, res);
  if (r) {
    kres_set(out, res, r);
    snprintf(name, sizeof name, "requests.%s", res);
    kres_set(out, name, r);
  }
  if (l) {
    snprintf(name, sizeof name, "limits.%s", res);
    kres_set(out, name, l);
  }
}

void pod_quota_usage(const json_t *pod, int64_t now_us, struct kres_list *out)
{
  struct quantity one;
  quantity_set_int(&one, 1, QF_DECIMAL_SI);
  kres_set(out, "count/pods", &one);
  if (!pod_counts_for_quota(pod, now_us)) return;
  struct kres_list reqs = {0}, lims = {0};
  pod_requests(pod, NULL, &reqs);
  pod_limits(pod, NULL, &lims);
  kres_set(out, "pods", &one);
  usage_pair(out, &reqs, &lims, "cpu");
  usage_pair(out, &reqs, &lims, "memory");
  usage_pair(out, &reqs, &lims, "ephemeral-storage");
  for (size_t i = 0; i < reqs.n; i++) {
    const char *res = reqs.items[i].name;
    size_t len = strlen(res) + sizeof "requests.";
    char *masked = xmalloc(len);
    snprintf(masked, len, "requests.%s", res);
    if (strncmp(res, "hugepages-", 10) == 0) {
      kres_set(out, res, &reqs.items[i].q);
      kres_set(out, masked, &reqs.items[i].q);
    }
    if (is_extended_resource(res)) kres_set(out, masked, &reqs.items[i].q);
    free(masked);
  }
  kres_list_free(&reqs);
  kres_list_free(&lims);
}

/* --- QoS --- */

static bool qos_resource(const char *name) { return !strcmp(name, "cpu") || !strcmp(name, "memory"); }

/* Adds the positive cpu/memory amounts of `list` into acc; returns which
 * were found (bit 0 cpu, bit 1 memory). */
static int qos_sum(const json_t *list, struct kres_list *acc)
{
  const char *k;
  json_t *v;
  struct quantity q;
  int found = 0;
  json_object_foreach ((json_t *)list, k, v) {
    if (!qos_resource(k) || quantity_from_json(v, &q) != 0 || quantity_sign(&q) <= 0) continue;
    found |= strcmp(k, "cpu") == 0 ? 1 : 2;
    kres_add(acc, k, &q);
  }
  return found;
}

static bool qos_container_walk(const json_t *containers, struct kres_list *reqs, struct kres_list *lims)
{
  bool guaranteed = true;
  size_t i;
  json_t *c;
  json_array_foreach (containers, i, c) {
    const json_t *res = json_object_get(c, "resources");
    qos_sum(json_object_get(res, "requests"), reqs);
    if (qos_sum(json_object_get(res, "limits"), lims) != 3) guaranteed = false;
  }
  return guaranteed;
}

const char *pod_compute_qos_class(const json_t *pod)
{
  struct kres_list reqs = {0}, lims = {0};
  const json_t *spec = json_object_get(pod, "spec");
  bool guaranteed = qos_container_walk(json_object_get(spec, "containers"), &reqs, &lims);
  guaranteed = qos_container_walk(json_object_get(spec, "initContainers"), &reqs, &lims) && guaranteed;
  const char *cls;
  if (reqs.n == 0 && lims.n == 0) {
    cls = "BestEffort";
  } else {
    for (size_t i = 0; guaranteed && i < reqs.n; i++) {
      const struct quantity *l = kres_get(&lims, reqs.items[i].name);
      guaranteed = l && quantity_cmp(l, &reqs.items[i].q) == 0;
    }
    cls = guaranteed && reqs.n == lims.n ? "Guaranteed" : "Burstable";
  }
  kres_list_free(&reqs);
  kres_list_free(&lims);
  return cls;
}

const char *pod_qos_class(const json_t *pod)
{
  const char *s = kj_get_str(pod, "status.qosClass");
  if (s && !strcmp(s, "Guaranteed")) return "Guaranteed";
  if (s && !strcmp(s, "Burstable")) return "Burstable";
  if (s && !strcmp(s, "BestEffort")) return "BestEffort";
  return pod_compute_qos_class(pod);
}

/* --- conditions and lifecycle --- */

json_t *pod_condition(const json_t *pod, const char *type)
{
  size_t i;
  json_t *c;
  json_array_foreach (kj_get(pod, "status.conditions"), i, c) {
    const char *t = json_string_value(json_object_get(c, "type"));
    if (t && !strcmp(t, type)) return c;
  }
  return NULL;
}

bool pod_condition_true(const json_t *pod, const char *type)
{
  const char *s = json_string_value(json_object_get(pod_condition(pod, type), "status"));
  return s && !strcmp(s, "True");
}

bool pod_is_ready(const json_t *pod) { return pod_condition_true(pod, "Ready"); }

int64_t pod_ready_since(const json_t *pod)
{
  if (!pod_is_ready(pod)) return -1;
  const char *t = json_string_value(json_object_get(pod_condition(pod, "Ready"), "lastTransitionTime"));
  int64_t us;
  if (!t || ktime_parse(t, &us) != 0) return 0;
  return us / 1000000;
}

bool pod_is_available(const json_t *pod, int64_t min_ready_seconds, int64_t now_s)
{
  if (!pod_is_ready(pod)) return false;
  if (min_ready_seconds <= 0) return true;
  int64_t since = pod_ready_since(pod);
  /* an unset transition time never becomes available with minReadySeconds */
  return since > 0 && since + min_ready_seconds < now_s;
}

bool pod_is_terminal(const json_t *pod)
{
  const char *p = kj_get_str(pod, "status.phase");
  return p && (!strcmp(p, "Succeeded") || !strcmp(p, "Failed"));
}

bool obj_is_terminating(const json_t *obj)
{
  json_t *dt = kj_get(obj, "metadata.deletionTimestamp");
  return dt && !json_is_null(dt);
}

bool pod_is_active(const json_t *pod) { return !pod_is_terminal(pod) && !obj_is_terminating(pod); }

int64_t pod_restart_count(const json_t *pod)
{
  int64_t n = 0;
  size_t i;
  json_t *cs;
  json_array_foreach (kj_get(pod, "status.containerStatuses"), i, cs) n += kj_get_int(cs, "restartCount", 0);
  return n;
}

/* --- owners and containers --- */

json_t *obj_controller_ref(const json_t *obj)
{
  size_t i;
  json_t *r;
  json_array_foreach (kj_get(obj, "metadata.ownerReferences"), i, r) {
    if (json_is_true(json_object_get(r, "controller"))) return r;
  }
  return NULL;
}

bool obj_is_controlled_by(const json_t *obj, const char *uid)
{
  const char *u = json_string_value(json_object_get(obj_controller_ref(obj), "uid"));
  return u && uid && !strcmp(u, uid);
}

static json_t *find_named(const json_t *list, const char *name)
{
  size_t i;
  json_t *c;
  json_array_foreach (list, i, c) {
    const char *n = json_string_value(json_object_get(c, "name"));
    if (n && !strcmp(n, name)) return c;
  }
  return NULL;
}

json_t *pod_find_container(const json_t *pod, const char *name, int kinds)
{
  const json_t *spec = json_object_get(pod, "spec");
  json_t *c = NULL;
  if (!kinds) kinds = POD_CONTAINER_APP | POD_CONTAINER_INIT | POD_CONTAINER_EPHEMERAL;
  if ((kinds & POD_CONTAINER_APP) && (c = find_named(json_object_get(spec, "containers"), name))) return c;
  if ((kinds & POD_CONTAINER_INIT) && (c = find_named(json_object_get(spec, "initContainers"), name))) return c;
  if (kinds & POD_CONTAINER_EPHEMERAL) c = find_named(json_object_get(spec, "ephemeralContainers"), name);
  return c;
}

json_t *pod_container_status(const json_t *pod, const char *name)
{
  static const char *const lists[] = {"containerStatuses", "initContainerStatuses", "ephemeralContainerStatuses"};
  const json_t *status = json_object_get(pod, "status");
  for (size_t i = 0; i < 3; i++) {
    json_t *s = find_named(json_object_get(status, lists[i]), name);
    if (s) return s;
  }
  return NULL;
}
