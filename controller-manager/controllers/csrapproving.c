/*
 * csrapproving.c - the "csrapproving" controller (upstream
 * pkg/controller/certificates/approver, sarapprove.go): approves the
 * kubelet client certificate requests (signer
 * kubernetes.io/kube-apiserver-client-kubelet, O=system:nodes,
 * CN=system:node:NAME, no SANs, client usages) whose requestor may create
 * certificatesigningrequests/selfnodeclient (a renewal: the requestor is
 * the node the certificate names) or certificatesigningrequests/nodeclient
 * (a bootstrapper), as a SubjectAccessReview for the requestor recorded in
 * spec.username/uid/groups/extra answers.
 *
 * Keys are CSR names.  sync skips requests already issued, approved or
 * denied, and those not recognized.  It then asks the reviews in
 * upstream's order, one after the other (the answer of one decides
 * whether the next is needed), and the first allowed one puts the
 * Approved condition (reason AutoApproved, upstream's message) through
 * the approval subresource.  When every review said no, the key is
 * retried with rate limiting (upstream's IgnorableError): RBAC may grant
 * the permission later.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller_utils.h"
#include "controllers/certificates.h"
#include "controllers/csrapproving.h"
#include "kube/informer.h"
#include "kube/json.h"
#include "kube/restclient.h"
#include "kube/xalloc.h"

#define SAR_PATH "/apis/authorization.k8s.io/v1/subjectaccessreviews"

struct csrapprove_ctl {
  struct cm_base base;
  struct informer *csrs;
};

size_t csrapprove_recognize(const json_t *csr, const char *out[2])
{
  const char *cert = kj_get_str(csr, "status.certificate");
  struct certs_state st = certs_state(csr);
  if ((cert && *cert) || st.approved || st.denied) return 0;
  const char *signer = kj_get_str(csr, "spec.signerName");
  if (!signer || strcmp(signer, SIGNER_KUBELET_CLIENT) != 0) return 0;
  char err[256];
  X509_REQ *req = certs_parse_csr(csr, err, sizeof err);
  if (!req) return 0;
  size_t n = 0;
  if (certs_validate_kubelet_client(req, kj_get(csr, "spec.usages"), err, sizeof err) == 0) {
    char cn[256];
    certs_subject_cn(req, cn, sizeof cn);
    const char *user = kj_get_str(csr, "spec.username");
    if (user && !strcmp(user, cn)) out[n++] = "selfnodeclient";
    out[n++] = "nodeclient";
  }
  X509_REQ_free(req);
  return n;
}

json_t *csrapprove_sar(const json_t *csr, const char *subresource)
{
  json_t *spec = json_object();
  json_t *v;
  if ((v = kj_get(csr, "spec.username"))) json_object_set(spec, "user", v);
  if ((v = kj_get(csr, "spec.uid"))) json_object_set(spec, "uid", v);
  if ((v = kj_get(csr, "spec.groups"))) json_object_set_new(spec, "groups", kj_deep_copy(v));
  if ((v = kj_get(csr, "spec.extra"))) json_object_set_new(spec, "extra", kj_deep_copy(v));
  json_object_set_new(spec, "resourceAttributes",
                      json_pack("{s:s,s:s,s:s,s:s,s:s}", "group", "certificates.k8s.io", "version", "*", "resource",
                                "certificatesigningrequests", "verb", "create", "subresource", subresource));
  return json_pack("{s:s,s:s,s:o}", "apiVersion", "authorization.k8s.io/v1", "kind", "SubjectAccessReview", "spec",
                   spec);
}

json_t *csrapprove_approved(const json_t *csr, const char *subresource)
{
  const char *msg = !strcmp(subresource, "selfnodeclient")
                        ? "Auto approving self kubelet client certificate after SubjectAccessReview."
                        : "Auto approving kubelet client certificate after SubjectAccessReview.";
  json_t *c = kj_deep_copy(csr);
  json_object_set_new(c, "apiVersion", json_string("certificates.k8s.io/v1"));
  json_object_set_new(c, "kind", json_string("CertificateSigningRequest"));
  json_t *st = json_object_get(c, "status");
  if (!json_is_object(st)) json_object_set_new(c, "status", st = json_object());
  json_t *conds = json_object_get(st, "conditions");
  if (!json_is_array(conds)) json_object_set_new(st, "conditions", conds = json_array());
  json_array_append_new(conds, json_pack("{s:s,s:s,s:s,s:s}", "type", "Approved", "status", "True", "reason",
                                         "AutoApproved", "message", msg));
  return c;
}

/* One review in flight: the CSR (owned) and which permission it asks. */
struct step {
  json_t *csr;
  const char *perms[2];
  size_t n, i;
};

