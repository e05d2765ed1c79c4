/* The snippets of alerts.rules._explain (linked into that module; see _explain.c).
 *
 * Why: an article a desk's broad rules hit is matched by hundreds of rules, and a snippet is
 * stored with each match: a window of the text around the first hit with the hits marked. In
 * Python the window's marked words, the merged marks and the cleaned pieces of text cost
 * ~12 µs a snippet. Here: `snippet` is explanations.make_snippet exactly (the tests compare
 * them on random texts), `window` the marked words of a window of single words and prefixes
 * (hits.ArticleHits._spans_in_window).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>


typedef struct {
    Py_UCS4 *chars;
    Py_ssize_t used, capacity;
} Out;

static int
put(Out *out, Py_UCS4 c)
{
    if (out->used == out->capacity) {
        Py_ssize_t capacity = out->capacity ? out->capacity * 2 : 256;
        Py_UCS4 *chars = PyMem_Realloc(out->chars, (size_t)capacity * sizeof(Py_UCS4));
        if (chars == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        out->chars = chars;
        out->capacity = capacity;
    }
    out->chars[out->used++] = c;
    return 0;
}

static int
put_ascii(Out *out, const char *text)
{
    for (; *text; text++)
        if (put(out, (Py_UCS4)(unsigned char)*text) < 0)
            return -1;
    return 0;
}

/* text[from:to] as explanations._clean gives it: "**" made "*", each run of white space one
 * space (kept at the ends). */
static int
put_clean(Out *out, int kind, const void *data, Py_ssize_t from, Py_ssize_t to)
{
    int in_space = 0;
    for (Py_ssize_t i = from; i < to;) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        i += (c == '*' && i + 1 < to && PyUnicode_READ(kind, data, i + 1) == '*') ? 2 : 1;
        if (Py_UNICODE_ISSPACE(c)) {
            in_space = 1;
            continue;
        }
        if ((in_space && put(out, ' ') < 0) || put(out, c) < 0)
            return -1;
        in_space = 0;
    }
    return in_space ? put(out, ' ') : 0;
}

typedef struct {
    long start, end;
} Span;

static int
span_order(const void *a, const void *b)
{
    const Span *x = a, *y = b;
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    return (x->end > y->end) - (x->end < y->end);
}

#define SNIPPET_BEFORE 12 /* explanations.SNIPPET_BEFORE */
#define SNIPPET_AFTER 24  /* explanations.SNIPPET_AFTER */

/* explanations.make_snippet, with the words' offsets flat (s0, e0, s1, e1, …). */
static PyObject *
make_snippet(PyObject *text, const int *offsets, Py_ssize_t count, Span *spans, Py_ssize_t nspans)
{
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    Py_ssize_t length = PyUnicode_GET_LENGTH(text);
    Out out = {NULL, 0, 0};
    PyObject *result = NULL;
    Py_ssize_t merged = 0;
    if (count == 0) {
        if (put_clean(&out, kind, data, 0, length) < 0)
            goto done;
        goto strip;
    }
    qsort(spans, (size_t)nspans, sizeof(Span), span_order);
    for (Py_ssize_t i = 0; i < nspans; i++) {
        if (spans[i].start < 0 || spans[i].end < spans[i].start || spans[i].end >= count) {
            PyErr_SetString(PyExc_IndexError, "a span outside the words");
            goto done;
        }
        if (merged && spans[i].start <= spans[merged - 1].end) {
            if (spans[i].end > spans[merged - 1].end)
                spans[merged - 1].end = spans[i].end;
        }
        else
            spans[merged++] = spans[i];
    }
    long first, last;
    if (merged) {
        first = spans[0].start - SNIPPET_BEFORE > 0 ? spans[0].start - SNIPPET_BEFORE : 0;
        long reach = spans[0].end > spans[0].start + SNIPPET_AFTER ? spans[0].end : spans[0].start + SNIPPET_AFTER;
        last = reach < count - 1 ? reach : (long)count - 1;
    }
    else {
        first = 0;
        last = (count < SNIPPET_BEFORE + SNIPPET_AFTER ? (long)count : SNIPPET_BEFORE + SNIPPET_AFTER) - 1;
    }
    Py_ssize_t stop = last + 1 < count ? offsets[2 * (last + 1)] : length;
    if (first > 0 && (put(&out, 0x2026) < 0 || put(&out, ' ') < 0)) /* "… " */
        goto done;
    Py_ssize_t cursor = offsets[2 * first];
    for (Py_ssize_t i = 0; i < merged; i++) {
        if (spans[i].start < first || spans[i].end > last)
            continue;
        Py_ssize_t begin = offsets[2 * spans[i].start], finish = offsets[2 * spans[i].end + 1];
        if (put_clean(&out, kind, data, cursor, begin) < 0 || put_ascii(&out, "**") < 0 ||
            put_clean(&out, kind, data, begin, finish) < 0 || put_ascii(&out, "**") < 0)
            goto done;
        cursor = finish;
    }
    Py_ssize_t mark = out.used;
    if (put_clean(&out, kind, data, cursor, stop) < 0)
        goto done;
    while (out.used > mark && Py_UNICODE_ISSPACE(out.chars[out.used - 1])) /* .rstrip() */
        out.used--;
    if (last < count - 1 && (put(&out, ' ') < 0 || put(&out, 0x2026) < 0))
        goto done;
strip:;
    Py_ssize_t from = 0, to = out.used;
    while (from < to && Py_UNICODE_ISSPACE(out.chars[from]))
        from++;
    while (to > from && Py_UNICODE_ISSPACE(out.chars[to - 1]))
        to--;
    result = PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, out.chars + from, to - from);
