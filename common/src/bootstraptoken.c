/*
 * bootstraptoken.c - bootstrap token Secrets and their detached JWS
 * (kube/bootstraptoken.h).
 */
#include "kube/bootstraptoken.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "kube/base64.h"
#include "kube/timeutil.h"
#include "kube/xalloc.h"

bool bootstrap_token_part_valid(const char *s, size_t n)
{
  if (!s || strlen(s) != n) return false;
  for (size_t i = 0; i < n; i++)
    if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9'))) return false;
  return true;
}

bool bootstrap_token_id_from_name(const char *name, char id[7])
{
  size_t plen = strlen(BOOTSTRAP_TOKEN_SECRET_PREFIX);
  if (!name || strncmp(name, BOOTSTRAP_TOKEN_SECRET_PREFIX, plen) != 0) return false;
  if (!bootstrap_token_part_valid(name + plen, 6)) return false;
  memcpy(id, name + plen, 7);
  return true;
}

char *bootstrap_secret_data(const json_t *secret, const char *key)
{
  const char *b64 = json_string_value(json_object_get(json_object_get(secret, "data"), key));
  unsigned char *out = NULL;
  size_t outlen = 0, bad = 0;
  if (!b64 || kb64_decode(b64, strlen(b64), KB64_STD, &out, &outlen, &bad) < 0) return NULL;
  return (char *)out;
}

bool bootstrap_secret_flag(const json_t *secret, const char *key)
{
  char *v = bootstrap_secret_data(secret, key);
  bool on = v && !strcmp(v, "true");
  free(v);
  return on;
}

int bootstrap_secret_expiration(const json_t *secret, int64_t *exp_us)
{
  char *exp = bootstrap_secret_data(secret, "expiration");
  if (!exp) return 1;
  int rc = ktime_parse(exp, exp_us) == 0 ? 0 : -1;
  free(exp);
  return rc;
}

char *bootstrap_jws_detached(const char *content, size_t len, const char *id, const char *secret)
{
  char header[64];
  snprintf(header, sizeof header, "{\"alg\":\"HS256\",\"kid\":\"%s\"}", id);
  char *h64 = kb64_encode(header, strlen(header), KB64_RAW_URL);
  char *p64 = kb64_encode(content, len, KB64_RAW_URL);
  size_t inlen = strlen(h64) + 1 + strlen(p64);
  char *input = xmalloc(inlen + 1);
  snprintf(input, inlen + 1, "%s.%s", h64, p64);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int maclen = 0;
  HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)input, inlen, mac, &maclen);
  char *s64 = kb64_encode(mac, maclen, KB64_RAW_URL);
  size_t outlen = strlen(h64) + 2 + strlen(s64);
  char *out = xmalloc(outlen + 1);
  snprintf(out, outlen + 1, "%s..%s", h64, s64);
  free(h64);
  free(p64);
  free(input);
  free(s64);
  return out;
}
