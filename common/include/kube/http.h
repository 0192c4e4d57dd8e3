/*
 * http.h - the one HTTP/1.1 server layer of all five programs.
 *
 * Runs on libevent bufferevents with http-parser (not evhttp: evhttp
 * cannot hand a connection over after "101 Switching Protocols", and
 * gives no control of a slow reader's output queue).  Requests on a
 * keep-alive connection are handled one at a time, in order.
 *
 * A handler answers each request exactly once: http_reply*() at once or
 * later (after an asynchronous write completes), or a chunked stream
 * (http_stream_begin/write/end) for watches and logs, or an upgrade
 * (http_upgrade) that hands the connection to the caller.  If the client
 * goes away before that, the on_close callback fires and the request must
 * not be used afterwards.
 */
#ifndef KUBE_HTTP_H
#define KUBE_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

struct event_base;
struct bufferevent;
struct evbuffer;
struct http_server;
struct http_request;

typedef void (*http_handler_fn)(struct http_request *req, void *arg);
typedef void (*http_close_fn)(struct http_request *req, void *arg);

struct http_server_opts {
  size_t max_body_bytes;   /* default 3 MiB: larger bodies get 413 */
  size_t max_header_bytes; /* default 1 MiB */
  size_t max_output_bytes; /* default 16 MiB: a connection whose queued output exceeds
                               this is closed (slow watcher) */
  int idle_timeout_s;      /* keep-alive idle timeout, default 120 */
  void *ssl_ctx;           /* SSL_CTX * for HTTPS, NULL for plain HTTP */
};

struct http_server *http_server_new(struct event_base *base, const struct http_server_opts *opts,
                                    http_handler_fn handler, void *arg);
/* Listen on addr:port (port 0 picks one).  Returns the bound port or -errno.
 * May be called more than once for several listeners. */
int http_server_listen(struct http_server *s, const char *addr, int port);
/* Serves an already connected stream socket (a socketpair end, an
 * inherited fd) as if it had been accepted; peer names it in logs (NULL:
 * "@").  The fd becomes the server's, closed on failure too.  0 or
 * -errno. */
int http_server_adopt(struct http_server *s, int fd, const char *peer);
/* Closes listeners and every connection (on_close callbacks fire).
 * Not from inside one of this server's handlers. */
void http_server_free(struct http_server *s);
/* Number of open connections (for metrics and tests). */
size_t http_server_connections(const struct http_server *s);

/* --- the request --- */
const char *http_req_method(const struct http_request *r);   /* "GET" ... */
const char *http_req_path(const struct http_request *r);     /* percent-decoded path, no query */
const char *http_req_raw_path(const struct http_request *r); /* as sent, no query */
const char *http_req_query(const struct http_request *r);    /* raw query after '?', "" if none */
/* Decoded query parameter (first occurrence) or NULL; valid until the request ends. */
const char *http_req_param(struct http_request *r, const char *key);
/* Header value (case-insensitive name) or NULL; repeated headers joined with ", ". */
const char *http_req_header(const struct http_request *r, const char *name);
/* The i-th distinct header (name as sent; repeated ones joined as above),
 * NULL past the last. */
size_t http_req_header_count(const struct http_request *r);
const char *http_req_header_at(const struct http_request *r, size_t i, const char **value);
const char *http_req_body(const struct http_request *r, size_t *len);
const char *http_req_peer(const struct http_request *r); /* "127.0.0.1:54321" */
/* The SSL * of a request that came over HTTPS (for its client
 * certificate, kube/tls.h), NULL over plain HTTP. */
void *http_req_ssl(const struct http_request *r);
/* Per-request user data for the handler. */
void http_req_set_data(struct http_request *r, void *data);
void *http_req_data(const struct http_request *r);
/* Called if the connection closes before the request is answered/ended. */
void http_req_on_close(struct http_request *r, http_close_fn cb, void *arg);

/* --- answering --- */
/* Extra response header, before http_reply/http_stream_begin. */
void http_add_header(struct http_request *r, const char *name, const char *value);
void http_reply(struct http_request *r, int status, const char *content_type, const void *body, size_t len);
/* Like http_reply, but moves the contents of `body` (left empty) into the
 * output without copying: for large bodies built in an evbuffer. */
void http_reply_evbuffer(struct http_request *r, int status, const char *content_type, struct evbuffer *body);
/* Serializes v compactly followed by "\n"; content type application/json. */
void http_reply_json(struct http_request *r, int status, const json_t *v);

/* Chunked streaming: each write is one chunk, flushed to the socket.
 * http_stream_write returns 0, or -1 if the connection is gone or its
 * queued output exceeded max_output_bytes (then it is closed and on_close
 * fires).  http_stream_end sends the last chunk; the connection stays
 * open for the next request.
 * On -1 from an over-full output, on_close has already run (inside the
 * http_stream_write call) and, unless that call was made from inside the
 * handler, the request is freed when http_stream_write returns. */
int http_stream_begin(struct http_request *r, int status, const char *content_type);
int http_stream_write(struct http_request *r, const void *data, size_t len);
/* Bytes queued but not yet written to the socket for this connection. */
size_t http_stream_pending(const struct http_request *r);
void http_stream_end(struct http_request *r);

/* Answer "101 Switching Protocols" with the given extra headers
 * (NULL-terminated name, value pairs) and hand the connection over: the
 * returned bufferevent is the caller's (callbacks cleared; bytes the client
 * sent after the request are left in its input buffer).  The request object
 * is freed.  NULL if the connection is already gone.
 * Buffered bytes do not raise a read callback by themselves: after setting
 * its callbacks the caller should look at the input buffer (or call
 * bufferevent_trigger(bev, EV_READ, 0)). */
struct bufferevent *http_upgrade(struct http_request *r, const char *const *headers);

const char *http_status_text(int status);

#endif
