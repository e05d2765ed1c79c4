/* alerts.rules._scan.KeySet: the rule keys found in one field of an article, as key ids.
 *
 * Why: a broad desk's article has ~400 keys, and the decision and the hits test each rule's
 * keys against them hundreds of times. In a set of bytes every test fetches the key object
 * (for its hash) and probes a table far from the last one: a cache miss or two each. Here the
 * keys are ids (alerts/rules/keys.py, `key_id`) in a bit set of a few kilobytes that stays in
 * the cache, and the ids in the order they came, for whoever walks them (the decision's
 * postings). To Python it is a read-only set of bytes keys (`in`, iteration, len, == with a
 * set), with `add(key)`; its bits are its buffer (for alerts.rules._explain).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#include "_table.h"

/* alerts.rules.keys: KEY_IDS (key -> id), KEY_LIST (id -> key) and key_id (gives new ids);
 * fetched once, when first needed. */
static PyObject *key_ids, *key_list, *key_id_function;

static int
registry(void)
{
    if (key_id_function != NULL)
        return 0;
    PyObject *module = PyImport_ImportModule("alerts.rules.keys");
    if (module == NULL)
        return -1;
    PyObject *ids = PyObject_GetAttrString(module, "KEY_IDS");
    PyObject *list = PyObject_GetAttrString(module, "KEY_LIST");
    PyObject *function = PyObject_GetAttrString(module, "key_id");
    Py_DECREF(module);
    if (ids == NULL || list == NULL || function == NULL || !PyDict_Check(ids) || !PyList_Check(list)) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_TypeError, "alerts.rules.keys has no key registry");
        Py_XDECREF(ids);
        Py_XDECREF(list);
        Py_XDECREF(function);
        return -1;
    }
    key_ids = ids; /* kept for good, as the module is */
    key_list = list;
    key_id_function = function;
    return 0;
}

int32_t
nw_key_id(PyObject *key)
{
    if (registry() < 0)
        return -1;
    PyObject *found = PyObject_CallOneArg(key_id_function, key);
    if (found == NULL)
        return -1;
    long id = PyLong_AsLong(found);
    Py_DECREF(found);
    if (id == -1 && PyErr_Occurred())
        return -1;
    if (id < 0 || id >= INT32_MAX) {
        PyErr_SetString(PyExc_OverflowError, "a key id out of range");
        return -1;
    }
    return (int32_t)id;
}

PyObject *
nw_key_bytes(int32_t id)
{
    if (registry() < 0)
        return NULL;
    if (id < 0 || id >= PyList_GET_SIZE(key_list)) {
        PyErr_SetString(PyExc_IndexError, "a key id without its key");
        return NULL;
    }
    return PyList_GET_ITEM(key_list, id);
}

/* The id of a key that has one, else -1 (-2 on error): no new id for a key no rule has. */
static int32_t
known_id(PyObject *key)
{
    if (registry() < 0)
        return -2;
    PyObject *found = PyDict_GetItemWithError(key_ids, key);
    if (found == NULL)
        return PyErr_Occurred() ? -2 : -1;
    long id = PyLong_AsLong(found);
    if (id == -1 && PyErr_Occurred())
        return -2;
    return id < 0 || id >= INT32_MAX ? -1 : (int32_t)id;
}

KeySet *
nw_keyset_new(Py_ssize_t nbits)
{
    KeySet *set = PyObject_New(KeySet, &NwKeySetType);
    if (set == NULL)
        return NULL;
    nbits = (nbits + 63) & ~(Py_ssize_t)63;
    if (nbits < 64)
        nbits = 64;
    set->bits = PyMem_Calloc((size_t)(nbits / 8), 1);
    set->nbits = nbits;
    set->ids = NULL;
    set->count = set->capacity = set->exports = 0;
    if (set->bits == NULL) {
        Py_DECREF(set);
        PyErr_NoMemory();
        return NULL;
    }
    return set;
}

