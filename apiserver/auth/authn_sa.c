/*
 * authn_sa.c - service account tokens as credentials (authn.h), upstream's
 * serviceaccount token authenticator:
 *
 * Bound tokens (TokenRequest, apiserver/token.c) carry iss = one of
 * --service-account-issuer, aud intersecting the API's audiences
 * (--api-audiences, else the issuer), exp/nbf, and the "kubernetes.io"
 * claim naming the namespace, the service account {name, uid} and, when
 * bound, the pod, secret or node {name, uid}.  Legacy secret-based tokens
 * carry iss "kubernetes/serviceaccount" and the
 * kubernetes.io/serviceaccount/... claims, and must still be the token
 * stored in their Secret.
 *
 * With --service-account-lookup (the default) the service account must
 * still exist with the claimed uid, and so must a bound pod (not deleted
 * past its grace period), secret or node: deleting the object invalidates
 * the token at once.  The user is system:serviceaccount:NS:NAME (uid the
 * service account's) in system:serviceaccounts and
 * system:serviceaccounts:NS, with upstream's extra keys for the pod, the
 * node and the token's id.
 */
#define _GNU_SOURCE
#include "auth/authn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kube/base64.h>
#include <kube/json.h>
#include <kube/timeutil.h>
#include <kube/xalloc.h>

#include "apiserver.h"

#define LEGACY_ISSUER "kubernetes/serviceaccount"

static bool in_list(const char *csv, const char *v)
{
  if (!csv || !v) return false;
  size_t l = strlen(v);
  for (const char *p = csv; *p;) {
    size_t n = strcspn(p, ",");
    if (n == l && !strncmp(p, v, l)) return true;
    p += n;
    if (*p == ',') p++;
  }
  return false;
}

/* The audiences tokens must name: the review's, else --api-audiences,
 * else the issuer. */
static bool audience_ok(const struct apiserver *srv, const json_t *claims, const json_t *audiences)
{
  const json_t *aud = json_object_get(claims, "aud");
  const char *api = srv->cfg.api_audiences && *srv->cfg.api_audiences ? srv->cfg.api_audiences
                                                                         : srv->cfg.service_account_issuer;
  size_t i, j;
  json_t *v, *w;
  if (json_is_string(aud)) aud = json_pack("[O]", aud);
  else json_incref((json_t *)aud);
  bool ok = false;
  json_array_foreach (aud, i, v) {
    if (json_array_size(audiences)) {
      json_array_foreach (audiences, j, w) ok = ok || json_equal(v, w);
    } else {
      ok = ok || in_list(api, json_string_value(v));
    }
  }
  json_decref((json_t *)aud);
  return ok;
}

static bool times_ok(const json_t *claims, char *err, size_t errlen)
{
  int64_t now = ktime_now_us() / 1000000;
  json_t *exp = json_object_get(claims, "exp"), *nbf = json_object_get(claims, "nbf");
  if (exp && (!json_is_integer(exp) || json_integer_value(exp) <= now)) {
    snprintf(err, errlen, "service account token has expired");
    return false;
  }
  if (nbf && (!json_is_integer(nbf) || json_integer_value(nbf) > now)) {
    snprintf(err, errlen, "service account token is not valid yet");
    return false;
  }
  return true;
}

/* The stored object of kind (plural) NS/NAME whose uid is uid; new
 * reference or NULL. */
static json_t *lookup(struct apiserver *srv, const char *plural, const char *ns, const char *name, const char *uid)
{
  char key[800];
  if (ns) snprintf(key, sizeof key, "/registry/%s/%s/%s", plural, ns, name ? name : "");
  else snprintf(key, sizeof key, "/registry/minions/%s", name ? name : "");
  json_t *o = name ? authn_get_object(srv, key) : NULL;
  const char *have = json_string_value(kj_get(o, "metadata.uid"));
  if (o && uid && (!have || strcmp(have, uid) != 0)) {
    json_decref(o);
    return NULL;
  }
  return o;
}

static bool pod_alive(const json_t *pod)
{
  const char *del = json_string_value(kj_get(pod, "metadata.deletionTimestamp"));
  int64_t us = 0;
  return !del || (ktime_parse(del, &us) == 0 && us > ktime_now_us());
}

struct sa_claims {
  const char *ns, *sa, *sa_uid;
  const json_t *pod, *secret, *node; /* {name, uid} or NULL */
  const char *jti;
  bool legacy;
  const char *legacy_secret;
};

static bool read_claims(const json_t *c, struct sa_claims *sc)
{
  memset(sc, 0, sizeof(*sc));
  const json_t *k = json_object_get(c, "kubernetes.io");
  if (json_is_object(k)) {
    sc->ns = json_string_value(json_object_get(k, "namespace"));
    sc->sa = json_string_value(kj_get(k, "serviceaccount.name"));
    sc->sa_uid = json_string_value(kj_get(k, "serviceaccount.uid"));
    sc->pod = json_object_get(k, "pod");
    sc->secret = json_object_get(k, "secret");
    sc->node = json_object_get(k, "node");
    sc->jti = json_string_value(json_object_get(c, "jti"));
  } else {
    sc->legacy = true;
    sc->ns = json_string_value(json_object_get(c, "kubernetes.io/serviceaccount/namespace"));
    sc->sa = json_string_value(json_object_get(c, "kubernetes.io/serviceaccount/service-account.name"));
    sc->sa_uid = json_string_value(json_object_get(c, "kubernetes.io/serviceaccount/service-account.uid"));
    sc->legacy_secret = json_string_value(json_object_get(c, "kubernetes.io/serviceaccount/secret.name"));
  }
  return sc->ns && sc->sa && sc->sa_uid;
}

