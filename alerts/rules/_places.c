/* alerts.rules._scan, continued: the module's functions on word places — where a word id
 * occurs in a field's ids (`places`), whether two do within a distance (`near`, NEAR of two
 * plain words), where a word or prefix is in the joined words (`word_places`) — and the keyed
 * hash of a chunk (`chunk_hash`, for tests and benchmarks). Why in C: a rule's word can be in
 * an article dozens of times, and each place found in Python is a step of the interpreter.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#include "_table.h"

const char nw_chunk_hash_doc[] =
"chunk_hash(chunk)\n--\n\n"
"Return the keyed hash the table gives `chunk` (for tests and benchmarks).";

PyObject *
nw_chunk_hash(PyObject *module, PyObject *arg)
{
    Py_buffer chunk;
    if (PyObject_GetBuffer(arg, &chunk, PyBUF_SIMPLE) < 0)
        return NULL;
    ChunkKey key = chunk_key(chunk.buf, chunk.len);
    PyBuffer_Release(&chunk);
    return PyLong_FromUnsignedLongLong(key.hash);
}

const char nw_places_doc[] =
"places(ids, id)\n--\n\n"
"Return the indexes at which `id` occurs in `ids` (native int32 in a bytes-like object, as\n"
"`scan(..., words=True)` gives them).";

PyObject *
nw_places(PyObject *module, PyObject *args)
{
    Py_buffer ids;
    long wanted;
    if (!PyArg_ParseTuple(args, "y*l:places", &ids, &wanted))
        return NULL;
    PyObject *out = PyList_New(0);
    Py_ssize_t count = ids.len / (Py_ssize_t)sizeof(int32_t);
    for (Py_ssize_t i = 0; out != NULL && i < count; i++) {
        int32_t id;
        memcpy(&id, (const char *)ids.buf + i * (Py_ssize_t)sizeof(int32_t), sizeof(id));
        if (id != wanted)
            continue;
        PyObject *index = PyLong_FromSsize_t(i);
        if (index == NULL || PyList_Append(out, index) < 0)
            Py_CLEAR(out);
        Py_XDECREF(index);
    }
    PyBuffer_Release(&ids);
    return out;
}

const char nw_word_places_doc[] =
"word_places(joined, needle)\n--\n\n"
"Return the indexes of the words of `joined` (b\" w0 w1 … wn \") at which `needle` occurs, a\n"
"needle that starts with a space: b\" word \" for a word, b\" prefix\" for the words it starts.\n"
"A word's index is the number of spaces before it (the find-and-count loop of\n"
"alerts.rules.text.word_places, without a Python step per place).";

PyObject *
nw_word_places(PyObject *module, PyObject *args)
{
    Py_buffer joined, needle;
    if (!PyArg_ParseTuple(args, "y*y*:word_places", &joined, &needle))
        return NULL;
    PyObject *out = PyList_New(0);
    const char *hay = joined.buf, *pin = needle.buf;
    Py_ssize_t length = joined.len, size = needle.len, index = 0, counted = 0;
    if (out != NULL && (size == 0 || pin[0] != ' ')) {
        PyErr_SetString(PyExc_ValueError, "the needle must start with a space");
        Py_CLEAR(out);
    }
    for (Py_ssize_t at = 0; out != NULL && at + size <= length;) {
        const char *found = memmem(hay + at, (size_t)(length - at), pin, (size_t)size);
        if (found == NULL)
            break;
        Py_ssize_t where = found - hay;
        for (; counted < where; counted++) /* the spaces before it: the word's index */
            index += hay[counted] == ' ';
        PyObject *place = PyLong_FromSsize_t(index);
        if (place == NULL || PyList_Append(out, place) < 0)
            Py_CLEAR(out);
        Py_XDECREF(place);
        at = where + 1;
    }
    PyBuffer_Release(&joined);
    PyBuffer_Release(&needle);
    return out;
}

const char nw_near_doc[] =
"near(ids, left, right, distance)\n--\n\n"
"Whether a word with id `left` and one with id `right` occur in `ids` (as places() reads them)\n"
"at two different places with at most `distance` words between them, in either order: NEAR\n"
"of two plain words, in one pass and no object per place.";

PyObject *
nw_near(PyObject *module, PyObject *args)
{
    Py_buffer ids;
    long left, right, distance;
    if (!PyArg_ParseTuple(args, "y*lll:near", &ids, &left, &right, &distance))
        return NULL;
    Py_ssize_t count = ids.len / (Py_ssize_t)sizeof(int32_t), last_left = -1, last_right = -1;
    int found = 0;
    for (Py_ssize_t i = 0; !found && i < count; i++) {
        int32_t id;
        memcpy(&id, (const char *)ids.buf + i * (Py_ssize_t)sizeof(int32_t), sizeof(id));
        if (id == left) { /* the nearest right before it is the one that can be near enough */
            found = last_right >= 0 && last_right != i && i - last_right - 1 <= distance;
            last_left = i;
        }
        if (!found && id == right) {
            found = last_left >= 0 && last_left != i && i - last_left - 1 <= distance;
            last_right = i;
        }
    }
    PyBuffer_Release(&ids);
    return PyBool_FromLong(found);
}
