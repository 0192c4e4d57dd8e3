/*
 * csrcleaner.c - the "csrcleaner" controller (upstream
 * pkg/controller/certificates/cleaner): deletes CertificateSigningRequests
 * nobody needs any more, with upstream's deadlines:
 *   issued (Approved with a certificate)  an hour after the Approved
 *                                         condition's lastUpdateTime;
 *   Denied, Failed                         an hour after that condition's
 *                                         lastUpdateTime;
 *   pending (no condition at all)          a day after creation;
 *   any whose issued certificate has expired.
 * An approved request still waiting for its certificate is left alone.
 *
 * Keys are CSR names, enqueued when a CSR is added or changes.  sync
 * deletes a CSR that is due; otherwise it comes back at its next
 * deadline, and at least every hour (upstream's polling interval), so a
 * deadline is never missed by more than the queue's delay.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "controller_utils.h"
#include "controllers/certificates.h"
#include "controllers/csrcleaner.h"
#include "kube/base64.h"
#include "kube/informer.h"
#include "kube/json.h"

struct csrclean_ctl {
  struct cm_base base;
  struct informer *csrs;
};

/* NotAfter of the first certificate of status.certificate, or -1. */
static int64_t cert_not_after(const json_t *csr)
{
  const char *b64 = kj_get_str(csr, "status.certificate");
  unsigned char *pem = NULL;
  size_t len = 0, bad = 0;
  if (!b64 || !*b64 || kb64_decode(b64, strlen(b64), KB64_STD, &pem, &len, &bad) != 0) return -1;
  BIO *bio = BIO_new_mem_buf(pem, (int)len);
  X509 *x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
  BIO_free(bio);
  free(pem);
  int64_t out = -1;
  struct tm tm;
  if (x && ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) == 1) out = (int64_t)timegm(&tm);
  X509_free(x);
  ERR_clear_error();
  return out;
}

/* Keeps the earliest deadline in *next; true when t is past. */
static bool past(int64_t since, int64_t after_s, time_t now, int64_t *next)
{
  if (since < 0) return false;
  int64_t at = since + after_s;
  if (at < (int64_t)now) return true;
  if (at - (int64_t)now < *next) *next = at - (int64_t)now;
  return false;
}

bool csrclean_due(const json_t *csr, time_t now, int64_t *next_s)
{
  int64_t next = CSRCLEAN_POLL_S;
  const char *cert = kj_get_str(csr, "status.certificate");
  bool issued = cert && *cert;
  json_t *conds = kj_get(csr, "status.conditions");
  bool due = false;
  if (json_array_size(conds) == 0)
    due = past(cm_time_at(csr, "metadata.creationTimestamp"), CSRCLEAN_PENDING_S, now, &next);
  size_t i;
  json_t *c;
  json_array_foreach (conds, i, c) {
    const char *t = kj_get_str(c, "type");
    int64_t at = cm_time_at(c, "lastUpdateTime");
    if (!t) continue;
    if (!strcmp(t, "Denied")) due |= past(at, CSRCLEAN_DENIED_S, now, &next);
    else if (!strcmp(t, "Failed")) due |= past(at, CSRCLEAN_FAILED_S, now, &next);
    else if (!strcmp(t, "Approved") && issued) {
      due |= past(at, CSRCLEAN_APPROVED_S, now, &next);
      due |= past(cert_not_after(csr), 0, now, &next);
    }
  }
  if (next_s) *next_s = next < 1 ? 1 : next;
  return due;
}

static void csrclean_sync(struct cm_base *b, const char *key)
{
  struct csrclean_ctl *c = (struct csrclean_ctl *)b;
  json_t *csr = informer_store_get_obj(c->csrs, key);
  if (!csr) {
    cm_base_finish(b, key, false, -1);
    return;
  }
  int64_t next = CSRCLEAN_POLL_S;
  bool due = csrclean_due(csr, time(NULL), &next);
  if (!due) {
    json_decref(csr);
    cm_base_finish(b, key, false, next * 1000);
    return;
  }
  struct cm_actions acts;
  cm_actions_init(&acts);
  char path[600];
  cm_path(path, sizeof path, CSR_API, NULL, "certificatesigningrequests", kj_get_str(csr, "metadata.name"), NULL);
  /* only this object: a CSR made again under the same name is not deleted */
  cm_act(&acts, CM_DELETE, path, cm_delete_this(csr));
  json_decref(csr);
  cm_base_exec(b, key, &acts, NULL, -1);
  cm_actions_clear(&acts);
}

static int csrclean_init(struct cm_base *b)
{
  struct csrclean_ctl *c = (struct csrclean_ctl *)b;
  c->csrs = informer_factory_get(b->ctx->informers, CM_CSRS);
  struct informer_handlers h = {cm_on_add_enqueue, cm_on_update_enqueue, NULL, b};
  informer_add_handlers(c->csrs, &h);
  return 0;
}

const struct controller_def ctrl_csrcleaner = {
    .name = "csrcleaner",
    .service_account = "certificate-controller",
    .enabled_by_default = true,
    .size = sizeof(struct csrclean_ctl),
    .queue = "csrcleaner",
    .component = "certificate-controller",
    .workers = 1,
    .sync = csrclean_sync,
    .init = csrclean_init,
};
