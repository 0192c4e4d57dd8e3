/*
 * config.c - KubeSchedulerConfiguration (kubescheduler.config.k8s.io/v1)
 * into profiles.
 *
 * Every profile starts from upstream's default plugin set, in upstream's
 * order (which is also the Filter order, so the first failing plugin gives a
 * node's reason) and with its default score weights.  Then, as upstream's
 * plugin merging does: multiPoint.disabled removes plugins at every
 * extension point ("*" removes all defaults), <point>.disabled removes them
 * at one point, multiPoint.enabled adds a plugin at every point it
 * implements, and <point>.enabled adds it (with a weight for score) at one.
 * pluginConfig args are handed to each plugin's init, which validates them.
 *
 * As upstream's defaulting and validation: a lone profile without a
 * schedulerName is "default-scheduler", but with several profiles each
 * needs its own; a plugin appears at most once in pluginConfig.  Extenders
 * (extender.c) are shared by all profiles; the managed resources they mark
 * ignoredByScheduler become NodeResourcesFit's ignoredResources in every
 * profile, taking precedence over its args, as upstream does.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "extender.h"
#include "framework.h"
#include "plugins/plugins.h"
#include "kube/xalloc.h"

static const struct {
  const struct sched_plugin *p;
  int64_t weight;
} default_plugins[] = {
    {&sched_plugin_node_unschedulable, 0},
    {&sched_plugin_node_name, 0},
    {&sched_plugin_taint_toleration, 3},
    {&sched_plugin_node_affinity, 2},
    {&sched_plugin_node_ports, 0},
    {&sched_plugin_node_resources_fit, 1},
    {&sched_plugin_volume_restrictions, 0},
    {&sched_plugin_node_volume_limits, 0},
    {&sched_plugin_volume_binding, 0},
    {&sched_plugin_volume_zone, 0},
    {&sched_plugin_pod_topology_spread, 2},
    {&sched_plugin_inter_pod_affinity, 2},
    {&sched_plugin_node_resources_balanced_allocation, 1},
    {&sched_plugin_image_locality, 1},
};
#define NDEFAULT (sizeof default_plugins / sizeof default_plugins[0])

const struct sched_plugin *sched_plugin_lookup(const char *name)
{
  for (size_t i = 0; i < NDEFAULT; i++)
    if (strcmp(default_plugins[i].p->name, name) == 0) return default_plugins[i].p;
  return NULL;
}

static void profile_free(struct sched_profile *p)
{
  if (!p) return;
  for (int i = 0; i < p->nplugins; i++)
    if (p->plugins[i].p->destroy) p->plugins[i].p->destroy(p->plugins[i].self);
  free(p->scheduler_name);
  free(p);
}

void sched_config_free(struct sched_config *c)
{
  if (!c) return;
  for (size_t i = 0; i < c->nprofiles; i++) profile_free(c->profiles[i]);
  free(c->profiles);
  sched_extenders_free(c->extenders, c->nextenders);
  free(c);
}

struct sched_profile *sched_config_profile(const struct sched_config *c, const char *name)
{
  if (!name || !*name) name = SCHED_DEFAULT_SCHEDULER_NAME;
  for (size_t i = 0; i < c->nprofiles; i++)
    if (strcmp(c->profiles[i]->scheduler_name, name) == 0) return c->profiles[i];
  return NULL;
}

enum point { PT_PRE_FILTER, PT_FILTER, PT_PRE_SCORE, PT_SCORE, PT_RESERVE, PT_PRE_BIND, PT_COUNT };
static const char *const point_names[PT_COUNT] = {"preFilter", "filter", "preScore", "score", "reserve", "preBind"};

static bool *inst_flag(struct sched_plugin_inst *pi, enum point pt)
{
  switch (pt) {
  case PT_PRE_FILTER: return &pi->pre_filter;
  case PT_FILTER: return &pi->filter;
  case PT_PRE_SCORE: return &pi->pre_score;
  case PT_RESERVE: return &pi->reserve;
  case PT_PRE_BIND: return &pi->pre_bind;
  default: return &pi->score;
  }
}

static bool plugin_has(const struct sched_plugin *p, enum point pt)
{
  switch (pt) {
  case PT_PRE_FILTER: return p->pre_filter != NULL;
  case PT_FILTER: return p->filter != NULL;
  case PT_PRE_SCORE: return p->pre_score != NULL;
  case PT_RESERVE: return p->reserve != NULL;
  case PT_PRE_BIND: return p->pre_bind != NULL;
  default: return p->score != NULL;
  }
}

static struct sched_plugin_inst *inst_find(struct sched_profile *p, const char *name, bool create, char *err,
                                           size_t errlen)
{
  for (int i = 0; i < p->nplugins; i++)
    if (strcmp(p->plugins[i].p->name, name) == 0) return &p->plugins[i];
  if (!create) return NULL;
  const struct sched_plugin *pl = sched_plugin_lookup(name);
  if (!pl) {
    snprintf(err, errlen, "plugin \"%s\" does not exist", name);
    return NULL;
  }
  if (p->nplugins >= SCHED_MAX_PLUGINS) {
    snprintf(err, errlen, "too many plugins");
    return NULL;
  }
  struct sched_plugin_inst *pi = &p->plugins[p->nplugins++];
  memset(pi, 0, sizeof *pi);
  pi->p = pl;
  pi->weight = 1;
  return pi;
}

static void disable(struct sched_profile *p, const json_t *list, int pt /* -1: all points */)
{
  size_t i;
  json_t *e;
  json_array_foreach (list, i, e) {
    const char *name = json_string_value(json_object_get(e, "name"));
    if (!name) continue;
    for (int j = 0; j < p->nplugins; j++) {
      if (strcmp(name, "*") != 0 && strcmp(name, p->plugins[j].p->name) != 0) continue;
      for (int q = 0; q < PT_COUNT; q++)
        if (pt < 0 || pt == q) *inst_flag(&p->plugins[j], (enum point)q) = false;
    }
  }
}

