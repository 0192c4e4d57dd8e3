/*
 * bootstrap.c - the two bootstrap token controllers of upstream's
 * pkg/controller/bootstrap, off by default as upstream (kubeadm turns
 * them on: --controllers=*,bootstrapsigner,tokencleaner):
 *
 * tokencleaner   deletes a Secret of type bootstrap.kubernetes.io/token in
 *                kube-system once its expiration has passed (uid
 *                precondition: a token made again under the same name is
 *                not deleted).  Keys are "kube-system/NAME"; a token not
 *                yet expired comes back when it expires.  An expiration
 *                that cannot be parsed is left alone, as upstream.
 * bootstrapsigner keeps kube-public/cluster-info signed: for every token
 *                allowed to sign (usage-bootstrap-signing "true", not
 *                expired) data["jws-kubeconfig-ID"] holds the detached
 *                JWS of data.kubeconfig (kube/bootstraptoken.h), and no
 *                other signature is left.  One key, "cluster-info",
 *                enqueued by any change of the ConfigMap or of a token;
 *                the next expiry requeues it, so an expired token's
 *                signature goes even before the cleaner deletes it.
 * Both watch only what they need: the token Secrets of kube-system
 * (field selector type=bootstrap.kubernetes.io/token) and cluster-info.
 */
#define _GNU_SOURCE
#include "controllers/bootstrap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller_utils.h"
#include "kube/bootstraptoken.h"
#include "kube/informer.h"
#include "kube/json.h"
#include "kube/log.h"
#include "kube/timeutil.h"

#define TOKEN_NS "kube-system"

/* ---- pure steps ---- */

static void keep_earliest(int64_t *next_ms, int64_t ms)
{
  if (next_ms && (*next_ms < 0 || ms < *next_ms)) *next_ms = ms;
}

bool tokencleaner_expired(const json_t *secret, int64_t now_us, int64_t *next_ms)
{
  int64_t exp_us = 0;
  if (next_ms) *next_ms = -1;
  if (bootstrap_secret_expiration(secret, &exp_us) != 0) return false;
  if (exp_us <= now_us) return true;
  keep_earliest(next_ms, (exp_us - now_us + 999) / 1000);
  return false;
}

bool bootstrapsigner_token(const json_t *secret, int64_t now_us, char id[7], char **token_secret, int64_t *next_ms)
{
  const char *type = kj_get_str(secret, "type");
  if (!type || strcmp(type, BOOTSTRAP_TOKEN_SECRET_TYPE)) return false;
  if (!bootstrap_token_id_from_name(kj_get_str(secret, "metadata.name"), id)) return false;
  char *data_id = bootstrap_secret_data(secret, "token-id");
  bool same_id = data_id && !strcmp(data_id, id);
  free(data_id);
  if (!same_id || !bootstrap_secret_flag(secret, "usage-bootstrap-signing")) return false;
  int64_t exp_us = 0;
  int has_exp = bootstrap_secret_expiration(secret, &exp_us);
  if (has_exp == 0 && exp_us <= now_us) return false;
  char *sec = bootstrap_secret_data(secret, "token-secret");
  if (!sec || !*sec) {
    free(sec);
    return false;
  }
  if (has_exp == 0) keep_earliest(next_ms, (exp_us - now_us + 999) / 1000);
  *token_secret = sec;
  return true;
}

json_t *bootstrapsigner_signed(const json_t *cm, const json_t *secrets, int64_t now_us, int64_t *next_ms)
{
  const char *content = kj_get_str(cm, "data.kubeconfig");
  if (!content) return NULL;
  json_t *want = json_object();
  size_t i;
  json_t *s;
  json_array_foreach (secrets, i, s) {
    char id[7], *sec = NULL, key[64];
    if (!bootstrapsigner_token(s, now_us, id, &sec, next_ms)) continue;
    snprintf(key, sizeof key, BOOTSTRAP_JWS_KEY_PREFIX "%s", id);
    char *sig = bootstrap_jws_detached(content, strlen(content), id, sec);
    json_object_set_new(want, key, json_string(sig));
    free(sig);
    free(sec);
  }
  /* the stored signatures, to compare */
  json_t *have = json_object();
  const char *k;
  json_t *v;
  json_object_foreach ((json_t *)json_object_get(cm, "data"), k, v)
    if (!strncmp(k, BOOTSTRAP_JWS_KEY_PREFIX, strlen(BOOTSTRAP_JWS_KEY_PREFIX))) json_object_set(have, k, v);
  json_t *out = NULL;
  if (!json_equal(have, want)) {
    out = kj_deep_copy(cm);
    json_t *data = json_object_get(out, "data");
    json_object_foreach (have, k, v) json_object_del(data, k);
    json_object_update(data, want);
    json_object_set_new(out, "apiVersion", json_string("v1"));
    json_object_set_new(out, "kind", json_string("ConfigMap"));
  }
  json_decref(have);
  json_decref(want);
  return out;
}

/* ---- the token Secrets informer, shared by both ---- */

