/*
 * restclient.h - asynchronous REST client for the API server (the C
 * counterpart of client-go's rest.Interface).
 *
 * One client per program, driven by the program's libevent loop through
 * libcurl's multi interface.  Every request is asynchronous: it waits in a
 * FIFO for a token of the client-side rate limiter (--kube-api-qps,
 * --kube-api-burst), is sent, retried with backoff when the server is
 * unreachable or answers 429/5xx, and finally reported to one callback.
 * Watches are streaming requests: one callback per JSON line, then a done
 * callback.
 *
 * Callbacks always run from the event loop, never from inside the call
 * that started the request, so a callback may start or cancel requests.
 */
#ifndef KUBE_RESTCLIENT_H
#define KUBE_RESTCLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

struct event_base;
struct rest_client;
struct rest_request;

/* Connection settings, usually filled by kubeconfig_load().  Strings and
 * blobs are owned by the struct (rest_config_free releases them). */
struct rest_config {
  char *server;  /* "https://10.0.0.1:6443" or "http://127.0.0.1:8080" */
  char *ca_data; /* PEM bytes, or NULL for the system store */
  size_t ca_len;
  bool insecure; /* insecure-skip-tls-verify */
  char *tls_server_name;
  /* "HOST:PORT:ADDRESS:PORT": connect to ADDRESS:PORT whenever the URL
   * names HOST:PORT, keeping HOST for TLS (SNI and certificate check), as
   * curl's CURLOPT_CONNECT_TO; NULL for none */
  char *connect_to;
  char *token;     /* bearer token */
  char *token_file; /* where the token came from (tokenFile, the in-cluster token):
                       read again when it changes, looked at every token_file_period_ms */
  int64_t token_file_period_ms; /* 0: a minute, as upstream's cached token source */
  char *cert_data; /* client certificate PEM */
  size_t cert_len;
  char *key_data; /* client key PEM */
  size_t key_len;
  char *username; /* basic auth, optional */
  char *password;
  char *user_agent;      /* NULL: "kube/v1.32.0 (linux/amd64) kubernetes/$Format" */
  double qps;            /* <= 0: unlimited; default 50 (upstream --kube-api-qps) */
  int burst;             /* default 100 (upstream --kube-api-burst) */
  int max_tries;         /* attempts per request including the first; default 10 */
  int64_t retry_base_ms; /* first backoff without Retry-After; default 200 */
  int64_t retry_max_ms;  /* backoff cap; default 10000 */
  int64_t timeout_ms;    /* per attempt of a non-streaming request; 0 = none */
  int max_active;        /* non-streaming requests on the wire at once (one
                              connection each); more wait in the queue.
                              0: REST_DEFAULT_MAX_ACTIVE */
};

#define REST_DEFAULT_QPS 50.0
#define REST_DEFAULT_BURST 100
#define REST_DEFAULT_MAX_TRIES 10
#define REST_DEFAULT_MAX_ACTIVE 128

/* Sets the numeric defaults above in a zeroed config. */
void rest_config_init(struct rest_config *cfg);
void rest_config_free(struct rest_config *cfg);
/* Builds "NAME/v1.32.0 (linux/amd64) kubernetes/$Format" into a new string. */
char *rest_default_user_agent(const char *component);

/* A decoded failure.  For answers that carried a metav1.Status, code,
 * reason and message are its fields; for other non-2xx answers, reason and
 * message are upstream's generic ones for the HTTP code ("NotFound", "the
 * server could not find the requested resource"); for transport failures
 * code is 0 and message is the transport error.  All borrowed for the
 * duration of the callback. */
struct rest_status {
  int code;
  const char *reason;
  const char *message;
  const json_t *status; /* the Status object, or NULL */
};

/* Final answer.  http_code is 0 when no response was received.  body is
 * the parsed response (borrowed; json_incref to keep) or NULL when empty
 * or not JSON.  err is NULL for 2xx, else the decoded failure. */
typedef void (*rest_done_fn)(void *arg, int http_code, json_t *body, const struct rest_status *err);
/* One watch event {"type":..., "object":...} (borrowed). */
typedef void (*rest_event_fn)(void *arg, json_t *event);

struct rest_client *rest_client_new(struct event_base *base, const struct rest_config *cfg);
/* Cancels every outstanding request without calling its callbacks.  Not
 * from inside one of the client's callbacks. */
void rest_client_free(struct rest_client *c);
const struct rest_config *rest_client_config(const struct rest_client *c);
/* Requests sent from now on carry this bearer token (copied), for a
 * token refreshed by its owner (a TokenRequest) rather than read from a
 * file. */
void rest_client_set_token(struct rest_client *c, const char *token);
/* Replaces the client certificate and key (PEM, copied): requests that
 * start a connection from now on present the new pair (a rotated
 * certificate); connections already open keep theirs until they close. */
void rest_client_set_client_cert(struct rest_client *c, const char *cert, size_t cert_len, const char *key,
                                 size_t key_len);

/*
 * Starts METHOD path (path includes any "?query").  body (may be NULL) is
 * serialized at once; the caller keeps its reference.  PATCH bodies go as
 * application/merge-patch+json unless rest_request_ct names another type.
 * Returns a handle valid until done is called or rest_cancel(), or NULL
 * on allocation failure.
 */
struct rest_request *rest_request(struct rest_client *c, const char *method, const char *path, const json_t *body,
                                  rest_done_fn done, void *arg);
struct rest_request *rest_request_ct(struct rest_client *c, const char *method, const char *path,
                                     const char *content_type, const json_t *body, rest_done_fn done, void *arg);
/*
 * Streaming GET (watch): on_event for every newline-terminated JSON value
 * of a 2xx body, then done with the final code (body NULL for 2xx; the
 * Status for failures).  Not retried once the server has answered.
 */
struct rest_request *rest_stream(struct rest_client *c, const char *path, rest_event_fn on_event, rest_done_fn done,
                                 void *arg);
/* The caller has no use for a successful answer's body: it is not parsed
 * and done gets body NULL for 2xx (failures still carry their Status). */
void rest_request_discard_body(struct rest_request *r);
/* The caller never reads managedFields: the body (or each watch event)
 * is parsed without metadata.managedFields. */
void rest_request_skip_managed_fields(struct rest_request *r);
/* Abandons a request: no callback will run for it afterwards.  Safe to
 * call from any callback, including the request's own on_event. */
void rest_cancel(struct rest_request *r);

/* Requests started and not yet finished (queued, waiting or in flight). */
size_t rest_client_pending(const struct rest_client *c);

/* Upstream's reason and message for an HTTP code without a Status body
 * (NotFound / "the server could not find the requested resource"). */
const char *rest_reason_for_code(int code);
const char *rest_message_for_code(int code);

#endif