static int enable(struct sched_profile *p, const json_t *list, int pt, char *err, size_t errlen)
{
  size_t i;
  json_t *e;
  json_array_foreach (list, i, e) {
    const char *name = json_string_value(json_object_get(e, "name"));
    if (!name) {
      snprintf(err, errlen, "plugins.%s.enabled[%zu].name: Required value", pt < 0 ? "multiPoint" : point_names[pt], i);
      return -EINVAL;
    }
    struct sched_plugin_inst *pi = inst_find(p, name, true, err, errlen);
    if (!pi) return -EINVAL;
    json_t *w = json_object_get(e, "weight");
    if (w) {
      if (!json_is_integer(w) || json_integer_value(w) < 0 || json_integer_value(w) > 100) {
        snprintf(err, errlen, "plugins.score.enabled[%zu].weight: Invalid value: %s: must be in the range [1, 100]", i,
                 json_is_integer(w) ? "out of range" : "not an integer");
        return -EINVAL;
      }
      if (json_integer_value(w) > 0) pi->weight = json_integer_value(w);
    }
    for (int q = 0; q < PT_COUNT; q++)
      if ((pt < 0 || pt == q) && plugin_has(pi->p, (enum point)q)) *inst_flag(pi, (enum point)q) = true;
    if (pt >= 0 && !plugin_has(pi->p, (enum point)pt)) {
      snprintf(err, errlen, "plugin \"%s\" does not extend %s plugin", name, point_names[pt]);
      return -EINVAL;
    }
  }
  return 0;
}

static int pct_check(const json_t *v, const char *path, int *out, char *err, size_t errlen)
{
  if (!v || json_is_null(v)) return 0;
  if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 100) {
    snprintf(err, errlen, "%s: Invalid value: %s: not in valid range [0-100]", path,
             json_is_integer(v) ? "out of range" : "not an integer");
    return -EINVAL;
  }
  *out = (int)json_integer_value(v);
  return 0;
}

/* The pluginConfig entry's args for a plugin: a new reference, or NULL.
 * ignored (may be NULL) overrides NodeResourcesFit's ignoredResources. */
