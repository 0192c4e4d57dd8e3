/*
 * token.c - service account tokens: the TokenRequest API
 * (POST /api/v1/namespaces/NS/serviceaccounts/NAME/token, an
 * authentication.k8s.io/v1 TokenRequest) and the OpenID Connect discovery
 * documents that let anyone verify them (/.well-known/openid-configuration
 * and /openid/v1/jwks).
 *
 * A token is a JWT signed RS256 (RSASSA-PKCS1-v1_5 with SHA-256, OpenSSL's
 * EVP signing) with upstream's claims: iss (--service-account-issuer), sub
 * system:serviceaccount:NS:NAME, aud (the request's audiences, else
 * --api-audiences, else the issuer), iat, nbf, exp, jti, and the private
 * "kubernetes.io" claim naming the namespace, the service account {name,
 * uid} and, for a token bound to a Pod, the pod {name, uid} and its node
 * {name, uid}; a Node or a Secret binding names that object.  The header
 * carries the key id upstream derives: the unpadded base64url of the
 * SHA-256 of the public key's PKIX DER.  Claims are printed with sorted keys,
 * as go-jose prints them.
 *
 * The signing key is --service-account-signing-key-file (an RSA private
 * key in PEM), or, without that flag, one generated on first start and
 * kept as sa.key in --data-dir (mode 0600), so tokens survive restarts.
 * The keys published in the JWKS are those of --service-account-key-file
 * (PEM public or private keys, or certificates; several files separated by
 * commas) plus the signing key's own.
 *
 * Request handling follows upstream's TokenREST: the body's name and
 * namespace must match the URL (422); the service account must exist
 * (404); the expiration defaults to an hour and may not be under ten
 * minutes or over 2^32 s (422), is cut to --service-account-max-token-
 * expiration with a warning, and for a pod-bound token asking for 3607 s
 * with the API server's audiences (the kubelet's projected token) the
 * token lives a year with a warnafter claim at the asked expiry, as
 * --service-account-extend-token-expiration (on by default) does; a bound
 * object must exist (404), run as that service account (400) and carry the
 * given uid (409).
 */
#define _GNU_SOURCE
#include "api.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <kube/base64.h>
#include <kube/http.h>
#include <kube/json.h>
#include <kube/log.h>
#include <kube/names.h>
#include <kube/status.h>
#include <kube/timeutil.h>

#include "admission/admission.h"
#include "registry/reg_internal.h"
#include "registry/registry.h"
#include "schema/schema.h"
#include "storage/storage.h"
#include <kube/xalloc.h>

#define TOKEN_DEFAULT_EXPIRATION_S 3600
#define TOKEN_MIN_EXPIRATION_S 600
#define TOKEN_MAX_EXPIRATION_S (1LL << 32)
/* upstream's WarnOnlyBoundTokenExpirationSeconds and the extension a
 * kubelet's projected token gets while clients learn to refresh */
#define TOKEN_KUBELET_EXPIRATION_S 3607
#define TOKEN_EXTENDED_EXPIRATION_S (24LL * 365 * 3600)
#define SA_KEY_FILE "sa.key"
#define SA_KEY_BITS 2048

struct sa_pubkey {
  EVP_PKEY *key;
  char kid[48];
};

struct sa_signer {
  EVP_PKEY *key; /* signing key */
  char kid[48];
  struct sa_pubkey *pub; /* published keys, the signing key's first */
  size_t npub;
  char *jwks; /* serialized documents */
  char *openid;
};

/* ---- keys ---- */

/* upstream's keyIDFromPublicKey */
static int key_id(EVP_PKEY *k, char out[48])
{
  unsigned char *der = NULL, md[EVP_MAX_MD_SIZE];
  unsigned int mdlen = 0;
  int n = i2d_PUBKEY(k, &der);
  if (n <= 0) return -EINVAL;
  int ok = EVP_Digest(der, (size_t)n, md, &mdlen, EVP_sha256(), NULL);
  OPENSSL_free(der);
  if (ok != 1) return -EINVAL;
  char *s = kb64_encode(md, mdlen, KB64_RAW_URL);
  snprintf(out, 48, "%s", s);
  free(s);
  return 0;
}

