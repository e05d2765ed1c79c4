/* alerts.rules._scan, continued: what the chunk table learns — a chunk with its value and
 * words (`add`), a phrase in the trie (`add_phrase`), each value's keys as key ids — and the
 * growth of its hash tables. Why apart from the scan: this runs once per new chunk or phrase,
 * the scan once per article.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#include "_table.h"

int
nw_grow_slots(ChunkTable *self)
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


int
nw_grow_edges(ChunkTable *self)
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
            *nw_find_edge(self, old[j].key) = old[j];
    }
    PyMem_Free(old);
    return 0;
}

int32_t
nw_new_node(ChunkTable *self)
{
    if (nw_reserve((void **)&self->node, &self->nodes_capacity, self->nodes, 1, sizeof(Node)) < 0)
        return -1;
    self->node[self->nodes] = (Node){-1, 0, 0};
    return (int32_t)self->nodes++;
}


/* Read a sequence of word ids (ints >= 0) into a new int32 array; return its length or -1. */
Py_ssize_t
nw_read_ids(PyObject *sequence, int32_t **out)
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

/* values[index] as (count, id, id, …) in key_pool, made on first use (it calls
 * alerts.rules.keys.key_id: Python code, so not while a scan holds a slot). NULL on error. */
static const int32_t *
value_ids(ChunkTable *self, int32_t index)
{
    if (index < 0 || index >= PyList_GET_SIZE(self->values)) {
        PyErr_SetString(PyExc_ValueError, "value is not an index into values");
        return NULL;
    }
    if (index >= self->value_at_capacity) {
        Py_ssize_t old = self->value_at_capacity;
        if (nw_reserve((void **)&self->value_at, &self->value_at_capacity, old, index + 1 - old, sizeof(int32_t)) < 0)
            return NULL;
        for (Py_ssize_t i = old; i < self->value_at_capacity; i++)
            self->value_at[i] = -1;
    }
    if (self->value_at[index] >= 0)
        return self->key_pool + self->value_at[index];
    PyObject *value = PyList_GET_ITEM(self->values, index);
    Py_INCREF(value); /* key_id is Python code */
    PyObject *keys = PyBytes_Check(value) ? PyTuple_Pack(1, value) : PySequence_Tuple(value);
    Py_DECREF(value);
    if (keys == NULL)
        return NULL;
    Py_ssize_t count = PyTuple_GET_SIZE(keys);
    int32_t *ids = PyMem_New(int32_t, count + 1);
    if (ids == NULL) {
        Py_DECREF(keys);
        PyErr_NoMemory();
        return NULL;
    }
    ids[0] = (int32_t)count;
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *key = PyTuple_GET_ITEM(keys, i);
        int32_t id = PyBytes_Check(key) ? nw_key_id(key) : -1;
        if (id < 0) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_TypeError, "a value's keys are bytes");
            PyMem_Free(ids);
            Py_DECREF(keys);
            return NULL;
        }
        Py_ssize_t length = PyBytes_GET_SIZE(key);
        int prefix = length > 0 && PyBytes_AS_STRING(key)[length - 1] == '*';
        ids[1 + i] = prefix ? -id - 1 : id;
    }
    Py_DECREF(keys);
    if (self->key_pool_used + count + 1 > INT32_MAX
        || nw_reserve((void **)&self->key_pool, &self->key_pool_capacity, self->key_pool_used, count + 1,
                      sizeof(int32_t)) < 0) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_OverflowError, "the chunk table is full");
        PyMem_Free(ids);
        return NULL;
    }
    if (index >= self->value_at_capacity || self->value_at[index] >= 0) { /* made meanwhile (Python ran) */
        PyMem_Free(ids);
        return index < self->value_at_capacity ? self->key_pool + self->value_at[index] : NULL;
    }
    memcpy(self->key_pool + self->key_pool_used, ids, (size_t)(count + 1) * sizeof(int32_t));
    for (Py_ssize_t i = 0; i < count; i++)
        if (pooled_id(ids[1 + i]) >= self->key_bound)
            self->key_bound = pooled_id(ids[1 + i]) + 1;
    PyMem_Free(ids);
    self->value_at[index] = (int32_t)self->key_pool_used;
    self->key_pool_used += count + 1;
    return self->key_pool + self->value_at[index];
}

const char nw_table_add_doc[] =
"add(chunk, value, words, folded=None, spans=None)\n--\n\n"
"Remember `chunk` (bytes without spaces): `value` indexes the key set in `values` (-1: no\n"
"keys); `words` are the ids of its words in order (0: a word of no phrase); `folded` is its\n"
"folded words joined by spaces when that is not the chunk itself; `spans` the start and end\n"
"of each word in characters from the chunk's start (s0, e0, s1, e1, ...), when that is not one\n"
"word making the whole chunk.";

