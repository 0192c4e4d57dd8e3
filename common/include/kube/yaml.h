/*
 * yaml.h - YAML <-> JSON (libyaml).  YAML is turned into the same json_t
 * tree the rest of the code works on, with the typing sigs.k8s.io/yaml
 * applies: plain scalars true/false/null/~/integers/floats become JSON
 * values, quoted scalars stay strings; anchors and aliases are resolved.
 */
#ifndef KUBE_YAML_H
#define KUBE_YAML_H

#include <stddef.h>
#include <jansson.h>

/* All documents of a stream ("---" separated), empty documents skipped.
 * New reference to a JSON array; NULL on error with a message in err that
 * names the line ("yaml: line 3: mapping values are not allowed ..."). */
json_t *kyaml_load_all(const char *buf, size_t len, char *err, size_t errlen);
/* Exactly one document (the first non-empty); NULL on error or none. New ref. */
json_t *kyaml_load(const char *buf, size_t len, char *err, size_t errlen);
/* Block-style YAML as kubectl -o yaml prints it; caller frees. */
char *kyaml_dump(const json_t *v);

#endif
