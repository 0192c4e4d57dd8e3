/*
 * encryption_config.c - --encryption-provider-config: an
 * EncryptionConfiguration (apiserver.config.k8s.io/v1, YAML or JSON) read
 * at start into the storage's at-rest transformers (storage/crypt.h).
 *
 * Each resources[] entry names resources ("secrets", "deployments.apps",
 * "*.apps", "*." for every core resource, "*.*" for all) and providers
 * (aescbc, aesgcm, secretbox, identity; kms is refused).  Names are
 * mapped to storage key prefixes through the registry's built-in kinds;
 * "PLURAL.GROUP" of no built-in kind is a custom resource
 * (/registry/GROUP/PLURAL/).  The first entry naming a resource wins, as
 * upstream.  Problems are reported with upstream's field paths and
 * messages, secrets never printed.
 */
#define _GNU_SOURCE
#include "encryption_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kube/base64.h>
#include <kube/fileutil.h>
#include <kube/json.h>
#include <kube/xalloc.h>
#include <kube/yaml.h>

#include "registry/registry.h"
#include "storage/crypt.h"

static void add_prefix(struct crypt_rule *rule, const char *prefix)
{
  for (size_t i = 0; i < rule->nprefixes; i++)
    if (!strcmp(rule->prefixes[i], prefix)) return;
  rule->prefixes = xrealloc(rule->prefixes, (rule->nprefixes + 1) * sizeof(char *));
  rule->prefixes[rule->nprefixes++] = xstrdup(prefix);
}

/* Every storage prefix a resource name covers. */
static void add_resource(struct crypt_rule *rule, const char *name)
{
  const char *dot = strchr(name, '.');
  char plural[256];
  snprintf(plural, sizeof plural, "%.*s", dot ? (int)(dot - name) : (int)strlen(name), name);
  const char *group = dot ? dot + 1 : "";
  bool any_res = !strcmp(plural, "*"), any_group = !strcmp(group, "*");
  size_t n = 0, found = 0;
  const struct resource *const *all = registry_all(&n);
  for (size_t i = 0; i < n; i++) {
    const struct resource *r = all[i];
    if ((any_res || !strcmp(r->plural, plural)) && (any_group || !strcmp(r->group, group))) {
      char p[512];
      snprintf(p, sizeof p, "%s/", r->storage_prefix);
      add_prefix(rule, p);
      found++;
    }
  }
  if (!found && !any_res && *group && !any_group) {
    char p[600];
    snprintf(p, sizeof p, "/registry/%s/%s/", group, plural);
    add_prefix(rule, p);
  }
}

/* One provider's keys; false with err set. */
static bool read_keys(struct crypt_provider *p, const json_t *keys, const char *f, char *err, size_t errlen)
{
  if (!json_array_size(keys)) {
    snprintf(err, errlen, "%s.keys: Required value: keys is a required field", f);
    return false;
  }
  p->keys = xcalloc(json_array_size(keys), sizeof(*p->keys));
  size_t i;
  json_t *k;
  json_array_foreach (keys, i, k) {
    const char *name = json_string_value(json_object_get(k, "name"));
    const char *secret = json_string_value(json_object_get(k, "secret"));
    unsigned char *raw = NULL;
    size_t rawlen = 0, bad = 0;
    size_t want = p->kind == CRYPT_SECRETBOX ? 32 : 0;
    for (size_t j = 0; name && j < p->nkeys; j++)
      if (!strcmp(p->keys[j].name, name)) {
        snprintf(err, errlen, "%s.keys[%zu].name: Duplicate value: \"%s\"", f, i, name);
        return false;
      }
    if (!name || !*name) snprintf(err, errlen, "%s.keys[%zu].name: Required value: key name is required", f, i);
    else if (strchr(name, ':')) snprintf(err, errlen, "%s.keys[%zu].name: Invalid value: \"%s\": should not contain ':'", f, i, name);
    else if (!secret || !*secret) snprintf(err, errlen, "%s.keys[%zu].secret: Required value: secret is required", f, i);
    else if (kb64_decode(secret, strlen(secret), KB64_STD, &raw, &rawlen, &bad) < 0)
      snprintf(err, errlen, "%s.keys[%zu].secret: Invalid value: \"REDACTED\": secrets must be base64 encoded", f, i);
    else if (want ? rawlen != want : (rawlen != 16 && rawlen != 24 && rawlen != 32))
      snprintf(err, errlen,
               "%s.keys[%zu].secret: Invalid value: \"REDACTED\": secret is not of the expected length, got %zu, "
               "expected one of %s",
               f, i, rawlen, want ? "[32]" : "[16 24 32]");
    else {
      struct crypt_key *ck = &p->keys[p->nkeys++];
      ck->name = xstrdup(name);
      memcpy(ck->secret, raw, rawlen);
      ck->len = rawlen;
      free(raw);
      continue;
    }
    free(raw);
    return false;
  }
  return true;
}

