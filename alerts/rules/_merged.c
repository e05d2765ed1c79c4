/* alerts.rules._explain, continued: the hits of a set of true atoms — per field, the entries of
 * the atoms merged in text order, each span once, and the words of each as written.
 *
 * Why here: most of an article's matches have hits of their own (few rules share all their true
 * atoms), so this runs once per match. An entry's span stands for its form (entries are first
 * occurrences: one form, one first span), so the merge sorts and compares C integers and never
 * reads the entries' forms.
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

typedef struct {
    long start, end;
} Span;

static int
by_span(const void *x, const void *y)
{
    const Span *a = x, *b = y;
    if (a->start != b->start)
        return (a->start > b->start) - (a->start < b->start);
    return (a->end > b->end) - (a->end < b->end);
}

/* Append the spans of a list of entries (start, end, form) to spans[*count]. */
static int
add_spans(PyObject *entries, Span *spans, Py_ssize_t *count)
{
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(entries); i++) {
        PyObject *entry = PyList_GET_ITEM(entries, i);
        if (!PyTuple_Check(entry) || PyTuple_GET_SIZE(entry) != 3) {
            PyErr_SetString(PyExc_TypeError, "an entry must be (start, end, form)");
            return -1;
        }
        long start = PyLong_AsLong(PyTuple_GET_ITEM(entry, 0)), end = PyLong_AsLong(PyTuple_GET_ITEM(entry, 1));
        if ((start == -1 || end == -1) && PyErr_Occurred())
            return -1;
        spans[(*count)++] = (Span){start, end};
    }
    return 0;
}

/* The words of one field's hits: the atoms' entries merged (sorted, each span once), as
 * written; NULL with no error when no atom has an entry there. */
static PyObject *
field_words(Article *a, PyObject *atoms, int f)
{
    Py_ssize_t count = PyTuple_GET_SIZE(atoms), total = 0, parts = 0;
    PyObject *small[16], **found = count <= 16 ? small : PyMem_New(PyObject *, count);
    if (found == NULL)
        return PyErr_NoMemory();
    for (Py_ssize_t i = 0; i < count; i++) { /* borrowed from the cache, which outlives the call */
        PyObject *atom_obj = PyTuple_GET_ITEM(atoms, i);
        Py_ssize_t atom = PyLong_AsSsize_t(atom_obj);
        found[i] = atom == -1 && PyErr_Occurred() ? NULL : nw_entries_of(a, atom_obj, atom, f);
        if (found[i] == NULL) {
            if (found != small)
                PyMem_Free(found);
            return NULL;
        }
        total += ENTRIES(found[i]);
        parts += ENTRIES(found[i]) > 0;
    }
    PyObject *words = NULL;
    Span stack[32], *spans = total <= 32 ? stack : PyMem_New(Span, total);
    Py_ssize_t used = 0;
    if (total == 0 || spans == NULL) {
        if (spans == NULL)
            PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < count; i++)
        if (ENTRIES(found[i]) && add_spans(found[i], spans, &used) < 0)
            goto done;
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

/* The hits of a tuple of true atoms: {field name: [surface, …]} (a new reference). */
PyObject *
nw_merged(Article *a, PyObject *atoms)
{
    PyObject *hits = PyDict_New();
    for (int f = 0; hits != NULL && f < 2; f++) {
        PyObject *words = field_words(a, atoms, f);
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
