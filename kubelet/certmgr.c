/*
 * certmgr.c - CSR requests, the client TLS bootstrap and the rotating
 * certificate managers (see certmgr.h).
 *
 * Invariants: a request owns its REST calls and its timer and reports
 * exactly once (or never, after kl_csr_cancel); a manager has at most one
 * request in flight, and its timer is armed whenever it is idle.
 */
#define _GNU_SOURCE
#include "certmgr.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "certificate.h"
#include "kube/base64.h"
#include "kube/fileutil.h"
#include "kube/json.h"
#include "kube/kubeconfig.h"
#include "kube/log.h"
#include "kube/restclient.h"
#include "kube/xalloc.h"
#include "kubelet.h"

#define CSR_PATH "/apis/certificates.k8s.io/v1/certificatesigningrequests"
#define REWATCH_DELAY_MS 1000
#define ROTATE_TIMEOUT_MS (15LL * 60 * 1000)
#define RETRY_FIRST_MS 2000
#define RETRY_MAX_MS (5LL * 60 * 1000)

/* ---------- one request ---------- */

struct kl_csr_req {
  struct event_base *base;
  struct rest_client *c;
  struct rest_request *rr;
  struct event *timeout, *rewatch;
  char name[256];
  kl_csr_done_fn done;
  void *arg;
};

void kl_csr_cancel(struct kl_csr_req *r)
{
  if (!r) return;
  if (r->rr) rest_cancel(r->rr);
  if (r->timeout) event_free(r->timeout);
  if (r->rewatch) event_free(r->rewatch);
  free(r);
}

static void finish(struct kl_csr_req *r, const char *cert, const char *why)
{
  kl_csr_done_fn done = r->done;
  void *arg = r->arg;
  r->done = NULL;
  kl_csr_cancel(r);
  if (done) done(arg, cert, why);
}

static void arm_ms(struct event *ev, int64_t ms)
{
  struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};
  evtimer_add(ev, &tv);
}

/* Looks at one state of the object: 1 when r finished. */
static int look(struct kl_csr_req *r, const json_t *csr)
{
  size_t i;
  json_t *cond;
  bool approved = false;
  json_array_foreach (kj_get(csr, "status.conditions"), i, cond) {
    const char *type = kj_get_str(cond, "type");
    if (!type || (kj_get_str(cond, "status") && strcmp(kj_get_str(cond, "status"), "True"))) continue;
    if (!strcmp(type, "Denied") || !strcmp(type, "Failed")) {
      char why[1024];
      snprintf(why, sizeof why, "certificate signing request %s is %s, reason: %s, message: %s", r->name,
               !strcmp(type, "Denied") ? "denied" : "failed", kj_get_str(cond, "reason") ?: "",
               kj_get_str(cond, "message") ?: "");
      finish(r, NULL, why);
      return 1;
    }
    if (!strcmp(type, "Approved")) approved = true;
  }
  const char *b64 = kj_get_str(csr, "status.certificate");
  if (!approved || !b64 || !*b64) return 0;
  unsigned char *pem = NULL;
  size_t len = 0, bad = 0;
  if (kb64_decode(b64, strlen(b64), KB64_STD, &pem, &len, &bad) < 0) {
    finish(r, NULL, "the issued certificate is not valid base64");
    return 1;
  }
  char *s = xmalloc(len + 1);
  memcpy(s, pem, len);
  s[len] = 0;
  free(pem);
  finish(r, s, NULL);
  free(s);
  return 1;
}

static void watch(struct kl_csr_req *r);

static void on_event(void *arg, json_t *ev)
{
  struct kl_csr_req *r = arg;
  const char *type = kj_get_str(ev, "type");
  if (type && !strcmp(type, "DELETED")) {
    char why[400];
    snprintf(why, sizeof why, "certificate signing request %s was deleted", r->name);
    finish(r, NULL, why);
    return;
  }
  if (type && strcmp(type, "ERROR")) look(r, json_object_get(ev, "object"));
}

static void on_watch_end(void *arg, int code, json_t *body, const struct rest_status *err)
{
  (void)body;
  struct kl_csr_req *r = arg;
  r->rr = NULL;
  if (err) KLOG_V(2, "Watch of certificate signing request %s ended (%d): %s", r->name, code, err->message ?: "");
  arm_ms(r->rewatch, REWATCH_DELAY_MS);
}

static void rewatch_cb(evutil_socket_t fd, short what, void *arg)
{
  (void)fd, (void)what;
  watch(arg);
}

