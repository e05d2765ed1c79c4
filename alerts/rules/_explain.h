/* alerts/rules/_explain.h: what the C files of alerts.rules._explain share — one article's
 * fields as the hits loop reads them, and the entries of an atom (defined in _entries.c).
 */
#ifndef NEWSWATCH_EXPLAIN_H
#define NEWSWATCH_EXPLAIN_H

#ifndef PY_SSIZE_T_CLEAN
#define PY_SSIZE_T_CLEAN
#endif
#include <Python.h>

enum { GENERIC = 0, WORD = 1, PREFIX = 2, PHRASE = 3 }; /* alerts.rules.hits */

typedef struct {
    PyObject *keys;     /* set of rule keys found in the field */
    PyObject *first;    /* dict: folded word -> its first position */
    PyObject *joined;   /* bytes b" w1 w2 … wn " */
    PyObject *text;     /* str */
    PyObject *surface;  /* callable(start, end) -> str */
    PyObject *name;     /* "title" or "text" */
    PyObject *entries;  /* dict: atom -> list of (start, end, form) */
    PyObject *sorted_of; /* callable() -> the distinct folded words, sorted */
    PyObject *sorted;    /* the distinct words (owned), once a prefix asked: */
    int bucketed;        /* 1: grouped by first byte, each group sorted when first asked
                            (bucket[b]..bucket[b + 1]); 0: sorted as a whole (by `sorted_of`) */
    Py_ssize_t bucket[257];
    char bucket_sorted[256];
    PyObject *phrases;   /* dict: phrase key -> its first position, or None (then searched) */
    Py_ssize_t *spaces;  /* offsets of the spaces in `joined` (PyMem), once a phrase asked */
    Py_ssize_t nspaces;
    Py_buffer offsets;  /* ints: start, end of each word; .buf NULL when not given */
    Py_ssize_t words;   /* how many offsets pairs */
} Field;

typedef struct {
    PyObject *kinds, *needles, *keys, *masks; /* by atom id: bytearray, list, list, bytearray */
    PyObject *slow;                           /* callable(atom, field) -> list */
    Field field[2];
} Article;

/* Entries are a list, or the empty tuple for none (shared: no allocation per atom and field). */
#define ENTRIES(x) (PyList_Check(x) ? PyList_GET_SIZE(x) : 0)

/* Item `index` of a bytearray of small ints (an atom's kind or mask), -1 with IndexError. */
static inline long
item_long(PyObject *bytes, Py_ssize_t index)
{
    if (index < 0 || index >= PyByteArray_GET_SIZE(bytes)) {
        PyErr_SetString(PyExc_IndexError, "an atom id outside the plans");
        return -1;
    }
    return (unsigned char)PyByteArray_AS_STRING(bytes)[index];
}

/* Defined in _entries.c. */
PyObject *nw_entries_of(Article *a, PyObject *atom_obj, Py_ssize_t atom, int f);
int nw_atom_present(Article *a, PyObject *atom_obj, Py_ssize_t atom);

#endif
