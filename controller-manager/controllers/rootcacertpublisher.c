/*
 * rootcacertpublisher.c - the "root-ca-cert-publisher" controller
 * (upstream pkg/controller/certificates/rootcacertpublisher): every
 * namespace has a ConfigMap "kube-root-ca.crt" whose data key "ca.crt"
 * holds the CA bundle pods use to verify the API server (the service
 * account volume projects it), annotated kubernetes.io/description.
 *
 * The bundle is the --root-ca-file (PEM certificates, checked when the
 * controller starts) or, without the flag, the certificate authority of
 * the controller-manager's own kubeconfig, as upstream; a kubeconfig
 * without one (a plain-HTTP test setup) publishes an empty bundle, as
 * upstream does.
 *
 * Keys are namespace names.  A namespace that is added or becomes Active,
 * and an update or deletion of a kube-root-ca.crt ConfigMap, enqueue the
 * namespace; sync creates the ConfigMap when the cache has none, or puts
 * the bundle and the annotation back when they differ (other fields are
 * kept).  A namespace being deleted is left alone, and a create answered
 * NotFound (the namespace went meanwhile) is done; an AlreadyExists (the
 * cache was behind) comes back through the framework until the cache
 * shows the object, which is then updated if need be.
 */
#include <errno.h>
#include <stddef.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller.h"
#include "controller_utils.h"
#include "controllers/rootcacertpublisher.h"
#include "kube/informer.h"
#include "kube/json.h"
#include "kube/log.h"
#include "kube/restclient.h"
#include "kube/xalloc.h"

#define RCA_CONFIGMAPS "/api/v1/configmaps"

int rootca_load(const char *path, char **out, char *err, size_t errlen)
{
  FILE *f = fopen(path, "rb");
  if (!f) {
    snprintf(err, errlen, "error parsing root-ca-file at %s: open %s: %s", path, path, strerror(errno));
    return -errno;
  }
  size_t cap = 4096, len = 0;
  char *buf = xmalloc(cap);
  size_t n;
  while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
    len += n;
    if (cap - len < 2) buf = xrealloc(buf, cap *= 2);
  }
  fclose(f);
  buf[len] = 0;
  /* certutil.ParseCertsPEM: at least one CERTIFICATE block that parses. */
  BIO *bio = BIO_new_mem_buf(buf, (int)len);
  int certs = 0;
  X509 *x;
  while (bio && (x = PEM_read_bio_X509(bio, NULL, NULL, NULL))) {
    certs++;
    X509_free(x);
  }
  ERR_clear_error();
  BIO_free(bio);
  if (certs == 0) {
    snprintf(err, errlen, "error parsing root-ca-file at %s: data does not contain any valid RSA or ECDSA certificates",
             path);
    free(buf);
    return -EINVAL;
  }
  *out = buf;
  return 0;
}

void rootca_actions(const json_t *ns, const json_t *cm, const char *ca, struct cm_actions *acts)
{
  const char *name = kj_get_str(ns, "metadata.name");
  if (!name || obj_is_terminating(ns)) return;
  const char *phase = kj_get_str(ns, "status.phase");
  if (phase && strcmp(phase, "Active")) return;
  char path[512];
  if (!cm) {
    cm_path(path, sizeof path, "/api/v1", name, "configmaps", NULL, NULL);
    json_t *body = json_pack("{s:s,s:s,s:{s:s,s:{s:s}},s:{s:s}}", "apiVersion", "v1", "kind", "ConfigMap", "metadata",
                             "name", ROOTCA_CONFIGMAP, "annotations", ROOTCA_DESCRIPTION_ANNOTATION, ROOTCA_DESCRIPTION,
                             "data", "ca.crt", ca);
    /* The namespace went between the cache and the create: nothing to publish. */
    cm_act(acts, CM_POST, path, body)->done_if = CM_DONE_IF_GONE;
    return;
  }
  json_t *data = json_pack("{s:s}", "ca.crt", ca);
  const char *desc = kj_get_str(cm, "metadata.annotations[\"" ROOTCA_DESCRIPTION_ANNOTATION "\"]");
  if (kj_equal(json_object_get(cm, "data"), data) && desc && *desc) {
    json_decref(data);
    return;
  }
  json_t *body = kj_deep_copy(cm);
  json_object_set_new(body, "apiVersion", json_string("v1"));
  json_object_set_new(body, "kind", json_string("ConfigMap"));
  json_object_set_new(body, "data", data);
  json_object_del(body, "binaryData");
  kj_set_str(body, "metadata.annotations[\"" ROOTCA_DESCRIPTION_ANNOTATION "\"]", ROOTCA_DESCRIPTION);
  cm_path(path, sizeof path, "/api/v1", name, "configmaps", ROOTCA_CONFIGMAP, NULL);
  cm_act(acts, CM_PUT, path, body);
}