static void watch(struct kl_csr_req *r)
{
  char path[600];
  snprintf(path, sizeof path, CSR_PATH "?watch=true&fieldSelector=metadata.name%%3D%s&timeoutSeconds=300", r->name);
  r->rr = rest_stream(r->c, path, on_event, on_watch_end, r);
  if (!r->rr) arm_ms(r->rewatch, REWATCH_DELAY_MS);
}

static void created(void *arg, int code, json_t *body, const struct rest_status *err)
{
  struct kl_csr_req *r = arg;
  r->rr = NULL;
  if (err || !kj_get_str(body, "metadata.name")) {
    char why[600];
    snprintf(why, sizeof why, "cannot create certificate signing request: %s",
             err && err->message ? err->message : code ? "no name in the answer" : "no answer");
    finish(r, NULL, why);
    return;
  }
  snprintf(r->name, sizeof r->name, "%s", kj_get_str(body, "metadata.name"));
  KLOG_I("Created certificate signing request %s (signer %s)", r->name, kj_get_str(body, "spec.signerName") ?: "");
  if (!look(r, body)) watch(r);
}

static void timed_out(evutil_socket_t fd, short what, void *arg)
{
  (void)fd, (void)what;
  struct kl_csr_req *r = arg;
  char why[400];
  snprintf(why, sizeof why, "timed out waiting for certificate signing request %s to be approved and signed",
           r->name[0] ? r->name : "(not created)");
  finish(r, NULL, why);
}

struct kl_csr_req *kl_csr_request(struct event_base *base, struct rest_client *c, const json_t *csr,
                                  int64_t timeout_ms, kl_csr_done_fn done, void *arg)
{
  struct kl_csr_req *r = xcalloc(1, sizeof *r);
  r->base = base;
  r->c = c;
  r->done = done;
  r->arg = arg;
  r->timeout = evtimer_new(base, timed_out, r);
  r->rewatch = evtimer_new(base, rewatch_cb, r);
  r->rr = r->timeout && r->rewatch ? rest_request(c, "POST", CSR_PATH, csr, created, r) : NULL;
  if (!r->rr) {
    r->done = NULL;
    kl_csr_cancel(r);
    return NULL;
  }
  arm_ms(r->timeout, timeout_ms);
  return r;
}

/* The request object for a new key: CSR JSON (new) and the key (new). */
static json_t *new_request(const char *node_name, const char *sans, const char *signer, char **key_out, char *err,
                           size_t errlen)
{
  char cn[320];
  snprintf(cn, sizeof cn, "system:node:%s", node_name);
  char *key = kl_cert_new_key_pem();
  char *req = key ? kl_cert_request_pem(key, cn, "system:nodes", sans, err, errlen) : NULL;
  if (!key) snprintf(err, errlen, "unable to generate a private key");
  if (!req) {
    free(key);
    return NULL;
  }
  json_t *csr = kl_cert_csr_object(req, signer);
  free(req);
  *key_out = key;
  return csr;
}

/* ---------- bootstrap ---------- */

/* Upstream's isClientConfigStillValid: the kubeconfig loads and, when it
 * names a client certificate, that certificate is currently valid. */
static bool kubeconfig_still_valid(const char *path)
{
  struct stat st;
  if (!path || !*path || stat(path, &st) < 0) return false;
  struct rest_config rc;
  char err[400];
  if (kubeconfig_load(path, "", "", &rc, err, sizeof err) < 0) {
    KLOG_W("Unable to read existing bootstrap client config from %s: %s", path, err);
    return false;
  }
  bool ok = true;
  if (rc.cert_data) {
    int64_t nb = 0, na = 0;
    int64_t now = (int64_t)time(NULL);
    ok = kl_cert_validity(rc.cert_data, rc.cert_len, &nb, &na) == 0 && now < na && now + 300 >= nb;
    if (!ok) KLOG_W("Part of the existing bootstrap client certificate in %s is expired or unreadable", path);
  }
  rest_config_free(&rc);
  return ok;
}

struct boot {
  struct event_base *base;
  bool finished;
  char *cert;
  char why[1024];
};

static void boot_done(void *arg, const char *cert, const char *why)
{
  struct boot *b = arg;
  b->finished = true;
  if (cert) b->cert = xstrdup(cert);
  else snprintf(b->why, sizeof b->why, "%s", why ? why : "unknown error");
  event_base_loopbreak(b->base);
}