static EVP_PKEY *read_private(const char *path, char *err, size_t errlen)
{
  FILE *f = fopen(path, "r");
  if (!f) {
    snprintf(err, errlen, "%s: %s", path, strerror(errno));
    return NULL;
  }
  EVP_PKEY *k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
  fclose(f);
  if (!k) snprintf(err, errlen, "%s: no PEM private key", path);
  else if (!EVP_PKEY_is_a(k, "RSA")) {
    snprintf(err, errlen, "%s: only RSA keys are supported", path);
    EVP_PKEY_free(k);
    k = NULL;
  }
  return k;
}

/* The key under data_dir/sa.key, made (RSA, 2048 bits) when missing. */
static EVP_PKEY *data_dir_key(const char *data_dir, char *err, size_t errlen)
{
  char path[4096], tmp[4200];
  snprintf(path, sizeof path, "%s/%s", data_dir, SA_KEY_FILE);
  if (access(path, F_OK) == 0) return read_private(path, err, errlen);
  EVP_PKEY *k = EVP_RSA_gen(SA_KEY_BITS);
  if (!k) {
    snprintf(err, errlen, "generating the service account signing key failed");
    return NULL;
  }
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
  bool ok = f && PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL) == 1;
  ok = f && fflush(f) == 0 && fsync(fileno(f)) == 0 && ok;
  if (f) fclose(f);
  else if (fd >= 0) close(fd);
  if (!ok || rename(tmp, path) != 0) {
    snprintf(err, errlen, "writing %s: %s", path, strerror(errno));
    unlink(tmp);
    EVP_PKEY_free(k);
    return NULL;
  }
  KLOG_I("generated the service account signing key %s", path);
  return k;
}

static int add_pub(struct sa_signer *s, EVP_PKEY *k)
{
  char kid[48];
  if (key_id(k, kid) < 0) return -EINVAL;
  for (size_t i = 0; i < s->npub; i++)
    if (!strcmp(s->pub[i].kid, kid)) {
      EVP_PKEY_free(k); /* the same key twice */
      return 0;
    }
  struct sa_pubkey *p = xrealloc(s->pub, (s->npub + 1) * sizeof(*p));
  if (!p) abort();
  s->pub = p;
  s->pub[s->npub].key = k;
  memcpy(s->pub[s->npub].kid, kid, sizeof kid);
  s->npub++;
  return 0;
}

/* Every key of one PEM file: public keys, private keys, certificates. */
static int read_public_file(struct sa_signer *s, const char *path, char *err, size_t errlen)
{
  FILE *f = fopen(path, "r");
  if (!f) {
    snprintf(err, errlen, "%s: %s", path, strerror(errno));
    return -errno;
  }
  int found = 0;
  char *name = NULL, *header = NULL;
  unsigned char *data = NULL;
  long len = 0;
  while (PEM_read(f, &name, &header, &data, &len) == 1) {
    const unsigned char *p = data;
    EVP_PKEY *k = NULL;
    if (!strcmp(name, "PUBLIC KEY")) k = d2i_PUBKEY(NULL, &p, len);
    else if (!strcmp(name, "RSA PUBLIC KEY")) k = d2i_PublicKey(EVP_PKEY_RSA, NULL, &p, len);
    else if (!strcmp(name, "PRIVATE KEY") || !strcmp(name, "RSA PRIVATE KEY")) k = d2i_AutoPrivateKey(NULL, &p, len);
    else if (!strcmp(name, "CERTIFICATE")) {
      X509 *x = d2i_X509(NULL, &p, len);
      k = x ? X509_get_pubkey(x) : NULL;
      X509_free(x);
    }
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_free(data);
    name = header = NULL;
    data = NULL;
    if (k && EVP_PKEY_is_a(k, "RSA") && add_pub(s, k) == 0) found++;
    else EVP_PKEY_free(k);
  }
  fclose(f);
  if (!found) {
    snprintf(err, errlen, "%s: no RSA key found", path);
    return -EINVAL;
  }
  return 0;
}

/* ---- documents ---- */

