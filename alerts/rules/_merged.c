/* alerts.rules._explain, continued: the hits of a set of true atoms — per field, the entries of
 * the atoms merged in text order, each span once, and the words of each as written.
 *
 * Why here: most of an article's matches have hits of their own (few rules share all their true
 * atoms), so this runs once per match. An entry's span stands for its form (entries are first
 * occurrences: one form, one first span), so the merge sorts and compares C integers: the
 * entries are spans in a per-call pool (_entries.c).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdlib.h>
#include <string.h>

#include "_explain.h"

/* Whether text[from:to] has white space other than single spaces (`surface` would change it). */
static int
uneven_space(PyObject *text, Py_ssize_t from, Py_ssize_t to)
{
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    int after_space = 1; /* a span starts with a word */
    for (Py_ssize_t i = from; i < to; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        if (c == ' ') {
            if (after_space)
                return 1;
            after_space = 1;
        } else if (Py_UNICODE_ISSPACE(c))
            return 1;
        else
            after_space = 0;
    }
    return after_space;
}

/* The words s..e as written, white space between them made one space (`surface`). */
static PyObject *
surface_of(Field *field, long s, long e)
{
    if (field->offsets.buf != NULL && 0 <= s && s <= e && e < field->words) {
        const int *offsets = (const int *)field->offsets.buf;
        Py_ssize_t length = PyUnicode_GET_LENGTH(field->text);
        Py_ssize_t from = offsets[2 * s], to = offsets[2 * e + 1];
        if (0 <= from && from <= to && to <= length && (s == e || !uneven_space(field->text, from, to)))
            return PyUnicode_Substring(field->text, from, to); /* a word has no white space in it */
    }
    return PyObject_CallFunction(field->surface, "ll", s, e);
}

static int
by_span(const void *x, const void *y)
{
    const Span *a = x, *b = y;
    if (a->start != b->start)
        return (a->start > b->start) - (a->start < b->start);
    return (a->end > b->end) - (a->end < b->end);
}

/* The words of one field's hits: the atoms' entries merged (sorted, each span once), as
 * written; NULL with no error when no atom has an entry there. */
static PyObject *
field_words(Article *a, const int32_t *atoms, Py_ssize_t count, int f)
{
    int32_t small[2 * 16], *found = count <= 16 ? small : PyMem_New(int32_t, 2 * count);
    if (found == NULL)
        return PyErr_NoMemory();
    Py_ssize_t total = 0, parts = 0;
    for (Py_ssize_t i = 0; i < count; i++) { /* (offset, count) of each atom's spans */
        if (nw_entries(a, atoms[i], f, &found[2 * i], &found[2 * i + 1]) < 0) {
            if (found != small)
                PyMem_Free(found);
            return NULL;
        }
        total += found[2 * i + 1];
        parts += found[2 * i + 1] > 0;
    }
    PyObject *words = NULL;
    Span stack[32], *spans = total <= 32 ? stack : PyMem_New(Span, total);
    if (total == 0 || spans == NULL) {
        if (spans == NULL)
            PyErr_NoMemory();
        goto done;
    }
    const Span *pool = a->field[f].cache.spans; /* (read after all were worked out: it may move) */
    Py_ssize_t used = 0;
    for (Py_ssize_t i = 0; i < count; i++) {
        memcpy(spans + used, pool + found[2 * i], (size_t)found[2 * i + 1] * sizeof(Span));
        used += found[2 * i + 1];
    }
    if (parts > 1) { /* one atom's entries are in order, each span once */
        qsort(spans, (size_t)used, sizeof(Span), by_span);
        Py_ssize_t kept = 1;
        for (Py_ssize_t i = 1; i < used; i++)
            if (by_span(&spans[i], &spans[kept - 1]) != 0)
                spans[kept++] = spans[i];
        used = kept;
    }
    words = PyList_New(used);
    for (Py_ssize_t i = 0; words != NULL && i < used; i++) {
        PyObject *surface = surface_of(&a->field[f], spans[i].start, spans[i].end);
        if (surface == NULL)
            Py_CLEAR(words);
        else
            PyList_SET_ITEM(words, i, surface);
    }
done:
    if (spans != stack)
        PyMem_Free(spans);
    if (found != small)
        PyMem_Free(found);
    return words;
}

/* The hits of the true atoms: {field name: [surface, …]} (a new reference). */
PyObject *
nw_merged(Article *a, const int32_t *atoms, Py_ssize_t count)
{
    PyObject *hits = PyDict_New();
    for (int f = 0; hits != NULL && f < 2; f++) {
        PyObject *words = field_words(a, atoms, count, f);
        if (words == NULL) {
            if (PyErr_Occurred())
                Py_CLEAR(hits);
            continue;
        }
        if (PyDict_SetItem(hits, a->field[f].name, words) < 0)
            Py_CLEAR(hits);
        Py_DECREF(words);
    }
    return hits;
}
