/*
 * default_toleration_seconds.c - the DefaultTolerationSeconds admission
 * plugin: a pod that says nothing about the not-ready and unreachable
 * node taints tolerates each for --default-not-ready-toleration-seconds
 * and --default-unreachable-toleration-seconds (300 by default), so the
 * node lifecycle controller evicts it five minutes after its node goes
 * away rather than at once.
 */
#define _GNU_SOURCE
#include "admission/admission.h"

#include <string.h>

#include <kube/json.h>

#include "apiserver.h"
#include "registry/registry.h"

static const char *const TAINTS[] = {"node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"};

/* Upstream counts a toleration as covering the taint when it names its
 * key (or tolerates every key) for NoExecute or every effect. */
static bool tolerated(const json_t *tols, const char *key)
{
  size_t i;
  json_t *t;
  json_array_foreach (tols, i, t) {
    const char *k = kj_get_str(t, "key");
    const char *op = kj_get_str(t, "operator");
    const char *eff = kj_get_str(t, "effect");
    bool key_ok = (k && strcmp(k, key) == 0) || ((!k || !*k) && op && strcmp(op, "Exists") == 0);
    bool eff_ok = !eff || !*eff || strcmp(eff, "NoExecute") == 0;
    if (key_ok && eff_ok) return true;
  }
  return false;
}

json_t *admission_default_toleration_seconds(struct reg_request *rq, const struct resource *res, json_t *obj,
                                             const json_t *old)
{
  if (res != &reg_pods || old || !kj_obj(obj, "spec")) return NULL;
  json_t *tols = kj_get(obj, "spec.tolerations");
  const struct apiserver_config *cfg = &rq->srv->cfg;
  const json_int_t seconds[] = {cfg->default_not_ready_toleration_seconds, cfg->default_unreachable_toleration_seconds};
  for (size_t i = 0; i < 2; i++) {
    if (tolerated(tols, TAINTS[i])) continue;
    json_array_append_new(kj_arr(obj, "spec.tolerations"),
                          json_pack("{s:s,s:s,s:s,s:I}", "key", TAINTS[i], "operator", "Exists", "effect", "NoExecute",
                                    "tolerationSeconds", seconds[i]));
    tols = kj_get(obj, "spec.tolerations");
  }
  return NULL;
}
