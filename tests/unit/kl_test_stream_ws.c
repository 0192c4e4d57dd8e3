/*
 * kl_test_stream_ws.c - the WebSocket layer of the streaming libraries
 * (kubelet/server/stream_ws.h): the handshake helpers (RFC 6455's example
 * key, protocol choice, upgrade detection, bad keys) and a connection over
 * a bufferevent pair fed with hand-made client frames: channel messages in
 * one and several frames, ping answered with pong, the close handshake,
 * an unmasked client frame refused, and kl_ws_send_channel's framing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "stream_ws.h"

static void test_accept_key(void **state)
{
  char out[29];
  assert_int_equal(kl_ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", out), 0);
  assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="); /* RFC 6455, 1.3 */
  assert_int_equal(kl_ws_accept_key(" dGhlIHNhbXBsZSBub25jZQ== ", out), 0);
  assert_int_not_equal(kl_ws_accept_key("short", out), 0);
  assert_int_not_equal(kl_ws_accept_key("dGhlIHNhbXBsZSBub25jZQ", out), 0);
  assert_int_not_equal(kl_ws_accept_key(NULL, out), 0);
}

static void test_choose_protocol_table(void **state)
{
  static const char *const sup[] = {"v5.channel.k8s.io", "v4.channel.k8s.io", NULL};
  static const struct {
    const char *offered, *want;
  } cases[] = {
      {"v5.channel.k8s.io, v4.channel.k8s.io", "v5.channel.k8s.io"},
      {"v4.channel.k8s.io,v5.channel.k8s.io", "v4.channel.k8s.io"}, /* the client's order */
      {"base64.channel.k8s.io, v4.channel.k8s.io", "v4.channel.k8s.io"},
      {"  v5.channel.k8s.io  ", "v5.channel.k8s.io"},
      {"v3.channel.k8s.io", NULL},
      {"v5.channel.k8s.io.evil", NULL},
      {"", NULL},
      {NULL, NULL},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const char *got = kl_ws_choose_protocol(cases[i].offered, sup);
    if (cases[i].want) assert_string_equal(got, cases[i].want);
    else assert_null(got);
  }
  assert_true(kl_ws_is_upgrade("websocket", "Upgrade"));
  assert_true(kl_ws_is_upgrade("WebSocket", "keep-alive, Upgrade"));
  assert_false(kl_ws_is_upgrade("SPDY/3.1", "Upgrade"));
  assert_false(kl_ws_is_upgrade("websocket", "keep-alive"));
  assert_false(kl_ws_is_upgrade(NULL, "Upgrade"));
}

/* --- a connection over a bufferevent pair --- */

struct ctx {
  struct event_base *base;
  struct bufferevent *client;
  struct kl_ws *ws;
  int messages, closed;
  uint8_t last[70000];
  size_t last_len;
  int last_opcode;
};

static void on_message(struct kl_ws *ws, int opcode, const uint8_t *data, size_t len, void *arg)
{
  struct ctx *c = arg;
  c->messages++;
  c->last_opcode = opcode;
  memcpy(c->last, data, len);
  c->last_len = len;
  if (len == 4 && memcmp(data,
                         "\x00"
                         "bye",
                         4) == 0)
    kl_ws_close(ws, 1000);
}

static void on_close(struct kl_ws *ws, void *arg) { ((struct ctx *)arg)->closed++; }

static void spin(struct ctx *c)
{
  for (int i = 0; i < 50; i++) event_base_loop(c->base, EVLOOP_NONBLOCK);
}

/* A masked client frame. */
static void client_frame(struct ctx *c, bool fin, int opcode, const void *data, size_t len)
{
  uint8_t hdr[14];
  size_t h = 0;
  hdr[h++] = (uint8_t)((fin ? 0x80 : 0) | opcode);
  if (len < 126) {
    hdr[h++] = (uint8_t)(0x80 | len);
  } else {
    hdr[h++] = 0x80 | 126;
    hdr[h++] = (uint8_t)(len >> 8);
    hdr[h++] = (uint8_t)len;
  }
  static const uint8_t key[4] = {0x12, 0x34, 0x56, 0x78};
  memcpy(hdr + h, key, 4);
  h += 4;
  uint8_t *masked = malloc(len + 1);
  for (size_t i = 0; i < len; i++) masked[i] = ((const uint8_t *)data)[i] ^ key[i % 4];
  bufferevent_write(c->client, hdr, h);
  bufferevent_write(c->client, masked, len);
  free(masked);
}

/* Reads one server frame (unmasked) from the client side. */
static int server_frame(struct ctx *c, uint8_t *payload, size_t *len)
{
  struct evbuffer *in = bufferevent_get_input(c->client);
  size_t avail = evbuffer_get_length(in);
  if (avail < 2) return -1;
  uint8_t *p = evbuffer_pullup(in, (ev_ssize_t)avail);
  assert_int_equal(p[1] & 0x80, 0); /* servers never mask */
  size_t l = p[1] & 0x7f, h = 2;
  if (l == 126) {
    l = (size_t)p[2] << 8 | p[3];
    h = 4;
  }
  assert_true(avail >= h + l);
  int opcode = p[0] & 0x0f;
  memcpy(payload, p + h, l);
  *len = l;
  evbuffer_drain(in, h + l);
  return opcode;
}