static json_t *plugin_args(const json_t *pcfg, const char *plugin, const json_t *ignored)
{
  const json_t *args = NULL;
  size_t j;
  json_t *e;
  json_array_foreach (pcfg, j, e) {
    const char *n = json_string_value(json_object_get(e, "name"));
    if (n && strcmp(n, plugin) == 0) args = json_object_get(e, "args");
  }
  if (!ignored || strcmp(plugin, sched_plugin_node_resources_fit.name) != 0) return json_incref((json_t *)args);
  json_t *copy = json_is_object(args) ? json_deep_copy(args) : json_object();
  json_object_set(copy, "ignoredResources", (json_t *)ignored);
  return copy;
}

static int check_plugin_config(const json_t *pcfg, size_t idx, char *err, size_t errlen)
{
  if (pcfg && !json_is_array(pcfg)) {
    snprintf(err, errlen,
             "json: cannot unmarshal %s into Go struct field KubeSchedulerProfile.profiles.pluginConfig of type "
             "[]v1.PluginConfig",
             json_is_object(pcfg) ? "object" : "value");
    return -EINVAL;
  }
  size_t j, k;
  json_t *e, *f;
  json_array_foreach (pcfg, j, e) {
    const char *n = json_string_value(json_object_get(e, "name"));
    if (!n) continue;
    json_array_foreach (pcfg, k, f) {
      if (k >= j) break;
      const char *m = json_string_value(json_object_get(f, "name"));
      if (m && strcmp(m, n) == 0) {
        snprintf(err, errlen, "profiles[%zu].pluginConfig[%zu]: Duplicate value: \"%s\"", idx, j, n);
        return -EINVAL;
      }
    }
  }
  return 0;
}

static struct sched_profile *profile_build(const json_t *spec, int global_pct, size_t idx, size_t nprofiles,
                                           const json_t *ignored, char *err, size_t errlen)
{
  const json_t *jname = json_object_get(spec, "schedulerName");
  const char *name = json_string_value(jname);
  if (jname && !json_is_null(jname) && !json_is_string(jname)) {
    snprintf(
        err, errlen,
        "json: cannot unmarshal %s into Go struct field KubeSchedulerProfile.profiles.schedulerName of type string",
        json_is_object(jname)    ? "object"
        : json_is_array(jname)   ? "array"
        : json_is_boolean(jname) ? "bool"
                                 : "number");
    return NULL;
  }
  /* Only a lone profile is defaulted (upstream's defaulting). */
  if (!jname && nprofiles == 1) name = SCHED_DEFAULT_SCHEDULER_NAME;
  if (!name || !*name) {
    snprintf(err, errlen, "profiles[%zu].schedulerName: Required value", idx);
    return NULL;
  }
  if (check_plugin_config(json_object_get(spec, "pluginConfig"), idx, err, errlen) < 0) return NULL;
  struct sched_profile *p = xcalloc(1, sizeof *p);
  if (!p) return NULL;
  p->scheduler_name = xstrdup(name);
  p->percentage_of_nodes_to_score = global_pct;
  sched_profile_seed(p, 0x5DEECE66DULL + idx);
  char path[64];
  snprintf(path, sizeof path, "profiles[%zu].percentageOfNodesToScore", idx);
  if (pct_check(json_object_get(spec, "percentageOfNodesToScore"), path, &p->percentage_of_nodes_to_score, err,
                errlen) < 0)
    goto fail;
  for (size_t i = 0; i < NDEFAULT; i++) {
    struct sched_plugin_inst *pi = &p->plugins[p->nplugins++];
    pi->p = default_plugins[i].p;
    pi->weight = default_plugins[i].weight ? default_plugins[i].weight : 1;
    for (int q = 0; q < PT_COUNT; q++) *inst_flag(pi, (enum point)q) = plugin_has(pi->p, (enum point)q);
  }
  const json_t *plugins = json_object_get(spec, "plugins");
  const json_t *mp = json_object_get(plugins, "multiPoint");
  disable(p, json_object_get(mp, "disabled"), -1);
  for (int q = 0; q < PT_COUNT; q++)
    disable(p, json_object_get(json_object_get(plugins, point_names[q]), "disabled"), q);
  if (enable(p, json_object_get(mp, "enabled"), -1, err, errlen) < 0) goto fail;
  for (int q = 0; q < PT_COUNT; q++)
    if (enable(p, json_object_get(json_object_get(plugins, point_names[q]), "enabled"), q, err, errlen) < 0) goto fail;
  const json_t *pcfg = json_object_get(spec, "pluginConfig");
  for (int i = 0; i < p->nplugins; i++) {
    struct sched_plugin_inst *pi = &p->plugins[i];
    json_t *args = plugin_args(pcfg, pi->p->name, ignored);
    int rc = pi->p->init ? pi->p->init(args, &pi->self, err, errlen) : 0;
    json_decref(args);
    if (rc < 0) {
      p->nplugins = i; /* only the ones before i hold state */
      goto fail;
    }
  }
  return p;
fail:
  profile_free(p);
  return NULL;
}

