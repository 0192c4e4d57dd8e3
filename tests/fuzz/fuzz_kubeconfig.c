/*
 * fuzz_kubeconfig.c - libFuzzer target: kubeconfig loading
 * (kube/kubeconfig.h), from a file (kubeconfig_load: read, YAML, then the
 * document) and from the parsed document (kubeconfig_from_json).
 *
 * Each input is written to a kubeconfig file in a private temporary
 * directory that also holds a CA, a client certificate, a key and a token
 * file, so relative file references resolve there.  Inputs that name
 * absolute paths or climb out with ".." are skipped: the loader reads
 * what a trusted kubeconfig names (a device would block the run), and
 * that is not what this target tests.  Checks: success fills a server
 * (or fails with a message), and the result frees cleanly.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "fuzz_util.h"
#include "kube/kubeconfig.h"
#include "kube/restclient.h"
#include "kube/yaml.h"

static char dir[64];
static char path[96];

static void put(const char *name, const char *text)
{
  char p[128];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  FILE *f = fopen(p, "w");
  if (!f || fputs(text, f) < 0 || fclose(f) != 0) abort();
}

static void remove_dir(void)
{
  static const char *const names[] = {"config", "ca.crt", "client.crt", "client.key", "token"};
  char p[128];
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    snprintf(p, sizeof p, "%s/%s", dir, names[i]);
    unlink(p);
  }
  rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
  snprintf(dir, sizeof dir, "/tmp/fuzz_kubeconfig.XXXXXX");
  if (!mkdtemp(dir)) abort();
  atexit(remove_dir);
  snprintf(path, sizeof path, "%s/config", dir);
  put("ca.crt", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
  put("client.crt", "-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----\n");
  put("client.key", "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n");
  put("token", "abc.def\n");
  return 0;
}

/* Any string value that is absolute or climbs out of the directory. */
static bool names_outside(const json_t *v)
{
  if (json_is_string(v)) {
    const char *s = json_string_value(v);
    return s[0] == '/' || strstr(s, "..") != NULL;
  }
  const char *k;
  json_t *m;
  size_t i;
  if (json_is_object(v)) {
    json_object_foreach((json_t *)v, k, m) if (names_outside(m)) return true;
  } else if (json_is_array(v)) {
    json_array_foreach(v, i, m) if (names_outside(m)) return true;
  }
  return false;
}

static void check(int rc, struct rest_config *cfg, const char *err)
{
  if (rc == 0) FUZZ_CHECK(cfg->server != NULL, "loaded without a server");
  else FUZZ_CHECK(err[0] != '\0' || rc == -ENOMEM, "failed (%d) without a message", rc);
  rest_config_free(cfg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char err[512] = "";
  json_t *doc = kyaml_load((const char *)data, size, err, sizeof err);
  if (!doc) return 0; /* YAML itself is fuzz_yaml's */
  if (names_outside(doc)) {
    json_decref(doc);
    return 0;
  }
  struct rest_config cfg;
  err[0] = '\0';
  check(kubeconfig_from_json(doc, dir, NULL, NULL, &cfg, err, sizeof err), &cfg, err);
  err[0] = '\0';
  check(kubeconfig_from_json(doc, dir, "ctx", "http://127.0.0.1:8080", &cfg, err, sizeof err), &cfg, err);
  json_decref(doc);

  FILE *f = fopen(path, "w");
  if (!f) abort();
  if (size && fwrite(data, 1, size, f) != size) abort();
  if (fclose(f) != 0) abort();
  err[0] = '\0';
  check(kubeconfig_load(path, NULL, NULL, &cfg, err, sizeof err), &cfg, err);
  return 0;
}
