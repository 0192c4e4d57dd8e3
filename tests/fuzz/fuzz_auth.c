/*
 * fuzz_auth.c - libFuzzer target: what an unauthenticated client (or the
 * operator's files) reach in the API server's secure port
 * (apiserver/auth/, apiserver/encryption_config.c):
 *
 *   byte 0 % 4 == 0  bearer tokens: the token chain (token file users,
 *                    then the service account JWT path: header, base64,
 *                    signature against a key made at start; the claims
 *                    are only read after a valid signature, which the
 *                    fuzzer cannot forge)
 *                 1  request attributes (authz_request_info_parse of
 *                    "METHOD\nPATH\nWATCH\nFIELDSELECTOR"); checks that
 *                    every field is NUL-terminated within its buffer and
 *                    that a resource request has a resource
 *                 2  a --token-auth-file CSV
 *                 3  an --encryption-provider-config document
 *
 * Checks: no crash, no leak (ASan), and the invariants above.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apiserver.h"
#include "auth/authn.h"
#include "encryption_config.h"
#include "fuzz_util.h"
#include "storage/crypt.h"

static struct apiserver srv;
static char dir[64];

/* The key the signer made, the files the inputs were written to, and the
 * directory: removed when the fuzzer exits. */
static void remove_dir(void)
{
  static const char *const files[] = {"sa.key", "sa.key.tmp", "tokens.csv", "enc.yaml"};
  char p[128];
  for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
    snprintf(p, sizeof p, "%s/%s", dir, files[i]);
    unlink(p);
  }
  rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
  (void)argc;
  (void)argv;
  snprintf(dir, sizeof dir, "/tmp/fuzz_auth.XXXXXX");
  if (!mkdtemp(dir)) abort();
  atexit(remove_dir);
  srv.cfg.data_dir = dir;
  srv.cfg.service_account_issuer = "https://kubernetes.default.svc.cluster.local";
  srv.cfg.api_audiences = "https://kubernetes.default.svc.cluster.local";
  srv.cfg.service_account_signing_key_file = "";
  srv.cfg.service_account_key_file = "";
  char err[256];
  if (api_sa_signer_setup(&srv, err, sizeof err) != 0) abort();
  struct authn_config ac = {.anonymous = true, .service_account_lookup = true, .authorization_mode = "RBAC"};
  if (authn_setup(&srv, &ac, err, sizeof err) != 0) abort();
  return 0;
}

static void tokens(const uint8_t *data, size_t size)
{
  char *tok = fuzz_strndup(data, size), err[256] = "";
  struct auth_user *u = authn_token(&srv, tok, NULL, err, sizeof err);
  FUZZ_CHECK(!u, "a random token authenticated as %s", u->name);
  FUZZ_CHECK(err[0], "a refused token without a reason");
  free(tok);
}

static void request_info(const uint8_t *data, size_t size)
{
  const uint8_t *rest;
  size_t n;
  char *method = fuzz_split(data, size, '\n', &rest, &n);
  char *path = fuzz_split(rest, n, '\n', &rest, &n);
  char *watch = fuzz_split(rest, n, '\n', &rest, &n);
  char *fsel = fuzz_strndup(rest, n);
  struct authz_request_info ri;
  authz_request_info_parse(method, path, watch, fsel, &ri);
  FUZZ_CHECK(memchr(ri.verb, 0, sizeof ri.verb) && memchr(ri.name, 0, sizeof ri.name) &&
                 memchr(ri.ns, 0, sizeof ri.ns) && memchr(ri.resource, 0, sizeof ri.resource),
             "unterminated field");
  FUZZ_CHECK(!ri.resource_request || ri.resource[0], "a resource request without a resource");
  struct authz_attrs a;
  authz_attrs_from_info(&ri, NULL, path, &a);
  free(method);
  free(path);
  free(watch);
  free(fsel);
}

/* Writes data to DIR/name; the path in out. */
static void to_file(const char *name, const uint8_t *data, size_t size, char *out, size_t outlen)
{
  snprintf(out, outlen, "%s/%s", dir, name);
  FILE *f = fopen(out, "w");
  if (!f) abort();
  if (size && fwrite(data, 1, size, f) != size) abort();
  fclose(f);
}

static void token_file(const uint8_t *data, size_t size)
{
  char path[128], err[512];
  to_file("tokens.csv", data, size, path, sizeof path);
  struct apiserver s = {0};
  struct authn_config ac = {.token_auth_file = path, .authorization_mode = "Node,RBAC"};
  if (authn_setup(&s, &ac, err, sizeof err) == 0) authn_free(&s);
  else FUZZ_CHECK(err[0], "a refused token file without a message");
}

static void encryption_config(const uint8_t *data, size_t size)
{
  char path[128], err[512] = "";
  to_file("enc.yaml", data, size, path, sizeof path);
  struct storage_crypt *c = encryption_config_load(path, err, sizeof err);
  if (!c) FUZZ_CHECK(err[0], "a refused configuration without a message");
  storage_crypt_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size < 1) return 0;
  switch (data[0] % 4) {
  case 0: tokens(data + 1, size - 1); break;
  case 1: request_info(data + 1, size - 1); break;
  case 2: token_file(data + 1, size - 1); break;
  default: encryption_config(data + 1, size - 1); break;
  }
  return 0;
}
