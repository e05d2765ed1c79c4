/* alerts._scan: the matcher's chunk table, in C.
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
 * What a chunk stands for is learned in Python (`alerts.matcher._Lexicon.learn`): its value
 * (an index into a list of key sets, -1 for none) and its words as ids (0: a word in no phrase;
 * a chunk can be several words, `roscosmos’s`, or none, a dash).
 *
 * The module is optional: `alerts.matcher` falls back to the same algorithm in Python when it
 * was not compiled (no C compiler on the machine), and the tests run both.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

typedef struct {
    uint64_t hash;   /* 0: empty slot */
    int64_t offset;  /* of the chunk's bytes in `blob` */
    int32_t length;
    int32_t value;   /* index into `values`; -1: a known chunk without keys */
    uint32_t stamp;  /* the scan that last reported this chunk */
    int32_t nwords;  /* how many words the chunk is */
    int32_t word;    /* nwords == 1: the word's id; nwords > 1: offset of the ids in `sequences` */
    int32_t unused;
} Slot;

typedef struct {
    uint64_t key;  /* (node << 32 | word) + 1; 0: empty */
    int32_t child;
    int32_t unused;
} Edge;

typedef struct {
    PyObject_HEAD
    Slot *slots;
    Py_ssize_t capacity; /* a power of two */
    Py_ssize_t used;
    char *blob;
    Py_ssize_t blob_used, blob_capacity;
    int32_t *sequences;
    Py_ssize_t sequences_used, sequences_capacity;
    PyObject *values; /* list of frozensets of keys */
    uint32_t epoch;
    /* The phrase trie: node 0 is the root; node_value[n] is an index into `values` or -1. */
    Edge *edges;
    Py_ssize_t edges_capacity, edges_used;
    int32_t *node_value;
    uint32_t *node_stamp;
    Py_ssize_t nodes, nodes_capacity;
} ChunkTable;

#define FNV_OFFSET 1469598103934665603ULL
#define FNV_PRIME 1099511628211ULL

static uint64_t
chunk_hash(const unsigned char *p, Py_ssize_t n)
{
    uint64_t h = FNV_OFFSET;
    for (Py_ssize_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= FNV_PRIME;
    }
    return h ? h : 1;
}

static Slot *
find_slot(ChunkTable *self, const char *p, Py_ssize_t n, uint64_t h)
{
    Py_ssize_t mask = self->capacity - 1;
    Py_ssize_t i = (Py_ssize_t)(h & (uint64_t)mask);
    for (;;) {
        Slot *slot = &self->slots[i];
        if (slot->hash == 0)
            return slot;
        if (slot->hash == h && slot->length == n && memcmp(self->blob + slot->offset, p, (size_t)n) == 0)
            return slot;
        i = (i + 1) & mask;
    }
}

