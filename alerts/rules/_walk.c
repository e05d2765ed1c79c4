/* alerts.rules._scan, continued: the passes over an article's chunks that read the table
 * without learning from it — the folded words joined, their offsets in the text, the first
 * position of each word with keys and of each phrase (`walk`, behind joined(), offsets() and
 * view()). Why: the explanations of a match need those, and one pass gives them all.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#include "_table.h"

/* firsts[key] = start for a phrase's key (phrases are one key each: bytes). */
static int
phrase_start(ChunkTable *self, int32_t value, Py_ssize_t start, PyObject *firsts)
{
    PyObject *key = PyList_GET_ITEM(self->values, value);
    if (!PyBytes_CheckExact(key))
        return 0;
    PyObject *position = PyLong_FromSsize_t(start);
    int failed = position == NULL || PyDict_SetDefault(firsts, key, position) == NULL;
    Py_XDECREF(position);
    return failed ? -1 : 0;
}

/* first[word] = position unless the word is there already (a new bytes object per word). */
static int
first_position(PyObject *first, const char *word, Py_ssize_t n, Py_ssize_t position)
{
    PyObject *key = PyBytes_FromStringAndSize(word, n);
    PyObject *value = key == NULL ? NULL : PyLong_FromSsize_t(position);
    int failed = value == NULL || PyDict_SetDefault(first, key, value) == NULL;
    Py_XDECREF(key);
    Py_XDECREF(value);
    return failed ? -1 : 0;
}

enum { JOINED = 1, OFFSETS = 2, FIRST = 4 }; /* what `walk` makes */

/* One pass over the chunks of `data` making what `wanted` asks: the folded words joined
 * (b" w1 w2 ... wn "), their offsets in characters (int32 pairs; None when a chunk's were not
 * given) and each distinct word's first position (a dict). Returns (joined, offsets, first)
 * with None for what was not asked, or None when a chunk of `data` is not in the table. */
