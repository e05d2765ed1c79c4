/* alerts.rules._explain: the hits of the rules matched on one article, in C.
 *
 * Why: an article a desk's broad rules hit is matched by hundreds of rules, and each match
 * carries its hits (per field, the words as written, each distinct form once, in order of
 * first occurrence). In Python that is a few calls and small lists per rule and per word:
 * most of the time of such an article. Here one call does the loop over the rules whose plan
 * is "flat" (their true atoms are simply those of their positive atoms that occur; see
 * alerts/rules/hits.py, which defines the result and keeps the Python version of it).
 *
 * Per field, the caller gives what the matcher's scan already has: the set of rule keys found,
 * each distinct folded word's first position, the folded words joined (b" w1 w2 "), the text,
 * the words' character offsets (a buffer of ints, or None) and a `surface(start, end)` for
 * spans of several words, and `sorted_of()` for the distinct words in order (asked once, when a
 * prefix is looked for). Words, prefixes and phrases of plain words are found here; exact
 * words and NEAR are asked of `slow(atom, field)` (Python), as is anything else this file does
 * not know. The caches are the caller's dicts, shared with its Python code: each atom's entries
 * per field, and the hits of each tuple of true atoms.
 *
 * The module's `snippet` and `window` are in _snippets.c.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

enum { GENERIC = 0, WORD = 1, PREFIX = 2, PHRASE = 3 }; /* alerts.rules.hits */

typedef struct {
    PyObject *keys;     /* set of rule keys found in the field */
    PyObject *first;    /* dict: folded word -> its first position */
    PyObject *joined;   /* bytes b" w1 w2 … wn " */
    PyObject *text;     /* str */
    PyObject *surface;  /* callable(start, end) -> str */
    PyObject *name;     /* "title" or "text" */
    PyObject *entries;  /* dict: atom -> list of (start, end, form) */
    PyObject *sorted_of; /* callable() -> the distinct folded words, sorted */
    PyObject *sorted;    /* the distinct words (owned), once a prefix asked: */
    int bucketed;        /* 1: grouped by first byte, each group sorted when first asked
                            (bucket[b]..bucket[b + 1]); 0: sorted as a whole (by `sorted_of`) */
    Py_ssize_t bucket[257];
    char bucket_sorted[256];
    PyObject *phrases;   /* dict: phrase key -> its first position, or None (then searched) */
    Py_ssize_t *spaces;  /* offsets of the spaces in `joined` (PyMem), once a phrase asked */
    Py_ssize_t nspaces;
    Py_buffer offsets;  /* ints: start, end of each word; .buf NULL when not given */
    Py_ssize_t words;   /* how many offsets pairs */
} Field;

typedef struct {
    PyObject *kinds, *needles, *keys, *masks; /* by atom id: bytearray, list, list, bytearray */
    PyObject *slow;                           /* callable(atom, field) -> list */
    Field field[2];
} Article;

/* Entries are a list, or the empty tuple for none (shared: no allocation per atom and field). */
#define ENTRIES(x) (PyList_Check(x) ? PyList_GET_SIZE(x) : 0)

/* Item `index` of a bytearray of small ints (an atom's kind or mask), -1 with IndexError. */
static long
item_long(PyObject *bytes, Py_ssize_t index)
{
    if (index < 0 || index >= PyByteArray_GET_SIZE(bytes)) {
        PyErr_SetString(PyExc_IndexError, "an atom id outside the plans");
        return -1;
    }
    return (unsigned char)PyByteArray_AS_STRING(bytes)[index];
}

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