done:
    PyMem_Free(out.chars);
    return result;
}

const char nw_snippet_doc[] =
"snippet(text, offsets, spans)\n--\n\n"
"explanations.make_snippet(text, starts, ends, spans) with `offsets` the words' start and end\n"
"offsets flat (a buffer of ints: s0, e0, s1, e1, …) and `spans` a list of (start, end) word\n"
"indexes.";

PyObject *
nw_snippet(PyObject *module, PyObject *args)
{
    PyObject *text, *offsets_obj, *spans_obj;
    (void)module;
    if (!PyArg_ParseTuple(args, "UOO!:snippet", &text, &offsets_obj, &PyList_Type, &spans_obj))
        return NULL;
    Py_buffer offsets;
    if (PyObject_GetBuffer(offsets_obj, &offsets, PyBUF_FORMAT | PyBUF_C_CONTIGUOUS) < 0)
        return NULL;
    PyObject *result = NULL;
    Span *spans = NULL;
    const char *format = offsets.format;
    if (offsets.itemsize != sizeof(int) || format == NULL || (strcmp(format, "i") && strcmp(format, "@i"))) {
        PyErr_SetString(PyExc_TypeError, "offsets must be a buffer of ints");
        goto done;
    }
    Py_ssize_t count = offsets.len / (Py_ssize_t)sizeof(int) / 2, length = PyUnicode_GET_LENGTH(text);
    const int *flat = offsets.buf;
    for (Py_ssize_t i = 0; i < 2 * count; i++)
        if (flat[i] < 0 || flat[i] > length) {
            PyErr_SetString(PyExc_ValueError, "an offset outside the text");
            goto done;
        }
    Py_ssize_t nspans = PyList_GET_SIZE(spans_obj);
    spans = PyMem_New(Span, nspans ? nspans : 1);
    if (spans == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < nspans; i++) {
        PyObject *span = PyList_GET_ITEM(spans_obj, i);
        if (!PyArg_ParseTuple(span, "ll:span", &spans[i].start, &spans[i].end))
            goto done;
    }
    result = make_snippet(text, flat, count, spans, nspans);
done:
    PyMem_Free(spans);
    PyBuffer_Release(&offsets);
    return result;
}

const char nw_window_doc[] =
"window(words, low, needles)\n--\n\n"
"The spans (i, i) of the words from `low` to SNIPPET_AFTER words later that are one of\n"
"`needles`, a list of (word, is_prefix): a word equal to it, or starting with it.";

PyObject *
nw_window(PyObject *module, PyObject *args)
{
    PyObject *words, *needles;
    Py_ssize_t low;
    (void)module;
    if (!PyArg_ParseTuple(args, "O!nO!:window", &PyList_Type, &words, &low, &PyList_Type, &needles))
        return NULL;
    Py_ssize_t count = PyList_GET_SIZE(words), kinds = PyList_GET_SIZE(needles);
    for (Py_ssize_t k = 0; k < kinds; k++) {
        PyObject *needle = PyList_GET_ITEM(needles, k);
        if (!PyTuple_Check(needle) || PyTuple_GET_SIZE(needle) != 2 || !PyBytes_Check(PyTuple_GET_ITEM(needle, 0))) {
            PyErr_SetString(PyExc_TypeError, "needles must be (bytes, is_prefix)");
            return NULL;
        }
    }
    PyObject *out = PyList_New(0);
    if (out == NULL)
        return NULL;
    Py_ssize_t high = low + SNIPPET_AFTER < count - 1 ? low + SNIPPET_AFTER : count - 1;
    for (Py_ssize_t i = low < 0 ? 0 : low; i <= high; i++) {
        PyObject *word = PyList_GET_ITEM(words, i);
        if (!PyBytes_Check(word))
            continue;
        const char *w = PyBytes_AS_STRING(word);
        Py_ssize_t w_len = PyBytes_GET_SIZE(word);
        for (Py_ssize_t k = 0; k < kinds; k++) {
            PyObject *needle = PyList_GET_ITEM(needles, k);
            PyObject *pin = PyTuple_GET_ITEM(needle, 0);
            Py_ssize_t pin_len = PyBytes_GET_SIZE(pin);
            int prefix = PyObject_IsTrue(PyTuple_GET_ITEM(needle, 1));
            if (prefix < 0) {
                Py_DECREF(out);
                return NULL;
            }
            if ((prefix ? w_len >= pin_len : w_len == pin_len) && memcmp(w, PyBytes_AS_STRING(pin), (size_t)pin_len) == 0) {
                PyObject *span = Py_BuildValue("(nn)", i, i);
                if (span == NULL || PyList_Append(out, span) < 0) {
                    Py_XDECREF(span);
                    Py_DECREF(out);
                    return NULL;
                }
                Py_DECREF(span);
                break;
            }
        }
    }
    return out;
}