static const char *ref_name(const json_t *r) { return json_string_value(json_object_get(r, "name")); }
static const char *ref_uid(const json_t *r) { return json_string_value(json_object_get(r, "uid")); }

/* A legacy token must still be the one its Secret holds. */
static bool legacy_secret_ok(struct apiserver *srv, const struct sa_claims *sc, const char *jwt)
{
  json_t *s = lookup(srv, "secrets", sc->ns, sc->legacy_secret, NULL);
  const char *b64 = json_string_value(kj_get(s, "data.token"));
  unsigned char *tok = NULL;
  size_t n = 0, bad = 0;
  bool ok = b64 && kb64_decode(b64, strlen(b64), KB64_STD, &tok, &n, &bad) == 0 && n == strlen(jwt) &&
            !memcmp(tok, jwt, n);
  free(tok);
  json_decref(s);
  return ok;
}

static bool objects_exist(struct apiserver *srv, const struct sa_claims *sc, const char *jwt, char *err, size_t errlen)
{
  json_t *sa = lookup(srv, "serviceaccounts", sc->ns, sc->sa, sc->sa_uid), *o = NULL;
  bool ok = sa != NULL;
  json_decref(sa);
  if (!ok) snprintf(err, errlen, "service account %s/%s has been deleted", sc->ns, sc->sa);
  if (ok && sc->pod) {
    o = lookup(srv, "pods", sc->ns, ref_name(sc->pod), ref_uid(sc->pod));
    ok = o && pod_alive(o);
    if (!ok) snprintf(err, errlen, "pod %s/%s has been deleted", sc->ns, ref_name(sc->pod));
    json_decref(o);
  }
  if (ok && sc->secret) {
    o = lookup(srv, "secrets", sc->ns, ref_name(sc->secret), ref_uid(sc->secret));
    ok = o != NULL;
    if (!ok) snprintf(err, errlen, "secret %s/%s has been deleted", sc->ns, ref_name(sc->secret));
    json_decref(o);
  }
  if (ok && sc->node && !sc->pod) {
    o = lookup(srv, "nodes", NULL, ref_name(sc->node), ref_uid(sc->node));
    ok = o != NULL;
    if (!ok) snprintf(err, errlen, "node %s has been deleted", ref_name(sc->node));
    json_decref(o);
  }
  if (ok && sc->legacy && !legacy_secret_ok(srv, sc, jwt)) {
    snprintf(err, errlen, "token has been invalidated");
    ok = false;
  }
  return ok;
}

static void extra_set(json_t *extra, const char *key, const char *value)
{
  if (value) json_object_set_new(extra, key, json_pack("[s]", value));
}

static struct auth_user *sa_user(const struct sa_claims *sc)
{
  char name[600], group[300];
  snprintf(name, sizeof name, "system:serviceaccount:%s:%s", sc->ns, sc->sa);
  struct auth_user *u = auth_user_new(name);
  free(u->uid);
  u->uid = xstrdup(sc->sa_uid);
  auth_user_add_group(u, "system:serviceaccounts");
  snprintf(group, sizeof group, "system:serviceaccounts:%s", sc->ns);
  auth_user_add_group(u, group);
  json_t *extra = json_object();
  if (sc->pod) {
    extra_set(extra, "authentication.kubernetes.io/pod-name", ref_name(sc->pod));
    extra_set(extra, "authentication.kubernetes.io/pod-uid", ref_uid(sc->pod));
  }
  if (sc->node) {
    extra_set(extra, "authentication.kubernetes.io/node-name", ref_name(sc->node));
    extra_set(extra, "authentication.kubernetes.io/node-uid", ref_uid(sc->node));
  }
  if (sc->jti) {
    char id[128];
    snprintf(id, sizeof id, "JTI=%s", sc->jti);
    extra_set(extra, "authentication.kubernetes.io/credential-id", id);
  }
  if (json_object_size(extra)) u->extra = extra;
  else json_decref(extra);
  return u;
}

struct auth_user *authn_sa_token(struct apiserver *srv, const char *jwt, const json_t *audiences, char *err,
                                 size_t errlen)
{
  json_t *c = api_sa_jwt_verify(srv, jwt, err, errlen);
  if (!c) return NULL;
  struct sa_claims sc;
  const char *iss = json_string_value(json_object_get(c, "iss"));
  struct auth_user *u = NULL;
  bool legacy_iss = iss && !strcmp(iss, LEGACY_ISSUER);
  if (!iss || (!legacy_iss && !in_list(srv->cfg.service_account_issuer, iss)))
    snprintf(err, errlen, "token issuer \"%s\" is not trusted", iss ? iss : "");
  else if (!read_claims(c, &sc) || sc.legacy != legacy_iss)
    snprintf(err, errlen, "service account token claims are malformed");
  else if (!sc.legacy && !audience_ok(srv, c, audiences))
    snprintf(err, errlen, "token audiences are not accepted");
  else if (!times_ok(c, err, errlen))
    ;
  else if (srv->authn && !authn_service_account_lookup(srv) && !sc.legacy)
    u = sa_user(&sc);
  else if (objects_exist(srv, &sc, jwt, err, errlen))
    u = sa_user(&sc);
  json_decref(c);
  return u;
}
