/*
 * kubeconfig.c - resolves a kubeconfig (YAML, parsed with kyaml_load into
 * the usual json_t tree) into a rest_config.
 *
 * Lookup follows clientcmd: context = --context or current-context; the
 * context's cluster gives server, certificate-authority(-data),
 * insecure-skip-tls-verify and tls-server-name; its user gives token /
 * tokenFile, client-certificate(-data), client-key(-data) and
 * username/password.  --master overrides the server only.  Referenced files
 * are read at load time so the client never touches the disk afterwards.
 */
#define _GNU_SOURCE
#include "kube/base64.h"
#include "kube/kubeconfig.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/json.h"
#include "kube/yaml.h"
#include "kube/fileutil.h"
#include "kube/xalloc.h"

#define SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
  if (err && errlen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
  }
  return rc;
}

static char *read_file(const char *dir, const char *path, size_t *len, char *err, size_t errlen)
{
  char *full = NULL;
  if (path[0] == '/' || !dir || !*dir) full = xstrdup(path);
  else if (asprintf(&full, "%s/%s", dir, path) < 0) full = NULL;
  if (!full) return NULL;
  char *buf = kfile_read(full, len);
  if (!buf) fail(err, errlen, -errno, "open %s: %s", full, strerror(errno));
  free(full);
  return buf;
}

/* Finds {"name": name, field: {...}} in a kubeconfig list and returns
 * its body (borrowed; an empty shared object if the entry has none). */
static json_t *named(const json_t *doc, const char *list, const char *field, const char *name)
{
  static json_t *empty;
  if (!empty) empty = json_object();
  json_t *arr = json_object_get(doc, list);
  size_t i;
  json_t *it;
  json_array_foreach (arr, i, it) {
    const char *n = kj_get_str(it, "name");
    if (n && !strcmp(n, name)) {
      json_t *v = json_object_get(it, field);
      return json_is_object(v) ? v : empty;
    }
  }
  return NULL;
}

/* The base64 data field, else the file field, into out and len. */
static int load_blob(const json_t *obj, const char *data_key, const char *file_key, const char *dir, char **out,
                     size_t *len, char *err, size_t errlen)
{
  const char *d = kj_get_str(obj, data_key);
  if (d && *d) {
    size_t bad;
    if (kb64_decode(d, strlen(d), KB64_STD, (unsigned char **)out, len, &bad) < 0)
      return fail(err, errlen, -EINVAL, "%s: illegal base64 data at input byte %zu", data_key, bad);
    return 0;
  }
  const char *f = kj_get_str(obj, file_key);
  if (f && *f) {
    *out = read_file(dir, f, len, err, errlen);
    if (!*out) return -EIO;
  }
  return 0;
}

