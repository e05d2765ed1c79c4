/* alerts.rules._explain, continued: the entries of an atom in one field — the span of the first
 * occurrence of each distinct form it hits there — for words, prefixes and phrases of plain
 * words from what the scan's view gave; exact words and NEAR are asked of Python. Why: most of
 * an article's hits are merges of these, shared by the rules that hold the same atom; they are
 * kept per call as C spans (an atom id -> its spans in one pool), not as Python tuples, so a
 * match's hits cost no object but its words.
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

int
nw_field_spaces(Field *field)
{
    if (field->spaces != NULL)
        return 0;
    const char *hay = PyBytes_AS_STRING(field->joined);
    Py_ssize_t hay_len = PyBytes_GET_SIZE(field->joined), count = 0;
    for (Py_ssize_t i = 0; i < hay_len; i++)
        count += hay[i] == ' ';
    field->spaces = PyMem_New(Py_ssize_t, count ? count : 1);
    if (field->spaces == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    Py_ssize_t n = 0;
    for (Py_ssize_t i = 0; i < hay_len; i++)
        if (hay[i] == ' ')
            field->spaces[n++] = i;
    field->nspaces = n;
    return 0;
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
    if (nw_field_spaces(field) < 0)
        return NULL;
    PyObject *out = PyList_New(0);
    if (out == NULL)
        return NULL;
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

/* ---------------------------------------------------------------- the cache of spans */

/* The slot of `atom` in the field's cache, made (count -1: not worked out) when new. */
static EntrySlot *
cache_slot(EntryCache *cache, int32_t atom)
{
    if ((cache->used + 1) * 2 > cache->capacity) {
        int32_t capacity = cache->capacity ? cache->capacity * 2 : 512;
        EntrySlot *slots = PyMem_Calloc((size_t)capacity, sizeof(EntrySlot));
        if (slots == NULL) {
            PyErr_NoMemory();
            return NULL;
        }
        for (int32_t j = 0; j < cache->capacity; j++) {
            if (cache->slots[j].atom == 0)
                continue;
            uint32_t i = nw_first_hash(cache->slots[j].atom - 1) & (uint32_t)(capacity - 1);
            while (slots[i].atom != 0)
                i = (i + 1) & (uint32_t)(capacity - 1);
            slots[i] = cache->slots[j];
        }
        PyMem_Free(cache->slots);
        cache->slots = slots;
        cache->capacity = capacity;
    }
    uint32_t mask = (uint32_t)cache->capacity - 1;
    for (uint32_t i = nw_first_hash(atom) & mask;; i = (i + 1) & mask) {
        EntrySlot *slot = &cache->slots[i];
        if (slot->atom == atom + 1)
            return slot;
        if (slot->atom == 0) {
            *slot = (EntrySlot){atom + 1, 0, -1};
            cache->used++;
            return slot;
        }
    }
}

static int
push_span(EntryCache *cache, long start, long end)
{
    if (start < 0 || end < start || end > INT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "an entry's span is out of range");
        return -1;
    }
    if (nw_reserve_spans(cache, 1) < 0)
        return -1;
    cache->spans[cache->nspans++] = (Span){(int32_t)start, (int32_t)end};
    return 0;
}

/* The spans of a list of entries (start, end, form), or of the empty tuple. */
static int
push_entries(EntryCache *cache, PyObject *entries)
{
    if (PyTuple_Check(entries) && PyTuple_GET_SIZE(entries) == 0)
        return 0; /* none */
    if (!PyList_Check(entries)) {
        PyErr_SetString(PyExc_TypeError, "an atom's entries must be a list");
        return -1;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(entries); i++) {
        PyObject *entry = PyList_GET_ITEM(entries, i);
        if (!PyTuple_Check(entry) || PyTuple_GET_SIZE(entry) != 3) {
            PyErr_SetString(PyExc_TypeError, "an entry must be (start, end, form)");
            return -1;
        }
        long start = PyLong_AsLong(PyTuple_GET_ITEM(entry, 0)), end = PyLong_AsLong(PyTuple_GET_ITEM(entry, 1));
        if (((start == -1 || end == -1) && PyErr_Occurred()) || push_span(cache, start, end) < 0)
            return -1;
    }
    return 0;
}

/* From the view's firsts (_firsts.h): a word's or phrase's first span (`extra` words after its
 * first), or a prefix's, one per word it starts, in text order. */
static int
push_noted(EntryCache *cache, const char *firsts, Py_ssize_t size, int32_t id, long kind, long extra)
{
    const FirstSlot *slot = nw_first_slot(firsts, size, id);
    if (slot == NULL)
        return 0;
    if (kind != PREFIX)
        return slot->first < 0 ? 0 : push_span(cache, slot->first, slot->first + extra);
    for (int32_t e = slot->head; e >= 0;) {
        const FirstEntry *entry = nw_first_entry(firsts, e);
        if (entry == NULL || (entry->next >= 0 && entry->next <= e)) { /* (lists only go forward) */
            PyErr_SetString(PyExc_ValueError, "firsts whose entries are cut short");
            return -1;
        }
        if (push_span(cache, entry->position, entry->position) < 0)
            return -1;
        e = entry->next;
    }
    return 0;
}

/* The entries (a new list, or the empty tuple) of an atom found where the view's firsts could
 * not be had (a dict of first positions), or asked of Python (exact words, NEAR). */