/* The atom's entries in field f (a borrowed reference from the cache), computing them once. */
static PyObject *
entries_of(Article *a, PyObject *atom_obj, Py_ssize_t atom, int f)
{
    Field *field = &a->field[f];
    PyObject *found = PyDict_GetItemWithError(field->entries, atom_obj);
    if (found != NULL || PyErr_Occurred())
        return found;
    long mask = item_long(a->masks, atom), kind = item_long(a->kinds, atom);
    if ((mask == -1 || kind == -1) && PyErr_Occurred())
        return NULL;
    PyObject *key = PyList_GetItem(a->keys, atom);
    if (key == NULL)
        return NULL;
    PyObject *made = NULL;
    int present = 1;
    if (!(mask & (1 << f)))
        present = 0;
    else if (key != Py_None) {
        present = PySet_Contains(field->keys, key);
        if (present < 0)
            return NULL;
    }
    if (!present)
        made = PyTuple_New(0);
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
        PyObject *position = NULL;
        if (PyBytes_Check(key) && field->phrases != Py_None) { /* where the table's pass found it */
            position = PyDict_GetItemWithError(field->phrases, key);
            if (position == NULL && PyErr_Occurred())
                return NULL;
        }
        if (position != NULL) {
            long start = PyLong_AsLong(position), spaces = 0;
            if (start == -1 && PyErr_Occurred())
                return NULL;
            for (Py_ssize_t i = 0; i < PyBytes_GET_SIZE(key); i++)
                spaces += PyBytes_AS_STRING(key)[i] == ' ';
            PyObject *last = PyLong_FromLong(start + spaces);
            made = last == NULL ? NULL : one_entry(position, last, key); /* the key is the form */
            Py_XDECREF(last);
        }
        else
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
static int
atom_present(Article *a, PyObject *atom_obj, Py_ssize_t atom)
{
    PyObject *key = PyList_GetItem(a->keys, atom);
    if (key == NULL)
        return -1;
    if (key == Py_None) { /* no key: it occurs when either field has an entry */
        for (int f = 0; f < 2; f++) {
            PyObject *entries = entries_of(a, atom_obj, atom, f);
            if (entries == NULL)
                return -1;
            if (ENTRIES(entries))
                return 1;
        }
        return 0;
    }
    long mask = item_long(a->masks, atom);
    if (mask == -1 && PyErr_Occurred())
        return -1;
    for (int f = 0; f < 2; f++) {
        if (!(mask & (1 << f)))
            continue;
        int in = PySet_Contains(a->field[f].keys, key);
        if (in != 0)
            return in;
    }
    return 0;
}

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
            PyObject *found = entries_of(a, atom_obj, atom, f);
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
    field->phrases = Py_None;
    if (!PyArg_ParseTuple(spec, "OO!O!UOOUO!O|O:field", &field->keys, &PyDict_Type, &field->first,
                          &PyBytes_Type, &field->joined, &field->text, &offsets, &field->surface,
                          &field->name, &PyDict_Type, &field->entries, &field->sorted_of, &field->phrases))
        return -1;
    if (field->phrases != Py_None && !PyDict_Check(field->phrases)) {
        PyErr_SetString(PyExc_TypeError, "a field's phrases must be a dict or None");
        return -1;
    }
    if (!PyAnySet_Check(field->keys)) {
        PyErr_SetString(PyExc_TypeError, "a field's keys must be a set");
        return -1;
    }
    if (PyObject_CheckBuffer(offsets)) { /* else (a list, None): surfaces from `surface` */
        if (PyObject_GetBuffer(offsets, &field->offsets, PyBUF_FORMAT | PyBUF_C_CONTIGUOUS) < 0)
            return -1;
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

/* What `make` gives: RuleMatch (alerts/rules/explanations.py), with the descriptors of its
 * slots, so that a match is made without running its __init__ in Python, and what makes a
 * snippet from the true atoms. */
typedef struct {
    PyObject *type, *snippet;
    PyObject *rule, *hits, *later, *maker; /* the slots' descriptors (owned) */
} Maker;

static int
read_maker(PyObject *make, Maker *m)
{
    memset(m, 0, sizeof(*m));
    if (make == NULL || make == Py_None)
        return 0;
    if (!PyArg_ParseTuple(make, "O!O:make", &PyType_Type, &m->type, &m->snippet))
        return -1;
    const char *slots[4] = {"rule", "hits", "_snippet", "_maker"};
    PyObject **found[4] = {&m->rule, &m->hits, &m->later, &m->maker};
    for (int i = 0; i < 4; i++) {
        *found[i] = PyObject_GetAttrString(m->type, slots[i]);
        if (*found[i] == NULL)
            return -1;
        if (Py_TYPE(*found[i])->tp_descr_set == NULL) {
            PyErr_Format(PyExc_TypeError, "%s is not a slot of the match type", slots[i]);
            return -1;
        }
    }
    return 0;
}

static void
release_maker(Maker *m)
{
    Py_CLEAR(m->rule);
    Py_CLEAR(m->hits);
    Py_CLEAR(m->later);
    Py_CLEAR(m->maker);
}

/* RuleMatch(name, hits, true_atoms, snippet): its snippet is snippet(true_atoms), when read. */
static PyObject *
make_match(Maker *m, PyObject *name, PyObject *true_atoms, PyObject *hits)
{
    PyTypeObject *type = (PyTypeObject *)m->type;
    PyObject *match = type->tp_alloc(type, 0);
    if (match != NULL
        && (Py_TYPE(m->rule)->tp_descr_set(m->rule, match, name) < 0
            || Py_TYPE(m->hits)->tp_descr_set(m->hits, match, hits) < 0
            || Py_TYPE(m->later)->tp_descr_set(m->later, match, true_atoms) < 0
            || Py_TYPE(m->maker)->tp_descr_set(m->maker, match, m->snippet) < 0))
        Py_CLEAR(match);
    return match;
}

/* 1 when every item is (name, ("flat", payload tuple)), as `make` wants them. */
static int
all_flat(PyObject *items)
{
    for (Py_ssize_t r = 0; r < PyList_GET_SIZE(items); r++) {
        PyObject *item = PyList_GET_ITEM(items, r), *plan;
        if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 2)
            return 0;
        plan = PyTuple_GET_ITEM(item, 1);
        if (!PyTuple_Check(plan) || PyTuple_GET_SIZE(plan) != 2 || !PyUnicode_Check(PyTuple_GET_ITEM(plan, 0))
            || PyUnicode_CompareWithASCIIString(PyTuple_GET_ITEM(plan, 0), "flat") != 0
            || !PyTuple_Check(PyTuple_GET_ITEM(plan, 1)))
            return 0;
    }
    return 1;
}

PyDoc_STRVAR(hits_doc,
"hits(items, plans, title, text, known, slow, make=None)\n--\n\n"
"For each tuple of atom ids in `items` (the flat plans of the rules matched, in order), return\n"
"(its true atoms, their hits). `plans`: (kinds, needles, keys, masks) by atom (kinds and masks\n"
"in bytearrays, the others in lists); `title`, `text`: (keys, first, joined, text, offsets or\n"
"None, surface, name, entries, sorted_of[, phrases: key -> first position, or None]); `known`:\n"
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
    if (read_maker(make, &maker) < 0) {
        release_maker(&maker);
        return NULL;
    }
    if (maker.type != NULL && !all_flat(payloads)) {
        release_maker(&maker);
        Py_RETURN_NONE;
    }
    if (!PyArg_ParseTuple(plans, "O!O!O!O!:plans", &PyByteArray_Type, &a.kinds, &PyList_Type, &a.needles,
                          &PyList_Type, &a.keys, &PyByteArray_Type, &a.masks)) {
        release_maker(&maker);
        return NULL;
    }
    a.slow = slow;
    if (read_field(title, &a.field[0]) < 0) {
        release_maker(&maker);
        return NULL;
    }
    if (read_field(text, &a.field[1]) < 0) {
        if (a.field[0].offsets.buf != NULL)
            PyBuffer_Release(&a.field[0].offsets);
        release_maker(&maker);
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
        else {
            PyObject *found = PyList_New(0);
            if (found == NULL) {
                Py_DECREF(item);
                goto fail;
            }
            for (Py_ssize_t i = 0; i < size; i++) {
                PyObject *atom_obj = PyTuple_GET_ITEM(payload, i);
                Py_ssize_t atom = PyLong_AsSsize_t(atom_obj);
                int present = atom == -1 && PyErr_Occurred() ? -1 : atom_present(&a, atom_obj, atom);
                if (present < 0 || (present && PyList_Append(found, atom_obj) < 0)) {
                    Py_DECREF(item);
                    Py_DECREF(found);
                    goto fail;
                }
            }
            true_atoms = PyList_AsTuple(found);
            Py_DECREF(found);
            if (true_atoms == NULL) {
                Py_DECREF(item);
                goto fail;
            }
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
        if (a.field[f].offsets.buf != NULL)
            PyBuffer_Release(&a.field[f].offsets);
        Py_CLEAR(a.field[f].sorted);
        PyMem_Free(a.field[f].spaces);
    }
    release_maker(&maker);
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
