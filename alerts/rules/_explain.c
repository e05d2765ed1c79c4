/* alerts.rules._explain: the hits of the rules matched on one article, in C.
 *
 * Why: an article a desk's broad rules hit is matched by hundreds of rules, and each match
 * carries its hits (per field, the words as written, each distinct form once, in order of
 * first occurrence). In Python that is a few calls and small lists per rule and per word:
 * most of the time of such an article. Here one call does the loop over the rules whose plan
 * is "flat" (their true atoms are simply those of their positive atoms that occur; see
 * alerts/rules/hits.py, which defines the result and keeps the Python version of it).
 *
 * Per field, the caller gives what the matcher's scan already has: the rule keys found (a
 * KeySet, read as its bits by key id), where each key first occurs (the chunk table's view pass:
 * alerts/rules/_firsts.h), the folded words joined (b" w1 w2 "), the text, the words' character
 * offsets (a buffer of ints, or None) and a `surface(start, end)` for spans of several words.
 * Where the view could not be had, a dict of each distinct word's first position instead, and
 * `sorted_of()` for the distinct words in order (asked once, when a prefix is looked for).
 * Words, prefixes and phrases of plain words are found here; exact words and NEAR are asked of
 * `slow(atom, field)` (Python), as is anything else this file does not know. The caches are the
 * caller's dicts, shared with its Python code: each atom's entries per field, and the hits of
 * each tuple of true atoms.
 *
 * The module's files: this one (the loop, the merge of entries into hits, the match objects),
 * _entries.c (an atom's entries in a field), _explain.h (what they share), _firsts.h (shared
 * with alerts.rules._scan) and _snippets.c (the module's `snippet` and `window`).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>
#include <structmember.h>

#include "_explain.h"

static int
read_field(PyObject *spec, Field *field)
{
    PyObject *offsets;
    memset(field, 0, sizeof(*field));
    if (!PyArg_ParseTuple(spec, "OOO!UOOUO!O:field", &field->keys, &field->first, &PyBytes_Type, &field->joined,
                          &field->text, &offsets, &field->surface, &field->name, &PyDict_Type, &field->entries,
                          &field->sorted_of))
        return -1;
    if (PyBytes_Check(field->first)) {
        field->firsts = PyBytes_AS_STRING(field->first);
        field->firsts_size = PyBytes_GET_SIZE(field->first);
    }
    else if (!PyDict_Check(field->first)) {
        PyErr_SetString(PyExc_TypeError, "a field's first positions must be bytes (firsts) or a dict");
        return -1;
    }
    if (PyObject_GetBuffer(field->keys, &field->bits, PyBUF_SIMPLE) < 0)
        return -1; /* (a KeySet: its bits) */
    if (PyObject_CheckBuffer(offsets)) { /* else (a list, None): surfaces from `surface` */
        if (PyObject_GetBuffer(offsets, &field->offsets, PyBUF_FORMAT | PyBUF_C_CONTIGUOUS) < 0) {
            PyBuffer_Release(&field->bits);
            return -1;
        }
        const char *format = field->offsets.format;
        if (field->offsets.itemsize != sizeof(int) || format == NULL || (strcmp(format, "i") && strcmp(format, "@i"))) {
            PyBuffer_Release(&field->offsets);
            field->offsets.buf = NULL; /* not ints: the surfaces come from `surface` */
        }
        else
            field->words = field->offsets.len / (Py_ssize_t)sizeof(int) / 2;
    }
    return 0;
}

static void
release_field(Field *field)
{
    PyBuffer_Release(&field->bits);
    if (field->offsets.buf != NULL)
        PyBuffer_Release(&field->offsets);
}

/* What `make` gives: RuleMatch (alerts/rules/explanations.py), with where its slots lie in an
 * instance, so that a match is made without running its __init__ in Python (or a descriptor
 * call per slot: four a match, hundreds of matches an article), and what makes a snippet from
 * the true atoms. */
