/*
 * protobuf.h - request bodies in application/vnd.kubernetes.protobuf,
 * decoded through the schema table (see protobuf.c).
 */
#ifndef APISERVER_PROTOBUF_H
#define APISERVER_PROTOBUF_H

#include <stddef.h>
#include <jansson.h>

struct schema;

/* Decodes a body in the Kubernetes protobuf envelope ("k8s\0" +
 * runtime.Unknown) into the JSON object the same request would have sent,
 * using the field numbers of the schema table s.  New reference, or NULL
 * with a message in err and the HTTP status to answer in *http_code
 * (400 for a malformed body or an unknown field number, 415 for a kind
 * the table does not describe). */
json_t *protobuf_decode(const struct schema *s, const void *buf, size_t len, int *http_code, char *err, size_t errlen);

/* The same for a body whose type the caller knows (an options type such
 * as DeleteOptions, which is no kind of the table): the envelope's object
 * decoded as t, with the envelope's kind and apiVersion. */
struct stype;
json_t *protobuf_decode_as(const struct stype *t, const void *buf, size_t len, int *http_code, char *err,
                           size_t errlen);

#endif