/* ---- the controller ---- */

struct rca_ctl {
  struct cm_base base; /* keys are namespace names */
  struct informer *ns_inf, *cm_inf;
  char *ca;
};

static void rca_sync(struct cm_base *b, const char *key)
{
  struct rca_ctl *c = (struct rca_ctl *)b;
  char cmkey[512];
  snprintf(cmkey, sizeof cmkey, "%s/%s", key, ROOTCA_CONFIGMAP);
  json_t *ns = informer_store_get_obj(c->ns_inf, key);
  json_t *cm = informer_store_get_obj(c->cm_inf, cmkey);
  struct cm_actions acts;
  cm_actions_init(&acts);
  if (ns) rootca_actions(ns, cm, c->ca, &acts);
  json_decref(ns);
  json_decref(cm);
  cm_base_exec(b, key, &acts, NULL, -1);
  cm_actions_clear(&acts);
}

static void rca_cm_event(struct rca_ctl *c, const json_t *cm)
{
  const char *name = kj_get_str(cm, "metadata.name"), *ns = kj_get_str(cm, "metadata.namespace");
  if (name && ns && !strcmp(name, ROOTCA_CONFIGMAP)) cm_base_enqueue_key(&c->base, ns);
}
static void rca_cm_update(void *arg, const json_t *o, const json_t *n) { rca_cm_event(arg, n); }
static void rca_cm_delete(void *arg, const json_t *cm, bool unknown) { rca_cm_event(arg, cm); }

static void rca_ns_update(void *arg, const json_t *o, const json_t *n)
{
  const char *phase = kj_get_str(n, "status.phase");
  if (!phase || !strcmp(phase, "Active")) cm_base_enqueue(arg, n);
}

/* The bundle: --root-ca-file, else the kubeconfig's certificate authority. */
static char *rca_bundle(struct cm_ctx *ctx, char *err, size_t errlen)
{
  char *ca = NULL;
  if (ctx->cfg.root_ca_file && *ctx->cfg.root_ca_file) {
    if (rootca_load(ctx->cfg.root_ca_file, &ca, err, errlen) < 0) return NULL;
    return ca;
  }
  const struct rest_config *rc = ctx->client ? rest_client_config(ctx->client) : NULL;
  if (rc && rc->ca_data) return xstrndup(rc->ca_data, rc->ca_len);
  return xstrdup("");
}

static int rca_init(struct cm_base *b)
{
  struct rca_ctl *c = (struct rca_ctl *)b;
  char err[512];
  c->ca = rca_bundle(b->ctx, err, sizeof err);
  if (!c->ca) {
    KLOG_E("%s", err);
    return -EINVAL;
  }
  c->ns_inf = informer_factory_get(b->ctx->informers, CM_NAMESPACES);
  c->cm_inf = informer_factory_get(b->ctx->informers, RCA_CONFIGMAPS);
  struct informer_handlers nh = {cm_on_add_enqueue, rca_ns_update, NULL, c};
  struct informer_handlers ch = {NULL, rca_cm_update, rca_cm_delete, c};
  informer_add_handlers(c->ns_inf, &nh);
  informer_add_handlers(c->cm_inf, &ch);
  return 0;
}

static void rca_fini(struct cm_base *b) { free(((struct rca_ctl *)b)->ca); }

const struct controller_def ctrl_root_ca_cert_publisher = {
    .name = "root-ca-cert-publisher",
    .service_account = "root-ca-cert-publisher",
    .alias = "root-ca-certificate-publisher-controller",
    .enabled_by_default = true,
    .size = sizeof(struct rca_ctl),
    .queue = "root_ca_cert_publisher",
    .workers = 1,
    .sync = rca_sync,
    .init = rca_init,
    .fini = rca_fini,
};
