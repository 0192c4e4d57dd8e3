/*
 * quantity.h - resource quantities ("100m", "1.5", "128Mi", "1G", "2e3").
 * Values are held exactly in milli-units (int64), which covers every CPU and
 * memory amount in practice; a value that does not fit is an error.
 * The format (BinarySI, DecimalSI, DecimalExponent) of the parsed string is
 * kept for canonical printing, as upstream does.
 */
#ifndef KUBE_QUANTITY_H
#define KUBE_QUANTITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum quantity_format { QF_DECIMAL_SI, QF_BINARY_SI, QF_DECIMAL_EXPONENT };

struct quantity {
  int64_t milli;               /* value * 1000, rounded up as upstream rounds */
  enum quantity_format format;
};

/* 0, or -EINVAL for a malformed string, -ERANGE if it does not fit. */
int quantity_parse(const char *s, struct quantity *q);
int quantity_cmp(const struct quantity *a, const struct quantity *b);
/* a += b (format of a kept; a zero a takes b's). -ERANGE on overflow. */
int quantity_add(struct quantity *a, const struct quantity *b);
int quantity_sub(struct quantity *a, const struct quantity *b);
/* Whole units rounded up (Value()) and milli-units (MilliValue()). */
int64_t quantity_value(const struct quantity *q);
int64_t quantity_milli(const struct quantity *q);
/* Canonical string as upstream's Quantity.String(): "100m", "1536Mi",
 * "1500M"...  Writes into buf; returns buf. */
char *quantity_format(const struct quantity *q, char *buf, size_t len);

#endif