static PyObject *
walk(ChunkTable *self, PyObject *arg, int wanted)
{
    Py_buffer data;
    if (PyObject_GetBuffer(arg, &data, PyBUF_SIMPLE) < 0)
        return NULL;
    char *out = NULL;
    int32_t *offsets = NULL;
    Py_ssize_t used = 0, capacity = 0, pairs = 0, pairs_capacity = 0;
    int with_offsets = (wanted & OFFSETS) != 0;
    PyObject *first = NULL, *phrases = NULL, *result = NULL;
    int32_t *stream = NULL; /* the words as ids, for the phrases' first positions */
    Py_ssize_t streamed = 0, stream_capacity = 0;
    if (data.len > INT32_MAX) {
        PyErr_SetString(PyExc_OverflowError, "the text is too long");
        goto done;
    }
    if ((wanted & FIRST) && ((first = PyDict_New()) == NULL || (phrases = PyDict_New()) == NULL))
        goto done;
    if ((wanted & FIRST) && self->nodes > 1
        && nw_reserve((void **)&stream, &stream_capacity, 0, data.len / 2 + 16, sizeof(int32_t)) < 0)
        goto done;
    if ((wanted & (JOINED | FIRST)) && nw_reserve((void **)&out, &capacity, 0, data.len + 3, 1) < 0)
        goto done;
    uint32_t epoch = (wanted & FIRST) ? nw_next_epoch(self) : 0;
    if (out != NULL)
        out[used++] = ' ';
    const unsigned char *base = data.buf, *p = base, *end = base + data.len, *start, *counted = base;
    Py_ssize_t n, chars = 0, position = 0; /* characters in [base, counted); words so far */
    Chunks chunks;
    ChunkKey key;
    chunks_of(&chunks, p, end);
    while (next_keyed_chunk(self->slots, self->capacity, &chunks, &start, &n, &key)) {
        Slot *slot = find_slot(self, (const char *)start, n, key);
        if (slot->hash == 0) {
            result = Py_None;
            Py_INCREF(result);
            goto done;
        }
        if (stream != NULL && slot->nwords > 0) {
            if (nw_reserve((void **)&stream, &stream_capacity, streamed, slot->nwords, sizeof(int32_t)) < 0)
                goto done;
            memcpy(stream + streamed, slot_words(self, slot), (size_t)slot->nwords * sizeof(int32_t));
            streamed += slot->nwords;
        }
        if (with_offsets && slot->spans == -2) {
            with_offsets = 0;
            if (wanted == OFFSETS)
                break;
        }
        if (with_offsets) {
            for (; counted < start; counted++) /* the spaces before the chunk */
                chars += (*counted & 0xC0) != 0x80;
            Py_ssize_t from = chars;
            for (; counted < start + n; counted++)
                chars += (*counted & 0xC0) != 0x80;
            if (nw_reserve((void **)&offsets, &pairs_capacity, pairs, 2 * (Py_ssize_t)slot->nwords + 2, sizeof(int32_t)) < 0)
                goto done;
            if (slot->spans < 0 && slot->nwords == 1) { /* one word: the whole chunk */
                offsets[pairs++] = (int32_t)from;
                offsets[pairs++] = (int32_t)chars;
            } else if (slot->spans >= 0) {
                const int32_t *spans = self->sequences + slot->spans;
                for (int32_t k = 0; k < 2 * slot->nwords; k++)
                    offsets[pairs++] = (int32_t)(from + spans[k]);
            }
        }
        if (out == NULL)
            continue;
        const char *piece = (const char *)start;
        Py_ssize_t length = n;
        if (slot->folded_length >= 0) {
            piece = self->blob + slot->folded_offset;
            length = slot->folded_length;
        }
        if (length == 0)
            continue; /* a chunk without words (a dash) */
        /* Only the words of chunks with keys are wanted first positions of: every chunk with a
         * word of a rule, or a word a rule's prefix starts, has keys. */
        int seen = !(wanted & FIRST) || slot->stamp == epoch || slot->value < 0;
        slot->stamp = epoch;
        /* (`slot` is not read past here: making the words' objects may run the collector.) */
        if (nw_reserve((void **)&out, &capacity, used, length + 1, 1) < 0)
            goto done;
        memcpy(out + used, piece, (size_t)length);
        const char *word = out + used, *stop = out + used + length;
        while (word < stop) { /* the chunk's words: its folded form split at spaces */
            const char *space = memchr(word, ' ', (size_t)(stop - word));
            const char *after = space == NULL ? stop : space;
            if (!seen && first_position(first, word, after - word, position) < 0)
                goto done;
            position++;
            word = after + 1;
        }
        used += length;
        out[used++] = ' ';
    }
    if (out != NULL && used == 1)
        out[used++] = ' '; /* no words: b"  ", as b" " + b" ".join([]) + b" " */
    if (stream != NULL && nw_find_phrases(self, stream, streamed, epoch, phrase_start, phrases) < 0)
        goto done;
    PyObject *joined = (wanted & JOINED) ? PyBytes_FromStringAndSize(out, used) : Py_NewRef(Py_None);
    PyObject *flat = !with_offsets ? Py_NewRef(Py_None)
        : PyBytes_FromStringAndSize((const char *)offsets, pairs * (Py_ssize_t)sizeof(int32_t));
    if (joined != NULL && flat != NULL)
        result = first != NULL ? PyTuple_Pack(4, joined, flat, first, phrases) : PyTuple_Pack(3, joined, flat, Py_None);
    Py_XDECREF(joined);
    Py_XDECREF(flat);
done:
    PyMem_Free(stream);
    Py_XDECREF(first);
    Py_XDECREF(phrases);
    PyMem_Free(out);
    PyMem_Free(offsets);
    PyBuffer_Release(&data);
    return result;
}

/* Item `index` of what `walk` made, or None when a chunk was not in the table. */
static PyObject *
walked(PyObject *made, Py_ssize_t index)
{
    if (made == NULL || made == Py_None)
        return made;
    PyObject *item = Py_NewRef(PyTuple_GET_ITEM(made, index));
    Py_DECREF(made);
    return item;
}

const char nw_table_joined_doc[] =
"joined(data)\n--\n\n"
"Return b\" w1 w2 ... wn \": the folded words of `data` (each chunk replaced by its folded words),\n"
"or None when a chunk of `data` is not in the table.";

PyObject *
nw_table_joined(ChunkTable *self, PyObject *arg)
{
    return walked(walk(self, arg, JOINED), 0);
}

const char nw_table_offsets_doc[] =
"offsets(data)\n--\n\n"
"Return the start and end of each word of `data` in characters of the text it was encoded\n"
"from (UTF-8), as native int32 pairs in one bytes object, or None when a chunk of `data` is\n"
"not in the table.";

PyObject *
nw_table_offsets(ChunkTable *self, PyObject *arg)
{
    return walked(walk(self, arg, OFFSETS), 1);
}

const char nw_table_view_doc[] =
"view(data)\n--\n\n"
"Return (joined(data), offsets(data), first, phrases) in one pass: `first` maps each distinct\n"
"folded word of the chunks with keys (every word of a rule, every word a rule's prefix starts)\n"
"to its first position, `phrases` each phrase key found to the position of its first\n"
"word; offsets is None when a chunk's offsets were not given; None instead of the whole when a\n"
"chunk of `data` is not in the table.";

PyObject *
nw_table_view(ChunkTable *self, PyObject *arg)
{
    return walk(self, arg, JOINED | OFFSETS | FIRST);
}