typedef struct {
    PyObject *type, *snippet;
    Py_ssize_t rule, hits, later, maker; /* the slots' offsets in an instance */
} Maker;

/* The offset of slot `name` of `type`: an object slot (T_OBJECT_EX) that can be written. */
static Py_ssize_t
slot_offset(PyObject *type, const char *name)
{
    PyObject *descr = PyObject_GetAttrString(type, name);
    if (descr == NULL)
        return -1;
    Py_ssize_t offset = -1;
    if (Py_IS_TYPE(descr, &PyMemberDescr_Type)) {
        PyMemberDef *member = ((PyMemberDescrObject *)descr)->d_member;
        if (member->type == T_OBJECT_EX && !(member->flags & READONLY) && member->offset > 0
            && (size_t)member->offset + sizeof(PyObject *) <= (size_t)((PyTypeObject *)type)->tp_basicsize)
            offset = member->offset;
    }
    Py_DECREF(descr);
    if (offset < 0)
        PyErr_Format(PyExc_TypeError, "%s is not an object slot of the match type", name);
    return offset;
}

static int
read_maker(PyObject *make, Maker *m)
{
    memset(m, 0, sizeof(*m));
    if (make == NULL || make == Py_None)
        return 0;
    if (!PyArg_ParseTuple(make, "O!O:make", &PyType_Type, &m->type, &m->snippet))
        return -1;
    if ((m->rule = slot_offset(m->type, "rule")) < 0 || (m->hits = slot_offset(m->type, "hits")) < 0
        || (m->later = slot_offset(m->type, "_snippet")) < 0 || (m->maker = slot_offset(m->type, "_maker")) < 0)
        return -1;
    return 0;
}

/* RuleMatch(name, hits, true_atoms, snippet): its snippet is snippet(true_atoms), when read. */
static PyObject *
make_match(Maker *m, PyObject *name, PyObject *true_atoms, PyObject *hits)
{
    PyTypeObject *type = (PyTypeObject *)m->type;
    PyObject *match = type->tp_alloc(type, 0); /* its slots are NULL */
    if (match == NULL)
        return NULL;
    char *base = (char *)match;
    *(PyObject **)(base + m->rule) = Py_NewRef(name);
    *(PyObject **)(base + m->hits) = Py_NewRef(hits);
    *(PyObject **)(base + m->later) = Py_NewRef(true_atoms);
    *(PyObject **)(base + m->maker) = Py_NewRef(m->snippet);
    return match;
}

/* Read the plans and both fields into `a` (released by close_article). */
static int
open_article(Article *a, PyObject *plans, PyObject *title, PyObject *text, PyObject *slow)
{
    PyObject *atoms;
    if (!PyTuple_Check(plans) || !PyTuple_Check(title) || !PyTuple_Check(text)) {
        PyErr_SetString(PyExc_TypeError, "plans and fields must be tuples");
        return -1;
    }
    if (!PyArg_ParseTuple(plans, "O!O!O:plans", &PyList_Type, &a->needles, &PyList_Type, &a->keys, &atoms))
        return -1;
    if (PyObject_GetBuffer(atoms, &a->atoms, PyBUF_FORMAT | PyBUF_C_CONTIGUOUS) < 0)
        return -1;
    if (a->atoms.itemsize != sizeof(int32_t) || a->atoms.format == NULL || a->atoms.len % sizeof(AtomInfo)
        || (strcmp(a->atoms.format, "i") && strcmp(a->atoms.format, "@i"))) {
        PyBuffer_Release(&a->atoms);
        PyErr_SetString(PyExc_TypeError, "the atoms must be int32 pairs (array('i'))");
        return -1;
    }
    a->slow = slow;
    if (read_field(title, &a->field[0]) < 0) {
        PyBuffer_Release(&a->atoms);
        return -1;
    }
    if (read_field(text, &a->field[1]) < 0) {
        release_field(&a->field[0]);
        PyBuffer_Release(&a->atoms);
        return -1;
    }
    return 0;
}

