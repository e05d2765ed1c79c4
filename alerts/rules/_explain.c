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

/* Whether text[from:to] has white space other than single spaces (`surface` would change it). */
static int
uneven_space(PyObject *text, Py_ssize_t from, Py_ssize_t to)
{
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    int after_space = 1; /* a span starts with a word */
    for (Py_ssize_t i = from; i < to; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        if (c == ' ') {
            if (after_space)
                return 1;
            after_space = 1;
        } else if (Py_UNICODE_ISSPACE(c))
            return 1;
        else
            after_space = 0;
    }
    return after_space;
}

/* The words start..end as written, white space between them made one space (`surface`). */
static PyObject *
surface_of(Field *field, PyObject *start, PyObject *end)
{
    long s = PyLong_AsLong(start), e = PyLong_AsLong(end);
    if ((s == -1 || e == -1) && PyErr_Occurred())
        return NULL;
    if (field->offsets.buf != NULL && 0 <= s && s <= e && e < field->words) {
        const int *offsets = (const int *)field->offsets.buf;
        Py_ssize_t length = PyUnicode_GET_LENGTH(field->text);
        Py_ssize_t from = offsets[2 * s], to = offsets[2 * e + 1];
        if (0 <= from && from <= to && to <= length && (s == e || !uneven_space(field->text, from, to)))
            return PyUnicode_Substring(field->text, from, to); /* a word has no white space in it */
    }
    return PyObject_CallFunctionObjArgs(field->surface, start, end, NULL);
}

/* The hits of a tuple of true atoms: {field name: [surface, …]} (a new reference). */
static PyObject *
merged(Article *a, PyObject *atoms)
{
    PyObject *hits = PyDict_New();
    if (hits == NULL)
        return NULL;
    Py_ssize_t count = PyTuple_GET_SIZE(atoms);
    for (int f = 0; f < 2; f++) {
        Field *field = &a->field[f];
        PyObject *entries = NULL; /* borrowed when one atom gives them all, else owned */
        int parts = 0, owned = 0;
        for (Py_ssize_t i = 0; i < count; i++) {
            PyObject *atom_obj = PyTuple_GET_ITEM(atoms, i);
            Py_ssize_t atom = PyLong_AsSsize_t(atom_obj);
            if (atom == -1 && PyErr_Occurred())
                goto fail_entries;
            PyObject *found = nw_entries_of(a, atom_obj, atom, f);
            if (found == NULL)
                goto fail_entries;
            if (!ENTRIES(found))
                continue;
            parts++;
            if (entries == NULL)
                entries = found;
            else {
                if (!owned) {
                    entries = PyList_GetSlice(entries, 0, PyList_GET_SIZE(entries));
                    if (entries == NULL)
                        goto fail;
                    owned = 1;
                }
                Py_ssize_t size = PyList_GET_SIZE(entries);
                if (PyList_SetSlice(entries, size, size, found) < 0)
                    goto fail_entries;
            }
        }
        if (entries == NULL)
            continue;
        PyObject *kept = entries;
        int kept_owned = 0;
        if (parts > 1) { /* one atom's entries are sorted and each form is there once */
            if (PyList_Sort(entries) < 0)
                goto fail_entries;
            PyObject *seen = PySet_New(NULL);
            kept = PyList_New(0);
            if (seen == NULL || kept == NULL) {
                Py_XDECREF(seen);
                Py_XDECREF(kept);
                goto fail_entries;
            }
            kept_owned = 1;
            for (Py_ssize_t i = 0; i < PyList_GET_SIZE(entries); i++) {
                PyObject *entry = PyList_GET_ITEM(entries, i);
                PyObject *form = PyTuple_GET_ITEM(entry, 2);
                int in = PySet_Contains(seen, form);
                if (in < 0 || (!in && (PySet_Add(seen, form) < 0 || PyList_Append(kept, entry) < 0))) {
                    Py_DECREF(seen);
                    Py_DECREF(kept);
                    goto fail_entries;
                }
            }
            Py_DECREF(seen);
        }
        Py_ssize_t n = PyList_GET_SIZE(kept);
        PyObject *words = PyList_New(n);
        if (words == NULL) {
            if (kept_owned)
                Py_DECREF(kept);
            goto fail_entries;
        }
        for (Py_ssize_t i = 0; i < n; i++) {
            PyObject *entry = PyList_GET_ITEM(kept, i);
            PyObject *surface = NULL;
            if (PyTuple_Check(entry) && PyTuple_GET_SIZE(entry) == 3)
                surface = surface_of(field, PyTuple_GET_ITEM(entry, 0), PyTuple_GET_ITEM(entry, 1));
            else
                PyErr_SetString(PyExc_TypeError, "an entry must be (start, end, form)");
            if (surface == NULL) {
                Py_DECREF(words);
                words = NULL;
                break;
            }
            PyList_SET_ITEM(words, i, surface);
        }
        if (kept_owned)
            Py_DECREF(kept);
        if (owned)
            Py_DECREF(entries);
        if (words == NULL)
            goto fail;
        int stored = PyDict_SetItem(hits, field->name, words);
        Py_DECREF(words);
        if (stored < 0)
            goto fail;
        continue;
    fail_entries:
        if (owned)
            Py_DECREF(entries);
        goto fail;
    }
    return hits;
fail:
    Py_DECREF(hits);
    return NULL;
}

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

