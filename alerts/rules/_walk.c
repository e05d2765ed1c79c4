/* alerts.rules._scan, continued: the passes over an article's chunks that read the table
 * without learning from it — the folded words joined, their offsets in the text, and where
 * each key of the field first occurs, by key id (`walk`, behind joined(), offsets() and view();
 * the layout of the last in _firsts.h). Why: the explanations of a match need those, and one
 * pass gives them all.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#include "_table.h"

/* ---------------------------------------------------------------- the firsts (_firsts.h) */

static int
firsts_start(Firsts *f)
{
    f->capacity = 256;
    f->used = 0;
    f->entries = NULL;
    f->count = f->entries_capacity = 0;
    f->slots = PyMem_Calloc((size_t)f->capacity, sizeof(FirstSlot));
    if (f->slots == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

static void
firsts_free(Firsts *f)
{
    PyMem_Free(f->slots);
    PyMem_Free(f->entries);
}

/* The slot of key `id`, made (first -1, no entries) when new; NULL on error. */
static FirstSlot *
firsts_slot(Firsts *f, int32_t id)
{
    if ((f->used + 1) * 2 > f->capacity) {
        int32_t capacity = f->capacity * 2;
        FirstSlot *slots = PyMem_Calloc((size_t)capacity, sizeof(FirstSlot));
        if (slots == NULL) {
            PyErr_NoMemory();
            return NULL;
        }
        for (int32_t j = 0; j < f->capacity; j++) {
            if (f->slots[j].key == 0)
                continue;
            uint32_t i = nw_first_hash(f->slots[j].key - 1) & (uint32_t)(capacity - 1);
            while (slots[i].key != 0)
                i = (i + 1) & (uint32_t)(capacity - 1);
            slots[i] = f->slots[j];
        }
        PyMem_Free(f->slots);
        f->slots = slots;
        f->capacity = capacity;
    }
    uint32_t mask = (uint32_t)f->capacity - 1;
    for (uint32_t i = nw_first_hash(id) & mask;; i = (i + 1) & mask) {
        FirstSlot *slot = &f->slots[i];
        if (slot->key == id + 1)
            return slot;
        if (slot->key == 0) {
            slot->key = id + 1;
            slot->first = slot->head = slot->tail = -1;
            f->used++;
            return slot;
        }
    }
}

/* Note key `id` at word `position` (out[offset:offset + length] in the joined words): a word's
 * or phrase's first position, or one more word of a prefix (each distinct word once). */
static int
firsts_note(Firsts *f, int32_t raw, Py_ssize_t position, Py_ssize_t offset, Py_ssize_t length, const char *out)
{
    FirstSlot *slot = firsts_slot(f, pooled_id(raw));
    if (slot == NULL)
        return -1;
    if (raw >= 0) {
        if (slot->first < 0)
            slot->first = (int32_t)position;
        return 0;
    }
    for (int32_t e = slot->head; e >= 0; e = f->entries[e].next) /* a word of two chunks (`nasa’s`) */
        if (f->entries[e].length == length && memcmp(out + f->entries[e].offset, out + offset, (size_t)length) == 0)
            return 0;
    if (f->count >= INT32_MAX
        || nw_reserve((void **)&f->entries, &f->entries_capacity, f->count, 1, sizeof(FirstEntry)) < 0) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_OverflowError, "too many words");
        return -1;
    }
    int32_t index = (int32_t)f->count++;
    f->entries[index] = (FirstEntry){(int32_t)position, (int32_t)offset, (int32_t)length, -1};
    if (slot->tail >= 0)
        f->entries[slot->tail].next = index;
    else
        slot->head = index;
    slot->tail = index;
    return 0;
}

/* Whether key `raw` (a word's, or a prefix's: -(id + 1)) is word[:length]'s. */
static int
key_of_word(int32_t raw, const char *word, Py_ssize_t length)
{
    PyObject *key = nw_key_bytes(pooled_id(raw));
    if (key == NULL)
        return -1;
    const char *bytes = PyBytes_AS_STRING(key);
    Py_ssize_t size = PyBytes_GET_SIZE(key);
    if (raw < 0) /* b"prefix*" */
        return size >= 1 && size - 1 <= length && memcmp(bytes, word, (size_t)(size - 1)) == 0;
    return size == length && memcmp(bytes, word, (size_t)length) == 0;
}

/* Note the keys of a chunk's value for its words, the first of them at `position`, written at
 * out[offset:offset + length] (its folded words, split at spaces). A chunk of one word has
 * them all; the words of a longer one (`nasa’s`) are matched to the keys by their bytes. */