/* Creates the CSR with the bootstrap client and waits for it on a private
 * loop.  The issued chain (new) or NULL with a message. */
static char *boot_request(const struct rest_config *brc, const json_t *csr, char *err, size_t errlen)
{
  struct boot b = {.base = event_base_new()};
  struct rest_client *c = b.base ? rest_client_new(b.base, brc) : NULL;
  struct kl_csr_req *r = c ? kl_csr_request(b.base, c, csr, KL_BOOTSTRAP_TIMEOUT_MS, boot_done, &b) : NULL;
  if (!r) snprintf(err, errlen, "unable to create the bootstrap client");
  while (r && !b.finished)
    if (event_base_dispatch(b.base) < 0) break;
  if (r && !b.finished) {
    kl_csr_cancel(r);
    snprintf(err, errlen, "the bootstrap event loop failed");
  } else if (r && !b.cert) {
    snprintf(err, errlen, "%s", b.why);
  }
  if (c) rest_client_free(c);
  if (b.base) event_base_free(b.base);
  return b.cert;
}

int kl_bootstrap_client(const struct kl_config *cfg, const char *node_name, char *err, size_t errlen)
{
  if (!*cfg->bootstrap_kubeconfig || kubeconfig_still_valid(cfg->kubeconfig)) return 0;
  struct rest_config brc;
  char e[1024];
  if (kubeconfig_load(cfg->bootstrap_kubeconfig, "", "", &brc, e, sizeof e) < 0) {
    snprintf(err, errlen, "unable to load bootstrap kubeconfig: %s", e);
    return -1;
  }
  char current[4400];
  kl_cert_current_path(cfg->cert_dir, "kubelet-client", current, sizeof current);
  int rc = 0;
  if (kl_cert_file_usable(current, (int64_t)time(NULL))) {
    KLOG_I("Using the valid client certificate %s instead of bootstrapping", current);
  } else {
    KLOG_I("Using bootstrap kubeconfig %s to request a client certificate for node %s", cfg->bootstrap_kubeconfig,
           node_name);
    if (!brc.user_agent) brc.user_agent = rest_default_user_agent("kubelet");
    char *key = NULL, *cert = NULL;
    json_t *csr = new_request(node_name, NULL, KL_SIGNER_CLIENT, &key, e, sizeof e);
    if (csr) cert = boot_request(&brc, csr, e, sizeof e);
    if (!cert || kl_cert_store(cfg->cert_dir, "kubelet-client", cert, key, (int64_t)time(NULL), e, sizeof e) < 0) {
      snprintf(err, errlen, "failed to run Kubelet: unable to get a client certificate with the bootstrap kubeconfig: %s", e);
      rc = -1;
    }
    json_decref(csr);
    free(key);
    free(cert);
  }
  if (!rc && kl_cert_write_kubeconfig(cfg->kubeconfig, brc.server, brc.ca_data, brc.ca_len, brc.insecure,
                                      brc.tls_server_name, current, e, sizeof e) < 0) {
    snprintf(err, errlen, "%s", e);
    rc = -1;
  }
  if (!rc) KLOG_I("Wrote kubeconfig %s with the client certificate %s", cfg->kubeconfig, current);
  rest_config_free(&brc);
  return rc;
}

/* ---------- rotation ---------- */

struct kl_certmgr {
  struct kubelet *k;
  enum kl_cert_kind kind;
  const char *prefix, *signer;
  struct event *timer;
  struct kl_csr_req *req;
  char *key; /* of the request in flight */
  int64_t deadline_s;
  int64_t backoff_ms;
  kl_cert_new_fn on_new;
  void *arg;
};

static void schedule(struct kl_certmgr *m, const char *cert_pem, size_t len)
{
  int64_t nb = 0, na = 0;
  int64_t now = (int64_t)time(NULL);
  if (!cert_pem || kl_cert_validity(cert_pem, len, &nb, &na) < 0) {
    m->deadline_s = now;
  } else {
    double jitter = (double)random() / ((double)RAND_MAX + 1.0);
    m->deadline_s = kl_cert_rotation_deadline(nb, na, jitter);
    char when[64];
    time_t t = (time_t)m->deadline_s;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S +0000 UTC", &tm);
    KLOG_I("Certificate rotation deadline for %s is %s (in %llds)", m->prefix, when,
           (long long)(m->deadline_s > now ? m->deadline_s - now : 0));
  }
  arm_ms(m->timer, m->deadline_s > now ? (m->deadline_s - now) * 1000 : 0);
}

