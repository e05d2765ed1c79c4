/* alerts._scan: the matcher's chunk table, in C.
 *
 * Why: the matcher looks up every distinct chunk of every article (the bytes between spaces
 * of `alerts.text.ScannedText.data`) in a lexicon kept across articles. In Python that means
 * one bytes object, one hash and one dict probe per chunk: about half the time of a typical
 * article. Here the chunks are hashed and probed in place, and a Python object is made only
 * for what the caller needs: the values of the known chunks that have rule keys, the chunks
 * never seen before, and the chunks with non-ASCII bytes.
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
    int32_t value;   /* -1: a known chunk without keys */
    uint32_t stamp;  /* the scan that last reported this chunk */
    uint32_t unused;
} Slot;

typedef struct {
    PyObject_HEAD
    Slot *slots;
    Py_ssize_t capacity; /* a power of two */
    Py_ssize_t used;
    char *blob;
    Py_ssize_t blob_used;
    Py_ssize_t blob_capacity;
    uint32_t epoch;
} ChunkTable;

static uint64_t
chunk_hash(const unsigned char *p, Py_ssize_t n)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (Py_ssize_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
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
grow(ChunkTable *self)
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

static PyObject *
table_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, ":ChunkTable", keywords))
        return NULL;
    ChunkTable *self = (ChunkTable *)type->tp_alloc(type, 0);
    if (self == NULL)
        return NULL;
    self->capacity = 1024;
    self->slots = PyMem_Calloc((size_t)self->capacity, sizeof(Slot));
    self->blob_capacity = 8192;
    self->blob = PyMem_Malloc((size_t)self->blob_capacity);
    self->epoch = 1;
    if (self->slots == NULL || self->blob == NULL) {
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
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static Py_ssize_t
table_len(ChunkTable *self)
{
    return self->used;
}

PyDoc_STRVAR(table_add_doc,
"add(chunk, value)\n--\n\n"
"Remember `chunk` (bytes without spaces) with `value` (an int >= 0, or -1: no keys).");

static PyObject *
table_add(ChunkTable *self, PyObject *args)
{
    Py_buffer chunk;
    int value;
    if (!PyArg_ParseTuple(args, "y*i:add", &chunk, &value))
        return NULL;
    const char *p = chunk.buf;
    Py_ssize_t n = chunk.len;
    if (n == 0 || n > INT32_MAX || memchr(p, ' ', (size_t)n) != NULL) {
        PyBuffer_Release(&chunk);
        PyErr_SetString(PyExc_ValueError, "a chunk is a non-empty run of bytes without spaces");
        return NULL;
    }
    if ((self->used + 1) * 2 > self->capacity && grow(self) < 0) {
        PyBuffer_Release(&chunk);
        return NULL;
    }
    uint64_t h = chunk_hash((const unsigned char *)p, n);
    Slot *slot = find_slot(self, p, n, h);
    if (slot->hash == 0) {
        if (self->blob_used + n > self->blob_capacity) {
            Py_ssize_t capacity = self->blob_capacity;
            while (self->blob_used + n > capacity)
                capacity *= 2;
            char *blob = PyMem_Realloc(self->blob, (size_t)capacity);
            if (blob == NULL) {
                PyBuffer_Release(&chunk);
                return PyErr_NoMemory();
            }
            self->blob = blob;
            self->blob_capacity = capacity;
        }
        memcpy(self->blob + self->blob_used, p, (size_t)n);
        slot->offset = self->blob_used;
        slot->length = (int32_t)n;
        slot->stamp = 0;
        self->blob_used += n;
        self->used++;
        slot->hash = h; /* last: a slot with a hash is complete */
    }
    slot->value = value;
    PyBuffer_Release(&chunk);
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

PyDoc_STRVAR(table_scan_doc,
"scan(data)\n--\n\n"
"Split `data` at spaces and return (values, unknown, dirty): the distinct values >= 0 of the\n"
"known chunks (a list), the distinct chunks not in the table (a set) and the distinct chunks\n"
"with a byte >= 0x80 (a set).");

static PyObject *
table_scan(ChunkTable *self, PyObject *arg)
{
    Py_buffer data;
    if (PyObject_GetBuffer(arg, &data, PyBUF_SIMPLE) < 0)
        return NULL;
    PyObject *values = PyList_New(0);
    PyObject *unknown = PySet_New(NULL);
    PyObject *dirty = PySet_New(NULL);
    PyObject *result = NULL;
    if (values == NULL || unknown == NULL || dirty == NULL)
        goto done;
    if (++self->epoch == 0) { /* wrapped: forget every stamp */
        for (Py_ssize_t j = 0; j < self->capacity; j++)
            self->slots[j].stamp = 0;
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
        uint64_t h = 1469598103934665603ULL;
        unsigned char high = 0;
        while (p < end && *p != ' ') {
            h ^= *p;
            h *= 1099511628211ULL;
            high |= *p;
            p++;
        }
        if (h == 0)
            h = 1;
        Py_ssize_t n = p - start;
        Slot *slot = find_slot(self, (const char *)start, n, h);
        if (slot->hash != 0) {
            if (slot->stamp == epoch)
                continue;
            slot->stamp = epoch;
            if (slot->value >= 0) {
                PyObject *value = PyLong_FromLong(slot->value);
                if (value == NULL || PyList_Append(values, value) < 0) {
                    Py_XDECREF(value);
                    goto done;
                }
                Py_DECREF(value);
            }
            if (!(high & 0x80))
                continue;
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
    result = PyTuple_Pack(3, values, unknown, dirty);
done:
    Py_XDECREF(values);
    Py_XDECREF(unknown);
    Py_XDECREF(dirty);
    PyBuffer_Release(&data);
    return result;
}

static PyMethodDef table_methods[] = {
    {"add", (PyCFunction)table_add, METH_VARARGS, table_add_doc},
    {"scan", (PyCFunction)table_scan, METH_O, table_scan_doc},
    {"get", (PyCFunction)table_get, METH_O, table_get_doc},
    {NULL, NULL, 0, NULL},
};

static PySequenceMethods table_as_sequence = {
    .sq_length = (lenfunc)table_len,
};

PyDoc_STRVAR(table_doc,
"ChunkTable()\n--\n\n"
"A set of chunks (bytes without spaces), each with an int value, scanned in place.");

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