static void
close_article(Article *a)
{
    for (int f = 0; f < 2; f++) {
        release_field(&a->field[f]);
        Py_CLEAR(a->field[f].sorted);
        PyMem_Free(a->field[f].spaces);
        PyMem_Free(a->field[f].cache.slots);
        PyMem_Free(a->field[f].cache.spans);
    }
    PyBuffer_Release(&a->atoms);
}

/* The hits of the true atoms (`key`: them as the cache's key), from `known` or made and kept
 * there (a new reference). */
static PyObject *
hits_of(Article *a, PyObject *known, PyObject *key, const int32_t *atoms, Py_ssize_t count)
{
    PyObject *hits = PyDict_GetItemWithError(known, key);
    if (hits != NULL)
        return Py_NewRef(hits);
    if (PyErr_Occurred())
        return NULL;
    hits = nw_merged(a, atoms, count);
    if (hits != NULL && PyDict_SetItem(known, key, hits) < 0)
        Py_CLEAR(hits);
    return hits;
}

/* Keep in place the atoms of a flat plan that occur; return how many, or -1. The one positive
 * atom of a rule that matched occurs (as alerts.rules.hits takes it). */
static Py_ssize_t
keep_true(Article *a, int32_t *atoms, Py_ssize_t size)
{
    if (size == 1)
        return 1;
    Py_ssize_t kept = 0;
    for (Py_ssize_t i = 0; i < size; i++) {
        int in = nw_atom_present(a, atoms[i]);
        if (in < 0)
            return -1;
        if (in)
            atoms[kept++] = atoms[i];
    }
    return kept;
}

/* An int32 buffer argument: array('i'), or bytes of native int32 (released by the caller). */
static int
int32_buffer(PyObject *obj, Py_buffer *view, const char *what)
{
    if (PyObject_GetBuffer(obj, view, PyBUF_FORMAT | PyBUF_C_CONTIGUOUS) < 0)
        return -1;
    const char *format = view->format;
    int ints = view->itemsize == sizeof(int32_t) && format != NULL && (!strcmp(format, "i") || !strcmp(format, "@i"));
    int raw = view->itemsize == 1 && (format == NULL || !strcmp(format, "B")) && view->len % sizeof(int32_t) == 0;
    if (!ints && !raw) {
        PyBuffer_Release(view);
        PyErr_Format(PyExc_TypeError, "%s must be int32 (array('i') or packed bytes)", what);
        return -1;
    }
    return 0;
}

PyDoc_STRVAR(rule_hits_doc,
"rule_hits(indexes, flat_at, flat_atoms, names, plans, title, text, known, slow, make)\n--\n\n"
"RuleMatch(names[i], hits, true atoms (packed int32), snippet) for each rule index i of\n"
"`indexes` (int32: the rules the decision matched, in order), or None when one of them has no\n"
"flat plan. A rule's flat plan is flat_atoms[flat_at[i]:]: a count, then its atom ids\n"
"(flat_at[i] < 0: none).\n"
"`plans`: (needles, keys, atoms) by atom id (lists, and int32 pairs: key id or -1, kind |\n"
"fields << 8 | a phrase's words after its first << 16); `title`, `text`: (keys: a KeySet,\n"
"first: the view's firsts by key id (_firsts.h) or a dict word -> first position, joined, text,\n"
"offsets or None, surface, name, entries, sorted_of); `known`: dict true atoms -> hits (read\n"
"and filled); `slow(atom, field)`: entries in Python; `make`: (RuleMatch, snippet).\n"
"Why by index: the rules' own tuples lie all over memory, and fetching them was most of the\n"
"cost of a match's hits.");