PyObject *
nw_table_add(ChunkTable *self, PyObject *args)
{
    Py_buffer chunk, folded = {0};
    int value;
    PyObject *words, *span_list = Py_None;
    if (!PyArg_ParseTuple(args, "y*iO|z*O:add", &chunk, &value, &words, &folded, &span_list))
        return NULL;
    const char *p = chunk.buf;
    Py_ssize_t n = chunk.len;
    int32_t *ids = NULL, *spans = NULL;
    Py_ssize_t nwords, nspans = 0;
    if (n == 0 || n > INT32_MAX || memchr(p, ' ', (size_t)n) != NULL) {
        PyErr_SetString(PyExc_ValueError, "a chunk is a non-empty run of bytes without spaces");
        goto fail;
    }
    if (value < -1 || (value >= 0 && value_ids(self, value) == NULL)) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_ValueError, "value is not an index into values");
        goto fail;
    }
    if (folded.buf != NULL && folded.len > INT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "folded is too long");
        goto fail;
    }
    nwords = nw_read_ids(words, &ids);
    if (nwords < 0)
        goto fail;
    if (span_list != Py_None) {
        nspans = nw_read_ids(span_list, &spans);
        if (nspans < 0)
            goto fail;
        if (nspans != 2 * nwords) {
            PyErr_SetString(PyExc_ValueError, "spans are a start and an end for each word");
            goto fail;
        }
    }
    if ((self->used + 1) * 2 > self->capacity && nw_grow_slots(self) < 0)
        goto fail;
    ChunkKey key = chunk_key((const unsigned char *)p, n);
    Slot *slot = find_slot(self, p, n, key);
    int is_new = slot->hash == 0;
    /* Everything that can fail first: a failed add leaves the table as it was. */
    Py_ssize_t bytes = (is_new ? n : 0) + (folded.buf != NULL ? folded.len : 0);
    Py_ssize_t more_ids = (nwords == 1 ? 0 : nwords) + nspans;
    if (self->blob_used + bytes > UINT32_MAX || self->sequences_used + more_ids > INT32_MAX) {
        PyErr_SetString(PyExc_OverflowError, "the chunk table is full");
        goto fail;
    }
    if (nw_reserve((void **)&self->blob, &self->blob_capacity, self->blob_used, bytes, 1) < 0 ||
        nw_reserve((void **)&self->sequences, &self->sequences_capacity, self->sequences_used, more_ids,
                sizeof(int32_t)) < 0)
        goto fail;
    if (is_new) {
        memcpy(self->blob + self->blob_used, p, (size_t)n);
        slot->head = key.head;
        slot->offset = (uint32_t)self->blob_used;
        slot->length = (int32_t)n;
        slot->stamp = 0;
        self->blob_used += n;
        self->used++;
    }
    slot->folded_length = -1;
    if (folded.buf != NULL) {
        memcpy(self->blob + self->blob_used, folded.buf, (size_t)folded.len);
        slot->folded_offset = (uint32_t)self->blob_used;
        slot->folded_length = (int32_t)folded.len;
        self->blob_used += folded.len;
    }
    if (nwords == 1) {
        slot->word = ids[0];
    } else {
        slot->word = (int32_t)self->sequences_used;
        if (nwords > 0) { /* (no pointer arithmetic on `sequences` before it is allocated) */
            memcpy(self->sequences + self->sequences_used, ids, (size_t)nwords * sizeof(int32_t));
            self->sequences_used += nwords;
        }
    }
    slot->spans = nwords > 1 ? -2 : -1; /* -2: not known (offsets() then says None) */
    if (spans != NULL && nspans > 0) {
        memcpy(self->sequences + self->sequences_used, spans, (size_t)nspans * sizeof(int32_t));
        slot->spans = (int32_t)self->sequences_used;
        self->sequences_used += nspans;
    }
    slot->nwords = (int32_t)nwords;
    slot->value = value;
    slot->hash = key.hash; /* last: a slot with a hash is complete */
    PyMem_Free(ids);
    PyMem_Free(spans);
    PyBuffer_Release(&chunk);
    if (folded.buf != NULL)
        PyBuffer_Release(&folded);
    Py_RETURN_NONE;
fail:
    PyMem_Free(ids);
    PyMem_Free(spans);
    PyBuffer_Release(&chunk);
    if (folded.buf != NULL)
        PyBuffer_Release(&folded);
    return NULL;
}

const char nw_table_add_phrase_doc[] =
"add_phrase(words, value)\n--\n\n"
"Add a phrase (its word ids, each > 0) whose key set is `values[value]`.";

PyObject *
nw_table_add_phrase(ChunkTable *self, PyObject *args)
{
    PyObject *words;
    int value;
    if (!PyArg_ParseTuple(args, "Oi:add_phrase", &words, &value))
        return NULL;
    if (value < 0 || value_ids(self, value) == NULL) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_ValueError, "value is not an index into values");
        return NULL;
    }
    int32_t *ids = NULL;
    Py_ssize_t n = nw_read_ids(words, &ids);
    if (n < 0)
        return NULL;
    int32_t node = 0;
    for (Py_ssize_t k = 0; k < n; k++) {
        if (ids[k] == 0) {
            PyMem_Free(ids);
            PyErr_SetString(PyExc_ValueError, "a phrase word id is > 0");
            return NULL;
        }
        if ((self->edges_used + 1) * 2 > self->edges_capacity && nw_grow_edges(self) < 0) {
            PyMem_Free(ids);
            return NULL;
        }
        Edge *edge = nw_find_edge(self, edge_key(node, ids[k]));
        if (edge->key == 0) {
            int32_t child = nw_new_node(self);
            if (child < 0) {
                PyMem_Free(ids);
                return NULL;
            }
            edge->key = edge_key(node, ids[k]);
            edge->child = child;
            self->edges_used++;
            self->node[node].next |= word_bit(ids[k]);
        }
        if (node == 0) {
            Py_ssize_t used = self->root_capacity;
            if (ids[k] >= used) {
                if (nw_reserve((void **)&self->root_child, &self->root_capacity, used, ids[k] + 1 - used,
                            sizeof(int32_t)) < 0) {
                    PyMem_Free(ids);
                    return NULL;
                }
                memset(self->root_child + used, 0, (size_t)(self->root_capacity - used) * sizeof(int32_t));
            }
            self->root_child[ids[k]] = edge->child;
        }
        node = edge->child;
    }
    PyMem_Free(ids);
    if (n == 0) {
        PyErr_SetString(PyExc_ValueError, "a phrase has words");
        return NULL;
    }
    self->node[node].value = value;
    Py_RETURN_NONE;
}
