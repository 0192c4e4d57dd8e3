/*
 * schema_int.h - the in-memory form of the schema table, shared by the
 * parser and validation (schema.c) and the OpenAPI generator (openapi.c).
 *
 * Every type, named or inline, is one `struct stype` owned by the schema's
 * pool; fields point straight at the named types they reference once the
 * table is resolved, so lookups never search by name after load.
 */
#ifndef APISERVER_SCHEMA_INT_H
#define APISERVER_SCHEMA_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "schema/schema.h"

enum st_kind {
  ST_REF, /* unresolved reference (only while parsing) */
  ST_STRING,
  ST_BYTES, /* base64 string */
  ST_BOOLEAN,
  ST_INTEGER,  /* format in stype.format: NULL, "int32", "int64" */
  ST_NUMBER,   /* format NULL or "double" */
  ST_FREEFORM, /* any JSON value / object: nothing is checked */
  ST_INT_OR_STRING,
  ST_QUANTITY,
  ST_TIME, /* Time and MicroTime */
  ST_ARRAY,
  ST_MAP,
  ST_STRUCT,
};

#define SCHEMA_PROTO_DEPTH 4

struct sfield {
  char *name;
  struct stype *type;
  char *merge_key; /* strategic merge patch key of a list, or NULL */
  char *strategy;  /* "merge", "retainKeys", "merge,retainKeys", "replace" or NULL */
  char *list_type; /* "atomic", "set", "map" or NULL */
  char *list_keys; /* comma-separated x-kubernetes-list-map-keys or NULL */
  char *map_type;  /* "atomic", "granular" or NULL */
  char *desc;
  bool required;
  /* Protobuf field number path: one number for an ordinary field; two or
   * more for a field that Go embeds inline from a struct that has its own
   * protobuf field (Volume's VolumeSource is field 2 of Volume, so
   * `hostPath` is 2.1).  nproto == 0 when the field has no number. */
  unsigned proto[SCHEMA_PROTO_DEPTH];
  unsigned nproto;
  bool ptr;    /* a pointer in Go: an explicit zero value is kept */
  bool noomit; /* Go's JSON tag lacks omitempty: a zero value is kept */
};

struct stype {
  enum st_kind kind;
  char *name;         /* OpenAPI definition name of a named type, else NULL */
  const char *format; /* static string */
  struct stype *elem; /* ST_ARRAY, ST_MAP */
  struct sfield *fields;
  size_t nfields, capfields;
  char *desc;
  char *struct_type; /* "atomic" for x-kubernetes-map-type on the type */
  int line;          /* where declared or referenced (errors) */
  char *file;        /* idem; borrowed from the schema's file list */
};

struct skind {
  char *group, *version, *kind;
  struct stype *type; /* borrowed from the pool */
};

struct schema {
  struct skind *kinds; /* every `kind` line, then the synthesized lists */
  size_t nkinds, capkinds;
  struct stype **pool; /* every allocated type, owned */
  size_t npool, cappool;
  struct stype **named; /* named types, sorted by name after load */
  size_t nnamed, capnamed;
  char **files; /* file names seen in markers, owned */
  size_t nfiles;
};

/* Named type by its full OpenAPI name, or NULL. */
struct stype *schema_find_type(const struct schema *s, const char *name);
/* Field of a struct type by JSON name, or NULL. */
const struct sfield *schema_find_field(const struct stype *t, const char *name);

#endif