static PyObject *
rule_hits(PyObject *module, PyObject *args)
{
    PyObject *index_obj, *at_obj, *pool_obj, *names, *plans, *title, *text, *known, *slow, *make;
    if (!PyArg_ParseTuple(args, "OOOO!OOOO!OO:rule_hits", &index_obj, &at_obj, &pool_obj, &PyList_Type, &names,
                          &plans, &title, &text, &PyDict_Type, &known, &slow, &make))
        return NULL;
    Maker maker;
    if (read_maker(make, &maker) < 0)
        return NULL;
    if (maker.type == NULL) {
        PyErr_SetString(PyExc_TypeError, "make must be (RuleMatch, snippet)");
        return NULL;
    }
    Py_buffer indexes, at, pool;
    if (int32_buffer(index_obj, &indexes, "indexes") < 0)
        return NULL;
    if (int32_buffer(at_obj, &at, "flat_at") < 0) {
        PyBuffer_Release(&indexes);
        return NULL;
    }
    if (int32_buffer(pool_obj, &pool, "flat_atoms") < 0) {
        PyBuffer_Release(&indexes);
        PyBuffer_Release(&at);
        return NULL;
    }
    const int32_t *rules = indexes.buf, *offsets = at.buf, *atoms = pool.buf;
    Py_ssize_t count = indexes.len / 4, rule_count = at.len / 4, pooled = pool.len / 4;
    PyObject *out = NULL;
    for (Py_ssize_t r = 0; r < count; r++) { /* all flat, and every index known, before any work */
        int32_t rule = rules[r];
        if (rule < 0 || rule >= rule_count || rule >= PyList_GET_SIZE(names)) {
            PyErr_SetString(PyExc_IndexError, "a rule index outside the rule tables");
            goto released;
        }
        int32_t offset = offsets[rule];
        if (offset < 0) {
            out = Py_NewRef(Py_None);
            goto released;
        }
        if (offset >= pooled || atoms[offset] < 0 || offset + 1 + (Py_ssize_t)atoms[offset] > pooled) {
            PyErr_SetString(PyExc_IndexError, "a flat plan outside its pool");
            goto released;
        }
    }
    Article a;
    if (open_article(&a, plans, title, text, slow) < 0)
        goto released;
    out = PyList_New(count);
    int32_t small[64], *present = small;
    Py_ssize_t present_capacity = 64;
    for (Py_ssize_t r = 0; out != NULL && r < count; r++) {
        int32_t offset = offsets[rules[r]], size = atoms[offset];
        if (size > present_capacity) {
            if (present != small)
                PyMem_Free(present);
            present = PyMem_New(int32_t, size);
            present_capacity = size;
            if (present == NULL) {
                PyErr_NoMemory();
                Py_CLEAR(out);
                break;
            }
        }
        memcpy(present, atoms + offset + 1, (size_t)size * sizeof(int32_t));
        PyObject *name = PyList_GET_ITEM(names, rules[r]), *true_atoms = NULL, *hits = NULL, *match = NULL;
        Py_INCREF(name); /* held while the callbacks (Python code) run */
        Py_ssize_t kept = keep_true(&a, present, size);
        /* the true atoms as packed int32: one object, the cache's key and what makes the snippet */
        if (kept >= 0)
            true_atoms = PyBytes_FromStringAndSize((const char *)present, kept * (Py_ssize_t)sizeof(int32_t));
        if (true_atoms != NULL && (hits = hits_of(&a, known, true_atoms, present, kept)) != NULL)
            match = make_match(&maker, name, true_atoms, hits);
        Py_DECREF(name);
        Py_XDECREF(true_atoms);
        Py_XDECREF(hits);
        if (match == NULL)
            Py_CLEAR(out);
        else
            PyList_SET_ITEM(out, r, match);
    }
    if (present != small)
        PyMem_Free(present);
    close_article(&a);
released:
    PyBuffer_Release(&indexes);
    PyBuffer_Release(&at);
    PyBuffer_Release(&pool);
    return out;
}

PyDoc_STRVAR(hits_doc,
"hits(payloads, plans, title, text, known, slow)\n--\n\n"
"For each tuple of atom ids in `payloads` (the flat plans of rules matched, in order), return\n"
"(its true atoms, their hits); the arguments as rule_hits() reads them. (For a mix of flat and\n"
"tree plans, whose trees alerts.rules.hits works out in Python.)");