void sched_config_attach(struct sched_config *c, const struct sched_handle *h)
{
  for (size_t i = 0; i < c->nprofiles; i++)
    for (int j = 0; j < c->profiles[i]->nplugins; j++) {
      struct sched_plugin_inst *pi = &c->profiles[i]->plugins[j];
      if (pi->p->attach) pi->p->attach(pi->self, h);
    }
}

struct sched_config *sched_config_parse(const json_t *cfg, char *err, size_t errlen)
{
  struct sched_config *c = xcalloc(1, sizeof *c);
  if (!c) return NULL;
  if (cfg) {
    const char *av = json_string_value(json_object_get(cfg, "apiVersion"));
    const char *kind = json_string_value(json_object_get(cfg, "kind"));
    if (av && strcmp(av, "kubescheduler.config.k8s.io/v1") != 0) {
      snprintf(err, errlen, "no kind \"%s\" is registered for version \"%s\"", kind ? kind : "", av);
      goto fail;
    }
    if (kind && strcmp(kind, "KubeSchedulerConfiguration") != 0) {
      snprintf(err, errlen, "no kind \"%s\" is registered for version \"%s\"", kind, av ? av : "");
      goto fail;
    }
    if (pct_check(json_object_get(cfg, "percentageOfNodesToScore"), "percentageOfNodesToScore",
                  &c->percentage_of_nodes_to_score, err, errlen) < 0)
      goto fail;
  }
  if (sched_extenders_parse(json_object_get(cfg, "extenders"), &c->extenders, &c->nextenders, err, errlen) < 0)
    goto fail;
  json_t *ignored = NULL; /* managed resources the extenders own entirely */
  for (size_t i = 0; i < c->nextenders; i++) {
    const char *k;
    json_t *v;
    json_object_foreach (c->extenders[i].managed, k, v) {
      if (!json_is_true(v)) continue;
      if (!ignored) ignored = json_array();
      json_array_append_new(ignored, json_string(k));
    }
  }
  const json_t *profiles = json_object_get(cfg, "profiles");
  size_t n = json_array_size(profiles);
  c->profiles = xcalloc(n ? n : 1, sizeof *c->profiles);
  if (!c->profiles) goto fail_ignored;
  if (n == 0) {
    json_t *empty = json_object();
    c->profiles[0] = profile_build(empty, c->percentage_of_nodes_to_score, 0, 1, ignored, err, errlen);
    json_decref(empty);
    if (!c->profiles[0]) goto fail_ignored;
    c->nprofiles = 1;
    json_decref(ignored);
    return c;
  }
  for (size_t i = 0; i < n; i++) {
    struct sched_profile *p =
        profile_build(json_array_get(profiles, i), c->percentage_of_nodes_to_score, i, n, ignored, err, errlen);
    if (!p) goto fail_ignored;
    if (sched_config_profile(c, p->scheduler_name)) {
      snprintf(err, errlen, "profiles[%zu].schedulerName: Duplicate value: \"%s\"", i, p->scheduler_name);
      profile_free(p);
      goto fail_ignored;
    }
    c->profiles[c->nprofiles++] = p;
  }
  json_decref(ignored);
  return c;
fail_ignored:
  json_decref(ignored);
fail:
  sched_config_free(c);
  return NULL;
}
