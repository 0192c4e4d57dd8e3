/*
 * stream.h - the exec/attach streaming session of the kubelet, over the
 * protocols kubectl 1.32 speaks, independent of the container runtime.
 *
 * kl_stream_accept() answers the upgrade request of /exec or /attach (or
 * the API server's pods/NAME/exec relayed to it):
 *   - WebSocket with Sec-WebSocket-Protocol v5.channel.k8s.io (preferred)
 *     or v4.channel.k8s.io: binary messages whose first byte is the channel,
 *     0 stdin, 1 stdout, 2 stderr, 3 error (a Status JSON), 4 resize
 *     ({"Width":W,"Height":H}); v5 adds 255 close ([255, 0]: stdin is
 *     closed).  Pings every KL_STREAM_PING_MS.
 *   - SPDY/3.1 (Upgrade: SPDY/3.1, X-Stream-Protocol-Version
 *     v4.channel.k8s.io), kubectl's fallback: the client opens one stream
 *     per channel, told apart by the `streamType` header (error, stdin,
 *     stdout, stderr, resize); the session is ready when every stream the
 *     query asked for has arrived (at most KL_STREAM_CREATE_TIMEOUT_MS).
 * Which channels exist comes from the query, as upstream: stdin, stdout,
 * stderr, tty (`1`/`true`); with tty there is no stderr and there is resize.
 *
 * The caller (the kubelet's runtime glue, or the test server) starts the
 * process in on_ready, feeds its output with kl_stream_write(), watches
 * kl_stream_pending() for back-pressure (on_drain fires when it empties),
 * and ends with kl_stream_finish(exit_code) or kl_stream_finish_status().
 * The finish writes the error channel's Status (Success, or Failure with
 * reason NonZeroExitCode and cause ExitCode), closes the output channels
 * and then the connection.  on_close fires exactly once, when the
 * connection is gone (client left, or the finish was flushed); the session
 * is freed right after on_close returns.
 */
#ifndef KL_STREAM_H
#define KL_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

struct http_request;
struct kl_stream;

#define KL_STREAM_PING_MS 5000
#define KL_STREAM_CREATE_TIMEOUT_MS 30000
#define KL_STREAM_LINGER_MS 30000 /* SPDY: how long a finished session waits for the client to close */

enum kl_stream_channel { KL_STREAM_STDIN = 0, KL_STREAM_STDOUT = 1, KL_STREAM_STDERR = 2 };

struct kl_stream_opts {
  bool stdin_, stdout_, stderr_, tty;
};

struct kl_stream_callbacks {
  void (*on_ready)(struct kl_stream *s, void *arg);
  void (*on_stdin)(struct kl_stream *s, const void *data, size_t len, void *arg);
  void (*on_stdin_close)(struct kl_stream *s, void *arg);
  void (*on_resize)(struct kl_stream *s, unsigned width, unsigned height, void *arg);
  void (*on_drain)(struct kl_stream *s, void *arg);
  void (*on_close)(struct kl_stream *s, void *arg);
};

/* Reads stdin/stdout/stderr/tty from the query.  Upstream's rules: at least
 * one of stdin, stdout, stderr (else -EINVAL with the message in err). */
int kl_stream_opts_from_request(struct http_request *req, struct kl_stream_opts *o, char *err, size_t errlen);

/* Every value of a repeated query parameter (`command=a&command=b`),
 * percent-decoded, as a NULL-terminated array in one allocation (free()
 * it); *n gets the count.  NULL with *n = 0 when there is none. */
char **kl_stream_query_all(struct http_request *req, const char *key, size_t *n);

/* Answers the upgrade (or a 400 Status naming what is wrong, then NULL). */
struct kl_stream *kl_stream_accept(struct http_request *req, const struct kl_stream_opts *o,
                                   const struct kl_stream_callbacks *cb, void *arg);

/* Output on stdout or stderr.  -EPIPE once the client is gone. */
int kl_stream_write(struct kl_stream *s, enum kl_stream_channel ch, const void *data, size_t len);
size_t kl_stream_pending(const struct kl_stream *s);
/* The process ended with exit_code (0: Success). */
void kl_stream_finish(struct kl_stream *s, int exit_code);
/* Ends with a given Status object (borrowed), e.g. an InternalError. */
void kl_stream_finish_status(struct kl_stream *s, const json_t *status);
/* The negotiated protocol ("v5.channel.k8s.io", "v4.channel.k8s.io" over
 * WebSocket or SPDY), for logs and tests. */
const char *kl_stream_protocol(const struct kl_stream *s);
bool kl_stream_is_spdy(const struct kl_stream *s);

/* The Status the error channel carries for an exit code (new reference). */
json_t *kl_stream_exit_status(int exit_code);

#endif
