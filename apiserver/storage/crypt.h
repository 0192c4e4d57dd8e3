/*
 * crypt.h - values encrypted at rest (upstream's EncryptionConfiguration
 * transformers), applied by the SQLite backend to the bytes it writes and
 * reads; the cache, watches and every reader above storage see plaintext.
 *
 * A rule names key prefixes ("/registry/secrets/") and providers in
 * order.  Writes use the first provider (identity: as they are); reads
 * pick the provider and key by the value's prefix
 * "k8s:enc:PROVIDER:v1:KEYNAME:", and a value without the "k8s:enc:"
 * prefix is read as plaintext only when identity is among the providers.
 * That is what makes upstream's key rotation work: add a key second,
 * restart, move it first, restart, rewrite every object, drop the old one.
 *
 *   aescbc    IV(16) || AES-CBC(PKCS#7(value))             keys 16/24/32 bytes
 *   aesgcm    nonce(12) || AES-GCM(value, AAD = the key)   keys 16/24/32 bytes
 *   secretbox nonce(24) || XSalsa20-Poly1305(value)        keys 32 bytes (libsodium)
 *
 * The structure is immutable once built, so the commit thread and the
 * loop thread both use it without a lock.
 */
#ifndef APISERVER_STORAGE_CRYPT_H
#define APISERVER_STORAGE_CRYPT_H

#include <stdbool.h>
#include <stddef.h>

enum crypt_kind { CRYPT_IDENTITY = 0, CRYPT_AESCBC, CRYPT_AESGCM, CRYPT_SECRETBOX };

struct crypt_key {
  char *name;
  unsigned char secret[32];
  size_t len;
};

struct crypt_provider {
  enum crypt_kind kind;
  struct crypt_key *keys; /* the first encrypts */
  size_t nkeys;
};

struct crypt_rule {
  char **prefixes; /* storage key prefixes, "/registry/secrets/" */
  size_t nprefixes;
  struct crypt_provider *providers;
  size_t nproviders;
};

struct storage_crypt {
  struct crypt_rule *rules; /* the first rule whose prefix matches a key applies */
  size_t nrules;
};

void storage_crypt_free(struct storage_crypt *c);
const char *crypt_kind_name(enum crypt_kind k); /* "aescbc" ... */

/* The value to store for key: 1 with a new buffer in *out (free()), 0 when
 * it is stored as it is, -1 on failure (message in err). */
int storage_crypt_encode(const struct storage_crypt *c, const char *key, const char *in, size_t len, char **out,
                         size_t *outlen, char *err, size_t errlen);
/* The plaintext of a stored value: 1 with a new NUL-terminated buffer in
 * *out, 0 when the value is plaintext, -1 when no listed provider and key
 * can read it (message in err).  *stale: the value was not written the way
 * a write would now write it (another key or provider), so an update must
 * rewrite it even when the object is unchanged (upstream's stale read). */
int storage_crypt_decode(const struct storage_crypt *c, const char *key, const char *in, size_t len, char **out,
                         size_t *outlen, bool *stale, char *err, size_t errlen);

#endif
