/* alerts/rules/_explain.h: what the C files of alerts.rules._explain share — one article's
 * fields as the hits loop reads them, and the entries of an atom (defined in _entries.c) as
 * spans.
 */
#ifndef NEWSWATCH_EXPLAIN_H
#define NEWSWATCH_EXPLAIN_H

#ifndef PY_SSIZE_T_CLEAN
#define PY_SSIZE_T_CLEAN
#endif
#include <Python.h>
#include <stdint.h>

#include "_firsts.h"

enum { GENERIC = 0, WORD = 1, PREFIX = 2, PHRASE = 3 }; /* alerts.rules.hits */

/* An entry: the span (first, last word) of a form's first occurrence in the field. */
typedef struct {
    int32_t start, end;
} Span;

/* Per call and field, each atom's entries once worked out: atom id -> its spans in one pool. */
typedef struct {
    int32_t atom;   /* the atom id + 1; 0: an empty slot */
    int32_t offset; /* of its spans in the pool */
    int32_t count;  /* how many; -1: not worked out yet */
} EntrySlot;

typedef struct {
    EntrySlot *slots;
    int32_t capacity, used;
    Span *spans;
    Py_ssize_t nspans, spans_capacity;
} EntryCache;

typedef struct {
    PyObject *keys;     /* the rule keys found in the field (alerts.rules._scan.KeySet) */
    Py_buffer bits;     /* its bits: bit id % 8 of byte id / 8 for each key id found */
    PyObject *first;    /* where the field's keys first occur, by key id (bytes laid out as
                           alerts/rules/_firsts.h says), or a dict: folded word -> its first
                           position (when the chunk table's view could not be had) */
    const char *firsts; /* the bytes' contents, NULL for the dict */
    Py_ssize_t firsts_size;
    PyObject *joined;   /* bytes b" w1 w2 … wn " */
    PyObject *text;     /* str */
    PyObject *surface;  /* callable(start, end) -> str */
    PyObject *name;     /* "title" or "text" */
    PyObject *entries;  /* dict: atom -> list of (start, end, form), Python's (read for exact
                           words and NEAR, and given what Python was asked for them) */
    EntryCache cache;
    PyObject *sorted_of; /* callable() -> the distinct folded words, sorted */
    PyObject *sorted;    /* the distinct words (owned), once a prefix asked: */
    int bucketed;        /* 1: grouped by first byte, each group sorted when first asked
                            (bucket[b]..bucket[b + 1]); 0: sorted as a whole (by `sorted_of`) */
    Py_ssize_t bucket[257];
    char bucket_sorted[256];
    Py_ssize_t *spaces;  /* offsets of the spaces in `joined` (PyMem), once a phrase asked */
    Py_ssize_t nspaces;
    Py_buffer offsets;  /* ints: start, end of each word; .buf NULL when not given */
    Py_ssize_t words;   /* how many offsets pairs */
} Field;

/* What the hits read of an atom, all in one place (one memory read for most atoms). */
typedef struct {
    int32_t key_id; /* the id of its key (alerts/rules/keys.py), -1 when it has none */
    int32_t kind;   /* GENERIC, WORD, PREFIX or PHRASE, plus its fields << 8 (1 title, 2 text),
                       plus for a phrase its words after the first << 16 */
} AtomInfo;

typedef struct {
    PyObject *needles, *keys; /* by atom id: lists */
    Py_buffer atoms;          /* by atom id: AtomInfo (int32 pairs) */
    PyObject *slow;           /* callable(atom, field) -> list */
    Field field[2];
} Article;

/* The atom's AtomInfo, or NULL with IndexError. */
static inline const AtomInfo *
atom_info(const Article *a, Py_ssize_t atom)
{
    if (atom < 0 || atom >= a->atoms.len / (Py_ssize_t)sizeof(AtomInfo)) {
        PyErr_SetString(PyExc_IndexError, "an atom id outside the plans");
        return NULL;
    }
    return (const AtomInfo *)a->atoms.buf + atom;
}

/* Whether the key of this id was found in the field. */
static inline int
has_key_id(const Field *field, int32_t id)
{
    return id >= 0 && id < field->bits.len * 8
           && ((((const unsigned char *)field->bits.buf)[id >> 3] >> (id & 7)) & 1);
}

/* Room for `more` spans in the cache's pool. */
static inline int
nw_reserve_spans(EntryCache *cache, Py_ssize_t more)
{
    if (cache->nspans + more <= cache->spans_capacity)
        return 0;
    Py_ssize_t wanted = cache->spans_capacity ? cache->spans_capacity * 2 : 256;
    while (cache->nspans + more > wanted)
        wanted *= 2;
    Span *grown = PyMem_Realloc(cache->spans, (size_t)wanted * sizeof(Span));
    if (grown == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    cache->spans = grown;
    cache->spans_capacity = wanted;
    return 0;
}

/* Defined in _entries.c: the atom's entries in field f, as (offset, count) in the field's pool
 * of spans (offsets stay valid as the pool grows; pointers into it do not). */
int nw_entries(Article *a, int32_t atom, int f, int32_t *offset, int32_t *count);
int nw_atom_present(Article *a, int32_t atom);
/* field->spaces: the offsets of the spaces in `joined` (word i is between spaces i and i + 1). */
int nw_field_spaces(Field *field);
extern const char nw_noted_doc[];
PyObject *nw_noted(PyObject *module, PyObject *args);

/* Defined in _merged.c: the hits of the true atoms, {field name: [surface, …]}. */
PyObject *nw_merged(Article *a, const int32_t *atoms, Py_ssize_t count);

#endif
