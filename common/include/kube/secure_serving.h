/*
 * secure_serving.h - the HTTPS port of kube-scheduler (10259) and
 * kube-controller-manager (10257), as upstream's SecureServingOptions
 * with delegated authentication and authorization:
 *
 * TLS with --tls-cert-file/--tls-private-key-file, else a self-signed
 * pair in --cert-dir (kube/tls.h).  Each request, but those under
 * --authorization-always-allow-paths (default /healthz,/readyz,/livez; a
 * trailing '*' is a prefix), is authenticated and authorized by the API
 * server: a client certificate verified against --client-ca-file gives
 * the user (CN) and groups (O); a bearer token is sent in a TokenReview
 * through the --authentication-kubeconfig client; no credential is
 * system:anonymous.  The user is then asked about in a
 * SubjectAccessReview (non-resource path, verb from the method) through
 * the --authorization-kubeconfig client.  Answers are cached for ten
 * seconds, so a scrape every few seconds costs the API server nothing
 * most of the time.  A failed token is 401, a denial 403, with
 * upstream's Status; without an authorization client everything but the
 * always-allowed paths is denied, as upstream warns it would be.
 */
#ifndef KUBE_SECURE_SERVING_H
#define KUBE_SECURE_SERVING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kube/http.h"

struct event_base;
struct rest_client;

/* Upstream's flags of the secure port (SecureServingOptions,
 * DelegatingAuthenticationOptions, DelegatingAuthorizationOptions).
 * Strings point into argv or are the defaults; never freed. */
struct ksecure_flags {
  char *bind_address; /* --bind-address, 0.0.0.0 */
  int port;           /* --secure-port; 0 = none */
  char *cert_dir;     /* --cert-dir ("": a self-signed pair in memory) */
  char *cert_file, *key_file, *min_version, *cipher_suites, *client_ca_file;
  char *authentication_kubeconfig, *authorization_kubeconfig; /* "": none */
  char *always_allow_paths;                                   /* /healthz,/readyz,/livez */
};
#define KSECURE_FLAGS_INIT(port_)                                                                                     \
  {.bind_address = "0.0.0.0", .port = (port_), .cert_dir = "", .cert_file = "", .key_file = "",                      \
   .min_version = "VersionTLS12", .cipher_suites = "", .client_ca_file = "", .authentication_kubeconfig = "",        \
   .authorization_kubeconfig = "", .always_allow_paths = "/healthz,/readyz,/livez"}
/* The rows of a flags table (kube/flags.h) for f, upstream's names and
 * help; --secure-port and --bind-address included. */
#define KSECURE_FLAG_ROWS(f)                                                                                          \
  {"secure-port", FLAG_INT, &(f)->port,                                                                               \
   "The port on which to serve HTTPS with authentication and authorization. If 0, don't serve HTTPS at all."},       \
      {"bind-address", FLAG_STRING, &(f)->bind_address,                                                               \
       "The IP address on which to listen for the --secure-port port."},                                             \
      {"cert-dir", FLAG_STRING, &(f)->cert_dir,                                                                       \
       "The directory where the TLS certs are located. If --tls-cert-file and --tls-private-key-file are provided, "  \
       "this flag will be ignored."},                                                                                 \
      {"tls-cert-file", FLAG_STRING, &(f)->cert_file, "File containing the default x509 Certificate for HTTPS."},    \
      {"tls-private-key-file", FLAG_STRING, &(f)->key_file,                                                           \
       "File containing the default x509 private key matching --tls-cert-file."},                                   \
      {"tls-min-version", FLAG_STRING, &(f)->min_version, "Minimum TLS version supported."},                         \
      {"tls-cipher-suites", FLAG_STRING, &(f)->cipher_suites, "Comma-separated list of cipher suites for the server."}, \
      {"client-ca-file", FLAG_STRING, &(f)->client_ca_file,                                                           \
       "If set, any request presenting a client certificate signed by one of the authorities in the client-ca-file " \
       "is authenticated with an identity corresponding to the CommonName of the client certificate."},             \
      {"authentication-kubeconfig", FLAG_STRING, &(f)->authentication_kubeconfig,                                     \
       "kubeconfig file pointing at the 'core' kubernetes server with enough rights to create "                      \
       "tokenreviews.authentication.k8s.io. If empty, all token requests are considered to be anonymous."},          \
      {"authorization-kubeconfig", FLAG_STRING, &(f)->authorization_kubeconfig,                                       \
       "kubeconfig file pointing at the 'core' kubernetes server with enough rights to create "                      \
       "subjectaccessreviews.authorization.k8s.io. If empty, all requests not skipped by authorization are "         \
       "forbidden."},                                                                                                 \
  {                                                                                                                   \
    "authorization-always-allow-paths", FLAG_STRING, &(f)->always_allow_paths,                                        \
        "A list of HTTP paths to skip during authorization, i.e. these are authorized without contacting the "       \
        "'core' kubernetes server."                                                                                   \
  }