static char *bn_b64(EVP_PKEY *k, const char *param)
{
  BIGNUM *bn = NULL;
  if (EVP_PKEY_get_bn_param(k, param, &bn) != 1) return NULL;
  int n = BN_num_bytes(bn);
  unsigned char *buf = xmalloc((size_t)n + 1);
  if (!buf) abort();
  BN_bn2bin(bn, buf);
  BN_free(bn);
  char *s = kb64_encode(buf, (size_t)n, KB64_RAW_URL);
  free(buf);
  return s;
}

static char *build_jwks(const struct sa_signer *s)
{
  json_t *keys = json_array();
  for (size_t i = 0; i < s->npub; i++) {
    char *n = bn_b64(s->pub[i].key, OSSL_PKEY_PARAM_RSA_N), *e = bn_b64(s->pub[i].key, OSSL_PKEY_PARAM_RSA_E);
    if (n && e)
      json_array_append_new(keys, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "use", "sig", "kty", "RSA", "kid",
                                            s->pub[i].kid, "alg", "RS256", "n", n, "e", e));
    free(n);
    free(e);
  }
  json_t *doc = json_pack("{s:o}", "keys", keys);
  char *out = kj_dumps(doc);
  json_decref(doc);
  return out;
}

static char *build_openid(const struct apiserver_config *cfg)
{
  char uri[512];
  if (cfg->service_account_jwks_uri && *cfg->service_account_jwks_uri)
    snprintf(uri, sizeof uri, "%s", cfg->service_account_jwks_uri);
  else snprintf(uri, sizeof uri, "http://%s:%d/openid/v1/jwks", cfg->advertise_address, cfg->insecure_port);
  json_t *doc = json_pack("{s:s,s:s,s:[s],s:[s],s:[s]}", "issuer", cfg->service_account_issuer, "jwks_uri", uri,
                          "response_types_supported", "id_token", "subject_types_supported", "public",
                          "id_token_signing_alg_values_supported", "RS256");
  char *out = kj_dumps(doc);
  json_decref(doc);
  return out;
}

int api_sa_signer_setup(struct apiserver *srv, char *err, size_t errlen)
{
  const struct apiserver_config *cfg = &srv->cfg;
  struct sa_signer *s = xcalloc(1, sizeof(*s));
  if (!s) return -ENOMEM;
  const char *kf = cfg->service_account_signing_key_file;
  s->key = kf && *kf ? read_private(kf, err, errlen) : data_dir_key(cfg->data_dir, err, errlen);
  int rc = s->key && key_id(s->key, s->kid) == 0 ? 0 : -EINVAL;
  if (rc == 0 && EVP_PKEY_up_ref(s->key) == 1) rc = add_pub(s, s->key);
  char *files = cfg->service_account_key_file && *cfg->service_account_key_file ? xstrdup(cfg->service_account_key_file)
                                                                                : NULL,
       *save = NULL;
  for (char *f = files ? strtok_r(files, ",", &save) : NULL; f && rc == 0; f = strtok_r(NULL, ",", &save))
    rc = read_public_file(s, f, err, errlen);
  free(files);
  if (rc == 0) {
    s->jwks = build_jwks(s);
    s->openid = build_openid(cfg);
  }
  srv->sa_signer = s;
  if (rc != 0 || !s->jwks || !s->openid) {
    api_sa_signer_free(srv);
    return rc ? rc : -ENOMEM;
  }
  return 0;
}

void api_sa_signer_free(struct apiserver *srv)
{
  struct sa_signer *s = srv->sa_signer;
  if (!s) return;
  EVP_PKEY_free(s->key);
  for (size_t i = 0; i < s->npub; i++) EVP_PKEY_free(s->pub[i].key);
  free(s->pub);
  free(s->jwks);
  free(s->openid);
  free(s);
  srv->sa_signer = NULL;
}

void api_handle_oidc(struct api_req *ar, const char *path)
{
  struct sa_signer *s = ar->srv->sa_signer;
  if (!s) {
    api_reply_status(ar, kstatus_new(404, "NotFound", "the server could not find the requested resource"));
    return;
  }
  if (!strcmp(path, "/openid/v1/jwks")) api_reply_raw(ar, 200, "application/jwk-set+json", s->jwks, strlen(s->jwks));
  else api_reply_raw(ar, 200, "application/json", s->openid, strlen(s->openid));
}

/* ---- signing ---- */