static PyObject *
explain_hits(PyObject *module, PyObject *args)
{
    PyObject *payloads, *plans, *title, *text, *known, *slow;
    if (!PyArg_ParseTuple(args, "O!OOOO!O:hits", &PyList_Type, &payloads, &plans, &title, &text, &PyDict_Type,
                          &known, &slow))
        return NULL;
    Article a;
    if (open_article(&a, plans, title, text, slow) < 0)
        return NULL;
    Py_ssize_t count = PyList_GET_SIZE(payloads);
    PyObject *out = PyList_New(count);
    for (Py_ssize_t r = 0; out != NULL && r < count; r++) {
        if (r >= PyList_GET_SIZE(payloads)) { /* the callbacks are Python code */
            PyErr_SetString(PyExc_ValueError, "the payloads changed during the call");
            Py_CLEAR(out);
            break;
        }
        PyObject *payload = PyList_GET_ITEM(payloads, r), *pair = NULL;
        if (!PyTuple_Check(payload)) {
            PyErr_SetString(PyExc_TypeError, "a payload must be a tuple of atom ids");
            Py_CLEAR(out);
            break;
        }
        Py_INCREF(payload);
        Py_ssize_t size = PyTuple_GET_SIZE(payload);
        int32_t small[16], *ids = size <= 16 ? small : PyMem_New(int32_t, size);
        int failed = ids == NULL;
        if (failed)
            PyErr_NoMemory();
        for (Py_ssize_t i = 0; !failed && i < size; i++) {
            long id = PyLong_AsLong(PyTuple_GET_ITEM(payload, i));
            failed = (id == -1 && PyErr_Occurred()) || id < 0 || id > INT32_MAX;
            if (!failed)
                ids[i] = (int32_t)id;
            else if (!PyErr_Occurred())
                PyErr_SetString(PyExc_IndexError, "an atom id outside the plans");
        }
        Py_ssize_t kept = failed ? -1 : keep_true(&a, ids, size);
        PyObject *true_atoms = kept < 0 ? NULL : PyTuple_New(kept), *hits = NULL;
        for (Py_ssize_t i = 0; true_atoms != NULL && i < kept; i++) {
            PyObject *atom = PyLong_FromLong(ids[i]);
            if (atom == NULL)
                Py_CLEAR(true_atoms);
            else
                PyTuple_SET_ITEM(true_atoms, i, atom);
        }
        if (true_atoms != NULL && (hits = hits_of(&a, known, true_atoms, ids, kept)) != NULL)
            pair = PyTuple_Pack(2, true_atoms, hits);
        if (ids != small)
            PyMem_Free(ids);
        Py_DECREF(payload);
        Py_XDECREF(true_atoms);
        Py_XDECREF(hits);
        if (pair == NULL)
            Py_CLEAR(out);
        else
            PyList_SET_ITEM(out, r, pair);
    }
    close_article(&a);
    return out;
}

/* alerts/rules/_snippets.c (linked into this module) */
extern const char nw_snippet_doc[], nw_window_doc[];
PyObject *nw_snippet(PyObject *module, PyObject *args);
PyObject *nw_window(PyObject *module, PyObject *args);

static PyMethodDef module_methods[] = {
    {"window", (PyCFunction)nw_window, METH_VARARGS, nw_window_doc},
    {"hits", (PyCFunction)explain_hits, METH_VARARGS, hits_doc},
    {"rule_hits", (PyCFunction)rule_hits, METH_VARARGS, rule_hits_doc},
    {"noted", (PyCFunction)nw_noted, METH_VARARGS, nw_noted_doc},
    {"snippet", (PyCFunction)nw_snippet, METH_VARARGS, nw_snippet_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "alerts.rules._explain",
    .m_doc = "The hits of the rules matched on one article (optional C speed-up of alerts.rules.hits).",
    .m_size = -1,
    .m_methods = module_methods,
};

PyMODINIT_FUNC
PyInit__explain(void)
{
    return PyModule_Create(&module);
}
