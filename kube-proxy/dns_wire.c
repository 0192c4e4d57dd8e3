/*
 * dns_wire.c - the DNS message format (RFC 1035) for what evdns does not
 * do in libevent 2.1: RDATA of SRV, SOA and TXT records (handed to evdns
 * as raw data), whole messages over TCP, and the records of relayed
 * answers (kp_dns_each_rr).  Names are written uncompressed; names read
 * may use compression pointers (bounded).
 */
#include "dns.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HDR 12
#define MAX_POINTERS 32

struct w {
  uint8_t *p;
  size_t len, cap;
  bool bad;
};

static void put(struct w *w, const void *d, size_t n)
{
  if (w->bad || w->len + n > w->cap) {
    w->bad = true;
    return;
  }
  memcpy(w->p + w->len, d, n);
  w->len += n;
}

static void put8(struct w *w, uint8_t v) { put(w, &v, 1); }
static void put16(struct w *w, uint16_t v)
{
  uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
  put(w, b, 2);
}
static void put32(struct w *w, uint32_t v)
{
  uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
  put(w, b, 4);
}

static void put_name(struct w *w, const char *name)
{
  const char *p = name;
  while (*p) {
    const char *dot = strchr(p, '.');
    size_t n = dot ? (size_t)(dot - p) : strlen(p);
    if (n == 0 || n > 63) {
      if (n) w->bad = true;
      break;
    }
    put8(w, (uint8_t)n);
    put(w, p, n);
    p += n;
    if (*p == '.') p++;
  }
  put8(w, 0);
}

static void put_rdata(struct w *w, const struct kp_dns_rr *rr)
{
  switch (rr->type) {
  case KP_DNS_T_A: put32(w, rr->a); break;
  case KP_DNS_T_AAAA: put(w, rr->aaaa, 16); break;
  case KP_DNS_T_CNAME:
  case KP_DNS_T_PTR:
  case KP_DNS_T_NS: put_name(w, rr->target); break;
  case KP_DNS_T_SRV:
    put16(w, rr->priority);
    put16(w, rr->weight);
    put16(w, rr->port);
    put_name(w, rr->target);
    break;
  case KP_DNS_T_TXT: {
    size_t n = strlen(rr->text);
    if (n > 255) n = 255;
    put8(w, (uint8_t)n);
    put(w, rr->text, n);
    break;
  }
  case KP_DNS_T_SOA:
    put_name(w, rr->target);
    put_name(w, rr->text);
    for (int i = 0; i < 5; i++) put32(w, rr->soa[i]);
    break;
  default: break;
  }
}

int kp_dns_rdata(const struct kp_dns_rr *rr, uint8_t *out, size_t cap)
{
  struct w w = {out, 0, cap, false};
  put_rdata(&w, rr);
  return w.bad ? -1 : (int)w.len;
}

static void put_rr(struct w *w, const struct kp_dns_rr *rr)
{
  put_name(w, rr->name);
  put16(w, rr->type);
  put16(w, 1); /* IN */
  put32(w, rr->ttl);
  size_t len_at = w->len;
  put16(w, 0);
  size_t start = w->len;
  put_rdata(w, rr);
  if (!w->bad) {
    size_t n = w->len - start;
    w->p[len_at] = (uint8_t)(n >> 8);
    w->p[len_at + 1] = (uint8_t)n;
  }
}

int kp_dns_encode_response(uint16_t id, uint16_t qflags, const char *qname, uint16_t qtype,
                           const struct kp_dns_answer *a, uint8_t *out, size_t cap)
{
  struct w w = {out, 0, cap, false};
  uint16_t flags = 0x8000 | (qflags & 0x7800) | (qflags & 0x0100) | 0x0080 | (uint16_t)(a->rcode & 0xf);
  if (a->authoritative) flags |= 0x0400;
  uint16_t counts[3] = {0, 0, 0};
  for (size_t i = 0; i < a->n; i++) counts[a->rr[i].section]++;
  put16(&w, id);
  put16(&w, flags);
  put16(&w, 1);
  put16(&w, counts[0]);
  put16(&w, counts[1]);
  put16(&w, counts[2]);
  put_name(&w, qname);
  put16(&w, qtype);
  put16(&w, 1);
  for (int s = 0; s < 3; s++)
    for (size_t i = 0; i < a->n; i++)
      if (a->rr[i].section == s) put_rr(&w, &a->rr[i]);
  return w.bad ? -1 : (int)w.len;
}

int kp_dns_encode_query(uint16_t id, const char *qname, uint16_t qtype, uint8_t *out, size_t cap)
{
  struct w w = {out, 0, cap, false};
  put16(&w, id);
  put16(&w, 0x0100); /* RD */
  put16(&w, 1);
  put16(&w, 0);
  put16(&w, 0);
  put16(&w, 0);
  put_name(&w, qname);
  put16(&w, qtype);
  put16(&w, 1);
  return w.bad ? -1 : (int)w.len;
}

