/*
 * csrsigning.c - the "csrsigning" controller (upstream
 * pkg/controller/certificates/signer): issues the certificates of
 * approved CertificateSigningRequests for the signers
 * kubernetes.io/kube-apiserver-client, kubernetes.io/kube-apiserver-client-kubelet
 * and kubernetes.io/kubelet-serving with the CA of
 * --cluster-signing-cert-file / --cluster-signing-key-file
 * (kubernetes.io/legacy-unknown is never signed here, as upstream).
 *
 * Keys are CSR names.  sync reads the CSR from the cache and does nothing
 * when it already has a certificate, is not Approved, is Failed, or names
 * another signer.  Otherwise the request must pass its signer's rules
 * (client: usages among digital signature, key encipherment and client
 * auth, client auth required; kubelet client and serving: upstream's
 * ValidateKubeletClientCSR / ValidateKubeletServingCSR); a request that
 * does not gets a Failed condition, reason SignerValidationFailure, with
 * the rule it broke as message.  A valid one is signed for
 * min(spec.expirationSeconds, --cluster-signing-duration) and
 * status.certificate written through the status subresource.  Both
 * writes are PUTs of the cached object, so a stale cache is a Conflict
 * and the key comes back (level-triggered: the next sync sees the
 * certificate and stops).  Without both flags the controller logs that
 * it is skipped and does nothing, as upstream.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "controller_utils.h"
#include "controllers/certificates.h"
#include "controllers/csrsigning.h"
#include "kube/base64.h"
#include "kube/informer.h"
#include "kube/json.h"
#include "kube/log.h"
#include "kube/timeutil.h"

struct csrsign_ctl {
  struct cm_base base;
  struct informer *csrs;
  struct certs_ca ca;
  bool enabled;
};

/* upstream validAPIServerClientUsages */
static int client_usages_ok(const json_t *usages, char *err, size_t errlen)
{
  bool client_auth = false;
  size_t i;
  json_t *u;
  json_array_foreach (usages, i, u) {
    const char *s = json_is_string(u) ? json_string_value(u) : "";
    if (!strcmp(s, "client auth")) client_auth = true;
    else if (strcmp(s, "digital signature") && strcmp(s, "key encipherment")) {
      snprintf(err, errlen, "invalid usage for client certificate: %s", s);
      return -1;
    }
  }
  if (!client_auth) {
    snprintf(err, errlen, "missing required usage for client certificate: client auth");
    return -1;
  }
  return 0;
}

int csrsign_check_signer(X509_REQ *req, const json_t *csr, char *err, size_t errlen)
{
  const char *signer = kj_get_str(csr, "spec.signerName");
  const json_t *usages = kj_get(csr, "spec.usages");
  if (!signer) return 1;
  if (!strcmp(signer, SIGNER_CLIENT)) return client_usages_ok(usages, err, errlen);
  if (!strcmp(signer, SIGNER_KUBELET_CLIENT)) return certs_validate_kubelet_client(req, usages, err, errlen);
  if (!strcmp(signer, SIGNER_KUBELET_SERVING)) return certs_validate_kubelet_serving(req, usages, err, errlen);
  return 1;
}

/* PUT of csr (copied) with status changed by the caller. */
static json_t *status_put(const json_t *csr, struct cm_actions *acts)
{
  json_t *c = kj_deep_copy(csr);
  json_object_set_new(c, "apiVersion", json_string("certificates.k8s.io/v1"));
  json_object_set_new(c, "kind", json_string("CertificateSigningRequest"));
  if (!json_is_object(json_object_get(c, "status"))) json_object_set_new(c, "status", json_object());
  char path[600];
  cm_path(path, sizeof path, CSR_API, NULL, "certificatesigningrequests", kj_get_str(csr, "metadata.name"), "status");
  cm_act(acts, CM_PUT, path, c);
  return c;
}

