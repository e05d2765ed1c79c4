/* alerts.rules._scan: the matcher's chunk table, in C.
 *
 * Why: the matcher looks up every distinct chunk of every article (the bytes between spaces
 * of `alerts.text.ScannedText.data`) in a lexicon kept across articles, and looks for phrases
 * in the article's words. In Python that means one bytes object, one hash and one dict probe
 * per chunk, and a substring search of the folded text per phrase: most of the time of a
 * typical article. Here the chunks are hashed and probed in place, the article's phrase words
 * are followed through a trie of all phrases in the same pass, and a Python object is made only
 * for what the caller needs: the rule keys found, the chunks never seen before and the chunks
 * with non-ASCII bytes.
 *
 * What a chunk stands for is learned in Python (`alerts.rules.lexicon.Lexicon.learn`): its value
 * (an index into a list of key sets, -1 for none) and its words as ids (0: a word in no phrase;
 * a chunk can be several words, `roscosmos’s`, or none, a dash). Plain ASCII words that no rule
 * word is and no rule prefix starts are entered by the scan itself (`learn_plain`).
 *
 * The module's files: this one (the table type, the scan and its own learning of plain words),
 * _table.h (the layout, the hash, the probe and the split shared by all), _learn.c (what the
 * table is taught: chunks, phrases, their keys as ids), _keys.c (a field's keys as a KeySet),
 * _walk.c (the view of a field: joined words, offsets, where each key first occurs; shared by
 * the scan and the passes behind joined(), offsets() and view()), _firsts.h (the layout of the
 * last), _decide.c (which rules the keys found make true) and _places.c (the module's functions
 * on word places).
 *
 * Chunks are hashed with SipHash-1-3 under a key drawn at random when the module is loaded: the
 * bytes hashed are chosen by whoever writes the pages, and with an unkeyed hash a page could be
 * written whose chunks all probe the same run of slots (each look-up then walks all of them).
 *
 * The module is optional: `alerts.rules.lexicon` and `alerts.rules.compiled` fall back to the same
 * algorithm in Python when it was not compiled (no C compiler on the machine), and the tests run
 * both.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#include "_table.h"

/* The per-process key of the chunk hash (set when the module is loaded). */
uint64_t nw_sip_k0, nw_sip_k1;

