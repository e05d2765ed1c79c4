/* alerts.rules._explain, continued: the entries of an atom in one field — the first occurrence
 * of each distinct form it hits there, (start, end, form) — for words, prefixes and phrases of
 * plain words from what the scan and the view pass gave; exact words and NEAR are asked of
 * Python. Why: most of an article's hits are merges of these, shared by the rules that hold the
 * same atom.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdlib.h>
#include <string.h>

#include "_explain.h"

/* [(start, end, form)] */
static PyObject *
one_entry(PyObject *start, PyObject *end, PyObject *form)
{
    PyObject *entry = PyTuple_Pack(3, start, end, form);
    if (entry == NULL)
        return NULL;
    PyObject *list = PyList_New(1);
    if (list == NULL) {
        Py_DECREF(entry);
        return NULL;
    }
    PyList_SET_ITEM(list, 0, entry);
    return list;
}

/* The phrase's first occurrence in b" w1 … wn ": [(start, end, b"w1 … wn")] or []. A word's
 * position is the number of spaces before it: the spaces' offsets are listed once per field. */
static PyObject *
phrase_entries(Field *field, PyObject *needle)
{
    const char *hay = PyBytes_AS_STRING(field->joined), *pin = PyBytes_AS_STRING(needle);
    Py_ssize_t hay_len = PyBytes_GET_SIZE(field->joined), pin_len = PyBytes_GET_SIZE(needle);
    if (pin_len < 3 || pin_len > hay_len)
        return PyTuple_New(0);
    const char *at = memmem(hay, (size_t)hay_len, pin, (size_t)pin_len);
    if (at == NULL)
        return PyTuple_New(0);
    PyObject *out = PyList_New(0);
    if (out == NULL)
        return NULL;
    if (field->spaces == NULL) {
        Py_ssize_t count = 0;
        for (const char *p = memchr(hay, ' ', (size_t)hay_len); p != NULL;
             p = memchr(p + 1, ' ', (size_t)(hay + hay_len - p - 1)))
            count++;
        field->spaces = PyMem_New(Py_ssize_t, count ? count : 1);
        if (field->spaces == NULL) {
            Py_DECREF(out);
            return PyErr_NoMemory();
        }
        Py_ssize_t i = 0;
        for (const char *p = memchr(hay, ' ', (size_t)hay_len); p != NULL && i < count;
             p = memchr(p + 1, ' ', (size_t)(hay + hay_len - p - 1)))
            field->spaces[i++] = p - hay;
        field->nspaces = i;
    }
    Py_ssize_t offset = at - hay, low = 0, high = field->nspaces;
    while (low < high) { /* how many spaces come before `at` */
        Py_ssize_t middle = low + (high - low) / 2;
        if (field->spaces[middle] < offset)
            low = middle + 1;
        else
            high = middle;
    }
    long start = (long)low, spaces = 0;
    for (Py_ssize_t i = 0; i < pin_len; i++)
        spaces += pin[i] == ' ';
    PyObject *entry = Py_BuildValue("(lly#)", start, start + spaces - 2, pin + 1, pin_len - 2);
    if (entry == NULL || PyList_Append(out, entry) < 0) {
        Py_XDECREF(entry);
        Py_DECREF(out);
        return NULL;
    }
    Py_DECREF(entry);
    return out;
}

static int
bytes_order(const void *a, const void *b)
{
    PyObject *x = *(PyObject *const *)a, *y = *(PyObject *const *)b;
    Py_ssize_t m = PyBytes_GET_SIZE(x), n = PyBytes_GET_SIZE(y);
    int order = memcmp(PyBytes_AS_STRING(x), PyBytes_AS_STRING(y), (size_t)(m < n ? m : n));
    return order ? order : (m > n) - (m < n);
}

/* The field's distinct words (the keys of `first`) grouped by their first byte (a counting
 * sort); each group is sorted with memcmp when a prefix first looks in it, as most groups never
 * are. NULL with no error set when a word is not bytes (then `sorted_of` is asked). */
static PyObject *
bucketed_words(Field *field)
{
    PyObject *words = PyDict_Keys(field->first);
    if (words == NULL)
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(words), count[257] = {0};
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *word = PyList_GET_ITEM(words, i);
        if (!PyBytes_CheckExact(word) || PyBytes_GET_SIZE(word) == 0) {
            Py_DECREF(words);
            return NULL;
        }
        count[(unsigned char)PyBytes_AS_STRING(word)[0] + 1]++;
    }
    PyObject **items = PySequence_Fast_ITEMS(words), **grouped = PyMem_New(PyObject *, n ? n : 1);
    if (grouped == NULL) {
        Py_DECREF(words);
        PyErr_NoMemory();
        return NULL;
    }
    for (int b = 0; b < 256; b++)
        count[b + 1] += count[b];
    memcpy(field->bucket, count, sizeof(count));
    for (Py_ssize_t i = 0; i < n; i++) /* the list is ours alone: its items are moved, not referenced anew */
        grouped[count[(unsigned char)PyBytes_AS_STRING(items[i])[0]]++] = items[i];
    memcpy(items, grouped, (size_t)n * sizeof(PyObject *));
    PyMem_Free(grouped);
    memset(field->bucket_sorted, 0, sizeof(field->bucket_sorted));
    field->bucketed = 1;
    return words;
}

