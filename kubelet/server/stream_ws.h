/*
 * stream_ws.h - a server-side WebSocket connection (RFC 6455) on a libevent
 * bufferevent, framed by libwslay, and the handshake helpers the kubelet's
 * exec/attach/portForward handlers use before http_upgrade().
 *
 * The connection reads frames as they arrive, hands every complete text or
 * binary message to on_message, answers pings and close frames itself, and
 * sends a ping every ping_interval_ms (0: none) so that idle sessions stay
 * alive through proxies, as upstream does.  Output goes straight into the
 * bufferevent's output buffer; kl_ws_pending() tells how much is still
 * queued and on_drain fires when it drops to zero after having been
 * non-zero, which is the caller's back-pressure signal.
 *
 * Lifetime: on_close fires exactly once, when the connection is over (the
 * peer closed or vanished, a protocol error, or kl_ws_close() finished
 * flushing), and the object is freed right after it returns.  Callbacks may
 * call kl_ws_send() and kl_ws_close(); the teardown they cause is deferred
 * until the callback has returned.
 */
#ifndef KL_STREAM_WS_H
#define KL_STREAM_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bufferevent;
struct kl_ws;

#define KL_WS_TEXT 1
#define KL_WS_BINARY 2
#define KL_WS_MAX_MESSAGE_BYTES (4u * 1024u * 1024u)

struct kl_ws_callbacks {
  void (*on_message)(struct kl_ws *ws, int opcode, const uint8_t *data, size_t len, void *arg);
  void (*on_drain)(struct kl_ws *ws, void *arg); /* optional */
  void (*on_close)(struct kl_ws *ws, void *arg);
};

/* Takes ownership of bev (its callbacks are replaced).  Bytes already in
 * its input buffer are processed on the next loop iteration.  NULL on
 * allocation failure (bev is freed then). */
struct kl_ws *kl_ws_new(struct bufferevent *bev, const struct kl_ws_callbacks *cb, void *arg, int ping_interval_ms);
/* Queues one message.  -EPIPE once closing or closed. */
int kl_ws_send(struct kl_ws *ws, int opcode, const void *data, size_t len);
/* Queues one binary message made of a one-byte prefix and data (the
 * channel protocol's framing). */
int kl_ws_send_channel(struct kl_ws *ws, uint8_t channel, const void *data, size_t len);
/* Sends a close frame with `code` (1000 normal), flushes, then closes. */
void kl_ws_close(struct kl_ws *ws, uint16_t code);
/* Closes at once without a close frame (on_close still fires). */
void kl_ws_abort(struct kl_ws *ws);
size_t kl_ws_pending(const struct kl_ws *ws);

/* --- handshake --- */
/* The Sec-WebSocket-Accept value for a Sec-WebSocket-Key (out: 29 bytes
 * with the NUL).  -EINVAL for a key that is not 16 bytes in base64. */
int kl_ws_accept_key(const char *key, char out[29]);
/* The first protocol in the client's comma-separated Sec-WebSocket-Protocol
 * list that `supported` (NULL-terminated) contains, or NULL. */
const char *kl_ws_choose_protocol(const char *offered, const char *const *supported);
/* True when the request headers ask for a WebSocket upgrade. */
bool kl_ws_is_upgrade(const char *upgrade_header, const char *connection_header);

#endif
