/*
 * serviceaccount.c - the "serviceaccount" controller: every active
 * namespace has a ServiceAccount named "default".
 *
 * Namespace adds/updates and deletions of a "default" ServiceAccount
 * enqueue the namespace; sync creates the account when the namespace is
 * active and the cache has none.  Terminating namespaces are left alone
 * (the API server would refuse the create anyway).
 */
#include <stdlib.h>
#include <string.h>

#include "controller.h"
#include "kube/informer.h"
#include "kube/json.h"
#include "kube/workqueue.h"
#include "core_common.h"

#define SA_DEFAULT_NAME "default"

struct sa_ctl {
  struct cm_ctx *ctx;
  struct sync_batch_set batches;
  struct workqueue *q;
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
  if (name && ns && !strcmp(name, SA_DEFAULT_NAME)) workqueue_add(c->q, ns);
}

static void sa_process(void *arg, struct workqueue *q, const char *key)
{
  struct sa_ctl *c = arg;
  struct sync_batch *b = sync_batch_new(&c->batches, c->ctx->client, q, key);
  if (!b) {
    workqueue_done(q, key);
    return;
  }
  char sakey[512];
  snprintf(sakey, sizeof sakey, "%s/%s", key, SA_DEFAULT_NAME);
  json_t *ns = informer_store_get_obj(c->ns_inf, key);
  json_t *sa = informer_store_get_obj(c->sa_inf, sakey);
  if (serviceaccount_needs_default(ns, sa)) {
    char path[512];
    snprintf(path, sizeof path, "/api/v1/namespaces/%s/serviceaccounts", key);
    json_t *body = json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "v1", "kind", "ServiceAccount",
                             "metadata", "name", SA_DEFAULT_NAME);
    sync_batch_req(b, "POST", path, NULL, body, NULL, NULL);
    json_decref(body);
  }
  json_decref(ns);
  json_decref(sa);
  sync_batch_end(b);
}

static int sa_start(struct cm_ctx *ctx, void **state)
{
  struct sa_ctl *c = calloc(1, sizeof *c);
  if (!c) return -1;
  c->ctx = ctx;
  c->q = workqueue_new(ctx->base, "serviceaccount");
  c->ns_inf = informer_factory_get(ctx->informers, CM_NAMESPACES);
  c->sa_inf = informer_factory_get(ctx->informers, CM_SERVICEACCOUNTS);
  struct informer_handlers nh = {cc_on_add_enqueue, cc_on_update_enqueue, NULL, c->q};
  struct informer_handlers sh = {NULL, NULL, sa_on_sa_delete, c};
  informer_add_handlers(c->ns_inf, &nh);
  informer_add_handlers(c->sa_inf, &sh);
  *state = c;
  return 0;
}

static void sa_run(void *state)
{
  struct sa_ctl *c = state;
  workqueue_run(c->q, c->ctx->cfg.concurrent_serviceaccount_token_syncs > 0
                          ? c->ctx->cfg.concurrent_serviceaccount_token_syncs : 5,
                sa_process, c);
}

static void sa_stop(void *state)
{
  struct sa_ctl *c = state;
  if (!c) return;
  sync_batch_set_cancel(&c->batches);
  workqueue_free(c->q);
  free(c);
}

const struct controller_def ctrl_serviceaccount = {
    .name = "serviceaccount",
    .enabled_by_default = true,
    .start = sa_start,
    .run = sa_run,
    .stop = sa_stop,
};
