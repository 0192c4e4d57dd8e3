/*
 * selector.h - label selectors and field selectors, upstream syntax.
 *
 * Label selector strings: "a=b,c==d,e!=f,g in (x,y),h notin (z),i,!j".
 * metav1.LabelSelector objects (matchLabels + matchExpressions with
 * In/NotIn/Exists/DoesNotExist) compile to the same structure.
 * Field selectors: "f=v,g==w,h!=x" (the only operators upstream has).
 * Values are looked up through a getter so that matching works both on
 * json_t objects and on the compact attributes the watch cache keeps.
 */
#ifndef KUBE_SELECTOR_H
#define KUBE_SELECTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

/* Returns the value of key, or NULL when absent. */
typedef const char *(*ksel_get_fn)(void *arg, const char *key);

struct labelsel;
/* NULL on error with an upstream-like message in err.  "" selects all. */
struct labelsel *labelsel_parse(const char *s, char *err, size_t errlen);
/* From a metav1.LabelSelector.  A NULL/absent selector selects nothing
 * (upstream's nil selector); {} selects everything. */
struct labelsel *labelsel_from_json(const json_t *ls, char *err, size_t errlen);
bool labelsel_matches(const struct labelsel *s, const json_t *labels /* object or NULL */);
bool labelsel_matches_fn(const struct labelsel *s, ksel_get_fn get, void *arg);
bool labelsel_is_empty(const struct labelsel *s); /* selects everything */
bool labelsel_is_nothing(const struct labelsel *s);
/* Canonical string form (as upstream prints it); caller frees. */
char *labelsel_string(const struct labelsel *s);
void labelsel_free(struct labelsel *s);

struct fieldsel;
struct fieldsel *fieldsel_parse(const char *s, char *err, size_t errlen);
bool fieldsel_matches_fn(const struct fieldsel *s, ksel_get_fn get, void *arg);
size_t fieldsel_count(const struct fieldsel *s);
/* i-th requirement; op is "=" or "!=" (== is reported as =). */
void fieldsel_term(const struct fieldsel *s, size_t i, const char **field, const char **op, const char **value);
void fieldsel_free(struct fieldsel *s);

#endif