/* "HEADER.PAYLOAD.SIGNATURE", malloc'd, or NULL. */
static char *sign_jwt(const struct sa_signer *s, const json_t *claims)
{
  json_t *hdr = json_pack("{s:s,s:s}", "alg", "RS256", "kid", s->kid);
  char *h = kj_dumps_canonical(hdr), *c = kj_dumps_canonical(claims);
  json_decref(hdr);
  char *hb = h ? kb64_encode(h, strlen(h), KB64_RAW_URL) : NULL,
       *cb = c ? kb64_encode(c, strlen(c), KB64_RAW_URL) : NULL;
  free(h);
  free(c);
  char *input = NULL, *out = NULL;
  if (!hb || !cb || asprintf(&input, "%s.%s", hb, cb) < 0) input = NULL;
  free(hb);
  free(cb);
  EVP_MD_CTX *md = input ? EVP_MD_CTX_new() : NULL;
  unsigned char sig[1024];
  size_t siglen = sizeof sig;
  if (md && EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, s->key) == 1 &&
      EVP_DigestSign(md, sig, &siglen, (const unsigned char *)input, strlen(input)) == 1) {
    char *sb = kb64_encode(sig, siglen, KB64_RAW_URL);
    if (asprintf(&out, "%s.%s", input, sb) < 0) out = NULL;
    free(sb);
  }
  EVP_MD_CTX_free(md);
  free(input);
  return out;
}

/* ---- TokenRequest ---- */

struct token_req {
  struct api_req *ar;
  json_t *body;  /* the TokenRequest */
  json_t *sa;    /* the service account */
  json_t *bound; /* the bound object, or NULL */
  json_t *node;  /* a bound pod's node, or NULL */
  const char *bound_kind;
  int64_t expiration; /* asked for (after defaults and the maximum) */
};

static json_t *get_obj(struct apiserver *srv, const struct resource *res, const char *ns, const char *name)
{
  char *key = api_storage_key(res, ns, name);
  struct kv *kv = key ? storage_get(srv->storage, key) : NULL;
  free(key);
  return kv ? kj_loadb(kv->bytes, kv->len, false, NULL, 0) : NULL;
}

static json_t *token_invalid(const char *name, const char *field, const char *fmt, const char *value)
{
  json_t *causes = json_array();
  reg_cause_add(causes, "FieldValueInvalid", field, fmt, value);
  return kstatus_invalid("authentication.k8s.io", "TokenRequest", name, causes);
}

/* Decoding, the name and namespace of the body, the service account. */
static json_t *token_read(struct token_req *t)
{
  struct api_req *ar = t->ar;
  json_t *st = NULL;
  t->body = api_decode_body(ar, &st, NULL);
  if (!t->body) return st;
  const char *k = kj_get_str(t->body, "kind"), *av = kj_get_str(t->body, "apiVersion");
  if ((k && *k && strcmp(k, "TokenRequest")) || (av && *av && strcmp(av, "authentication.k8s.io/v1")))
    return kstatus_bad_request("the object provided is unrecognized (must be of type TokenRequest): %s, %s",
                               av ? av : "", k ? k : "");
  const struct stype *type = schema_kind(ar->srv->schema, "authentication.k8s.io", "v1", "TokenRequest");
  char err[1024];
  if (type && schema_decode(ar->srv->schema, type, t->body, NULL, err, sizeof err) < 0)
    return kstatus_bad_request("TokenRequest in version \"v1\" cannot be handled as a TokenRequest: %s", err);
  const char *name = kj_get_str(t->body, "metadata.name"), *ns = kj_get_str(t->body, "metadata.namespace");
  if (name && *name && strcmp(name, ar->rt.name))
    return token_invalid(ar->rt.name, "metadata.name",
                         "Invalid value: \"%s\": must match the service account name if specified", name);
  if (ns && *ns && strcmp(ns, ar->rt.ns))
    return token_invalid(ar->rt.name, "metadata.namespace",
                         "Invalid value: \"%s\": must match the service account namespace if specified", ns);
  t->sa = get_obj(ar->srv, &reg_serviceaccounts, ar->rt.ns, ar->rt.name);
  if (!t->sa) return api_not_found(ar, ar->rt.name);
  return NULL;
}