/* 1 when every item is (name, ("flat", payload tuple)), as `make` wants them. */
static int
all_flat(PyObject *items)
{
    static PyObject *flat; /* interned, as the "flat" of alerts/rules/hits.py is: compared by identity */
    if (flat == NULL && (flat = PyUnicode_InternFromString("flat")) == NULL) {
        PyErr_Clear();
        return 0;
    }
    for (Py_ssize_t r = 0; r < PyList_GET_SIZE(items); r++) {
        PyObject *item = PyList_GET_ITEM(items, r), *plan;
        if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 2)
            return 0;
        plan = PyTuple_GET_ITEM(item, 1);
        if (!PyTuple_Check(plan) || PyTuple_GET_SIZE(plan) != 2 || !PyTuple_Check(PyTuple_GET_ITEM(plan, 1)))
            return 0;
        PyObject *kind = PyTuple_GET_ITEM(plan, 0);
        if (kind != flat && (!PyUnicode_Check(kind) || PyUnicode_CompareWithASCIIString(kind, "flat") != 0))
            return 0;
    }
    return 1;
}

/* The atoms of a flat plan that occur (a new reference): the plan's own tuple when they all do,
 * as in most rules matched on ANDs. */
static PyObject *
true_of(Article *a, PyObject *payload)
{
    Py_ssize_t size = PyTuple_GET_SIZE(payload), count = 0;
    char small[64], *present = size <= 64 ? small : PyMem_Malloc((size_t)size);
    if (present == NULL)
        return PyErr_NoMemory();
    for (Py_ssize_t i = 0; i < size; i++) {
        PyObject *atom_obj = PyTuple_GET_ITEM(payload, i);
        Py_ssize_t atom = PyLong_AsSsize_t(atom_obj);
        int in = atom == -1 && PyErr_Occurred() ? -1 : nw_atom_present(a, atom_obj, atom);
        if (in < 0) {
            if (present != small)
                PyMem_Free(present);
            return NULL;
        }
        present[i] = (char)in;
        count += in;
    }
    PyObject *out = NULL;
    if (count == size)
        out = Py_NewRef(payload);
    else if ((out = PyTuple_New(count)) != NULL)
        for (Py_ssize_t i = 0, k = 0; i < size; i++)
            if (present[i])
                PyTuple_SET_ITEM(out, k++, Py_NewRef(PyTuple_GET_ITEM(payload, i)));
    if (present != small)
        PyMem_Free(present);
    return out;
}

PyDoc_STRVAR(hits_doc,
"hits(items, plans, title, text, known, slow, make=None)\n--\n\n"
"For each tuple of atom ids in `items` (the flat plans of the rules matched, in order), return\n"
"(its true atoms, their hits). `plans`: (needles, keys, atoms) by atom id (lists, and int32\n"
"pairs: key id or -1, kind | fields << 8); `title`, `text`: (keys: a KeySet,\n"
"first: the view's firsts by key id, or a dict word -> first position, joined, text, offsets or\n"
"None, surface, name, entries, sorted_of); `known`:\n"
"dict true atoms -> hits (read and filled); `slow(atom, field)`: entries in Python. With `make`\n"
"= (RuleMatch, snippet), `items` are the rules' (name, (\"flat\", atom ids)) and the result is\n"
"RuleMatch(name, hits, true atoms, snippet) for each, or None when a plan is not flat.");

