/*
 * authn.c - authentication of secure-port requests (authn.h), in
 * upstream's order; the first credential that succeeds wins:
 *
 *   0. a front proxy's request headers, vouched for by its client
 *      certificate from the request-header CA (authn_requestheader.c);
 *   1. x509 client certificate verified against --client-ca-file: the
 *      subject's CN is the user, each O a group;
 *   2. a bearer token (Authorization: Bearer T) from --token-auth-file
 *      (CSV: token,user,uid[,"group1,group2"]);
 *   3. a bootstrap token ID.SECRET (--enable-bootstrap-token-auth): the
 *      Secret kube-system/bootstrap-token-ID of type
 *      bootstrap.kubernetes.io/token whose token-secret matches, with
 *      usage-bootstrap-authentication "true" and an expiration not past;
 *      user system:bootstrap:ID in system:bootstrappers plus its
 *      auth-extra-groups;
 *   4. a service account JWT (authn_sa.c).
 *
 * Every authenticated user is also in system:authenticated.  A request
 * that presents no credential is system:anonymous in
 * system:unauthenticated when --anonymous-auth allows, else 401; one
 * whose every presented credential fails is 401.
 *
 * The token file is read once at start into `struct authn` (owned by the
 * apiserver); bootstrap and service account tokens are looked up in
 * storage's cache per request (no disk read).
 */
#define _GNU_SOURCE
#include "auth/authn.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <kube/base64.h>
#include <kube/bootstraptoken.h>
#include <kube/fileutil.h>
#include <kube/http.h>
#include <kube/json.h>
#include <kube/log.h>
#include <kube/timeutil.h>
#include <kube/tls.h>
#include <kube/xalloc.h>

#include "api.h"
#include "storage/storage.h"

struct static_token {
  char *token;
  struct auth_user *user;
};

struct authn {
  struct authn_config cfg;
  struct requestheader *rh; /* NULL: no --requestheader-client-ca-file */
  bool client_certs;
  struct static_token *tokens;
  size_t ntokens;
  enum authz_mode modes[AUTHZ_MAX_MODES];
  size_t nmodes;
};

/* ---------- the token file ---------- */

/* One CSV field at *p (quoted or not) into a new string; advances past
 * the following comma.  NULL at the end of the line. */
static char *csv_field(const char **p)
{
  const char *s = *p;
  if (*s == '\0') return NULL;
  size_t cap = strlen(s) + 1, n = 0;
  char *out = xcalloc(1, cap);
  if (*s == '"') {
    for (s++; *s; s++) {
      if (*s == '"' && s[1] == '"') out[n++] = *s++;
      else if (*s == '"') {
        s++;
        break;
      } else out[n++] = *s;
    }
    while (*s && *s != ',') s++;
  } else {
    while (*s && *s != ',') out[n++] = *s++;
  }
  *p = *s == ',' ? s + 1 : s;
  if (**p == '\0' && *s == ',') *p = s + 1; /* a trailing comma: one more empty field */
  return out;
}

static void add_groups(struct auth_user *u, const char *list)
{
  char *copy = xstrdup(list), *save = NULL;
  for (char *g = strtok_r(copy, ",", &save); g; g = strtok_r(NULL, ",", &save)) {
    while (isspace((unsigned char)*g)) g++;
    auth_user_add_group(u, g);
  }
  free(copy);
}

static int token_line(struct authn *a, const char *line, const char *file, int lineno, char *err, size_t errlen)
{
  char *f[5] = {0};
  int n = 0;
  const char *p = line;
  while (n < 5 && (f[n] = csv_field(&p))) n++;
  int rc = 0;
  if (n < 3) {
    snprintf(err, errlen, "token file '%s' must have at least 3 columns (token, user name, user uid), found %d (line %d)",
             file, n, lineno);
    rc = -1;
  } else if (!*f[0]) {
    KLOG_W("token file '%s' has an empty token on line %d, skipping", file, lineno);
  } else {
    a->tokens = xrealloc(a->tokens, (a->ntokens + 1) * sizeof(*a->tokens));
    struct static_token *t = &a->tokens[a->ntokens++];
    t->token = xstrdup(f[0]);
    t->user = auth_user_new(f[1]);
    free(t->user->uid);
    t->user->uid = xstrdup(f[2]);
    if (n >= 4) add_groups(t->user, f[3]);
  }
  for (int i = 0; i < n; i++) free(f[i]);
  return rc;
}