static bool read_provider(struct crypt_provider *p, const json_t *pv, const char *f, char *err, size_t errlen)
{
  static const struct {
    const char *field;
    enum crypt_kind kind;
  } kinds[] = {{"identity", CRYPT_IDENTITY}, {"aescbc", CRYPT_AESCBC}, {"aesgcm", CRYPT_AESGCM}, {"secretbox", CRYPT_SECRETBOX}};
  int found = 0;
  const char *which = NULL;
  for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
    if (json_object_get(pv, kinds[i].field)) found++, p->kind = kinds[i].kind, which = kinds[i].field;
  if (json_object_get(pv, "kms")) {
    snprintf(err, errlen, "%s.kms: Forbidden: the kms provider is not supported by this API server", f);
    return false;
  }
  if (found != 1) {
    snprintf(err, errlen,
             found ? "%s: Invalid value: \"REDACTED\": more than one provider specified in a single element, should "
                     "split into different list elements"
                   : "%s: Invalid value: \"REDACTED\": provider does not contain any of the expected providers: KMS, "
                     "AESGCM, AESCBC, Secretbox, Identity",
             f);
    return false;
  }
  if (p->kind == CRYPT_IDENTITY) return true;
  char ff[300];
  snprintf(ff, sizeof ff, "%s.%s", f, which);
  return read_keys(p, json_object_get(json_object_get(pv, which), "keys"), ff, err, errlen);
}

static bool read_rule(struct crypt_rule *rule, const json_t *entry, size_t idx, char *err, size_t errlen)
{
  const json_t *res = json_object_get(entry, "resources"), *provs = json_object_get(entry, "providers");
  if (!json_array_size(res)) {
    snprintf(err, errlen, "resources[%zu].resources: Required value: resources is a required field", idx);
    return false;
  }
  if (!json_array_size(provs)) {
    snprintf(err, errlen, "resources[%zu].providers: Required value: providers is a required field", idx);
    return false;
  }
  size_t i;
  json_t *v;
  json_array_foreach (res, i, v) {
    if (!json_is_string(v)) {
      snprintf(err, errlen, "resources[%zu].resources[%zu]: Invalid value: must be a string", idx, i);
      return false;
    }
    add_resource(rule, json_string_value(v));
  }
  rule->providers = xcalloc(json_array_size(provs), sizeof(*rule->providers));
  json_array_foreach (provs, i, v) {
    char f[64];
    snprintf(f, sizeof f, "resources[%zu].providers[%zu]", idx, i);
    if (!read_provider(&rule->providers[rule->nproviders++], v, f, err, errlen)) return false;
  }
  return true;
}

static json_t *load_doc(const char *path, char *err, size_t errlen)
{
  size_t len = 0;
  char *buf = kfile_read(path, &len);
  if (!buf) {
    snprintf(err, errlen, "cannot read %s", path);
    return NULL;
  }
  char yerr[256] = "";
  json_t *doc = kyaml_load(buf, len, yerr, sizeof yerr);
  free(buf);
  if (!doc) snprintf(err, errlen, "%s: %s", path, yerr);
  return doc;
}

struct storage_crypt *encryption_config_load(const char *path, char *err, size_t errlen)
{
  char e[512] = "";
  json_t *doc = load_doc(path, e, sizeof e);
  const char *kind = json_string_value(json_object_get(doc, "kind"));
  const char *av = json_string_value(json_object_get(doc, "apiVersion"));
  struct storage_crypt *c = xcalloc(1, sizeof(*c));
  const json_t *res = json_object_get(doc, "resources");
  bool ok = doc != NULL;
  if (ok && (!kind || strcmp(kind, "EncryptionConfiguration") || !av || strcmp(av, "apiserver.config.k8s.io/v1"))) {
    snprintf(e, sizeof e, "want kind EncryptionConfiguration of apiVersion apiserver.config.k8s.io/v1");
    ok = false;
  } else if (ok && !json_array_size(res)) {
    snprintf(e, sizeof e, "resources: Required value: resources is a required field");
    ok = false;
  }
  if (ok) c->rules = xcalloc(json_array_size(res), sizeof(*c->rules));
  for (size_t i = 0; ok && i < json_array_size(res); i++)
    ok = read_rule(&c->rules[c->nrules++], json_array_get(res, i), i, e, sizeof e);
  json_decref(doc);
  if (!ok) {
    snprintf(err, errlen, "error while parsing file \"%s\": %s", path, e);
    storage_crypt_free(c);
    return NULL;
  }
  return c;
}
