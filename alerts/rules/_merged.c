/* alerts.rules._explain, continued: the hits of a set of true atoms — per field, the entries of
 * the atoms merged in text order, each span once, and the words of each as written.
 *
 * Why here: most of an article's matches have hits of their own (few rules share all their true
 * atoms), so this runs once per match. The entries are spans in a per-call pool (_entries.c); a
 * span's form is the folded words there, compared in the field's joined words.
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

/* Keep the first of the spans (in order) of each form: the folded words at the span. A form's
 * first occurrence is the entry of a word, prefix or phrase; an exact word's (or a NEAR's) entry
 * may be a later occurrence of the same folded form (`ISS iss` for `iss AND =iss`), which the
 * hits list once. Returns how many are kept, or -1. */
static Py_ssize_t
first_of_each_form(Field *field, Span *spans, Py_ssize_t used)
{
    if (nw_field_spaces(field) < 0)
        return -1;
    const char *joined = PyBytes_AS_STRING(field->joined);
    const Py_ssize_t *spaces = field->spaces;
    Py_ssize_t kept = 0;
    for (Py_ssize_t i = 0; i < used; i++) {
        Span span = spans[i];
        if (span.start < 0 || span.end < span.start || span.end + 1 >= field->nspaces) {
            PyErr_SetString(PyExc_IndexError, "an entry past the field's words");
            return -1;
        }
        Py_ssize_t from = spaces[span.start] + 1, length = spaces[span.end + 1] - from;
        int seen = 0;
        for (Py_ssize_t k = 0; !seen && k < kept; k++) {
            Py_ssize_t other = spaces[spans[k].start] + 1;
            seen = spaces[spans[k].end + 1] - other == length && memcmp(joined + other, joined + from, (size_t)length) == 0;
        }
        if (!seen)
            spans[kept++] = span;
    }
    return kept;
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
    if (parts > 1) { /* one atom's entries are in order, each form once */
        qsort(spans, (size_t)used, sizeof(Span), by_span);
        if ((used = first_of_each_form(&a->field[f], spans, used)) < 0)
            goto done;
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