/* Defaults and upstream's ValidateTokenRequest and maximum. */
static json_t *token_spec(struct token_req *t)
{
  struct api_req *ar = t->ar;
  json_t *spec = kj_obj(t->body, "spec");
  json_t *auds = json_object_get(spec, "audiences");
  if (json_array_size(auds) == 0) {
    json_t *dflt = json_array();
    char *list = xstrdup(ar->srv->cfg.api_audiences), *save = NULL;
    for (char *a = list ? strtok_r(list, ",", &save) : NULL; a; a = strtok_r(NULL, ",", &save))
      json_array_append_new(dflt, json_string(a));
    free(list);
    json_object_set_new(spec, "audiences", dflt);
  }
  json_t *exp = json_object_get(spec, "expirationSeconds");
  t->expiration = json_is_integer(exp) ? json_integer_value(exp) : TOKEN_DEFAULT_EXPIRATION_S;
  json_object_set_new(spec, "expirationSeconds", json_integer(t->expiration));
  char v[32];
  snprintf(v, sizeof v, "%lld", (long long)t->expiration);
  if (t->expiration < TOKEN_MIN_EXPIRATION_S)
    return token_invalid("", "spec.expirationSeconds",
                         "Invalid value: %s: may not specify a duration less than 10 minutes", v);
  if (t->expiration > TOKEN_MAX_EXPIRATION_S)
    return token_invalid("", "spec.expirationSeconds",
                         "Invalid value: %s: may not specify a duration larger than 2^32 seconds", v);
  int64_t max = ar->srv->cfg.service_account_max_token_expiration_s;
  if (max > 0 && t->expiration > max) {
    char w[160];
    snprintf(w, sizeof w, "requested expiration of %lld seconds shortened to %lld seconds", (long long)t->expiration,
             (long long)max);
    api_add_warning(ar, w);
    t->expiration = max;
    json_object_set_new(spec, "expirationSeconds", json_integer(max));
  }
  return NULL;
}

/* Admission of the TokenRequest (NodeRestriction). */
static json_t *token_admit(struct token_req *t)
{
  struct api_req *ar = t->ar;
  struct reg_request rq = {.srv = ar->srv,
                           .verb = "create",
                           .subresource = "token",
                           .namespace_ = ar->rt.ns,
                           .name = ar->rt.name,
                           .user = "system:admin",
                           .auth = ar->user,
                           .res = &reg_serviceaccounts};
  return admission_node_restriction(&rq, &reg_serviceaccounts, t->body, NULL);
}

/* The bound object: it must exist, and a pod must run as this account. */
static json_t *token_bound(struct token_req *t)
{
  struct api_req *ar = t->ar;
  json_t *ref = kj_get(t->body, "spec.boundObjectRef");
  if (!json_is_object(ref)) return NULL;
  const char *kind = reg_str_or(kj_get_str(ref, "kind"), ""), *av = reg_str_or(kj_get_str(ref, "apiVersion"), "");
  const char *name = reg_str_or(kj_get_str(ref, "name"), ""), *uid = kj_get_str(ref, "uid");
  bool core = !*av || !strcmp(av, "v1");
  const struct resource *res = !core                     ? NULL
                               : !strcmp(kind, "Pod")    ? &reg_pods
                               : !strcmp(kind, "Node")   ? &reg_nodes
                               : !strcmp(kind, "Secret") ? &reg_secrets
                                                         : NULL;
  if (!res) /* the reference as Go prints a GroupVersionKind */
    return kstatus_bad_request("cannot bind token to object of type %s%s, Kind=%s", strchr(av, '/') ? "" : "/", av,
                               kind);
  t->bound_kind = kind;
  t->bound = get_obj(ar->srv, res, res->namespaced ? ar->rt.ns : NULL, name);
  if (!t->bound) return kstatus_not_found(res->group, res->plural, name);
  if (res == &reg_pods) {
    const char *podsa = kj_get_str(t->bound, "spec.serviceAccountName");
    if (!podsa || strcmp(podsa, ar->rt.name))
      return kstatus_bad_request(
          "cannot bind token for serviceaccount \"%s\" to pod running with different serviceaccount name.",
          ar->rt.name);
    const char *node = kj_get_str(t->bound, "spec.nodeName");
    if (node && *node) t->node = get_obj(ar->srv, &reg_nodes, NULL, node);
  }
  const char *have = kj_get_str(t->bound, "metadata.uid");
  if (uid && *uid && (!have || strcmp(uid, have))) {
    char msg[300];
    snprintf(msg, sizeof msg,
             "the UID in the bound object reference (%s) does not match the UID in record. The object might have been "
             "deleted and then recreated",
             uid);
    return kstatus_conflict("", kind, name, msg);
  }
  return NULL;
}

