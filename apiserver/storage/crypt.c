/*
 * crypt.c - the at-rest transformers of crypt.h (OpenSSL's EVP for AES,
 * libsodium for secretbox).
 */
#define _GNU_SOURCE
#include "storage/crypt.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kube/xalloc.h>

#define ENC_PREFIX "k8s:enc:"
#define CBC_IV 16
#define GCM_NONCE 12
#define GCM_TAG 16

const char *crypt_kind_name(enum crypt_kind k)
{
  static const char *const names[] = {"identity", "aescbc", "aesgcm", "secretbox"};
  return names[k];
}

void storage_crypt_free(struct storage_crypt *c)
{
  if (!c) return;
  for (size_t r = 0; r < c->nrules; r++) {
    struct crypt_rule *rule = &c->rules[r];
    for (size_t i = 0; i < rule->nprefixes; i++) free(rule->prefixes[i]);
    free(rule->prefixes);
    for (size_t p = 0; p < rule->nproviders; p++) {
      for (size_t k = 0; k < rule->providers[p].nkeys; k++) {
        free(rule->providers[p].keys[k].name);
        OPENSSL_cleanse(rule->providers[p].keys[k].secret, sizeof(rule->providers[p].keys[k].secret));
      }
      free(rule->providers[p].keys);
    }
    free(rule->providers);
  }
  free(c->rules);
  free(c);
}

static const struct crypt_rule *rule_for(const struct storage_crypt *c, const char *key)
{
  for (size_t r = 0; c && r < c->nrules; r++)
    for (size_t i = 0; i < c->rules[r].nprefixes; i++)
      if (!strncmp(key, c->rules[r].prefixes[i], strlen(c->rules[r].prefixes[i]))) return &c->rules[r];
  return NULL;
}

static const EVP_CIPHER *aes(enum crypt_kind kind, size_t keylen)
{
  if (kind == CRYPT_AESCBC)
    return keylen == 16 ? EVP_aes_128_cbc() : keylen == 24 ? EVP_aes_192_cbc() : EVP_aes_256_cbc();
  return keylen == 16 ? EVP_aes_128_gcm() : keylen == 24 ? EVP_aes_192_gcm() : EVP_aes_256_gcm();
}

/* ---------- sealing ---------- */

/* prefix || IV || ciphertext (CBC) or prefix || nonce || ciphertext || tag (GCM). */
static int seal_aes(enum crypt_kind kind, const struct crypt_key *k, const char *aad, const unsigned char *in,
                    size_t len, unsigned char *out, size_t *outlen)
{
  size_t ivlen = kind == CRYPT_AESCBC ? CBC_IV : GCM_NONCE;
  if (RAND_bytes(out, (int)ivlen) != 1) return -1;
  EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
  int n1 = 0, n2 = 0, ok = x && EVP_EncryptInit_ex(x, aes(kind, k->len), NULL, k->secret, out) == 1;
  if (ok && kind == CRYPT_AESGCM) ok = EVP_EncryptUpdate(x, NULL, &n1, (const unsigned char *)aad, (int)strlen(aad));
  ok = ok && EVP_EncryptUpdate(x, out + ivlen, &n1, in, (int)len) == 1 &&
       EVP_EncryptFinal_ex(x, out + ivlen + n1, &n2) == 1;
  size_t total = ivlen + (size_t)n1 + (size_t)n2;
  if (ok && kind == CRYPT_AESGCM) {
    ok = EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_GET_TAG, GCM_TAG, out + total) == 1;
    total += GCM_TAG;
  }
  EVP_CIPHER_CTX_free(x);
  *outlen = total;
  return ok ? 0 : -1;
}

static int seal_box(const struct crypt_key *k, const unsigned char *in, size_t len, unsigned char *out,
                    size_t *outlen)
{
  randombytes_buf(out, crypto_secretbox_NONCEBYTES);
  if (crypto_secretbox_easy(out + crypto_secretbox_NONCEBYTES, in, len, out, k->secret) != 0) return -1;
  *outlen = crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + len;
  return 0;
}

int storage_crypt_encode(const struct storage_crypt *c, const char *key, const char *in, size_t len, char **out,
                         size_t *outlen, char *err, size_t errlen)
{
  const struct crypt_rule *rule = rule_for(c, key);
  if (!rule || !rule->nproviders || rule->providers[0].kind == CRYPT_IDENTITY) return 0;
  const struct crypt_provider *p = &rule->providers[0];
  const struct crypt_key *k = &p->keys[0];
  char prefix[300];
  int plen = snprintf(prefix, sizeof prefix, ENC_PREFIX "%s:v1:%s:", crypt_kind_name(p->kind), k->name);
  unsigned char *buf = xcalloc(1, (size_t)plen + len + 64 + 1);
  memcpy(buf, prefix, (size_t)plen);
  size_t n = 0;
  int rc = p->kind == CRYPT_SECRETBOX ? seal_box(k, (const unsigned char *)in, len, buf + plen, &n)
                                      : seal_aes(p->kind, k, key, (const unsigned char *)in, len, buf + plen, &n);
  if (rc < 0) {
    snprintf(err, errlen, "%s: encryption with key %s failed", crypt_kind_name(p->kind), k->name);
    free(buf);
    return -1;
  }
  *out = (char *)buf;
  *outlen = (size_t)plen + n;
  return 1;
}