static int
note_chunk(ChunkTable *self, Firsts *f, int32_t value, Py_ssize_t position, Py_ssize_t offset, Py_ssize_t length,
           const char *out, int32_t nwords)
{
    if (value < 0 || value >= self->value_at_capacity || self->value_at[value] < 0)
        return 0;
    const int32_t *ids = self->key_pool + self->value_at[value];
    Py_ssize_t at = offset;
    for (int32_t w = 0; w < nwords && at <= offset + length; w++) {
        const char *space = memchr(out + at, ' ', (size_t)(offset + length - at));
        Py_ssize_t size = space == NULL ? offset + length - at : space - (out + at);
        for (int32_t i = 1; i <= ids[0]; i++) {
            int mine = nwords == 1 ? 1 : key_of_word(ids[i], out + at, size);
            if (mine < 0 || (mine && firsts_note(f, ids[i], position + w, at, size, out) < 0))
                return -1;
        }
        at += size + 1;
    }
    return 0;
}

/* The firsts as one bytes object (the layout of _firsts.h). */
static PyObject *
firsts_bytes(Firsts *f)
{
    Py_ssize_t size = (Py_ssize_t)sizeof(FirstsHeader) + (Py_ssize_t)f->capacity * (Py_ssize_t)sizeof(FirstSlot)
                      + f->count * (Py_ssize_t)sizeof(FirstEntry);
    PyObject *out = PyBytes_FromStringAndSize(NULL, size);
    if (out == NULL)
        return NULL;
    char *p = PyBytes_AS_STRING(out);
    FirstsHeader header = {f->capacity, (int32_t)f->count};
    memcpy(p, &header, sizeof(header));
    memcpy(p + sizeof(header), f->slots, (size_t)f->capacity * sizeof(FirstSlot));
    if (f->count > 0)
        memcpy(p + sizeof(header) + (size_t)f->capacity * sizeof(FirstSlot), f->entries,
               (size_t)f->count * sizeof(FirstEntry));
    return out;
}

/* ---------------------------------------------------------------- the view */

int
nw_view_start(View *v, int wanted, const unsigned char *base, Py_ssize_t length)
{
    memset(v, 0, sizeof(*v));
    v->wanted = wanted;
    v->with_offsets = (wanted & VIEW_OFFSETS) != 0;
    v->base = v->counted = base;
    if (length > INT32_MAX) {
        PyErr_SetString(PyExc_OverflowError, "the text is too long");
        return -1;
    }
    if ((wanted & VIEW_FIRST) && firsts_start(&v->firsts) < 0)
        return -1;
    if ((wanted & (VIEW_JOINED | VIEW_FIRST)) && nw_reserve((void **)&v->out, &v->capacity, 0, length + 3, 1) < 0)
        return -1;
    if (v->out != NULL)
        v->out[v->used++] = ' ';
    if (v->with_offsets && nw_reserve((void **)&v->offsets, &v->pairs_capacity, 0, length / 2 + 16, sizeof(int32_t)) < 0)
        return -1;
    return 0;
}

void
nw_view_free(View *v)
{
    firsts_free(&v->firsts);
    PyMem_Free(v->out);
    PyMem_Free(v->offsets);
    v->out = NULL;
    v->offsets = NULL;
    v->firsts.slots = NULL;
    v->firsts.entries = NULL;
}