int
nw_keyset_add(KeySet *set, int32_t id)
{
    if (id < 0) {
        PyErr_SetString(PyExc_ValueError, "a key id is >= 0");
        return -1;
    }
    if (id >= set->nbits) {
        if (set->exports > 0) {
            PyErr_SetString(PyExc_BufferError, "the key set's bits are being read");
            return -1;
        }
        Py_ssize_t nbits = set->nbits;
        while (nbits <= id)
            nbits *= 2;
        uint8_t *bits = PyMem_Realloc(set->bits, (size_t)(nbits / 8));
        if (bits == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        memset(bits + set->nbits / 8, 0, (size_t)((nbits - set->nbits) / 8));
        set->bits = bits;
        set->nbits = nbits;
    }
    if (nw_keyset_has(set, id))
        return 0;
    if (nw_reserve((void **)&set->ids, &set->capacity, set->count, 1, sizeof(int32_t)) < 0)
        return -1;
    set->bits[id >> 3] |= (uint8_t)(1u << (id & 7));
    set->ids[set->count++] = id;
    return 0;
}

static void
keyset_dealloc(KeySet *set)
{
    PyMem_Free(set->bits);
    PyMem_Free(set->ids);
    PyObject_Free(set);
}

static int
add_key(KeySet *set, PyObject *key)
{
    if (!PyBytes_Check(key)) {
        PyErr_SetString(PyExc_TypeError, "a rule key is bytes");
        return -1;
    }
    int32_t id = nw_key_id(key);
    return id < 0 ? -1 : nw_keyset_add(set, id);
}

static PyObject *
keyset_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    PyObject *keys = NULL;
    static char *keywords[] = {"keys", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|O:KeySet", keywords, &keys))
        return NULL;
    KeySet *set = nw_keyset_new(64);
    if (set == NULL || keys == NULL)
        return (PyObject *)set;
    PyObject *iterator = PyObject_GetIter(keys), *key;
    if (iterator == NULL) {
        Py_DECREF(set);
        return NULL;
    }
    while ((key = PyIter_Next(iterator)) != NULL) {
        int failed = add_key(set, key) < 0;
        Py_DECREF(key);
        if (failed)
            break;
    }
    Py_DECREF(iterator);
    if (PyErr_Occurred()) {
        Py_DECREF(set);
        return NULL;
    }
    return (PyObject *)set;
}

static Py_ssize_t
keyset_len(KeySet *set)
{
    return set->count;
}

static int
keyset_contains(KeySet *set, PyObject *key)
{
    if (!PyBytes_Check(key))
        return 0;
    int32_t id = known_id(key);
    return id == -2 ? -1 : id >= 0 && nw_keyset_has(set, id);
}

/* The keys as a new Python set. */
static PyObject *
as_set(KeySet *set)
{
    if (registry() < 0)
        return NULL;
    PyObject *out = PySet_New(NULL);
    for (Py_ssize_t i = 0; out != NULL && i < set->count; i++) {
        if (set->ids[i] >= PyList_GET_SIZE(key_list)) {
            PyErr_SetString(PyExc_IndexError, "a key id without its key");
            Py_CLEAR(out);
        }
        else if (PySet_Add(out, PyList_GET_ITEM(key_list, set->ids[i])) < 0)
            Py_CLEAR(out);
    }
    return out;
}

static PyObject *
keyset_iter(KeySet *set)
{
    PyObject *keys = as_set(set);
    if (keys == NULL)
        return NULL;
    PyObject *iterator = PyObject_GetIter(keys);
    Py_DECREF(keys);
    return iterator;
}

static PyObject *
keyset_richcompare(KeySet *set, PyObject *other, int op)
{
    if ((op != Py_EQ && op != Py_NE) || !(PyAnySet_Check(other) || Py_IS_TYPE(other, &NwKeySetType)))
        Py_RETURN_NOTIMPLEMENTED;
    PyObject *mine = as_set(set);
    if (mine == NULL)
        return NULL;
    PyObject *result = PyObject_RichCompare(mine, other, op);
    Py_DECREF(mine);
    return result;
}

static PyObject *
keyset_repr(KeySet *set)
{
    PyObject *mine = as_set(set);
    if (mine == NULL)
        return NULL;
    PyObject *result = PyUnicode_FromFormat("KeySet(%R)", mine);
    Py_DECREF(mine);
    return result;
}

static PyObject *
keyset_add(KeySet *set, PyObject *key)
{
    if (add_key(set, key) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static int
keyset_getbuffer(KeySet *set, Py_buffer *view, int flags)
{
    if (PyBuffer_FillInfo(view, (PyObject *)set, set->bits, set->nbits / 8, 1, flags) < 0)
        return -1;
    set->exports++;
    return 0;
}

static void
keyset_releasebuffer(KeySet *set, Py_buffer *view)
{
    set->exports--;
}

static PyMethodDef keyset_methods[] = {
    {"add", (PyCFunction)keyset_add, METH_O, "add(key)\n--\n\nAdd a rule key (bytes)."},
    {NULL, NULL, 0, NULL},
};

static PySequenceMethods keyset_as_sequence = {
    .sq_length = (lenfunc)keyset_len,
    .sq_contains = (objobjproc)keyset_contains,
};

static PyBufferProcs keyset_as_buffer = {
    .bf_getbuffer = (getbufferproc)keyset_getbuffer,
    .bf_releasebuffer = (releasebufferproc)keyset_releasebuffer,
};

PyDoc_STRVAR(keyset_doc,
"KeySet(keys=())\n--\n\n"
"Rule keys (bytes) as their ids (alerts.rules.keys.key_id) in a bit set: what the chunk table's\n"
"scan finds in a field. `in`, iteration, len and == with a set read it as a set of keys; its\n"
"buffer is the bits: bit id % 8 of byte id // 8 is set when the key of that id is here.");

PyTypeObject NwKeySetType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "alerts.rules._scan.KeySet",
    .tp_basicsize = sizeof(KeySet),
    .tp_dealloc = (destructor)keyset_dealloc,
    .tp_repr = (reprfunc)keyset_repr,
    .tp_as_sequence = &keyset_as_sequence,
    .tp_as_buffer = &keyset_as_buffer,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = keyset_doc,
    .tp_richcompare = (richcmpfunc)keyset_richcompare,
    .tp_iter = (getiterfunc)keyset_iter,
    .tp_methods = keyset_methods,
    .tp_new = keyset_new,
};