/* ---- reading ---- */

struct r {
  const uint8_t *msg;
  size_t len, off;
  bool bad;
};

static uint16_t get16(struct r *r)
{
  if (r->off + 2 > r->len) {
    r->bad = true;
    return 0;
  }
  uint16_t v = (uint16_t)(r->msg[r->off] << 8 | r->msg[r->off + 1]);
  r->off += 2;
  return v;
}

static uint32_t get32(struct r *r)
{
  uint32_t hi = get16(r);
  return hi << 16 | get16(r);
}

/* Reads a (possibly compressed) name at r->off into out, dotted, without
 * a trailing dot. */
static void get_name(struct r *r, char *out, size_t cap)
{
  size_t off = r->off, n = 0;
  bool jumped = false;
  int pointers = 0;
  out[0] = 0;
  for (;;) {
    if (off >= r->len) {
      r->bad = true;
      return;
    }
    uint8_t l = r->msg[off];
    if ((l & 0xc0) == 0xc0) {
      if (off + 1 >= r->len || ++pointers > MAX_POINTERS) {
        r->bad = true;
        return;
      }
      if (!jumped) r->off = off + 2;
      jumped = true;
      off = (size_t)(l & 0x3f) << 8 | r->msg[off + 1];
      continue;
    }
    if (l & 0xc0) {
      r->bad = true;
      return;
    }
    off++;
    if (l == 0) break;
    if (off + l > r->len || n + l + 2 > cap) {
      r->bad = true;
      return;
    }
    if (n) out[n++] = '.';
    memcpy(out + n, r->msg + off, l);
    n += l;
    off += l;
  }
  out[n] = 0;
  if (!jumped) r->off = off;
}

int kp_dns_parse_query(const uint8_t *msg, size_t len, uint16_t *id, uint16_t *flags, char *qname, size_t qlen,
                       uint16_t *qtype)
{
  struct r r = {msg, len, 0, false};
  *id = get16(&r);
  *flags = get16(&r);
  uint16_t qd = get16(&r);
  r.off = HDR;
  if (r.bad || qd < 1 || (*flags & 0x8000)) return -1;
  get_name(&r, qname, qlen);
  *qtype = get16(&r);
  get16(&r);
  return r.bad ? -1 : 0;
}

static void get_rdata(struct r *r, struct kp_dns_rr *rr, size_t end)
{
  switch (rr->type) {
  case KP_DNS_T_A: rr->a = get32(r); break;
  case KP_DNS_T_AAAA:
    if (r->off + 16 <= end) memcpy(rr->aaaa, r->msg + r->off, 16);
    break;
  case KP_DNS_T_CNAME:
  case KP_DNS_T_PTR:
  case KP_DNS_T_NS: get_name(r, rr->target, sizeof rr->target); break;
  case KP_DNS_T_SRV:
    rr->priority = get16(r);
    rr->weight = get16(r);
    rr->port = get16(r);
    get_name(r, rr->target, sizeof rr->target);
    break;
  case KP_DNS_T_TXT:
    if (r->off < end) {
      size_t n = r->msg[r->off];
      if (r->off + 1 + n <= end && n < sizeof rr->text) {
        memcpy(rr->text, r->msg + r->off + 1, n);
        rr->text[n] = 0;
      }
    }
    break;
  case KP_DNS_T_SOA:
    get_name(r, rr->target, sizeof rr->target);
    get_name(r, rr->text, sizeof rr->text);
    for (int i = 0; i < 5; i++) rr->soa[i] = get32(r);
    break;
  default: break;
  }
}

int kp_dns_parse_response(const uint8_t *msg, size_t len, uint16_t *flags, struct kp_dns_answer *out)
{
  memset(out, 0, sizeof *out);
  struct r r = {msg, len, 0, false};
  get16(&r);
  *flags = get16(&r);
  uint16_t qd = get16(&r), counts[3];
  for (int i = 0; i < 3; i++) counts[i] = get16(&r);
  if (r.bad) return -1;
  out->rcode = *flags & 0xf;
  out->authoritative = (*flags & 0x0400) != 0;
  char name[KP_DNS_NAME_MAX];
  for (uint16_t i = 0; i < qd && !r.bad; i++) {
    get_name(&r, name, sizeof name);
    get32(&r);
  }
  for (int s = 0; s < 3 && !r.bad; s++) {
    for (uint16_t i = 0; i < counts[s] && !r.bad; i++) {
      get_name(&r, name, sizeof name);
      uint16_t type = get16(&r);
      get16(&r);
      uint32_t ttl = get32(&r);
      uint16_t rdlen = get16(&r);
      if (r.bad || r.off + rdlen > r.len) return -1;
      struct kp_dns_rr *rr = kp_dns_answer_add(out, (enum kp_dns_section)s, type, name);
      rr->ttl = ttl;
      size_t end = r.off + rdlen;
      get_rdata(&r, rr, end);
      r.off = end;
    }
  }
  return r.bad ? -1 : 0;
}