static void step_free(void *p)
{
  struct step *s = p;
  json_decref(s->csr);
  free(s);
}

static void ask(struct cm_run *run, struct step *s);

static void review_answered(void *arg, struct cm_run *run, int code, json_t *body, const struct rest_status *err)
{
  struct step *s = arg;
  if (err || code < 200 || code >= 300) return; /* the framework counts the failed review and retries the key */
  if (json_is_true(kj_get(body, "status.allowed"))) {
    struct cm_actions acts;
    cm_actions_init(&acts);
    char path[600];
    cm_path(path, sizeof path, CSR_API, NULL, "certificatesigningrequests", kj_get_str(s->csr, "metadata.name"),
            "approval");
    cm_act(&acts, CM_PUT, path, csrapprove_approved(s->csr, s->perms[s->i]));
    cm_run_add(run, &acts);
    cm_actions_clear(&acts);
    return;
  }
  if (s->i + 1 < s->n) {
    struct step *next = xcalloc(1, sizeof(*next));
    *next = *s;
    next->csr = json_incref(s->csr);
    next->i++;
    ask(run, next);
    return;
  }
  char why[512];
  snprintf(why, sizeof why, "recognized csr \"%s\" as [%s%s%s] but subject access review was not approved",
           kj_get_str(s->csr, "metadata.name"), s->perms[0], s->n > 1 ? " " : "", s->n > 1 ? s->perms[1] : "");
  cm_run_fail(run, why);
}

/* Sends the review of s (owned by the action from here on). */
static void ask(struct cm_run *run, struct step *s)
{
  struct cm_actions acts;
  cm_actions_init(&acts);
  struct cm_action *act = cm_act(&acts, CM_POST, SAR_PATH, csrapprove_sar(s->csr, s->perms[s->i]));
  cm_act_on_answer(act, review_answered, s, step_free);
  cm_run_add(run, &acts);
  cm_actions_clear(&acts);
}

static void csrapprove_sync(struct cm_base *b, const char *key)
{
  struct csrapprove_ctl *c = (struct csrapprove_ctl *)b;
  json_t *csr = informer_store_get_obj(c->csrs, key);
  const char *perms[2];
  size_t n = csr ? csrapprove_recognize(csr, perms) : 0;
  if (!n) {
    json_decref(csr);
    cm_base_finish(b, key, false, -1);
    return;
  }
  struct step *s = xcalloc(1, sizeof(*s));
  s->csr = csr;
  s->perms[0] = perms[0];
  s->perms[1] = n > 1 ? perms[1] : NULL;
  s->n = n;
  struct cm_run *run = cm_run_begin(b, key, NULL, NULL);
  ask(run, s);
  cm_run_end(run);
}

static int csrapprove_init(struct cm_base *b)
{
  struct csrapprove_ctl *c = (struct csrapprove_ctl *)b;
  c->csrs = informer_factory_get(b->ctx->informers, CM_CSRS);
  struct informer_handlers h = {cm_on_add_enqueue, cm_on_update_enqueue, cm_on_delete_enqueue, b};
  informer_add_handlers(c->csrs, &h);
  return 0;
}

const struct controller_def ctrl_csrapproving = {
    .name = "csrapproving",
    .service_account = "certificate-controller",
    .enabled_by_default = true,
    .size = sizeof(struct csrapprove_ctl),
    .queue = "csrapproving",
    .component = "certificate-controller",
    .workers = 5,
    .sync = csrapprove_sync,
    .init = csrapprove_init,
};