/* The first occurrence of each distinct word that starts with `prefix`, in text order. */
static PyObject *
prefix_entries(Field *field, PyObject *prefix)
{
    if (field->sorted == NULL)
        field->sorted = bucketed_words(field);
    if (field->sorted == NULL && PyErr_Occurred())
        return NULL;
    if (field->sorted == NULL) {
        field->bucketed = 0;
        field->sorted = PyObject_CallNoArgs(field->sorted_of);
        if (field->sorted == NULL)
            return NULL;
        if (!PyList_Check(field->sorted)) {
            Py_CLEAR(field->sorted);
            PyErr_SetString(PyExc_TypeError, "sorted_of() must return a list");
            return NULL;
        }
    }
    if (!PyBytes_Check(prefix)) {
        PyErr_SetString(PyExc_TypeError, "a prefix must be bytes");
        return NULL;
    }
    PyObject *words = field->sorted;
    const char *pin = PyBytes_AS_STRING(prefix);
    Py_ssize_t pin_len = PyBytes_GET_SIZE(prefix), low = 0, high = PyList_GET_SIZE(words), stop = high;
    if (field->bucketed && pin_len > 0) { /* only the group of the prefix's first byte */
        unsigned char b = (unsigned char)pin[0];
        low = field->bucket[b];
        high = stop = field->bucket[b + 1];
        if (!field->bucket_sorted[b] && high - low > 1)
            qsort(PySequence_Fast_ITEMS(words) + low, (size_t)(high - low), sizeof(PyObject *), bytes_order);
        field->bucket_sorted[b] = 1;
    }
    else if (field->bucketed) { /* an empty prefix: every word, so every group sorted */
        qsort(PySequence_Fast_ITEMS(words), (size_t)high, sizeof(PyObject *), bytes_order);
        field->bucketed = 0;
    }
    while (low < high) { /* the first word >= prefix */
        Py_ssize_t middle = low + (high - low) / 2;
        PyObject *word = PyList_GET_ITEM(words, middle);
        if (!PyBytes_Check(word)) {
            PyErr_SetString(PyExc_TypeError, "the sorted words must be bytes");
            return NULL;
        }
        Py_ssize_t length = PyBytes_GET_SIZE(word), common = length < pin_len ? length : pin_len;
        int order = memcmp(PyBytes_AS_STRING(word), pin, (size_t)common);
        if (order < 0 || (order == 0 && length < pin_len))
            low = middle + 1;
        else
            high = middle;
    }
    PyObject *out = PyList_New(0);
    if (out == NULL)
        return NULL;
    for (Py_ssize_t i = low; i < stop && i < PyList_GET_SIZE(words); i++) {
        PyObject *word = PyList_GET_ITEM(words, i);
        if (!PyBytes_Check(word) || PyBytes_GET_SIZE(word) < pin_len
            || memcmp(PyBytes_AS_STRING(word), pin, (size_t)pin_len) != 0)
            break; /* sorted: the words with the prefix are all together */
        PyObject *position = PyDict_GetItemWithError(field->first, word);
        if (position == NULL) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_KeyError, "a sorted word without a first position");
            Py_DECREF(out);
            return NULL;
        }
        PyObject *entry = PyTuple_Pack(3, position, position, word);
        if (entry == NULL || PyList_Append(out, entry) < 0) {
            Py_XDECREF(entry);
            Py_DECREF(out);
            return NULL;
        }
        Py_DECREF(entry);
    }
    if (PyList_GET_SIZE(out) == 0) {
        Py_DECREF(out);
        return PyTuple_New(0);
    }
    if (PyList_GET_SIZE(out) > 1 && PyList_Sort(out) < 0) { /* by position */
        Py_DECREF(out);
        return NULL;
    }
    return out;
}

/* From the view's firsts (_firsts.h): the entry of a word or phrase key, [(first, first +
 * `extra`, None)], or the entries of a prefix, one per word it starts, in text order. The empty
 * tuple when the key did not occur. The forms are left out (None): merging goes by spans, and
 * fetching each atom's needle or key from memory was most of the cost of its entries. */