static PyObject *
explain_hits(PyObject *module, PyObject *args)
{
    PyObject *payloads, *plans, *title, *text, *known, *slow, *make = NULL;
    Article a;
    Maker maker;
    if (!PyArg_ParseTuple(args, "O!O!O!O!O!O|O:hits", &PyList_Type, &payloads, &PyTuple_Type, &plans,
                          &PyTuple_Type, &title, &PyTuple_Type, &text, &PyDict_Type, &known, &slow, &make))
        return NULL;
    if (read_maker(make, &maker) < 0)
        return NULL;
    if (maker.type != NULL && !all_flat(payloads))
        Py_RETURN_NONE;
    PyObject *atoms;
    if (!PyArg_ParseTuple(plans, "O!O!O:plans", &PyList_Type, &a.needles, &PyList_Type, &a.keys, &atoms))
        return NULL;
    if (PyObject_GetBuffer(atoms, &a.atoms, PyBUF_FORMAT | PyBUF_C_CONTIGUOUS) < 0)
        return NULL;
    if (a.atoms.itemsize != sizeof(int32_t) || a.atoms.format == NULL || a.atoms.len % sizeof(AtomInfo)
        || (strcmp(a.atoms.format, "i") && strcmp(a.atoms.format, "@i"))) {
        PyBuffer_Release(&a.atoms);
        PyErr_SetString(PyExc_TypeError, "the atoms must be int32 pairs (array('i'))");
        return NULL;
    }
    a.slow = slow;
    if (read_field(title, &a.field[0]) < 0) {
        PyBuffer_Release(&a.atoms);
        return NULL;
    }
    if (read_field(text, &a.field[1]) < 0) {
        release_field(&a.field[0]);
        PyBuffer_Release(&a.atoms);
        return NULL;
    }
    Py_ssize_t count = PyList_GET_SIZE(payloads);
    PyObject *out = PyList_New(count);
    if (out == NULL)
        goto done;
    for (Py_ssize_t r = 0; r < count; r++) {
        if (r >= PyList_GET_SIZE(payloads)) { /* the callbacks are Python code */
            PyErr_SetString(PyExc_ValueError, "the payloads changed during the call");
            goto fail;
        }
        PyObject *item = PyList_GET_ITEM(payloads, r), *payload = item, *name = NULL;
        if (maker.type != NULL) { /* (name, ("flat", payload)), as all_flat() checked */
            if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 2 || !PyTuple_Check(PyTuple_GET_ITEM(item, 1))
                || PyTuple_GET_SIZE(PyTuple_GET_ITEM(item, 1)) != 2) {
                PyErr_SetString(PyExc_ValueError, "the rules changed during the call");
                goto fail;
            }
            name = PyTuple_GET_ITEM(item, 0);
            payload = PyTuple_GET_ITEM(PyTuple_GET_ITEM(item, 1), 1);
        }
        if (!PyTuple_Check(payload)) {
            PyErr_SetString(PyExc_TypeError, "a payload must be a tuple of atom ids");
            goto fail;
        }
        Py_INCREF(item); /* held while the callbacks (Python code) run: it holds name and payload */
        PyObject *true_atoms;
        Py_ssize_t size = PyTuple_GET_SIZE(payload);
        if (size == 1) {
            Py_INCREF(payload);
            true_atoms = payload;
        }
        else if ((true_atoms = true_of(&a, payload)) == NULL) {
            Py_DECREF(item);
            goto fail;
        }
        PyObject *hits = PyDict_GetItemWithError(known, true_atoms);
        if (hits != NULL)
            Py_INCREF(hits);
        else if (!PyErr_Occurred()) {
            hits = merged(&a, true_atoms);
            if (hits != NULL && PyDict_SetItem(known, true_atoms, hits) < 0)
                Py_CLEAR(hits);
        }
        if (hits == NULL) {
            Py_DECREF(item);
            Py_DECREF(true_atoms);
            goto fail;
        }
        PyObject *pair = name != NULL ? make_match(&maker, name, true_atoms, hits) : PyTuple_Pack(2, true_atoms, hits);
        Py_DECREF(item);
        Py_DECREF(true_atoms);
        Py_DECREF(hits);
        if (pair == NULL)
            goto fail;
        PyList_SET_ITEM(out, r, pair);
    }
    goto done;
fail:
    Py_CLEAR(out);
done:
    for (int f = 0; f < 2; f++) {
        release_field(&a.field[f]);
        Py_CLEAR(a.field[f].sorted);
        PyMem_Free(a.field[f].spaces);
    }
    PyBuffer_Release(&a.atoms);
    return out;
}

/* alerts/rules/_snippets.c (linked into this module) */
extern const char nw_snippet_doc[], nw_window_doc[];
PyObject *nw_snippet(PyObject *module, PyObject *args);
PyObject *nw_window(PyObject *module, PyObject *args);

static PyMethodDef module_methods[] = {
    {"window", (PyCFunction)nw_window, METH_VARARGS, nw_window_doc},
    {"hits", (PyCFunction)explain_hits, METH_VARARGS, hits_doc},
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