/* ---------- opening ---------- */

static int open_aes(enum crypt_kind kind, const struct crypt_key *k, const char *aad, const unsigned char *in,
                    size_t len, unsigned char *out, size_t *outlen)
{
  size_t ivlen = kind == CRYPT_AESCBC ? CBC_IV : GCM_NONCE, tag = kind == CRYPT_AESGCM ? GCM_TAG : 0;
  if (len < ivlen + tag || (kind == CRYPT_AESCBC && (len - ivlen) % 16)) return -1;
  size_t body = len - ivlen - tag;
  EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
  int n1 = 0, n2 = 0, ok = x && EVP_DecryptInit_ex(x, aes(kind, k->len), NULL, k->secret, in) == 1;
  if (ok && kind == CRYPT_AESGCM)
    ok = EVP_DecryptUpdate(x, NULL, &n1, (const unsigned char *)aad, (int)strlen(aad)) == 1 &&
         EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_SET_TAG, GCM_TAG, (void *)(in + ivlen + body)) == 1;
  ok = ok && EVP_DecryptUpdate(x, out, &n1, in + ivlen, (int)body) == 1 && EVP_DecryptFinal_ex(x, out + n1, &n2) == 1;
  EVP_CIPHER_CTX_free(x);
  *outlen = (size_t)n1 + (size_t)n2;
  return ok ? 0 : -1;
}

static int open_box(const struct crypt_key *k, const unsigned char *in, size_t len, unsigned char *out, size_t *outlen)
{
  if (len < crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES) return -1;
  const unsigned char *nonce = in;
  in += crypto_secretbox_NONCEBYTES;
  len -= crypto_secretbox_NONCEBYTES;
  if (crypto_secretbox_open_easy(out, in, len, nonce, k->secret) != 0) return -1;
  *outlen = len - crypto_secretbox_MACBYTES;
  return 0;
}

/* The provider of kind with a key named name, or NULL. */
static const struct crypt_key *find_key(const struct crypt_rule *rule, const char *kind, size_t kindlen,
                                        const char *name, size_t namelen, enum crypt_kind *k)
{
  for (size_t p = 0; p < rule->nproviders; p++) {
    const char *kn = crypt_kind_name(rule->providers[p].kind);
    if (strlen(kn) != kindlen || strncmp(kn, kind, kindlen) != 0) continue;
    for (size_t i = 0; i < rule->providers[p].nkeys; i++) {
      const struct crypt_key *key = &rule->providers[p].keys[i];
      if (strlen(key->name) == namelen && !strncmp(key->name, name, namelen)) {
        *k = rule->providers[p].kind;
        return key;
      }
    }
  }
  return NULL;
}

static bool has_identity(const struct crypt_rule *rule)
{
  for (size_t p = 0; p < rule->nproviders; p++)
    if (rule->providers[p].kind == CRYPT_IDENTITY) return true;
  return false;
}

int storage_crypt_decode(const struct storage_crypt *c, const char *key, const char *in, size_t len, char **out,
                         size_t *outlen, bool *stale, char *err, size_t errlen)
{
  const struct crypt_rule *rule = rule_for(c, key);
  bool enc = len > strlen(ENC_PREFIX) && !memcmp(in, ENC_PREFIX, strlen(ENC_PREFIX));
  bool identity_first = !rule || !rule->nproviders || rule->providers[0].kind == CRYPT_IDENTITY;
  *stale = enc == identity_first;
  if (!enc) {
    if (!rule || has_identity(rule)) return 0;
    snprintf(err, errlen, "%s: no matching prefix found (the value is not encrypted and identity is not a provider)",
             key);
    return -1;
  }
  /* k8s:enc:KIND:v1:NAME: */
  const char *kind = in + strlen(ENC_PREFIX), *end = in + len;
  const char *v = memchr(kind, ':', (size_t)(end - kind));
  const char *name = v && end - v > 4 && !memcmp(v, ":v1:", 4) ? v + 4 : NULL;
  const char *colon = name ? memchr(name, ':', (size_t)(end - name)) : NULL;
  enum crypt_kind k = CRYPT_IDENTITY;
  const struct crypt_key *ck =
      rule && colon ? find_key(rule, kind, (size_t)(v - kind), name, (size_t)(colon - name), &k) : NULL;
  if (!ck) {
    snprintf(err, errlen, "%s: no matching prefix found (no provider and key of the configuration wrote it)", key);
    return -1;
  }
  const unsigned char *body = (const unsigned char *)colon + 1;
  size_t blen = (size_t)(end - (const char *)body), n = 0;
  unsigned char *buf = xcalloc(1, blen + 1);
  int rc = k == CRYPT_SECRETBOX ? open_box(ck, body, blen, buf, &n) : open_aes(k, ck, key, body, blen, buf, &n);
  if (rc < 0) {
    snprintf(err, errlen, "%s: decryption with %s key %s failed", key, crypt_kind_name(k), ck->name);
    free(buf);
    return -1;
  }
  buf[n] = 0;
  *out = (char *)buf;
  *outlen = n;
  *stale = identity_first || ck != &rule->providers[0].keys[0];
  return 1;
}