static PyObject *
noted_entries(Field *field, int32_t id, long kind, long extra)
{
    const FirstSlot *slot = nw_first_slot(field->firsts, field->firsts_size, id);
    if (slot == NULL)
        return PyTuple_New(0);
    if (kind != PREFIX) {
        if (slot->first < 0)
            return PyTuple_New(0);
        PyObject *start = PyLong_FromLong(slot->first), *end = PyLong_FromLong(slot->first + extra);
        PyObject *made = start == NULL || end == NULL ? NULL : one_entry(start, end, Py_None);
        Py_XDECREF(start);
        Py_XDECREF(end);
        return made;
    }
    PyObject *out = PyList_New(0);
    for (int32_t e = slot->head; out != NULL && e >= 0;) {
        const FirstEntry *entry = nw_first_entry(field->firsts, e);
        if (entry == NULL) {
            PyErr_SetString(PyExc_ValueError, "firsts whose entries are cut short");
            Py_DECREF(out);
            return NULL;
        }
        PyObject *position = PyLong_FromLong(entry->position);
        PyObject *made = position == NULL ? NULL : PyTuple_Pack(3, position, position, Py_None);
        Py_XDECREF(position);
        if (made == NULL || PyList_Append(out, made) < 0)
            Py_CLEAR(out);
        Py_XDECREF(made);
        e = entry->next;
    }
    if (out != NULL && PyList_GET_SIZE(out) == 0) {
        Py_DECREF(out);
        return PyTuple_New(0);
    }
    return out;
}

/* The atom's entries in field f (a borrowed reference from the cache), computing them once; an
 * atom whose key the field lacks gets the empty tuple, without a look-up in the cache. */
PyObject *
nw_entries_of(Article *a, PyObject *atom_obj, Py_ssize_t atom, int f)
{
    static PyObject *none; /* the entries of an atom that is not in the field (kept for good) */
    if (none == NULL && (none = PyTuple_New(0)) == NULL)
        return NULL;
    Field *field = &a->field[f];
    const AtomInfo *info = atom_info(a, atom);
    if (info == NULL)
        return NULL;
    int32_t id = info->key_id, kind = info->kind & 0xff, mask = (info->kind >> 8) & 0xff;
    if (!(mask & (1 << f)))
        return none;
    if (id >= 0 && !has_key_id(field, id))
        return none; /* the scan's keys say it does not occur: most atoms are not in the title */
    PyObject *found = PyDict_GetItemWithError(field->entries, atom_obj);
    if (found != NULL || PyErr_Occurred())
        return found;
    PyObject *made = NULL;
    if (field->firsts != NULL && id >= 0 && kind != GENERIC)
        made = noted_entries(field, id, kind, info->kind >> 16); /* a phrase's words after its first */
    else if ((kind == WORD || kind == PREFIX) && !PyDict_Check(field->first)) {
        PyErr_SetString(PyExc_TypeError, "a word or prefix atom without a key id");
        return NULL;
    }
    else if (kind == WORD) {
        PyObject *needle = PyList_GetItem(a->needles, atom);
        if (needle == NULL)
            return NULL;
        PyObject *position = PyDict_GetItemWithError(field->first, needle);
        if (position == NULL && PyErr_Occurred())
            return NULL;
        made = position == NULL ? PyTuple_New(0) : one_entry(position, position, needle);
    }
    else if (kind == PHRASE) {
        PyObject *needle = PyList_GetItem(a->needles, atom);
        if (needle == NULL)
            return NULL;
        if (!PyBytes_Check(needle) || !PyBytes_Check(field->joined)) {
            PyErr_SetString(PyExc_TypeError, "phrase needles and joined words must be bytes");
            return NULL;
        }
        made = phrase_entries(field, needle);
    }
    else if (kind == PREFIX) {
        PyObject *needle = PyList_GetItem(a->needles, atom);
        if (needle == NULL)
            return NULL;
        made = prefix_entries(field, needle);
    }
    else
        made = PyObject_CallFunction(a->slow, "Oi", atom_obj, f);
    if (made == NULL)
        return NULL;
    if (!PyList_Check(made) && !(PyTuple_Check(made) && PyTuple_GET_SIZE(made) == 0)) {
        Py_DECREF(made);
        PyErr_SetString(PyExc_TypeError, "an atom's entries must be a list");
        return NULL;
    }
    int stored = PyDict_SetItem(field->entries, atom_obj, made);
    Py_DECREF(made); /* the cache holds it */
    return stored < 0 ? NULL : made;
}

/* True when the atom is one of a matched rule's true atoms. */
int
nw_atom_present(Article *a, PyObject *atom_obj, Py_ssize_t atom)
{
    const AtomInfo *info = atom_info(a, atom);
    if (info == NULL)
        return -1;
    int32_t id = info->key_id, mask = (info->kind >> 8) & 0xff;
    if (id < 0) { /* no key: it occurs when either field has an entry */
        for (int f = 0; f < 2; f++) {
            PyObject *entries = nw_entries_of(a, atom_obj, atom, f);
            if (entries == NULL)
                return -1;
            if (ENTRIES(entries))
                return 1;
        }
        return 0;
    }
    return ((mask & 1) && has_key_id(&a->field[0], id)) || ((mask & 2) && has_key_id(&a->field[1], id));
}

