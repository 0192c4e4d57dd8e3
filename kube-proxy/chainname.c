/*
 * chainname.c - chain name hashing (see chainname.h).
 */
#include "kube/xalloc.h"
#include "chainname.h"

#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Standard base32 of the first 10 bytes (80 bits = 16 characters). */
static void base32_16(const unsigned char *in, char *out)
{
  static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  unsigned int buffer = 0;
  int bits = 0, n = 0;
  for (int i = 0; i < 10 && n < 16; i++) {
    buffer = (buffer << 8) | in[i];
    bits += 8;
    while (bits >= 5 && n < 16) {
      out[n++] = alphabet[(buffer >> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  out[16] = 0;
}

static void hash_name(char *out, const char *prefix, const char *a, const char *b, const char *c)
{
  size_t la = strlen(a), lb = strlen(b), lc = c ? strlen(c) : 0;
  char stackbuf[512];
  char *buf = la + lb + lc <= sizeof stackbuf ? stackbuf : xmalloc(la + lb + lc);
  memcpy(buf, a, la);
  memcpy(buf + la, b, lb);
  if (lc) memcpy(buf + la + lb, c, lc);
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256((const unsigned char *)buf, la + lb + lc, digest);
  if (buf != stackbuf) free(buf);
  char enc[17];
  base32_16(digest, enc);
  snprintf(out, KP_CHAIN_NAME_MAX, "%s%s", prefix, enc);
}

void kp_chain_name(char *out, const char *prefix, const char *port_name_string, const char *protocol_lower)
{
  hash_name(out, prefix, port_name_string, protocol_lower, NULL);
}

void kp_endpoint_chain_name(char *out, const char *port_name_string, const char *protocol_lower, const char *endpoint)
{
  hash_name(out, KP_PREFIX_SEP, port_name_string, protocol_lower, endpoint);
}

bool kp_is_service_chain(const char *name)
{
  static const char *const prefixes[] = {KP_PREFIX_SVC, KP_PREFIX_SVL, KP_PREFIX_EXT, KP_PREFIX_FW, KP_PREFIX_SEP};
  for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
    if (!strncmp(name, prefixes[i], strlen(prefixes[i]))) return true;
  return false;
}