/*
 * The filter itself, for a program that runs its own HTTPS server (the
 * kubelet's port 10250): ksecure_auth_serve is an http_handler_fn that
 * authenticates (client certificate, bearer token through TokenReview,
 * else anonymous when allowed), authorizes (SubjectAccessReview, or
 * everything when authz is NULL and always_allow is set) and passes
 * allowed requests to the handler.  attrs maps a request to what is
 * authorized: NULL asks about the non-resource path with the method's
 * verb; the kubelet maps it to nodes/<subresource> as upstream does.
 */
struct ksecure_attrs {
  char verb[16];            /* "get", "create"... */
  const char *resource;     /* NULL: a non-resource request (the path) */
  const char *subresource;  /* with resource */
  const char *name;         /* with resource */
  const char *api_version;  /* with resource ("v1") */
};
typedef void (*ksecure_attrs_fn)(void *arg, const char *method, const char *path, struct ksecure_attrs *out);

struct ksecure_auth_opts {
  struct rest_client *authn; /* TokenReview client (borrowed); NULL: tokens are refused */
  struct rest_client *authz; /* SubjectAccessReview client (borrowed) */
  bool client_certs;         /* the TLS context verifies client certificates */
  bool anonymous;            /* no credential -> system:anonymous; else 401 */
  bool always_allow;         /* no SubjectAccessReview: every authenticated request is allowed */
  const char *always_allow_paths; /* comma-separated, skip both (a trailing '*' is a prefix) */
  int64_t token_ttl_ms, allowed_ttl_ms, denied_ttl_ms; /* 0: ten seconds */
  ksecure_attrs_fn attrs;    /* NULL: non-resource attributes */
  void *attrs_arg;
  bool plain_errors;         /* 401/403 as upstream's kubelet: plain text, not a Status */
  http_handler_fn handler;   /* called for allowed requests only */
  void *arg;
};
struct ksecure_auth;
struct ksecure_auth *ksecure_auth_new(const struct ksecure_auth_opts *o);
/* http_handler_fn over the struct ksecure_auth * given as arg. */
void ksecure_auth_serve(struct http_request *r, void *auth);
/* Reviews in flight are cancelled; their requests get no answer, so
 * free the HTTP server first. */
void ksecure_auth_free(struct ksecure_auth *a);

/* Upstream's verb for an HTTP method on a resource (the kubelet's
 * mapping: POST create, GET get, PUT update, PATCH patch, DELETE delete;
 * any other method, HEAD included, ""). */
const char *ksecure_resource_verb(const char *method);

struct ksecure;
/* Checks the flags (TLS version, cipher suites, bind address); 0, or -1
 * with a message naming the flag. */
int ksecure_check(const struct ksecure_flags *f, char *err, size_t errlen);
/* Loads the review kubeconfigs, listens and serves; handler is called for
 * allowed requests only.  pair_name names a self-signed pair kept in
 * --cert-dir ("kube-scheduler").  NULL with a message in err. */
struct ksecure *ksecure_new(struct event_base *base, const struct ksecure_flags *f, const char *pair_name,
                            http_handler_fn handler, void *arg, char *err, size_t errlen);
int ksecure_port(const struct ksecure *s);
/* Closes the port; pending reviews are cancelled. */
void ksecure_free(struct ksecure *s);

#endif
