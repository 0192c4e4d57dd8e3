/*
 * serviceaccount.c - the "serviceaccount" controller: every active
 * namespace has a ServiceAccount named "default".
 *
 * Namespace adds/updates and deletions of a "default" ServiceAccount
 * enqueue the namespace; sync creates the account when the namespace is
 * active and the cache has none.  Terminating namespaces are left alone
 * (the API server would refuse the create anyway).
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller.h"
#include "kube/informer.h"
#include "kube/json.h"
#include "controller_utils.h"
#include "kube/xalloc.h"

#define SA_DEFAULT_NAME "default"

struct sa_ctl {
  struct cm_base base;
  struct informer *ns_inf, *sa_inf;
};

/* True when namespace ns (borrowed) is active and sa (borrowed, the
 * cached "default" account or NULL) is missing. */
bool serviceaccount_needs_default(const json_t *ns, const json_t *sa)
{
  if (!ns || sa) return false;
  if (kj_get(ns, "metadata.deletionTimestamp")) return false;
  const char *phase = kj_get_str(ns, "status.phase");
  return !phase || strcmp(phase, "Terminating") != 0;
}

static void sa_on_sa_delete(void *arg, const json_t *obj, bool unknown)
{
  struct sa_ctl *c = arg;
  const char *name = kj_get_str(obj, "metadata.name");
  const char *ns = kj_get_str(obj, "metadata.namespace");
  if (name && ns && !strcmp(name, SA_DEFAULT_NAME)) cm_base_enqueue_key(&c->base, ns);
}

/* Create-if-absent: an account that already exists, whoever made it, is
 * what is wanted (upstream ignores AlreadyExists here). */
static void sa_sync(struct cm_base *b, const char *key)
{
  struct sa_ctl *c = (struct sa_ctl *)b;
  char sakey[512];
  snprintf(sakey, sizeof sakey, "%s/%s", key, SA_DEFAULT_NAME);
  json_t *ns = informer_store_get_obj(c->ns_inf, key);
  json_t *sa = informer_store_get_obj(c->sa_inf, sakey);
  struct cm_actions acts;
  cm_actions_init(&acts);
  if (serviceaccount_needs_default(ns, sa)) {
    char path[512];
    cm_path(path, sizeof path, "/api/v1", key, "serviceaccounts", NULL, NULL);
    json_t *body = json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "v1", "kind", "ServiceAccount", "metadata", "name",
                             SA_DEFAULT_NAME);
    cm_act(&acts, CM_POST, path, body)->done_if = CM_DONE_IF_EXISTS;
  }
  json_decref(ns);
  json_decref(sa);
  cm_base_exec(b, key, &acts, NULL, -1);
  cm_actions_clear(&acts);
}

static int sa_init(struct cm_base *b)
{
  struct sa_ctl *c = (struct sa_ctl *)b;
  c->ns_inf = informer_factory_get(b->ctx->informers, CM_NAMESPACES);
  c->sa_inf = informer_factory_get(b->ctx->informers, CM_SERVICEACCOUNTS);
  struct informer_handlers nh = {cm_on_add_enqueue, cm_on_update_enqueue, NULL, c};
  struct informer_handlers sh = {NULL, NULL, sa_on_sa_delete, c};
  informer_add_handlers(c->ns_inf, &nh);
  informer_add_handlers(c->sa_inf, &sh);
  return 0;
}

const struct controller_def ctrl_serviceaccount = {
    .name = "serviceaccount",
    .service_account = "service-account-controller",
    .enabled_by_default = true,
    .size = sizeof(struct sa_ctl),
    .queue = "serviceaccount",
    .workers_flag = offsetof(struct cm_config, concurrent_serviceaccount_token_syncs),
    .workers = 5,
    .sync = sa_sync,
    .init = sa_init,
};