int csrsign_compute(const json_t *csr, const struct certs_ca *ca, int64_t max_duration_s, time_t now,
                    struct cm_actions *acts, char *err, size_t errlen)
{
  const char *cert = kj_get_str(csr, "status.certificate");
  if (cert && *cert) return 0;
  struct certs_state st = certs_state(csr);
  if (!st.approved || st.failed) return 0;
  const char *signer = kj_get_str(csr, "spec.signerName");
  if (!signer || (strcmp(signer, SIGNER_CLIENT) && strcmp(signer, SIGNER_KUBELET_CLIENT) &&
                  strcmp(signer, SIGNER_KUBELET_SERVING)))
    return 0;
  X509_REQ *req = certs_parse_csr(csr, err, errlen);
  if (!req) return -1;
  char why[512];
  int rc = csrsign_check_signer(req, csr, why, sizeof why);
  if (rc < 0) {
    X509_REQ_free(req);
    json_t *c = status_put(csr, acts);
    json_t *st_obj = json_object_get(c, "status");
    json_t *conds = json_object_get(st_obj, "conditions");
    if (!json_is_array(conds)) json_object_set_new(st_obj, "conditions", conds = json_array());
    char ts[64];
    json_array_append_new(conds, json_pack("{s:s,s:s,s:s,s:s,s:o}", "type", "Failed", "status", "True", "reason",
                                           "SignerValidationFailure", "message", why, "lastUpdateTime",
                                           json_string(ktime_format(now, ts))));
    return 0;
  }
  char *pem =
      certs_sign(ca, req, kj_get(csr, "spec.usages"), certs_duration_s(csr, max_duration_s), now, why, sizeof why);
  X509_REQ_free(req);
  if (!pem) {
    snprintf(err, errlen, "error auto signing csr: %s", why);
    return -1;
  }
  char *b64 = kb64_encode(pem, strlen(pem), KB64_STD);
  free(pem);
  json_t *c = status_put(csr, acts);
  kj_set(c, "status.certificate", json_string(b64));
  free(b64);
  return 0;
}

static void csrsign_sync(struct cm_base *b, const char *key)
{
  struct csrsign_ctl *c = (struct csrsign_ctl *)b;
  json_t *csr = informer_store_get_obj(c->csrs, key);
  if (!csr) {
    cm_base_finish(b, key, false, -1);
    return;
  }
  struct cm_actions acts;
  cm_actions_init(&acts);
  char err[600];
  int rc =
      csrsign_compute(csr, &c->ca, b->ctx->cfg.cluster_signing_duration_ms / 1000, time(NULL), &acts, err, sizeof err);
  json_decref(csr);
  if (rc < 0) {
    KLOG_E("csrsigning: %s", err);
    cm_actions_clear(&acts);
    cm_base_finish(b, key, true, -1);
    return;
  }
  cm_base_exec(b, key, &acts, NULL, -1);
  cm_actions_clear(&acts);
}

static int csrsign_init(struct cm_base *b)
{
  struct csrsign_ctl *c = (struct csrsign_ctl *)b;
  const struct cm_config *cfg = &b->ctx->cfg;
  if (!cfg->cluster_signing_cert_file || !*cfg->cluster_signing_cert_file || !cfg->cluster_signing_key_file ||
      !*cfg->cluster_signing_key_file) {
    KLOG_I("Skipping CSR signer controller because no csr cert/key was specified");
    return 0;
  }
  char err[1024];
  if (certs_ca_load(&c->ca, cfg->cluster_signing_cert_file, cfg->cluster_signing_key_file, err, sizeof err) != 0) {
    KLOG_E("failed to start certificate controller: %s", err);
    return -1;
  }
  c->enabled = true;
  c->csrs = informer_factory_get(b->ctx->informers, CM_CSRS);
  struct informer_handlers h = {cm_on_add_enqueue, cm_on_update_enqueue, cm_on_delete_enqueue, b};
  informer_add_handlers(c->csrs, &h);
  return 0;
}

static void csrsign_fini(struct cm_base *b) { certs_ca_free(&((struct csrsign_ctl *)b)->ca); }

const struct controller_def ctrl_csrsigning = {
    .name = "csrsigning",
    .service_account = "certificate-controller",
    .enabled_by_default = true,
    .size = sizeof(struct csrsign_ctl),
    .queue = "certificate",
    .component = "certificate-controller",
    .workers = 5,
    .sync = csrsign_sync,
    .init = csrsign_init,
    .fini = csrsign_fini,
};
