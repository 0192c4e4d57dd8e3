/*
 * quantity.h - resource quantities ("100m", "1.5", "128Mi", "1G", "2e3").
 *
 * Values are held exactly in nano-units (a 128-bit integer), the precision
 * upstream's resource.Quantity keeps: anything finer is rounded away from
 * zero to the next nano ("0.1n" -> "1n"), so asking for some of a resource
 * never yields none.  The format (BinarySI, DecimalSI, DecimalExponent) of
 * the parsed string is kept for canonical printing, and so is the input
 * itself when upstream would keep it (an input already in canonical form is
 * serialized back unchanged, as Quantity's cached string is).
 *
 * Magnitudes up to about 8.5e28 are representable; larger inputs are
 * refused with -ERANGE (upstream holds arbitrary decimals; no resource
 * comes near that size).  BinarySI values are capped at 2^63-1 as upstream
 * caps them.
 */
#ifndef KUBE_QUANTITY_H
#define KUBE_QUANTITY_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

enum quantity_format { QF_DECIMAL_SI, QF_BINARY_SI, QF_DECIMAL_EXPONENT };

/* Bytes of the kept input: longer inputs are never canonical. */
#define QUANTITY_TEXT_MAX 40
/* A buffer of this size holds any quantity_format output. */
#define QUANTITY_STRING_MAX 64

struct quantity {
  __int128 nano; /* value * 10^9, exact */
  enum quantity_format format;
  char text[QUANTITY_TEXT_MAX]; /* the input when it is already canonical, else "" */
};

/* Parse errors (negative errno values), each with upstream's message
 * (quantity_strerror). */
#define QUANTITY_ERR_FORMAT (-EINVAL)   /* "quantities must match the regular expression ..." */
#define QUANTITY_ERR_NUMERIC (-EBADMSG) /* "unable to parse numeric part of quantity" */
#define QUANTITY_ERR_SUFFIX (-ENOMSG)   /* "unable to parse quantity's suffix" */
#define QUANTITY_ERR_RANGE (-ERANGE)    /* beyond the representable magnitude */

/* ParseQuantity: 0 or a QUANTITY_ERR_* code.  No surrounding spaces allowed
 * (quantity_from_json trims them, as upstream's JSON decoding does). */
int quantity_parse(const char *s, struct quantity *q);
/* Upstream's message for a QUANTITY_ERR_* code (static string). */
const char *quantity_strerror(int rc);
/* Decodes a JSON value as upstream's Quantity.UnmarshalJSON: a string
 * (surrounding spaces trimmed) or a number (its text; a real prints as Go's
 * shortest form), null is zero.  Objects, arrays and booleans give
 * QUANTITY_ERR_FORMAT (a decoder reports those as a type error first). */
int quantity_from_json(const json_t *v, struct quantity *q);

/* Constructors (no kept text). */
void quantity_set_int(struct quantity *q, int64_t value, enum quantity_format f);
void quantity_set_milli(struct quantity *q, int64_t milli, enum quantity_format f);

int quantity_cmp(const struct quantity *a, const struct quantity *b);
/* -1, 0 or 1. */
int quantity_sign(const struct quantity *q);
static inline bool quantity_is_zero(const struct quantity *q) { return q->nano == 0; }
/* a += b / a -= b (a's format kept; a zero a takes b's).  -ERANGE when the
 * result leaves the representable range (a is then unchanged). */
int quantity_add(struct quantity *a, const struct quantity *b);
int quantity_sub(struct quantity *a, const struct quantity *b);
/* Value() and MilliValue(): rounded away from zero, saturated to int64. */
int64_t quantity_value(const struct quantity *q);
int64_t quantity_milli(const struct quantity *q);
/* The string upstream serializes (Quantity.String / MarshalJSON): the kept
 * input, or the canonical form ("100m", "1536Mi", "1500M", "80e-3").
 * Writes into buf (QUANTITY_STRING_MAX bytes always suffice); returns buf. */
char *quantity_format(const struct quantity *q, char *buf, size_t len);

#endif