static struct informer *token_secrets(struct cm_ctx *ctx)
{
  struct informer_opts o = {.path = "/api/v1/secrets",
                            .namespace = TOKEN_NS,
                            .field_selector = "type=" BOOTSTRAP_TOKEN_SECRET_TYPE};
  return informer_factory_get_opts(ctx->informers, &o);
}

/* ---- tokencleaner ---- */

struct tc_ctl {
  struct cm_base base;
  struct informer *secrets;
};

static void tc_sync(struct cm_base *b, const char *key)
{
  struct tc_ctl *c = (struct tc_ctl *)b;
  json_t *s = informer_store_get_obj(c->secrets, key);
  int64_t next_ms = -1;
  if (!s || !tokencleaner_expired(s, ktime_now_us(), &next_ms)) {
    json_decref(s);
    cm_base_finish(b, key, false, next_ms);
    return;
  }
  KLOG_V(3, "Deleting expired secret %s", key);
  struct cm_actions acts;
  cm_actions_init(&acts);
  char path[600];
  cm_path(path, sizeof path, "/api/v1", TOKEN_NS, "secrets", kj_get_str(s, "metadata.name"), NULL);
  cm_act(&acts, CM_DELETE, path, cm_delete_this(s));
  json_decref(s);
  cm_base_exec(b, key, &acts, NULL, -1);
  cm_actions_clear(&acts);
}

static int tc_init(struct cm_base *b)
{
  struct tc_ctl *c = (struct tc_ctl *)b;
  c->secrets = token_secrets(b->ctx);
  struct informer_handlers h = {cm_on_add_enqueue, cm_on_update_enqueue, NULL, b};
  informer_add_handlers(c->secrets, &h);
  return 0;
}

const struct controller_def ctrl_tokencleaner = {
    .name = "tokencleaner",
    .service_account = "token-cleaner",
    .alias = "token-cleaner-controller",
    .enabled_by_default = false,
    .size = sizeof(struct tc_ctl),
    .queue = "token_cleaner",
    .component = "token-cleaner",
    .workers = 1,
    .sync = tc_sync,
    .init = tc_init,
};

/* ---- bootstrapsigner ---- */

struct bs_ctl {
  struct cm_base base;
  struct informer *secrets, *cluster_info;
};

static void bs_sync(struct cm_base *b, const char *key)
{
  struct bs_ctl *c = (struct bs_ctl *)b;
  json_t *cm = informer_store_get_obj(c->cluster_info, BOOTSTRAP_PUBLIC_NS "/" BOOTSTRAP_CLUSTER_INFO);
  json_t *secrets = informer_store_list(c->secrets);
  int64_t next_ms = -1;
  json_t *body = cm ? bootstrapsigner_signed(cm, secrets, ktime_now_us(), &next_ms) : NULL;
  if (cm && !kj_get_str(cm, "data.kubeconfig"))
    KLOG_V(2, "No kubeconfig key in " BOOTSTRAP_PUBLIC_NS "/" BOOTSTRAP_CLUSTER_INFO " ConfigMap");
  json_decref(cm);
  json_decref(secrets);
  struct cm_actions acts;
  cm_actions_init(&acts);
  if (body) {
    char path[256];
    cm_path(path, sizeof path, "/api/v1", BOOTSTRAP_PUBLIC_NS, "configmaps", BOOTSTRAP_CLUSTER_INFO, NULL);
    cm_act(&acts, CM_PUT, path, body);
  }
  cm_base_exec(b, key, &acts, NULL, next_ms);
  cm_actions_clear(&acts);
}

static void bs_enqueue(struct bs_ctl *c) { cm_base_enqueue_key(&c->base, BOOTSTRAP_CLUSTER_INFO); }
static void bs_add(void *arg, const json_t *o) { bs_enqueue(arg); }
static void bs_update(void *arg, const json_t *o, const json_t *n) { bs_enqueue(arg); }
static void bs_delete(void *arg, const json_t *o, bool unknown) { bs_enqueue(arg); }

static int bs_init(struct cm_base *b)
{
  struct bs_ctl *c = (struct bs_ctl *)b;
  c->secrets = token_secrets(b->ctx);
  struct informer_opts o = {.path = "/api/v1/configmaps",
                            .namespace = BOOTSTRAP_PUBLIC_NS,
                            .field_selector = "metadata.name=" BOOTSTRAP_CLUSTER_INFO};
  c->cluster_info = informer_factory_get_opts(b->ctx->informers, &o);
  struct informer_handlers h = {bs_add, bs_update, bs_delete, c};
  informer_add_handlers(c->secrets, &h);
  informer_add_handlers(c->cluster_info, &h);
  return 0;
}

const struct controller_def ctrl_bootstrapsigner = {
    .name = "bootstrapsigner",
    .service_account = "bootstrap-signer",
    .alias = "bootstrap-signer-controller",
    .enabled_by_default = false,
    .size = sizeof(struct bs_ctl),
    .queue = "bootstrap_signer",
    .component = "bootstrap-signer",
    .workers = 1,
    .sync = bs_sync,
    .init = bs_init,
};