/* Make room for `more` items of `size` bytes in a growing array. */
int
nw_reserve(void **array, Py_ssize_t *capacity, Py_ssize_t used, Py_ssize_t more, size_t size)
{
    if (used + more <= *capacity)
        return 0;
    Py_ssize_t wanted = *capacity ? *capacity : 64;
    while (used + more > wanted)
        wanted *= 2;
    void *grown = PyMem_Realloc(*array, (size_t)wanted * size);
    if (grown == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    *array = grown;
    *capacity = wanted;
    return 0;
}

/* ---------------------------------------------------------------- the phrase trie */

Edge *
nw_find_edge(ChunkTable *self, uint64_t key)
{
    Py_ssize_t mask = self->edges_capacity - 1;
    Py_ssize_t i = (Py_ssize_t)((key * 0x9E3779B97F4A7C15ULL) >> 17) & mask;
    for (;;) {
        Edge *edge = &self->edges[i];
        if (edge->key == 0 || edge->key == key)
            return edge;
        i = (i + 1) & mask;
    }
}

/* ---------------------------------------------------------------- the type */

static PyObject *
table_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    PyObject *values;
    static char *keywords[] = {"values", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O!:ChunkTable", keywords, &PyList_Type, &values))
        return NULL;
    ChunkTable *self = (ChunkTable *)type->tp_alloc(type, 0);
    if (self == NULL)
        return NULL;
    self->capacity = 1024;
    self->slots = PyMem_Calloc((size_t)self->capacity, sizeof(Slot));
    self->blob_capacity = 8192;
    self->blob = PyMem_Malloc((size_t)self->blob_capacity);
    self->epoch = 1;
    Py_INCREF(values);
    self->values = values;
    if (self->slots == NULL || self->blob == NULL || nw_grow_edges(self) < 0 || nw_new_node(self) < 0) {
        Py_DECREF(self);
        return PyErr_NoMemory();
    }
    return (PyObject *)self;
}

static void
table_dealloc(ChunkTable *self)
{
    PyMem_Free(self->slots);
    PyMem_Free(self->blob);
    PyMem_Free(self->sequences);
    PyMem_Free(self->edges);
    PyMem_Free(self->node);
    PyMem_Free(self->root_child);
    PyMem_Free(self->prefix_lengths);
    PyMem_Free(self->value_at);
    PyMem_Free(self->key_pool);
    Py_XDECREF((PyObject *)self->prefixes);
    Py_XDECREF((PyObject *)self->words);
    Py_XDECREF(self->values);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static Py_ssize_t
table_len(ChunkTable *self)
{
    return self->used;
}

PyDoc_STRVAR(table_get_doc,
"get(chunk)\n--\n\n"
"Return the value of `chunk`, or None when it is not in the table.");

static PyObject *
table_get(ChunkTable *self, PyObject *arg)
{
    Py_buffer chunk;
    if (PyObject_GetBuffer(arg, &chunk, PyBUF_SIMPLE) < 0)
        return NULL;
    Slot *slot = find_slot(self, chunk.buf, chunk.len, chunk_key(chunk.buf, chunk.len));
    PyBuffer_Release(&chunk);
    if (slot->hash == 0)
        Py_RETURN_NONE;
    return PyLong_FromLong(slot->value);
}

/* Add the ids of values[index] to `keys` (made when a chunk or phrase was given that value). */
static int
add_keys(ChunkTable *self, KeySet *keys, int32_t index)
{
    if (index >= self->value_at_capacity || self->value_at[index] < 0) {
        PyErr_SetString(PyExc_SystemError, "a value without its key ids");
        return -1;
    }
    const int32_t *ids = self->key_pool + self->value_at[index];
    for (int32_t i = 1; i <= ids[0]; i++)
        if (nw_keyset_add(keys, pooled_id(ids[i])) < 0) /* (a key there already is left as it is) */
            return -1;
    return 0;
}

/* A new stamp for the slots and trie nodes a pass reports once. */
uint32_t
nw_next_epoch(ChunkTable *self)
{
    if (++self->epoch == 0) { /* wrapped: forget every stamp */
        for (Py_ssize_t j = 0; j < self->capacity; j++)
            self->slots[j].stamp = 0;
        for (Py_ssize_t j = 0; j < self->nodes; j++)
            self->node[j].stamp = 0;
        self->epoch = 1;
    }
    return self->epoch;
}

/* Whether the chunk may have keys: it is one of the words given to learn_plain(), or one of
 * its prefixes starts it. */
static int
may_have_keys(ChunkTable *self, const unsigned char *p, Py_ssize_t n, ChunkKey key)
{
    if (find_slot(self->words, (const char *)p, n, key)->hash != 0)
        return 1;
    for (Py_ssize_t i = 0; i < self->prefix_count; i++) {
        Py_ssize_t length = self->prefix_lengths[i];
        if (length > n)
            break; /* the lengths are sorted */
        if (find_slot(self->prefixes, (const char *)p, length, chunk_key(p, length))->hash != 0)
            return 1;
    }
    return 0;
}

/* Enter a new ASCII chunk as one word of no key and of no phrase (the scan's own learning, for
 * the chunks the Python side would enter so: see learn_plain). 0 when it could not (the table
 * is full): the chunk is then reported new, as without learn_plain. */
static int
enter_plain(ChunkTable *self, const unsigned char *p, Py_ssize_t n, ChunkKey key)
{
    if (n > INT32_MAX || self->blob_used + n > UINT32_MAX)
        return 0;
    if ((self->used + 1) * 2 > self->capacity && nw_grow_slots(self) < 0)
        return -1;
    if (nw_reserve((void **)&self->blob, &self->blob_capacity, self->blob_used, n, 1) < 0)
        return -1;
    Slot *slot = find_slot(self, (const char *)p, n, key);
    memcpy(self->blob + self->blob_used, p, (size_t)n);
    slot->head = key.head;
    slot->offset = (uint32_t)self->blob_used;
    slot->length = (int32_t)n;
    slot->stamp = self->epoch;
    slot->folded_length = -1;
    slot->word = 0;
    slot->spans = -1;
    slot->nwords = 1;
    slot->value = -1;
    slot->hash = key.hash;
    self->blob_used += n;
    self->used++;
    return 1;
}

/* Follow the trie from every word of `stream` (word ids, 0: a word of no phrase) that starts a
 * phrase; each phrase reached for the first time in this pass goes to `found`, at its first
 * occurrence (the starts are tried in order). */
int
nw_find_phrases(ChunkTable *self, const int32_t *stream, Py_ssize_t streamed, uint32_t epoch, PhraseFound found,
                void *into)
{
    for (Py_ssize_t i = 0; i < streamed; i++) {
        int32_t word = stream[i];
        if (word <= 0 || word >= self->root_capacity || self->root_child[word] == 0)
            continue;
        int32_t node = self->root_child[word];
        for (Py_ssize_t j = i + 1;; j++) {
            Node *at = &self->node[node];
            if (at->value >= 0 && at->stamp != epoch) {
                at->stamp = epoch;
                if (found(self, at->value, i, into) < 0)
                    return -1;
            }
            if (j >= streamed || stream[j] <= 0 || !(at->next & word_bit(stream[j])))
                break;
            Edge *edge = nw_find_edge(self, edge_key(node, stream[j]));
            if (edge->key == 0)
                break;
            node = edge->child;
        }
    }
    return 0;
}

typedef struct {
    KeySet *keys;
    View *view; /* NULL: no view made in this pass */
} Found;

/* A phrase found by the scan: its keys, and where it starts for the view. */
static int
phrase_found(ChunkTable *self, int32_t value, Py_ssize_t start, void *into)
{
    Found *found = into;
    if (add_keys(self, found->keys, value) < 0)
        return -1;
    return found->view == NULL ? 0 : nw_view_phrase(self, found->view, value, start);
}

PyDoc_STRVAR(table_scan_doc,
"scan(data, dirty=True, words=False, view=False)\n--\n\n"
"Split `data` at spaces and return (keys, new, dirty, complete): the keys of the known chunks\n"
"and of the phrases their words make (a KeySet), the distinct chunks not in the table, the\n"
"distinct chunks with a byte >= 0x80 (sets; dirty is None when not asked for), and whether the\n"
"phrases were looked for. They are not when a new chunk has non-ASCII bytes (its words are not\n"
"known): learn the new chunks and scan again. A new ASCII chunk is taken to be a word of no\n"
"phrase: the caller adds every phrase word to the table first. With `words`, a fifth item: the\n"
"ids of the words in order (native int32 in one bytes object; 0 for a word without one), or\n"
"None when not complete. With `view` (and `words`), a sixth: what view(data) gives, made in the\n"
"same pass (no second hashing of each chunk, no second search for the phrases), or None when a\n"
"chunk was not known.");

static PyObject *
table_scan(ChunkTable *self, PyObject *args)
{
    Py_buffer data;
    PyObject *arg, *words = NULL;
    int want_dirty = 1, want_words = 0, want_view = 0;
    if (!PyArg_ParseTuple(args, "O|ppp:scan", &arg, &want_dirty, &want_words, &want_view))
        return NULL;
    if (want_view && !want_words) {
        PyErr_SetString(PyExc_ValueError, "a view comes with the words");
        return NULL;
    }
    if (PyObject_GetBuffer(arg, &data, PyBUF_SIMPLE) < 0)
        return NULL;
    View view;
    int viewing = 0; /* the view is being made (until a chunk is not known) */
    KeySet *keys = nw_keyset_new(self->key_bound);
    PyObject *unknown = PySet_New(NULL);
    PyObject *dirty = want_dirty ? PySet_New(NULL) : Py_NewRef(Py_None);
    PyObject *result = NULL;
    /* The article's words as ids, for the phrases (only when there are phrases). */
    int32_t *stream = NULL;
    Py_ssize_t streamed = 0, stream_capacity = 0;
    int complete = 1; /* the phrases were looked for */
    if (keys == NULL || unknown == NULL || dirty == NULL)
        goto done;
    if ((self->nodes > 1 || want_words) && nw_reserve((void **)&stream, &stream_capacity, 0, data.len / 2 + 16, sizeof(int32_t)) < 0)
        goto done;
    if (want_view) {
        if (nw_view_start(&view, VIEW_JOINED | VIEW_OFFSETS | VIEW_FIRST, data.buf, data.len) < 0) {
            nw_view_free(&view);
            goto done;
        }
        viewing = 1;
    }
    uint32_t epoch = nw_next_epoch(self);
    const unsigned char *p = data.buf;
    const unsigned char *end = p + data.len;
    const unsigned char *start;
    Py_ssize_t n;
    Chunks chunks;
    ChunkKey key;
    chunks_of(&chunks, p, end);
    while (next_keyed_chunk(self->slots, self->capacity, &chunks, &start, &n, &key)) {
        int high = key.high;
        Slot *slot = find_slot(self, (const char *)start, n, key);
        int known = slot->hash != 0;
        if (known) {
            if (stream != NULL) {
                if (streamed + slot->nwords > stream_capacity &&
                    nw_reserve((void **)&stream, &stream_capacity, streamed, slot->nwords, sizeof(int32_t)) < 0)
                    goto done;
                /* one word, several (`roscosmos‛s`) or none (a bullet) */
                if (slot->nwords > 0)
                    memcpy(stream + streamed, slot_words(self, slot), (size_t)slot->nwords * sizeof(int32_t));
                streamed += slot->nwords;
            }
            int first_time = slot->stamp != epoch;
            slot->stamp = epoch;
            if (viewing && nw_view_chunk(self, &view, slot, start, n, high, first_time) < 0)
                goto done;
            if (!first_time)
                continue;
            if (slot->value >= 0 && add_keys(self, keys, slot->value) < 0)
                goto done;
            if (!high || !want_dirty)
                continue;
        } else if (!high && self->prefixes != NULL && !may_have_keys(self, start, n, key)) {
            int entered = enter_plain(self, start, n, key);
            if (entered < 0)
                goto done;
            if (entered && viewing) { /* (enter_plain stamped it: it is here for the first time) */
                Slot *entered_slot = find_slot(self, (const char *)start, n, key);
                if (nw_view_chunk(self, &view, entered_slot, start, n, high, 1) < 0)
                    goto done;
            }
            if (entered) {
                if (stream != NULL) {
                    if (nw_reserve((void **)&stream, &stream_capacity, streamed, 1, sizeof(int32_t)) < 0)
                        goto done;
                    stream[streamed++] = 0;
                }
                continue;
            }
        }
        if (!known && viewing) { /* not in the table: the view waits for a scan after learning */
            nw_view_free(&view);
            viewing = 0;
        }
        if (!known && stream != NULL) {
            if (high) {
                PyMem_Free(stream); /* its words are not known yet: the phrases wait for the next scan */
                stream = NULL;
                complete = 0;
            } else { /* every phrase word that is ASCII is in the table: this one is in no phrase */
                if (nw_reserve((void **)&stream, &stream_capacity, streamed, 1, sizeof(int32_t)) < 0)
                    goto done;
                stream[streamed++] = 0;
            }
        }
        PyObject *chunk = PyBytes_FromStringAndSize((const char *)start, n);
        if (chunk == NULL)
            goto done;
        if ((!known && PySet_Add(unknown, chunk) < 0) || (high && want_dirty && PySet_Add(dirty, chunk) < 0)) {
            Py_DECREF(chunk);
            goto done;
        }
        Py_DECREF(chunk);
    }
    Found found = {keys, viewing && stream != NULL ? &view : NULL};
    if (stream != NULL && self->nodes > 1 && nw_find_phrases(self, stream, streamed, epoch, phrase_found, &found) < 0)
        goto done;
    if (want_words) {
        words = stream == NULL ? Py_NewRef(Py_None)
                               : PyBytes_FromStringAndSize((const char *)stream, streamed * (Py_ssize_t)sizeof(int32_t));
        if (words == NULL)
            goto done;
    }
    PyObject *made = NULL;
    if (want_view && (made = viewing && stream != NULL ? nw_view_finish(&view) : Py_NewRef(Py_None)) == NULL)
        goto done;
    if (want_view)
        result = Py_BuildValue("(OOONON)", (PyObject *)keys, unknown, dirty, PyBool_FromLong(complete), words, made);
    else if (want_words)
        result = Py_BuildValue("(OOONO)", (PyObject *)keys, unknown, dirty, PyBool_FromLong(complete), words);
    else
        result = Py_BuildValue("(OOON)", (PyObject *)keys, unknown, dirty, PyBool_FromLong(complete));
done:
    if (viewing)
        nw_view_free(&view);
    PyMem_Free(stream);
    Py_XDECREF(words);
    Py_XDECREF(keys);
    Py_XDECREF(unknown);
    Py_XDECREF(dirty);
    PyBuffer_Release(&data);
    return result;
}

PyDoc_STRVAR(table_learn_plain_doc,
"learn_plain(words, prefixes, lengths)\n--\n\n"
"From now on `scan` enters each new ASCII chunk that is not one of `words` and that no prefix\n"
"starts (`words`, `prefixes`: ChunkTables holding them; `lengths`: the prefixes' distinct\n"
"lengths) as a word of no key and no phrase, instead of reporting it new. The caller must have\n"
"entered every ASCII word of its phrases first: only then is such a chunk sure to be one.");

static PyTypeObject ChunkTableType;

static PyObject *
table_learn_plain(ChunkTable *self, PyObject *args)
{
    PyObject *words, *prefixes, *lengths;
    if (!PyArg_ParseTuple(args, "O!O!O:learn_plain", &ChunkTableType, &words, &ChunkTableType, &prefixes, &lengths))
        return NULL;
    int32_t *ids = NULL;
    Py_ssize_t count = nw_read_ids(lengths, &ids);
    if (count < 0)
        return NULL;
    for (Py_ssize_t i = 0; i < count; i++)
        if (ids[i] <= 0 || (i > 0 && ids[i] <= ids[i - 1])) {
            PyMem_Free(ids);
            PyErr_SetString(PyExc_ValueError, "lengths must be > 0 and increasing");
            return NULL;
        }
    PyMem_Free(self->prefix_lengths);
    self->prefix_lengths = ids;
    self->prefix_count = count;
    Py_INCREF(prefixes);
    Py_XSETREF(self->prefixes, (ChunkTable *)prefixes);
    Py_INCREF(words);
    Py_XSETREF(self->words, (ChunkTable *)words);
    Py_RETURN_NONE;
}

/* alerts/rules/_decide.c (linked into this module) */
extern const char nw_decide_doc[];
PyObject *nw_decide(PyObject *module, PyObject *args);

static PyMethodDef module_methods[] = {
    {"chunk_hash", (PyCFunction)nw_chunk_hash, METH_O, nw_chunk_hash_doc},
    {"decide", (PyCFunction)nw_decide, METH_VARARGS, nw_decide_doc},
    {"places", (PyCFunction)nw_places, METH_VARARGS, nw_places_doc},
    {"word_places", (PyCFunction)nw_word_places, METH_VARARGS, nw_word_places_doc},
    {"first_positions", (PyCFunction)nw_first_positions, METH_VARARGS, nw_first_positions_doc},
    {"near", (PyCFunction)nw_near, METH_VARARGS, nw_near_doc},
    {NULL, NULL, 0, NULL},
};

static PyMethodDef table_methods[] = {
    {"learn_plain", (PyCFunction)table_learn_plain, METH_VARARGS, table_learn_plain_doc},
    {"view", (PyCFunction)nw_table_view, METH_O, nw_table_view_doc},
    {"offsets", (PyCFunction)nw_table_offsets, METH_O, nw_table_offsets_doc},
    {"joined", (PyCFunction)nw_table_joined, METH_O, nw_table_joined_doc},
    {"add", (PyCFunction)nw_table_add, METH_VARARGS, nw_table_add_doc},
    {"add_phrase", (PyCFunction)nw_table_add_phrase, METH_VARARGS, nw_table_add_phrase_doc},
    {"scan", (PyCFunction)table_scan, METH_VARARGS, table_scan_doc},
    {"get", (PyCFunction)table_get, METH_O, table_get_doc},
    {NULL, NULL, 0, NULL},
};

static PySequenceMethods table_as_sequence = {
    .sq_length = (lenfunc)table_len,
};

PyDoc_STRVAR(table_doc,
"ChunkTable(values)\n--\n\n"
"Chunks (bytes without spaces) with what they stand for, and a trie of phrases; `values` is\n"
"the list of key sets the chunks and phrases refer to by index.");

static PyTypeObject ChunkTableType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "alerts.rules._scan.ChunkTable",
    .tp_basicsize = sizeof(ChunkTable),
    .tp_dealloc = (destructor)table_dealloc,
    .tp_as_sequence = &table_as_sequence,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = table_doc,
    .tp_methods = table_methods,
    .tp_new = table_new,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "alerts.rules._scan",
    .m_doc = "The matcher's chunk table (optional C speed-up of alerts.matcher).",
    .m_size = -1,
    .m_methods = module_methods,
};

/* Draw the hash key from os.urandom (the operating system's randomness). */
static int
draw_key(void)
{
    PyObject *os = PyImport_ImportModule("os");
    if (os == NULL)
        return -1;
    PyObject *bytes = PyObject_CallMethod(os, "urandom", "i", 16);
    Py_DECREF(os);
    if (bytes == NULL)
        return -1;
    if (!PyBytes_Check(bytes) || PyBytes_GET_SIZE(bytes) != 16) {
        Py_DECREF(bytes);
        PyErr_SetString(PyExc_RuntimeError, "os.urandom(16) did not give 16 bytes");
        return -1;
    }
    memcpy(&nw_sip_k0, PyBytes_AS_STRING(bytes), 8);
    memcpy(&nw_sip_k1, PyBytes_AS_STRING(bytes) + 8, 8);
    Py_DECREF(bytes);
    return 0;
}

PyMODINIT_FUNC
PyInit__scan(void)
{
    if (draw_key() < 0 || PyType_Ready(&ChunkTableType) < 0 || PyType_Ready(&NwKeySetType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    Py_INCREF(&ChunkTableType);
    if (PyModule_AddObject(m, "ChunkTable", (PyObject *)&ChunkTableType) < 0) {
        Py_DECREF(&ChunkTableType);
        Py_DECREF(m);
        return NULL;
    }
    Py_INCREF(&NwKeySetType);
    if (PyModule_AddObject(m, "KeySet", (PyObject *)&NwKeySetType) < 0) {
        Py_DECREF(&NwKeySetType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