int kubeconfig_from_json(const json_t *doc, const char *dir, const char *context, const char *master,
                         struct rest_config *out, char *err, size_t errlen)
{
  rest_config_init(out);
  const char *ctx_name = (context && *context) ? context : kj_get_str(doc, "current-context");
  json_t *ctx = NULL, *cluster = NULL, *user = NULL;
  int rc = 0;
  if (ctx_name && *ctx_name) {
    ctx = named(doc, "contexts", "context", ctx_name);
    if (!ctx) {
      if (context && *context)
        return fail(err, errlen, -ENOENT, "context was not found for specified context: %s", ctx_name);
      return fail(err, errlen, -ENOENT, "invalid configuration: context was not found for specified context: %s",
                  ctx_name);
    }
    const char *cn = kj_get_str(ctx, "cluster");
    const char *un = kj_get_str(ctx, "user");
    if (cn && *cn) {
      cluster = named(doc, "clusters", "cluster", cn);
      if (!cluster && !(master && *master))
        return fail(err, errlen, -ENOENT, "invalid configuration: cluster \"%s\" not found", cn);
    }
    if (un && *un) {
      user = named(doc, "users", "user", un);
      if (!user) return fail(err, errlen, -ENOENT, "invalid configuration: user \"%s\" not found", un);
    }
  }
  const char *server = (master && *master) ? master : kj_get_str(cluster, "server");
  if (!server || !*server)
    return fail(err, errlen, -EINVAL,
                "invalid configuration: no configuration has been provided, try setting KUBERNETES_MASTER environment "
                "variable");
  out->server = xstrdup(server);
  if (cluster) {
    out->insecure = kj_get_bool(cluster, "insecure-skip-tls-verify", false);
    const char *sn = kj_get_str(cluster, "tls-server-name");
    if (sn) out->tls_server_name = xstrdup(sn);
    rc = load_blob(cluster, "certificate-authority-data", "certificate-authority", dir, &out->ca_data, &out->ca_len,
                   err, errlen);
    if (rc) goto bad;
  }
  if (user) {
    const char *tok = kj_get_str(user, "token");
    if (tok && *tok) {
      out->token = xstrdup(tok);
    } else if (kj_get_str(user, "tokenFile")) {
      size_t tl = 0;
      out->token = read_file(dir, kj_get_str(user, "tokenFile"), &tl, err, errlen);
      if (!out->token) {
        rc = -EIO;
        goto bad;
      }
      while (tl > 0 && (out->token[tl - 1] == '\n' || out->token[tl - 1] == '\r')) out->token[--tl] = 0;
      const char *tf = kj_get_str(user, "tokenFile");
      if (tf[0] == '/' || !dir || !*dir) out->token_file = xstrdup(tf);
      else if (asprintf(&out->token_file, "%s/%s", dir, tf) < 0) out->token_file = NULL;
    }
    rc = load_blob(user, "client-certificate-data", "client-certificate", dir, &out->cert_data, &out->cert_len, err,
                   errlen);
    if (rc) goto bad;
    rc = load_blob(user, "client-key-data", "client-key", dir, &out->key_data, &out->key_len, err, errlen);
    if (rc) goto bad;
    const char *u = kj_get_str(user, "username"), *p = kj_get_str(user, "password");
    if (u) out->username = xstrdup(u);
    if (p) out->password = xstrdup(p);
  }
  return 0;
bad:
  rest_config_free(out);
  return rc;
}

static int in_cluster(struct rest_config *out, char *err, size_t errlen)
{
  const char *host = getenv("KUBERNETES_SERVICE_HOST"), *port = getenv("KUBERNETES_SERVICE_PORT");
  rest_config_init(out);
  if (!host || !*host || !port || !*port)
    return fail(err, errlen, -EINVAL,
                "invalid configuration: no configuration has been provided, try setting KUBERNETES_MASTER environment "
                "variable");
  bool v6 = strchr(host, ':') != NULL;
  if (asprintf(&out->server, v6 ? "https://[%s]:%s" : "https://%s:%s", host, port) < 0) {
    out->server = NULL;
    return -ENOMEM;
  }
  size_t tl = 0;
  out->token = read_file(NULL, SA_DIR "/token", &tl, err, errlen);
  if (!out->token) {
    rest_config_free(out);
    return -EIO;
  }
  while (tl > 0 && out->token[tl - 1] == '\n') out->token[--tl] = 0;
  out->token_file = xstrdup(SA_DIR "/token");
  out->ca_data = read_file(NULL, SA_DIR "/ca.crt", &out->ca_len, NULL, 0);
  return 0;
}

int kubeconfig_load(const char *path, const char *context, const char *master, struct rest_config *out, char *err,
                    size_t errlen)
{
  if (!path || !*path) {
    if (master && *master) {
      rest_config_init(out);
      out->server = xstrdup(master);
      return out->server ? 0 : -ENOMEM;
    }
    return in_cluster(out, err, errlen);
  }
  rest_config_init(out);
  size_t len = 0;
  char *buf = read_file(NULL, path, &len, err, errlen);
  if (!buf) return -ENOENT;
  char yerr[256] = "";
  json_t *doc = kyaml_load(buf, len, yerr, sizeof yerr);
  free(buf);
  if (!doc || !json_is_object(doc)) {
    json_decref(doc);
    return fail(err, errlen, -EINVAL, "error loading config file \"%s\": %s", path, *yerr ? yerr : "not a kubeconfig");
  }
  char *dir = xstrdup(path);
  char *slash = dir ? strrchr(dir, '/') : NULL;
  if (slash) *slash = 0;
  int rc = kubeconfig_from_json(doc, slash ? dir : NULL, context, master, out, err, errlen);
  free(dir);
  json_decref(doc);
  return rc;
}