int
nw_view_chunk(ChunkTable *self, View *v, const Slot *slot, const unsigned char *start, Py_ssize_t n, int high,
              int first_time)
{
    if (v->with_offsets && slot->spans == -2)
        v->with_offsets = 0;
    if (v->with_offsets) {
        v->chars += start - v->counted; /* the spaces before the chunk */
        Py_ssize_t from = v->chars;
        if (high) /* characters: the bytes that do not continue one */
            for (const unsigned char *c = start; c < start + n; c++)
                v->chars += (*c & 0xC0) != 0x80;
        else
            v->chars += n;
        v->counted = start + n;
        if (nw_reserve((void **)&v->offsets, &v->pairs_capacity, v->pairs, 2 * (Py_ssize_t)slot->nwords + 2,
                       sizeof(int32_t)) < 0)
            return -1;
        if (slot->spans < 0 && slot->nwords == 1) { /* one word: the whole chunk */
            v->offsets[v->pairs++] = (int32_t)from;
            v->offsets[v->pairs++] = (int32_t)v->chars;
        } else if (slot->spans >= 0) {
            const int32_t *spans = self->sequences + slot->spans;
            for (int32_t k = 0; k < 2 * slot->nwords; k++)
                v->offsets[v->pairs++] = (int32_t)(from + spans[k]);
        }
    }
    if (v->out == NULL)
        return 0;
    const char *piece = (const char *)start;
    Py_ssize_t length = n;
    if (slot->folded_length >= 0) {
        piece = self->blob + slot->folded_offset;
        length = slot->folded_length;
    }
    if (length == 0)
        return 0; /* a chunk without words (a dash) */
    /* Only chunks with keys are noted, the first time they come: every chunk with a word of a
     * rule, or a word a rule's prefix starts, has keys. */
    int note = (v->wanted & VIEW_FIRST) && first_time && slot->value >= 0;
    int32_t value = slot->value, nwords = slot->nwords;
    if (nw_reserve((void **)&v->out, &v->capacity, v->used, length + 1, 1) < 0)
        return -1;
    memcpy(v->out + v->used, piece, (size_t)length);
    /* (`slot` is not read past here: key_of_word reads Python objects.) */
    if (note && note_chunk(self, &v->firsts, value, v->position, v->used, length, v->out, nwords) < 0)
        return -1;
    v->position += nwords;
    v->used += length;
    v->out[v->used++] = ' ';
    return 0;
}

int
nw_view_phrase(ChunkTable *self, View *v, int32_t value, Py_ssize_t start)
{
    if (!(v->wanted & VIEW_FIRST) || value < 0 || value >= self->value_at_capacity || self->value_at[value] < 0)
        return 0;
    const int32_t *ids = self->key_pool + self->value_at[value];
    for (int32_t i = 1; i <= ids[0]; i++)
        if (firsts_note(&v->firsts, ids[i], start, 0, 0, NULL) < 0)
            return -1;
    return 0;
}

PyObject *
nw_view_finish(View *v)
{
    if (v->out != NULL && v->used == 1)
        v->out[v->used++] = ' '; /* no words: b"  ", as b" " + b" ".join([]) + b" " */
    PyObject *joined = (v->wanted & VIEW_JOINED) ? PyBytes_FromStringAndSize(v->out, v->used) : Py_NewRef(Py_None);
    PyObject *flat = !v->with_offsets ? Py_NewRef(Py_None)
        : PyBytes_FromStringAndSize((const char *)v->offsets, v->pairs * (Py_ssize_t)sizeof(int32_t));
    PyObject *noted = (v->wanted & VIEW_FIRST) ? firsts_bytes(&v->firsts) : Py_NewRef(Py_None);
    PyObject *result = NULL;
    if (joined != NULL && flat != NULL && noted != NULL)
        result = PyTuple_Pack(3, joined, flat, noted);
    Py_XDECREF(joined);
    Py_XDECREF(flat);
    Py_XDECREF(noted);
    return result;
}

static int
phrase_start(ChunkTable *self, int32_t value, Py_ssize_t start, void *view)
{
    return nw_view_phrase(self, (View *)view, value, start);
}

/* ---------------------------------------------------------------- the pass */

/* One pass over the chunks of `data` making what `wanted` asks: the folded words joined
 * (b" w1 w2 ... wn "), their offsets in characters (int32 pairs; None when a chunk's were not
 * given) and where the field's keys first occur (_firsts.h). Returns (joined, offsets, firsts)
 * with None for what was not asked, or None when a chunk of `data` is not in the table. (The
 * scan makes the same in its own pass when asked: table_scan.) */