static json_t *name_uid(const json_t *obj)
{
  return json_pack("{s:s,s:s}", "name", reg_str_or(kj_get_str(obj, "metadata.name"), ""), "uid",
                   reg_str_or(kj_get_str(obj, "metadata.uid"), ""));
}

/* The audiences are exactly the API server's own. */
static bool api_audiences(const struct apiserver *srv, const json_t *auds)
{
  char *list = xstrdup(srv->cfg.api_audiences), *save = NULL;
  size_t n = 0;
  bool all = true;
  for (char *a = list ? strtok_r(list, ",", &save) : NULL; a; a = strtok_r(NULL, ",", &save)) {
    bool found = false;
    size_t i;
    json_t *v;
    json_array_foreach (auds, i, v) found = found || (json_is_string(v) && !strcmp(json_string_value(v), a));
    all = all && found;
    n++;
  }
  free(list);
  return all && n == json_array_size(auds);
}

/* upstream's token.Claims plus the issuer; new reference. */
static json_t *token_claims(struct token_req *t, int64_t now)
{
  struct apiserver *srv = t->ar->srv;
  int64_t exp = t->expiration, warnafter = 0;
  bool pod = t->bound && !strcmp(t->bound_kind, "Pod");
  if (srv->cfg.service_account_extend_token_expiration && pod && exp == TOKEN_KUBELET_EXPIRATION_S &&
      api_audiences(srv, kj_get(t->body, "spec.audiences"))) {
    warnafter = exp;
    exp = TOKEN_EXTENDED_EXPIRATION_S;
  }
  char sub[600], jti[37];
  snprintf(sub, sizeof sub, "system:serviceaccount:%s:%s", t->ar->rt.ns, t->ar->rt.name);
  names_uuid(jti);
  json_t *k8s = json_pack("{s:s,s:o}", "namespace", t->ar->rt.ns, "serviceaccount", name_uid(t->sa));
  if (t->bound) {
    const char *slot = pod ? "pod" : !strcmp(t->bound_kind, "Node") ? "node" : "secret";
    json_object_set_new(k8s, slot, name_uid(t->bound));
  }
  if (t->node) json_object_set_new(k8s, "node", name_uid(t->node));
  if (warnafter) json_object_set_new(k8s, "warnafter", json_integer(now + warnafter));
  return json_pack("{s:O,s:I,s:I,s:s,s:s,s:o,s:I,s:s}", "aud", kj_get(t->body, "spec.audiences"), "exp",
                   (json_int_t)(now + exp), "iat", (json_int_t)now, "iss", srv->cfg.service_account_issuer, "jti", jti,
                   "kubernetes.io", k8s, "nbf", (json_int_t)now, "sub", sub);
}

/* The TokenRequest answered, as upstream's encoding prints it; new
 * reference. */
static json_t *token_answer(struct token_req *t, int64_t now, const char *jwt)
{
  struct api_req *ar = t->ar;
  char created[40], expires[40];
  json_t *meta = kj_deep_copy(kj_get(t->body, "metadata")), *spec = kj_get(t->body, "spec");
  if (!json_is_object(meta)) {
    json_decref(meta);
    meta = json_object();
  }
  json_object_set_new(meta, "name", json_string(ar->rt.name));
  json_object_set_new(meta, "namespace", json_string(ar->rt.ns));
  json_object_set_new(meta, "creationTimestamp", json_string(ktime_format((time_t)now, created)));
  json_t *out = json_pack("{s:s,s:s,s:o,s:{s:O,s:I,s:O*},s:{s:s,s:s}}", "kind", "TokenRequest", "apiVersion",
                          "authentication.k8s.io/v1", "metadata", meta, "spec", "audiences",
                          json_object_get(spec, "audiences"), "expirationSeconds", (json_int_t)t->expiration,
                          "boundObjectRef", json_object_get(spec, "boundObjectRef"), "status", "token", jwt,
                          "expirationTimestamp", ktime_format((time_t)(now + t->expiration), expires));
  const struct stype *type = schema_kind(ar->srv->schema, "authentication.k8s.io", "v1", "TokenRequest");
  char err[256];
  if (type && schema_decode(ar->srv->schema, type, out, NULL, err, sizeof err) < 0)
    KLOG_E("the TokenRequest answer does not encode: %s", err);
  return out;
}