static PyObject *
python_entries(Article *a, int32_t atom, long kind, int f)
{
    Field *field = &a->field[f];
    PyObject *atom_obj = PyLong_FromLong(atom), *made = NULL;
    if (atom_obj == NULL)
        return NULL;
    if (kind == GENERIC) {
        made = PyDict_GetItemWithError(field->entries, atom_obj); /* worked out by Python already */
        if (made != NULL)
            Py_INCREF(made);
        else if (!PyErr_Occurred() && (made = PyObject_CallFunction(a->slow, "Oi", atom_obj, f)) != NULL
                 && PyDict_SetItem(field->entries, atom_obj, made) < 0) /* for Python's own use */
            Py_CLEAR(made);
        Py_DECREF(atom_obj);
        return made;
    }
    Py_DECREF(atom_obj);
    PyObject *needle = PyList_GetItem(a->needles, atom);
    if (needle == NULL)
        return NULL;
    if (!PyDict_Check(field->first) || !PyBytes_Check(needle) || !PyBytes_Check(field->joined)) {
        PyErr_SetString(PyExc_TypeError, "an atom without a key id, or needles not bytes");
        return NULL;
    }
    if (kind == WORD) {
        PyObject *position = PyDict_GetItemWithError(field->first, needle);
        if (position == NULL)
            return PyErr_Occurred() ? NULL : PyTuple_New(0);
        return one_entry(position, position, Py_None);
    }
    return kind == PHRASE ? phrase_entries(field, needle) : prefix_entries(field, needle);
}

int
nw_entries(Article *a, int32_t atom, int f, int32_t *offset, int32_t *count)
{
    Field *field = &a->field[f];
    EntryCache *cache = &field->cache;
    const AtomInfo *info = atom_info(a, atom);
    if (info == NULL)
        return -1;
    int32_t id = info->key_id, kind = info->kind & 0xff, mask = (info->kind >> 8) & 0xff;
    *offset = *count = 0;
    if (!(mask & (1 << f)) || (id >= 0 && !has_key_id(field, id)))
        return 0; /* the scan's keys say it does not occur: most atoms are not in the title */
    EntrySlot *slot = cache_slot(cache, atom);
    if (slot == NULL)
        return -1;
    if (slot->count >= 0) {
        *offset = slot->offset;
        *count = slot->count;
        return 0;
    }
    Py_ssize_t before = cache->nspans;
    if (field->firsts != NULL && id >= 0 && kind != GENERIC) {
        if (push_noted(cache, field->firsts, field->firsts_size, id, kind, info->kind >> 16) < 0)
            return -1;
    }
    else {
        PyObject *made = python_entries(a, atom, kind, f);
        int failed = made == NULL || push_entries(cache, made) < 0;
        Py_XDECREF(made);
        if (failed)
            return -1;
    }
    if (cache->nspans > INT32_MAX) {
        PyErr_SetString(PyExc_OverflowError, "too many entries");
        return -1;
    }
    slot = cache_slot(cache, atom); /* (Python code may have run: found again) */
    if (slot == NULL)
        return -1;
    slot->offset = *offset = (int32_t)before;
    slot->count = *count = (int32_t)(cache->nspans - before);
    return 0;
}

/* True when the atom is one of a matched rule's true atoms. */
int
nw_atom_present(Article *a, int32_t atom)
{
    const AtomInfo *info = atom_info(a, atom);
    if (info == NULL)
        return -1;
    int32_t id = info->key_id, mask = (info->kind >> 8) & 0xff;
    if (id < 0) { /* no key: it occurs when either field has an entry */
        for (int f = 0; f < 2; f++) {
            int32_t offset, count;
            if (nw_entries(a, atom, f, &offset, &count) < 0)
                return -1;
            if (count > 0)
                return 1;
        }
        return 0;
    }
    return ((mask & 1) && has_key_id(&a->field[0], id)) || ((mask & 2) && has_key_id(&a->field[1], id));
}

const char nw_noted_doc[] =
    "noted(firsts, key_id, kind)\n--\n\n"
    "The entries [(start, end, None)] of an atom with that key id and kind (kind | fields << 8 |\n"
    "a phrase's words after its first << 16) in a field whose view gave `firsts`: what the hits\n"
    "loop reads, for alerts.rules.hits' own use (snippets, rules whose plan is a tree).";

PyObject *
nw_noted(PyObject *module, PyObject *args)
{
    Py_buffer firsts;
    int id, kind;
    if (!PyArg_ParseTuple(args, "y*ii:noted", &firsts, &id, &kind))
        return NULL;
    EntryCache cache = {0};
    PyObject *out = NULL;
    if (push_noted(&cache, firsts.buf, firsts.len, id, kind & 0xff, kind >> 16) == 0) {
        out = PyList_New(cache.nspans);
        for (Py_ssize_t i = 0; out != NULL && i < cache.nspans; i++) {
            PyObject *entry = Py_BuildValue("(iiO)", cache.spans[i].start, cache.spans[i].end, Py_None);
            if (entry == NULL)
                Py_CLEAR(out);
            else
                PyList_SET_ITEM(out, i, entry);
        }
    }
    PyMem_Free(cache.spans);
    PyBuffer_Release(&firsts);
    return out;
}