static PyObject *
walk(ChunkTable *self, PyObject *arg, int wanted)
{
    Py_buffer data;
    if (PyObject_GetBuffer(arg, &data, PyBUF_SIMPLE) < 0)
        return NULL;
    PyObject *result = NULL;
    View view;
    int32_t *stream = NULL; /* the words as ids, for the phrases' first positions */
    Py_ssize_t streamed = 0, stream_capacity = 0;
    if (nw_view_start(&view, wanted, data.buf, data.len) < 0)
        goto done;
    if ((wanted & VIEW_FIRST) && self->nodes > 1
        && nw_reserve((void **)&stream, &stream_capacity, 0, data.len / 2 + 16, sizeof(int32_t)) < 0)
        goto done;
    uint32_t epoch = (wanted & VIEW_FIRST) ? nw_next_epoch(self) : 0;
    const unsigned char *p = data.buf, *end = p + data.len, *start;
    Py_ssize_t n;
    Chunks chunks;
    ChunkKey key;
    chunks_of(&chunks, p, end);
    while (next_keyed_chunk(self->slots, self->capacity, &chunks, &start, &n, &key)) {
        Slot *slot = find_slot(self, (const char *)start, n, key);
        if (slot->hash == 0) {
            result = Py_NewRef(Py_None);
            goto done;
        }
        if (stream != NULL && slot->nwords > 0) {
            if (nw_reserve((void **)&stream, &stream_capacity, streamed, slot->nwords, sizeof(int32_t)) < 0)
                goto done;
            memcpy(stream + streamed, slot_words(self, slot), (size_t)slot->nwords * sizeof(int32_t));
            streamed += slot->nwords;
        }
        int first_time = slot->stamp != epoch;
        slot->stamp = epoch;
        if (nw_view_chunk(self, &view, slot, start, n, key.high, first_time) < 0)
            goto done;
        if (wanted == VIEW_OFFSETS && !view.with_offsets)
            break;
    }
    if (stream != NULL && nw_find_phrases(self, stream, streamed, epoch, phrase_start, &view) < 0)
        goto done;
    result = nw_view_finish(&view);
done:
    PyMem_Free(stream);
    nw_view_free(&view);
    PyBuffer_Release(&data);
    return result;
}

const char nw_first_positions_doc[] =
"first_positions(firsts, joined, key)\n--\n\n"
"Read what view() noted of a key (bytes): None when it did not occur, else (its first position\n"
"or -1 for a prefix, [(position, word) for each word the prefix starts, in text order]);\n"
"`joined` is view()'s joined words.";

PyObject *
nw_first_positions(PyObject *module, PyObject *args)
{
    Py_buffer firsts;
    PyObject *joined, *key;
    if (!PyArg_ParseTuple(args, "y*SS:first_positions", &firsts, &joined, &key))
        return NULL;
    PyObject *result = NULL, *words = NULL;
    int32_t id = nw_key_id(key);
    const FirstSlot *slot = id < 0 ? NULL : nw_first_slot(firsts.buf, firsts.len, id);
    if (slot == NULL) {
        if (!PyErr_Occurred())
            result = Py_NewRef(Py_None);
        goto done;
    }
    words = PyList_New(0);
    for (int32_t e = slot->head; words != NULL && e >= 0;) {
        const FirstEntry *entry = nw_first_entry(firsts.buf, e);
        if (entry == NULL || entry->offset < 0 || entry->length < 0 || (entry->next >= 0 && entry->next <= e)
            || entry->offset + entry->length > PyBytes_GET_SIZE(joined)) {
            PyErr_SetString(PyExc_ValueError, "firsts that do not fit the joined words");
            goto done;
        }
        PyObject *item = Py_BuildValue("(iy#)", entry->position, PyBytes_AS_STRING(joined) + entry->offset,
                                       (Py_ssize_t)entry->length);
        if (item == NULL || PyList_Append(words, item) < 0) {
            Py_XDECREF(item);
            goto done;
        }
        Py_DECREF(item);
        e = entry->next;
    }
    if (words != NULL)
        result = Py_BuildValue("(iO)", slot->first, words);
done:
    Py_XDECREF(words);
    PyBuffer_Release(&firsts);
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
    return walked(walk(self, arg, VIEW_JOINED), 0);
}

const char nw_table_offsets_doc[] =
"offsets(data)\n--\n\n"
"Return the start and end of each word of `data` in characters of the text it was encoded\n"
"from (UTF-8), as native int32 pairs in one bytes object, or None when a chunk of `data` is\n"
"not in the table.";

PyObject *
nw_table_offsets(ChunkTable *self, PyObject *arg)
{
    return walked(walk(self, arg, VIEW_OFFSETS), 1);
}

const char nw_table_view_doc[] =
"view(data)\n--\n\n"
"Return (joined(data), offsets(data), firsts) in one pass: `firsts` says, by key id, where each\n"
"key of the field first occurs — a word's and a phrase's first position, and the first position\n"
"of each word a prefix starts, in text order (native int32 in one bytes object, as\n"
"alerts/rules/_firsts.h lays it out; read with `first_positions`). offsets is None when a\n"
"chunk's offsets were not given; None instead of the whole when a chunk of `data` is not in\n"
"the table.";

PyObject *
nw_table_view(ChunkTable *self, PyObject *arg)
{
    return walk(self, arg, VIEW_JOINED | VIEW_OFFSETS | VIEW_FIRST);
}