static struct ctx *ctx_new(void)
{
  struct ctx *c = calloc(1, sizeof *c);
  c->base = event_base_new();
  int fds[2];
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  evutil_make_socket_nonblocking(fds[0]);
  evutil_make_socket_nonblocking(fds[1]);
  struct bufferevent *pair[2] = {bufferevent_socket_new(c->base, fds[0], BEV_OPT_CLOSE_ON_FREE),
                                 bufferevent_socket_new(c->base, fds[1], BEV_OPT_CLOSE_ON_FREE)};
  c->client = pair[0];
  bufferevent_enable(c->client, EV_READ | EV_WRITE);
  struct kl_ws_callbacks cb = {on_message, NULL, on_close};
  c->ws = kl_ws_new(pair[1], &cb, c, 0);
  assert_non_null(c->ws);
  return c;
}

static void ctx_free(struct ctx *c)
{
  if (!c->closed) kl_ws_abort(c->ws);
  spin(c);
  assert_int_equal(c->closed, 1);
  bufferevent_free(c->client);
  event_base_free(c->base);
  free(c);
}

static void test_messages_ping_close(void **state)
{
  struct ctx *c = ctx_new();
  client_frame(c, true, KL_WS_BINARY, "\x00hello", 6);
  spin(c);
  assert_int_equal(c->messages, 1);
  assert_int_equal(c->last_len, 6);
  assert_memory_equal(c->last, "\x00hello", 6);
  /* One message in three frames (a continuation). */
  client_frame(c, false, KL_WS_BINARY, "\x04{\"Width\":", 10);
  client_frame(c, false, 0, "80,\"Height\"", 11);
  client_frame(c, true, 0, ":24}", 4);
  spin(c);
  assert_int_equal(c->messages, 2);
  assert_int_equal(c->last_len, 25);
  assert_memory_equal(c->last, "\x04{\"Width\":80,\"Height\":24}", 25);
  /* A 70,000-byte message (64-bit length is not needed: 16-bit form). */
  static uint8_t big[60000];
  memset(big, 'z', sizeof big);
  big[0] = 0;
  client_frame(c, true, KL_WS_BINARY, big, sizeof big);
  spin(c);
  assert_int_equal(c->last_len, sizeof big);
  /* ping -> pong with the same payload */
  client_frame(c, true, 9, "abc", 3);
  spin(c);
  uint8_t payload[70000];
  size_t len;
  assert_int_equal(server_frame(c, payload, &len), 10);
  assert_int_equal(len, 3);
  assert_memory_equal(payload, "abc", 3);
  /* channel output framing */
  assert_int_equal(kl_ws_send_channel(c->ws, 1, "out", 3), 0);
  spin(c);
  assert_int_equal(server_frame(c, payload, &len), KL_WS_BINARY);
  assert_int_equal(len, 4);
  assert_memory_equal(payload, "\x01out", 4);
  /* our close: a close frame 1000, then the connection ends */
  client_frame(c, true, KL_WS_BINARY,
               "\x00"
               "bye",
               4);
  spin(c);
  assert_int_equal(server_frame(c, payload, &len), 8);
  assert_int_equal(len, 2);
  assert_int_equal(payload[0] << 8 | payload[1], 1000);
  assert_int_equal(c->closed, 1);
  ctx_free(c);
}

static void test_peer_close_and_bad_frames(void **state)
{
  struct ctx *c = ctx_new();
  client_frame(c, true, 8, "\x03\xe8", 2); /* close 1000 */
  spin(c);
  uint8_t payload[16];
  size_t len;
  assert_int_equal(server_frame(c, payload, &len), 8); /* answered */
  assert_int_equal(c->closed, 1);
  ctx_free(c);

  /* An unmasked client frame is a protocol error: close 1002, no message. */
  c = ctx_new();
  uint8_t raw[] = {0x82, 0x02, 0x00, 'x'};
  bufferevent_write(c->client, raw, sizeof raw);
  spin(c);
  assert_int_equal(c->messages, 0);
  assert_int_equal(server_frame(c, payload, &len), 8);
  assert_int_equal(payload[0] << 8 | payload[1], 1002);
  ctx_free(c);

  /* The peer vanishing mid-frame ends the connection. */
  c = ctx_new();
  uint8_t partial[] = {0x82, 0x85, 1, 2, 3};
  bufferevent_write(c->client, partial, sizeof partial);
  spin(c);
  assert_int_equal(c->closed, 0);
  bufferevent_free(c->client);
  c->client = NULL;
  spin(c);
  assert_int_equal(c->closed, 1);
  event_base_free(c->base);
  free(c);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_accept_key),
      cmocka_unit_test(test_choose_protocol_table),
      cmocka_unit_test(test_messages_ping_close),
      cmocka_unit_test(test_peer_close_and_bad_frames),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