static void renewed(void *arg, const char *cert, const char *why)
{
  struct kl_certmgr *m = arg;
  m->req = NULL;
  char err[600];
  char path[4400];
  kl_cert_current_path(m->k->cfg->cert_dir, m->prefix, path, sizeof path);
  if (!cert || kl_cert_store(m->k->cfg->cert_dir, m->prefix, cert, m->key, (int64_t)time(NULL), err, sizeof err) < 0) {
    KLOG_E("Failed while requesting a signed certificate from the control plane (%s): %s", m->prefix,
           cert ? err : why);
    free(m->key);
    m->key = NULL;
    arm_ms(m->timer, m->backoff_ms);
    m->backoff_ms = m->backoff_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : m->backoff_ms * 2;
    return;
  }
  KLOG_I("Certificate %s rotated: %s", m->prefix, path);
  m->backoff_ms = RETRY_FIRST_MS;
  char *key = m->key;
  m->key = NULL;
  if (m->on_new) m->on_new(m->arg, path, cert, key);
  free(key);
  schedule(m, cert, strlen(cert));
}

/* The serving certificate's SANs: the hostname and the node's address. */
static void serving_sans(const struct kubelet *k, char *out, size_t len)
{
  snprintf(out, len, "DNS:%s%s%s", k->node_name, *k->node_ip ? ",IP:" : "", k->node_ip);
}

static void rotate(evutil_socket_t fd, short what, void *arg)
{
  (void)fd, (void)what;
  struct kl_certmgr *m = arg;
  if (m->req) return;
  char err[600], sans[400] = "";
  if (m->kind == KL_CERT_SERVING) serving_sans(m->k, sans, sizeof sans);
  KLOG_I("Rotating certificates (%s)", m->prefix);
  free(m->key);
  m->key = NULL;
  json_t *csr = new_request(m->k->node_name, sans, m->signer, &m->key, err, sizeof err);
  m->req = csr ? kl_csr_request(m->k->base, m->k->client, csr, ROTATE_TIMEOUT_MS, renewed, m) : NULL;
  json_decref(csr);
  if (!m->req) {
    KLOG_E("Failed to request a certificate (%s): %s", m->prefix, csr ? "out of memory" : err);
    arm_ms(m->timer, m->backoff_ms);
  }
}

/* The file's bytes (new) when it holds a usable pair, else NULL. */
static char *read_usable(const char *path, size_t *len)
{
  if (!kl_cert_file_usable(path, (int64_t)time(NULL))) return NULL;
  return kfile_read(path, len);
}

struct kl_certmgr *kl_certmgr_new(struct kubelet *k, enum kl_cert_kind kind, const char *cert_pem,
                                  kl_cert_new_fn on_new, void *arg)
{
  struct kl_certmgr *m = xcalloc(1, sizeof *m);
  m->k = k;
  m->kind = kind;
  m->prefix = kind == KL_CERT_CLIENT ? "kubelet-client" : "kubelet-server";
  m->signer = kind == KL_CERT_CLIENT ? KL_SIGNER_CLIENT : KL_SIGNER_SERVING;
  m->on_new = on_new;
  m->arg = arg;
  m->backoff_ms = RETRY_FIRST_MS;
  m->timer = evtimer_new(k->base, rotate, m);
  if (!m->timer) {
    free(m);
    return NULL;
  }
  char path[4400];
  kl_cert_current_path(k->cfg->cert_dir, m->prefix, path, sizeof path);
  size_t len = 0;
  char *cur = read_usable(path, &len);
  if (cur) schedule(m, cur, len);
  else schedule(m, cert_pem, cert_pem ? strlen(cert_pem) : 0);
  evtimer_del(m->timer); /* armed by kl_certmgr_start */
  free(cur);
  return m;
}

void kl_certmgr_start(struct kl_certmgr *m)
{
  int64_t now = (int64_t)time(NULL);
  arm_ms(m->timer, m->deadline_s > now ? (m->deadline_s - now) * 1000 : 0);
}

int64_t kl_certmgr_deadline(const struct kl_certmgr *m) { return m ? m->deadline_s : 0; }

void kl_certmgr_free(struct kl_certmgr *m)
{
  if (!m) return;
  kl_csr_cancel(m->req);
  if (m->timer) event_free(m->timer);
  free(m->key);
  free(m);
}