static int
grow_slots(ChunkTable *self)
{
    Py_ssize_t capacity = self->capacity * 2;
    Slot *slots = PyMem_Calloc((size_t)capacity, sizeof(Slot));
    if (slots == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    Py_ssize_t mask = capacity - 1;
    for (Py_ssize_t j = 0; j < self->capacity; j++) {
        Slot *old = &self->slots[j];
        if (old->hash == 0)
            continue;
        Py_ssize_t i = (Py_ssize_t)(old->hash & (uint64_t)mask);
        while (slots[i].hash != 0)
            i = (i + 1) & mask;
        slots[i] = *old;
    }
    PyMem_Free(self->slots);
    self->slots = slots;
    self->capacity = capacity;
    return 0;
}

/* Make room for `more` items of `size` bytes in a growing array. */
static int
reserve(void **array, Py_ssize_t *capacity, Py_ssize_t used, Py_ssize_t more, size_t size)
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

static uint64_t
edge_key(int32_t node, int32_t word)
{
    return (((uint64_t)(uint32_t)node << 32) | (uint32_t)word) + 1;
}

static Edge *
find_edge(ChunkTable *self, uint64_t key)
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

static int
grow_edges(ChunkTable *self)
{
    Edge *old = self->edges;
    Py_ssize_t old_capacity = self->edges_capacity;
    Py_ssize_t capacity = old_capacity ? old_capacity * 2 : 1024;
    self->edges = PyMem_Calloc((size_t)capacity, sizeof(Edge));
    if (self->edges == NULL) {
        self->edges = old;
        PyErr_NoMemory();
        return -1;
    }
    self->edges_capacity = capacity;
    for (Py_ssize_t j = 0; j < old_capacity; j++) {
        if (old[j].key != 0)
            *find_edge(self, old[j].key) = old[j];
    }
    PyMem_Free(old);
    return 0;
}

static int32_t
new_node(ChunkTable *self)
{
    if (reserve((void **)&self->node_value, &self->nodes_capacity, self->nodes, 1, sizeof(int32_t)) < 0)
        return -1;
    Py_ssize_t capacity = self->nodes_capacity;
    /* node_stamp grows alongside node_value (same capacity). */
    uint32_t *stamps = PyMem_Realloc(self->node_stamp, (size_t)capacity * sizeof(uint32_t));
    if (stamps == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    self->node_stamp = stamps;
    self->node_value[self->nodes] = -1;
    self->node_stamp[self->nodes] = 0;
    return (int32_t)self->nodes++;
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
    if (self->slots == NULL || self->blob == NULL || grow_edges(self) < 0 || new_node(self) < 0) {
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
    PyMem_Free(self->node_value);
    PyMem_Free(self->node_stamp);
    Py_XDECREF(self->values);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static Py_ssize_t
table_len(ChunkTable *self)
{
    return self->used;
}

/* Read a sequence of word ids (ints >= 0) into a new int32 array; return its length or -1. */
static Py_ssize_t
read_ids(PyObject *sequence, int32_t **out)
{
    PyObject *fast = PySequence_Fast(sequence, "word ids must be a sequence of ints");
    if (fast == NULL)
        return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
    int32_t *ids = PyMem_Malloc((size_t)(n ? n : 1) * sizeof(int32_t));
    if (ids == NULL) {
        Py_DECREF(fast);
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t k = 0; k < n; k++) {
        long id = PyLong_AsLong(PySequence_Fast_GET_ITEM(fast, k));
        if (id == -1 && PyErr_Occurred()) {
            PyMem_Free(ids);
            Py_DECREF(fast);
            return -1;
        }
        if (id < 0 || id > INT32_MAX) {
            PyMem_Free(ids);
            Py_DECREF(fast);
            PyErr_SetString(PyExc_ValueError, "a word id is an int >= 0");
            return -1;
        }
        ids[k] = (int32_t)id;
    }
    Py_DECREF(fast);
    *out = ids;
    return n;
}

PyDoc_STRVAR(table_add_doc,
"add(chunk, value, words)\n--\n\n"
"Remember `chunk` (bytes without spaces): `value` indexes the key set in `values` (-1: no\n"
"keys); `words` are the ids of its words in order (0: a word of no phrase).");

static PyObject *
table_add(ChunkTable *self, PyObject *args)
{
    Py_buffer chunk;
    int value;
    PyObject *words;
    if (!PyArg_ParseTuple(args, "y*iO:add", &chunk, &value, &words))
        return NULL;
    const char *p = chunk.buf;
    Py_ssize_t n = chunk.len;
    int32_t *ids = NULL;
    Py_ssize_t nwords;
    if (n == 0 || n > INT32_MAX || memchr(p, ' ', (size_t)n) != NULL) {
        PyErr_SetString(PyExc_ValueError, "a chunk is a non-empty run of bytes without spaces");
        goto fail;
    }
    if (value < -1 || value >= PyList_GET_SIZE(self->values)) {
        PyErr_SetString(PyExc_ValueError, "value is not an index into values");
        goto fail;
    }
    nwords = read_ids(words, &ids);
    if (nwords < 0)
        goto fail;
    if ((self->used + 1) * 2 > self->capacity && grow_slots(self) < 0)
        goto fail;
    uint64_t h = chunk_hash((const unsigned char *)p, n);
    Slot *slot = find_slot(self, p, n, h);
    if (slot->hash == 0) {
        if (reserve((void **)&self->blob, &self->blob_capacity, self->blob_used, n, 1) < 0)
            goto fail;
        memcpy(self->blob + self->blob_used, p, (size_t)n);
        slot->offset = self->blob_used;
        slot->length = (int32_t)n;
        slot->stamp = 0;
        self->blob_used += n;
        self->used++;
    }
    if (nwords == 1) {
        slot->word = ids[0];
    } else {
        if (reserve((void **)&self->sequences, &self->sequences_capacity, self->sequences_used, nwords,
                    sizeof(int32_t)) < 0)
            goto fail;
        memcpy(self->sequences + self->sequences_used, ids, (size_t)nwords * sizeof(int32_t));
        slot->word = (int32_t)self->sequences_used;
        self->sequences_used += nwords;
    }
    slot->nwords = (int32_t)nwords;
    slot->value = value;
    slot->hash = h;
    PyMem_Free(ids);
    PyBuffer_Release(&chunk);
    Py_RETURN_NONE;
fail:
    PyMem_Free(ids);
    PyBuffer_Release(&chunk);
    return NULL;
}

PyDoc_STRVAR(table_add_phrase_doc,
"add_phrase(words, value)\n--\n\n"
"Add a phrase (its word ids, each > 0) whose key set is `values[value]`.");

static PyObject *
table_add_phrase(ChunkTable *self, PyObject *args)
{
    PyObject *words;
    int value;
    if (!PyArg_ParseTuple(args, "Oi:add_phrase", &words, &value))
        return NULL;
    if (value < 0 || value >= PyList_GET_SIZE(self->values)) {
        PyErr_SetString(PyExc_ValueError, "value is not an index into values");
        return NULL;
    }
    int32_t *ids = NULL;
    Py_ssize_t n = read_ids(words, &ids);
    if (n < 0)
        return NULL;
    int32_t node = 0;
    for (Py_ssize_t k = 0; k < n; k++) {
        if (ids[k] == 0) {
            PyMem_Free(ids);
            PyErr_SetString(PyExc_ValueError, "a phrase word id is > 0");
            return NULL;
        }
        if ((self->edges_used + 1) * 2 > self->edges_capacity && grow_edges(self) < 0) {
            PyMem_Free(ids);
            return NULL;
        }
        Edge *edge = find_edge(self, edge_key(node, ids[k]));
        if (edge->key == 0) {
            int32_t child = new_node(self);
            if (child < 0) {
                PyMem_Free(ids);
                return NULL;
            }
            edge->key = edge_key(node, ids[k]);
            edge->child = child;
            self->edges_used++;
        }
        node = edge->child;
    }
    PyMem_Free(ids);
    if (n == 0) {
        PyErr_SetString(PyExc_ValueError, "a phrase has words");
        return NULL;
    }
    self->node_value[node] = value;
    Py_RETURN_NONE;
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
    Slot *slot = find_slot(self, chunk.buf, chunk.len, chunk_hash(chunk.buf, chunk.len));
    PyBuffer_Release(&chunk);
    if (slot->hash == 0)
        Py_RETURN_NONE;
    return PyLong_FromLong(slot->value);
}

/* Add values[index] to `keys`: one key (bytes), or a frozenset of keys. */
static int
add_keys(ChunkTable *self, PyObject *keys, int32_t index)
{
    PyObject *value = PyList_GET_ITEM(self->values, index);
    if (PyBytes_CheckExact(value))
        return PySet_Add(keys, value);
    PyObject *merged = PyNumber_InPlaceOr(keys, value);
    if (merged == NULL)
        return -1;
    Py_DECREF(merged);
    return 0;
}

PyDoc_STRVAR(table_scan_doc,
"scan(data)\n--\n\n"
"Split `data` at spaces and return (keys, new, dirty, complete): the keys of the known chunks\n"
"and of the phrases their words make, the distinct chunks not in the table, the distinct\n"
"chunks with a byte >= 0x80 (three sets), and whether the phrases were looked for. They are\n"
"not when a new chunk has non-ASCII bytes (its words are not known): learn the new chunks and\n"
"scan again. A new ASCII chunk is taken to be a word of no phrase: the caller adds every\n"
"phrase word to the table first.");

static PyObject *
table_scan(ChunkTable *self, PyObject *arg)
{
    Py_buffer data;
    if (PyObject_GetBuffer(arg, &data, PyBUF_SIMPLE) < 0)
        return NULL;
    PyObject *keys = PySet_New(NULL);
    PyObject *unknown = PySet_New(NULL);
    PyObject *dirty = PySet_New(NULL);
    PyObject *result = NULL;
    /* The article's words as ids, for the phrases (only when there are phrases). */
    int32_t *stream = NULL;
    Py_ssize_t streamed = 0, stream_capacity = 0;
    int complete = 1; /* the phrases were looked for */
    if (keys == NULL || unknown == NULL || dirty == NULL)
        goto done;
    if (self->nodes > 1 && reserve((void **)&stream, &stream_capacity, 0, data.len / 2 + 16, sizeof(int32_t)) < 0)
        goto done;
    if (++self->epoch == 0) { /* wrapped: forget every stamp */
        for (Py_ssize_t j = 0; j < self->capacity; j++)
            self->slots[j].stamp = 0;
        for (Py_ssize_t j = 0; j < self->nodes; j++)
            self->node_stamp[j] = 0;
        self->epoch = 1;
    }
    uint32_t epoch = self->epoch;
    const unsigned char *p = data.buf;
    const unsigned char *end = p + data.len;
    while (p < end) {
        if (*p == ' ') {
            p++;
            continue;
        }
        const unsigned char *start = p;
        uint64_t h = FNV_OFFSET;
        unsigned char high = 0;
        while (p < end && *p != ' ') {
            h ^= *p;
            h *= FNV_PRIME;
            high |= *p;
            p++;
        }
        if (h == 0)
            h = 1;
        Py_ssize_t n = p - start;
        Slot *slot = find_slot(self, (const char *)start, n, h);
        if (slot->hash != 0) {
            if (stream != NULL) {
                if (reserve((void **)&stream, &stream_capacity, streamed, slot->nwords, sizeof(int32_t)) < 0)
                    goto done;
                if (slot->nwords == 1)
                    stream[streamed++] = slot->word;
                else /* several words (`roscosmos’s`) or none (a dash) from one chunk */
                    for (int32_t k = 0; k < slot->nwords; k++)
                        stream[streamed++] = self->sequences[slot->word + k];
            }
            if (slot->stamp == epoch)
                continue;
            slot->stamp = epoch;
            if (slot->value >= 0 && add_keys(self, keys, slot->value) < 0)
                goto done;
            if (!(high & 0x80))
                continue;
        } else if (stream != NULL) {
            if (high & 0x80) {
                PyMem_Free(stream); /* its words are not known yet: the phrases wait for the next scan */
                stream = NULL;
                complete = 0;
            } else { /* every phrase word that is ASCII is in the table: this one is in no phrase */
                if (reserve((void **)&stream, &stream_capacity, streamed, 1, sizeof(int32_t)) < 0)
                    goto done;
                stream[streamed++] = 0;
            }
        }
        PyObject *chunk = PyBytes_FromStringAndSize((const char *)start, n);
        if (chunk == NULL)
            goto done;
        if ((slot->hash == 0 && PySet_Add(unknown, chunk) < 0) || ((high & 0x80) && PySet_Add(dirty, chunk) < 0)) {
            Py_DECREF(chunk);
            goto done;
        }
        Py_DECREF(chunk);
    }
    if (stream != NULL) {
        /* Follow the trie from every word of a phrase. */
        for (Py_ssize_t i = 0; i < streamed; i++) {
            int32_t node = 0;
            for (Py_ssize_t j = i; j < streamed && stream[j] > 0; j++) {
                Edge *edge = find_edge(self, edge_key(node, stream[j]));
                if (edge->key == 0)
                    break;
                node = edge->child;
                if (self->node_value[node] >= 0 && self->node_stamp[node] != epoch) {
                    self->node_stamp[node] = epoch;
                    if (add_keys(self, keys, self->node_value[node]) < 0)
                        goto done;
                }
            }
        }
    }
    result = Py_BuildValue("(OOON)", keys, unknown, dirty, PyBool_FromLong(complete));
done:
    PyMem_Free(stream);
    Py_XDECREF(keys);
    Py_XDECREF(unknown);
    Py_XDECREF(dirty);
    PyBuffer_Release(&data);
    return result;
}

static PyMethodDef table_methods[] = {
    {"add", (PyCFunction)table_add, METH_VARARGS, table_add_doc},
    {"add_phrase", (PyCFunction)table_add_phrase, METH_VARARGS, table_add_phrase_doc},
    {"scan", (PyCFunction)table_scan, METH_O, table_scan_doc},
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
    .tp_name = "alerts._scan.ChunkTable",
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
    .m_name = "alerts._scan",
    .m_doc = "The matcher's chunk table (optional C speed-up of alerts.matcher).",
    .m_size = -1,
};

PyMODINIT_FUNC
PyInit__scan(void)
{
    if (PyType_Ready(&ChunkTableType) < 0)
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
    return m;
}
