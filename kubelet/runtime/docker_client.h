/*
 * docker_client.h - HTTP requests to the Docker Engine API over its unix
 * socket, asynchronous on the kubelet's libevent loop (libcurl's multi
 * interface, as common's restclient drives it for the API server).
 *
 * The API server client cannot serve here: the Engine API needs raw
 * request bodies (image tarballs), raw and multiplexed response streams
 * (logs, pulls) and unix sockets.  Requests are either buffered (done gets
 * the whole body) or streaming (on_data gets each piece as it arrives,
 * then done).  Callbacks always run from the loop, never inside the call
 * that started the request, so they may start or cancel requests.
 */
#ifndef KL_DOCKER_CLIENT_H
#define KL_DOCKER_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

struct event_base;
struct dk_client;
struct dk_req;

struct dk_response {
  int code;         /* HTTP status; 0 when no answer came (see error) */
  const char *body; /* buffered body (NUL-terminated; "" for streams) */
  size_t len;
  const char *error; /* transport error text, or NULL */
};

typedef void (*dk_done_fn)(void *arg, const struct dk_response *r);
/* A piece of a streaming body.  Return 0 to go on, -1 to stop the
 * transfer (done is then called with error "aborted"). */
typedef int (*dk_data_fn)(void *arg, const char *data, size_t len);

/* timeout_ms bounds every non-streaming request (0: none).  With
 * socket_path NULL the client speaks to TCP URLs ("http://10.0.0.5:8080/x"
 * as the request's path): the kubelet's probes and hooks. */
struct dk_client *dk_client_new(struct event_base *base, const char *socket_path, int64_t timeout_ms);
/* Cancels outstanding requests without calling their callbacks. */
void dk_client_free(struct dk_client *c);

/* METHOD path ("/v1.41/containers/json?all=1"); body (may be NULL) is
 * copied.  Returns NULL only on allocation failure. */
struct dk_req *dk_request(struct dk_client *c, const char *method, const char *path, const char *content_type,
                          const void *body, size_t body_len, dk_done_fn done, void *arg);
/* Same with a JSON body (serialized at once; the caller keeps body). */
struct dk_req *dk_request_json(struct dk_client *c, const char *method, const char *path, const json_t *body,
                               dk_done_fn done, void *arg);
/* Streaming request without timeout: on_data for each piece of a 2xx
 * body (error bodies are buffered and handed to done). */
struct dk_req *dk_stream(struct dk_client *c, const char *method, const char *path, const char *content_type,
                         const void *body, size_t body_len, dk_data_fn on_data, dk_done_fn done, void *arg);
/* Per-request settings, right after the request was made: a timeout
 * (0: the client's), TLS without verification (probes), HTTP/2 without
 * upgrade (gRPC). */
void dk_req_options(struct dk_req *r, int64_t timeout_ms, bool insecure, bool h2);
/* Adds a request header line ("X-Registry-Auth: ..."); only right after
 * the request was made (it starts from the loop). */
void dk_add_header(struct dk_req *r, const char *line);
/* No callback runs for r afterwards.  Safe from inside r's callbacks. */
void dk_cancel(struct dk_req *r);
/* Back-pressure for streams: stop reading / read again. */
void dk_pause(struct dk_req *r);
void dk_resume(struct dk_req *r);

/* Requests not finished yet. */
size_t dk_client_pending(const struct dk_client *c);

/* The Engine API's error message of a failed answer ({"message": ...})
 * into out; the raw body or the transport error otherwise. */
const char *dk_error_message(const struct dk_response *r, char *out, size_t len);

#endif