int kp_dns_encode_question(uint16_t id, uint16_t flags, const char *qname, uint16_t qtype, uint16_t qclass,
                           uint8_t *out, size_t cap)
{
  struct w w = {out, 0, cap, false};
  put16(&w, id);
  put16(&w, flags & 0x7910); /* opcode, RD, AD, CD: what a question may carry */
  put16(&w, 1);
  put16(&w, 0);
  put16(&w, 0);
  put16(&w, 0);
  put_name(&w, qname);
  put16(&w, qtype);
  put16(&w, qclass);
  return w.bad ? -1 : (int)w.len;
}

/* ---- records as they came, for relaying ---- */

/* Copies the (possibly compressed) name at r->off into w uncompressed,
 * label by label (labels are copied as bytes: dots inside them stay
 * labels' contents). */
static void copy_name(struct r *r, struct w *w)
{
  size_t off = r->off, total = 0;
  bool jumped = false;
  int pointers = 0;
  for (;;) {
    if (off >= r->len) {
      r->bad = true;
      return;
    }
    uint8_t l = r->msg[off];
    if ((l & 0xc0) == 0xc0) {
      if (off + 1 >= r->len || ++pointers > MAX_POINTERS) {
        r->bad = true;
        return;
      }
      if (!jumped) r->off = off + 2;
      jumped = true;
      off = (size_t)(l & 0x3f) << 8 | r->msg[off + 1];
      continue;
    }
    if ((l & 0xc0) || off + 1 + l > r->len || (total += 1u + l) > 255) {
      r->bad = true;
      return;
    }
    put(w, r->msg + off, 1u + l);
    off += 1u + l;
    if (l == 0) break;
  }
  if (!jumped) r->off = off;
}

/* RDATA of rr->type from r (rdlen bytes) into rr, names uncompressed. */
static void copy_rdata(struct r *r, struct kp_dns_raw_rr *rr, size_t rdlen)
{
  struct w w = {rr->rdata, 0, sizeof rr->rdata, false};
  size_t end = r->off + rdlen, fixed = 0, names = 0;
  switch (rr->type) {
  case KP_DNS_T_NS:
  case KP_DNS_T_CNAME:
  case KP_DNS_T_PTR: names = 1; break;
  case KP_DNS_T_SOA: names = 2; break;
  case 15 /* MX */: fixed = 2, names = 1; break;
  case KP_DNS_T_SRV: fixed = 6, names = 1; break;
  default: break;
  }
  if (fixed + names == 0) {
    put(&w, r->msg + r->off, rdlen);
  } else {
    if (r->off + fixed > end) r->bad = true;
    else put(&w, r->msg + r->off, fixed);
    r->off += fixed;
    for (size_t i = 0; i < names && !r->bad; i++) copy_name(r, &w);
    if (!r->bad && r->off <= end) put(&w, r->msg + r->off, end - r->off); /* SOA's numbers */
    else r->bad = true;
  }
  if (w.bad || w.len > 0xffff) r->bad = true;
  rr->rdlen = (uint16_t)w.len;
  r->off = end;
}

int kp_dns_each_rr(const uint8_t *msg, size_t len, uint16_t *flags, kp_dns_rr_fn fn, void *arg)
{
  struct r r = {msg, len, 0, false};
  get16(&r);
  *flags = get16(&r);
  uint16_t qd = get16(&r), counts[3];
  for (int i = 0; i < 3; i++) counts[i] = get16(&r);
  if (r.bad) return -1;
  struct kp_dns_raw_rr *rr = calloc(1, sizeof *rr);
  if (!rr) return -1;
  for (uint16_t i = 0; i < qd && !r.bad; i++) {
    get_name(&r, rr->name, sizeof rr->name);
    get32(&r);
  }
  for (int s = 0; s < 3 && !r.bad; s++) {
    for (uint16_t i = 0; i < counts[s] && !r.bad; i++) {
      rr->section = (uint8_t)s;
      get_name(&r, rr->name, sizeof rr->name);
      rr->type = get16(&r);
      rr->rclass = get16(&r);
      rr->ttl = get32(&r);
      uint16_t rdlen = get16(&r);
      if (r.bad || r.off + rdlen > r.len) {
        r.bad = true;
        break;
      }
      copy_rdata(&r, rr, rdlen);
      if (!r.bad) fn(rr, arg);
    }
  }
  free(rr);
  return r.bad ? -1 : 0;
}