static int load_token_file(struct authn *a, const char *file, char *err, size_t errlen)
{
  size_t len = 0;
  char *buf = kfile_read(file, &len);
  if (!buf) {
    snprintf(err, errlen, "--token-auth-file: cannot read %s", file);
    return -1;
  }
  int lineno = 0, rc = 0;
  char *save = NULL;
  for (char *line = strtok_r(buf, "\n", &save); line && rc == 0; line = strtok_r(NULL, "\n", &save)) {
    lineno++;
    size_t l = strlen(line);
    if (l && line[l - 1] == '\r') line[l - 1] = 0;
    if (line[0] == '\0' || line[0] == '#') continue;
    rc = token_line(a, line, file, lineno, err, errlen);
  }
  free(buf);
  return rc;
}

int authn_setup(struct apiserver *srv, const struct authn_config *cfg, char *err, size_t errlen)
{
  struct authn *a = xcalloc(1, sizeof(*a));
  a->cfg = *cfg;
  a->client_certs = cfg->client_ca_file && *cfg->client_ca_file;
  int rc = authz_modes_parse(cfg->authorization_mode, a->modes, &a->nmodes, err, errlen);
  bool rh_failed = false;
  if (rc == 0) a->rh = requestheader_new(&cfg->requestheader, &rh_failed, err, errlen);
  if (rh_failed) rc = -1;
  if (rc == 0 && cfg->token_auth_file && *cfg->token_auth_file)
    rc = load_token_file(a, cfg->token_auth_file, err, errlen);
  srv->authn = a;
  if (rc < 0) authn_free(srv);
  return rc;
}

void authn_free(struct apiserver *srv)
{
  struct authn *a = srv->authn;
  if (!a) return;
  for (size_t i = 0; i < a->ntokens; i++) {
    free(a->tokens[i].token);
    auth_user_free(a->tokens[i].user);
  }
  free(a->tokens);
  requestheader_free(a->rh);
  free(a);
  srv->authn = NULL;
}

bool authn_service_account_lookup(const struct apiserver *srv)
{
  return !srv->authn || srv->authn->cfg.service_account_lookup;
}

const enum authz_mode *authn_modes(const struct apiserver *srv, size_t *n)
{
  *n = srv->authn ? srv->authn->nmodes : 0;
  return srv->authn ? srv->authn->modes : NULL;
}

/* ---------- users ---------- */

static struct auth_user *user_copy(const struct auth_user *src)
{
  struct auth_user *u = auth_user_new(src->name);
  free(u->uid);
  u->uid = xstrdup(src->uid ? src->uid : "");
  for (size_t i = 0; i < src->ngroups; i++) auth_user_add_group(u, src->groups[i]);
  if (src->extra) u->extra = json_deep_copy(src->extra);
  return u;
}

static struct auth_user *static_token_user(const struct authn *a, const char *token)
{
  for (size_t i = 0; i < a->ntokens; i++)
    if (!strcmp(a->tokens[i].token, token)) return user_copy(a->tokens[i].user);
  return NULL;
}

/* ---------- bootstrap tokens ---------- */

static bool token_chars(const char *s, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i])) return false;
  return s[n] == '\0' || s[n] == '.';
}

json_t *authn_get_object(struct apiserver *srv, const char *key)
{
  struct kv *kv = storage_get(srv->storage, key);
  return kv ? kj_loadb(kv->bytes, kv->len, false, NULL, 0) : NULL;
}

/* The bootstrap token's Secret, checked (type, secret, usage, expiry,
 * not being deleted); new reference or NULL. */
static json_t *bootstrap_secret(struct apiserver *srv, const char *id, const char *secret_part)
{
  char key[128];
  snprintf(key, sizeof key, "/registry/secrets/kube-system/bootstrap-token-%s", id);
  json_t *s = authn_get_object(srv, key);
  const char *type = json_string_value(json_object_get(s, "type"));
  char *sec = s ? bootstrap_secret_data(s, "token-secret") : NULL;
  int64_t exp_us = 0;
  int has_exp = s ? bootstrap_secret_expiration(s, &exp_us) : 1;
  bool ok = s && type && !strcmp(type, BOOTSTRAP_TOKEN_SECRET_TYPE) && sec && !strcmp(sec, secret_part) &&
            bootstrap_secret_flag(s, "usage-bootstrap-authentication") && !kj_get(s, "metadata.deletionTimestamp") &&
            (has_exp == 1 || (has_exp == 0 && exp_us > ktime_now_us()));
  free(sec);
  if (!ok) {
    json_decref(s);
    return NULL;
  }
  return s;
}