void api_handle_token_request(struct api_req *ar)
{
  ar->verb = "create";
  struct token_req t = {.ar = ar};
  json_t *st = NULL;
  if (!ar->srv->sa_signer) st = kstatus_new(404, "NotFound", "the server could not find the requested resource");
  else if (!(st = token_read(&t)) && !(st = token_spec(&t)) && !(st = token_admit(&t))) st = token_bound(&t);
  if (!st) {
    int64_t now = ktime_now_us() / 1000000;
    json_t *claims = token_claims(&t, now);
    char *jwt = sign_jwt(ar->srv->sa_signer, claims);
    json_decref(claims);
    if (!jwt) {
      st = kstatus_internal("failed to generate token");
    } else {
      api_reply_obj(ar, 201, token_answer(&t, now, jwt));
      free(jwt);
    }
  }
  if (st) api_reply_status(ar, st);
  json_decref(t.body);
  json_decref(t.sa);
  json_decref(t.bound);
  json_decref(t.node);
}

/* ---- verification ---- */

/* Decodes one base64url JWT segment; new reference to its JSON or NULL. */
static json_t *jwt_segment(const char *s, size_t len)
{
  unsigned char *raw = NULL;
  size_t rawlen = 0, bad = 0;
  if (kb64_decode(s, len, KB64_RAW_URL, &raw, &rawlen, &bad) < 0) return NULL;
  json_t *v = kj_loadb((const char *)raw, rawlen, false, NULL, 0);
  free(raw);
  return json_is_object(v) ? v : (json_decref(v), NULL);
}

static bool jwt_signature_ok(EVP_PKEY *key, const char *input, size_t inlen, const unsigned char *sig, size_t siglen)
{
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  bool ok = md && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key) == 1 &&
            EVP_DigestVerify(md, sig, siglen, (const unsigned char *)input, inlen) == 1;
  EVP_MD_CTX_free(md);
  return ok;
}

json_t *api_sa_jwt_verify(struct apiserver *srv, const char *jwt, char *err, size_t errlen)
{
  const struct sa_signer *s = srv->sa_signer;
  const char *d1 = strchr(jwt, '.'), *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
  if (!s || !d1 || !d2 || strchr(d2 + 1, '.')) {
    snprintf(err, errlen, "not a JWT");
    return NULL;
  }
  json_t *hdr = jwt_segment(jwt, (size_t)(d1 - jwt)), *claims = NULL;
  const char *alg = json_string_value(json_object_get(hdr, "alg"));
  const char *kid = json_string_value(json_object_get(hdr, "kid"));
  unsigned char *sig = NULL;
  size_t siglen = 0, bad = 0;
  if (!alg || strcmp(alg, "RS256") != 0) snprintf(err, errlen, "unsupported JWT algorithm");
  else if (kb64_decode(d2 + 1, strlen(d2 + 1), KB64_RAW_URL, &sig, &siglen, &bad) < 0)
    snprintf(err, errlen, "malformed JWT signature");
  else {
    bool ok = false;
    for (size_t i = 0; i < s->npub && !ok; i++)
      if (!kid || !strcmp(kid, s->pub[i].kid))
        ok = jwt_signature_ok(s->pub[i].key, jwt, (size_t)(d2 - jwt), sig, siglen);
    if (!ok) snprintf(err, errlen, "invalid signature");
    else if (!(claims = jwt_segment(d1 + 1, (size_t)(d2 - d1 - 1)))) snprintf(err, errlen, "malformed JWT claims");
  }
  free(sig);
  json_decref(hdr);
  return claims;
}