static struct auth_user *bootstrap_token_user(struct apiserver *srv, const char *token)
{
  /* [a-z0-9]{6}.[a-z0-9]{16} */
  if (strlen(token) != 23 || token[6] != '.' || !token_chars(token, 6) || !token_chars(token + 7, 16)) return NULL;
  char id[7];
  memcpy(id, token, 6);
  id[6] = 0;
  json_t *s = bootstrap_secret(srv, id, token + 7);
  if (!s) return NULL;
  char name[64];
  snprintf(name, sizeof name, "system:bootstrap:%s", id);
  struct auth_user *u = auth_user_new(name);
  auth_user_add_group(u, "system:bootstrappers");
  char *extra = bootstrap_secret_data(s, "auth-extra-groups");
  if (extra) add_groups(u, extra);
  free(extra);
  json_decref(s);
  return u;
}

/* ---------- the chain ---------- */

struct auth_user *authn_token(struct apiserver *srv, const char *token, const json_t *audiences, char *err,
                              size_t errlen)
{
  struct authn *a = srv->authn;
  struct auth_user *u = a ? static_token_user(a, token) : NULL;
  if (!u && a && a->cfg.bootstrap_tokens) u = bootstrap_token_user(srv, token);
  if (!u && strchr(token, '.')) u = authn_sa_token(srv, token, audiences, err, errlen);
  else if (!u) snprintf(err, errlen, "invalid bearer token");
  if (u) auth_user_add_group(u, "system:authenticated");
  return u;
}

static struct auth_user *cert_user(struct http_request *r, bool *failed)
{
  char cn[512], orgs[2048], err[256];
  int rc = ktls_peer_identity(http_req_ssl(r), cn, sizeof cn, orgs, sizeof orgs, err, sizeof err);
  if (rc < 0) {
    KLOG_V(2, "client certificate of %s: %s", http_req_peer(r), err);
    *failed = true;
  }
  if (rc <= 0) return NULL;
  if (!cn[0]) { /* upstream: "common name is empty" */
    *failed = true;
    return NULL;
  }
  struct auth_user *u = auth_user_new(cn);
  char *save = NULL;
  for (char *g = strtok_r(orgs, "\n", &save); g; g = strtok_r(NULL, "\n", &save)) auth_user_add_group(u, g);
  auth_user_add_group(u, "system:authenticated");
  return u;
}

/* The token of "Authorization: Bearer T" (NULL when absent or empty). */
static const char *bearer(struct http_request *r)
{
  const char *h = http_req_header(r, "Authorization");
  if (!h || strncasecmp(h, "Bearer ", 7) != 0) return NULL;
  h += 7;
  while (*h == ' ') h++;
  return *h ? h : NULL;
}

static bool bearer_empty(struct http_request *r)
{
  const char *h = http_req_header(r, "Authorization");
  return h && strncasecmp(h, "Bearer", 6) == 0 && (h[6] == '\0' || h[6] == ' ');
}

enum authn_result authn_request(struct apiserver *srv, struct http_request *r, struct auth_user **out)
{
  struct authn *a = srv->authn;
  bool failed = false;
  *out = NULL;
  int rh = a ? requestheader_user(a->rh, r, out) : 0;
  if (rh > 0) return AUTHN_OK;
  failed = rh < 0;
  if (a && a->client_certs && (*out = cert_user(r, &failed))) return AUTHN_OK;
  const char *tok = bearer(r);
  if (tok) {
    char err[256] = "";
    if ((*out = authn_token(srv, tok, NULL, err, sizeof err))) return AUTHN_OK;
    KLOG_V(2, "bearer token of %s: %s", http_req_peer(r), err);
    failed = true;
  } else if (bearer_empty(r)) {
    failed = true; /* "Authorization: Bearer" with no token */
  }
  if (failed) return AUTHN_FAILED;
  if (a && a->cfg.anonymous) {
    *out = auth_user_new("system:anonymous");
    auth_user_add_group(*out, "system:unauthenticated");
  }
  return AUTHN_NONE;
}
