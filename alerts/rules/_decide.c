/* alerts.rules._scan.decide: which compiled rules an article matches, in C.
 *
 * Why: once the chunk table has given an article's keys, deciding is table look-ups and small
 * boolean checks, but a desk's broad rules make them many: ~380 keys, ~130 candidate rules
 * whose other requirement groups must be checked and ~65 of them evaluated, ~225 matches an
 * article. As a Python loop over sets and generated functions that was most of the decision's
 * time. The tables are the same Python objects `alerts.rules.compiled.CompiledRules` keeps
 * (and changes copy-on-write); this file only walks them. Keys are ids (alerts/rules/keys.py)
 * and each field's keys a KeySet (alerts/rules/_keys.c): a test is one bit.
 *
 * A rule's program (alerts/rules/plan.py, `CodeGen.program`) is a tree of tuples:
 *   (0, key id, mask)   the key is among the keys of the fields in mask (1 title, 2 text)
 *   (1, child, ...)     AND          (2, child, ...)  OR          (3, child)  NOT
 *   (4, name, args)     article.name(*args): a lazy check of a phrase, exact word or NEAR
 * The parser bounds the nesting (32 levels), so the recursion is bounded too.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "_table.h"

enum { KEY = 0, AND = 1, OR = 2, NOT = 3, CALL = 4 };
#define MAX_DEPTH 200 /* far above what the parser lets through */

typedef struct {
    Py_ssize_t *items;
    Py_ssize_t used, capacity;
} Indexes;

static int
push(Indexes *list, Py_ssize_t value)
{
    if (nw_reserve((void **)&list->items, &list->capacity, list->used, 1, sizeof(Py_ssize_t)) < 0)
        return -1;
    list->items[list->used++] = value;
    return 0;
}

static int
by_value(const void *a, const void *b)
{
    Py_ssize_t x = *(const Py_ssize_t *)a, y = *(const Py_ssize_t *)b;
    return (x > y) - (x < y);
}

/* The index of the lowest set bit of a non-zero word. */
static inline int
lowest_bit(uint64_t word)
{
#if defined(__GNUC__) || defined(__clang__)
    return __builtin_ctzll(word);
#else
    int bit = 0;
    while (!(word & 1)) {
        word >>= 1;
        bit++;
    }
    return bit;
#endif
}

/* Sort and drop repeats in place. Indexes below `bound` (the rules' count): where they are
 * many for the range, through a bit per rule (a few hundred of ~10,000, each once: no
 * comparisons); else sorted. -1 with IndexError for an index outside [0, bound). */
static int
sort_unique(Indexes *list, Py_ssize_t bound)
{
    for (Py_ssize_t i = 0; i < list->used; i++)
        if (list->items[i] < 0 || list->items[i] >= bound) {
            PyErr_SetString(PyExc_IndexError, "a rule index outside the rule tables");
            return -1;
        }
    if (list->used < 2)
        return 0;
    Py_ssize_t words = (bound + 63) / 64;
    if (words > 4 * list->used) {
        qsort(list->items, (size_t)list->used, sizeof(Py_ssize_t), by_value);
        Py_ssize_t kept = 1;
        for (Py_ssize_t i = 1; i < list->used; i++)
            if (list->items[i] != list->items[kept - 1])
                list->items[kept++] = list->items[i];
        list->used = kept;
        return 0;
    }
    uint64_t *bits = PyMem_Calloc((size_t)words, sizeof(uint64_t));
    if (bits == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < list->used; i++)
        bits[list->items[i] >> 6] |= (uint64_t)1 << (list->items[i] & 63);
    Py_ssize_t kept = 0;
    for (Py_ssize_t w = 0; w < words; w++)
        for (uint64_t word = bits[w]; word != 0; word &= word - 1)
            list->items[kept++] = w * 64 + lowest_bit(word);
    PyMem_Free(bits);
    list->used = kept;
    return 0;
}

/* The postings (alerts/rules/postings.py): pool[at[id]] codes follow for key `id`, each
 * 2 * index for a rule the key decides, 2 * index + 1 for a rule it is a candidate of. */
typedef struct {
    Py_buffer at, pool;
} Postings;

static int
int32_view(PyObject *obj, Py_buffer *view)
{
    if (PyObject_GetBuffer(obj, view, PyBUF_FORMAT | PyBUF_C_CONTIGUOUS) < 0)
        return -1;
    if (view->itemsize != sizeof(int32_t) || view->format == NULL
        || (strcmp(view->format, "i") && strcmp(view->format, "@i"))) {
        PyBuffer_Release(view);
        PyErr_SetString(PyExc_TypeError, "postings must be int32 arrays (array('i'))");
        return -1;
    }
    return 0;
}

/* Add the rules of key `id`'s postings, when it has any. */
static int
post(const Postings *postings, int32_t id, Indexes *matched, Indexes *candidates)
{
    Py_ssize_t keys = postings->at.len / (Py_ssize_t)sizeof(int32_t);
    Py_ssize_t pooled = postings->pool.len / (Py_ssize_t)sizeof(int32_t);
    if (id < 0 || id >= keys)
        return 0;
    int32_t start = ((const int32_t *)postings->at.buf)[id];
    if (start < 0)
        return 0;
    const int32_t *pool = postings->pool.buf;
    if (start >= pooled || pool[start] < 0 || start + 1 + (Py_ssize_t)pool[start] > pooled) {
        PyErr_SetString(PyExc_IndexError, "postings outside their pool");
        return -1;
    }
    for (int32_t i = 1; i <= pool[start]; i++) {
        int32_t code = pool[start + i];
        if (code < 0) {
            PyErr_SetString(PyExc_IndexError, "a rule index outside the rule tables");
            return -1;
        }
        if (push(code & 1 ? candidates : matched, code >> 1) < 0)
            return -1;
    }
    return 0;
}

typedef struct {
    KeySet *fields[2]; /* the keys of the title and of the text */
    PyObject *article; /* what CALL nodes call */
} Article;

/* 1 when a requirement group (packed int32 key ids) has a key in either field. */
static int
group_hit(Article *a, PyObject *group)
{
    if (!PyBytes_Check(group) || PyBytes_GET_SIZE(group) % sizeof(int32_t)) {
        PyErr_SetString(PyExc_TypeError, "a requirement group must be packed int32 key ids");
        return -1;
    }
    const char *ids = PyBytes_AS_STRING(group);
    Py_ssize_t count = PyBytes_GET_SIZE(group) / (Py_ssize_t)sizeof(int32_t);
    for (Py_ssize_t i = 0; i < count; i++) {
        int32_t id;
        memcpy(&id, ids + i * (Py_ssize_t)sizeof(int32_t), sizeof(id));
        if (nw_keyset_has(a->fields[0], id) || nw_keyset_has(a->fields[1], id))
            return 1;
    }
    return 0;
}

static int
run(Article *a, PyObject *node, int depth)
{
    if (!PyTuple_Check(node) || PyTuple_GET_SIZE(node) < 2 || depth > MAX_DEPTH) {
        PyErr_SetString(PyExc_ValueError, "a malformed rule program");
        return -1;
    }
    long op = PyLong_AsLong(PyTuple_GET_ITEM(node, 0));
    Py_ssize_t size = PyTuple_GET_SIZE(node);
    switch (op) {
    case KEY: {
        long mask = size == 3 ? PyLong_AsLong(PyTuple_GET_ITEM(node, 2)) : -1;
        long id = size == 3 ? PyLong_AsLong(PyTuple_GET_ITEM(node, 1)) : -1;
        if (mask == -1 || id < 0 || id > INT32_MAX) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_ValueError, "a malformed rule program");
            return -1;
        }
        return ((mask & 1) && nw_keyset_has(a->fields[0], (int32_t)id))
               || ((mask & 2) && nw_keyset_has(a->fields[1], (int32_t)id));
    }
    case AND:
    case OR:
        for (Py_ssize_t i = 1; i < size; i++) {
            int value = run(a, PyTuple_GET_ITEM(node, i), depth + 1);
            if (value < 0)
                return -1;
            if (value != (op == AND))
                return value; /* AND: a false child; OR: a true one */
        }
        return op == AND;
    case NOT: {
        int value = run(a, PyTuple_GET_ITEM(node, 1), depth + 1);
        return value < 0 ? -1 : !value;
    }
    case CALL: {
        PyObject *name = PyTuple_GET_ITEM(node, 1);
        PyObject *args = size == 3 ? PyTuple_GET_ITEM(node, 2) : NULL;
        if (!PyUnicode_Check(name) || args == NULL || !PyTuple_Check(args) || PyTuple_GET_SIZE(args) > 4) {
            PyErr_SetString(PyExc_ValueError, "a malformed rule program");
            return -1;
        }
        PyObject *stack[5] = {a->article};
        Py_ssize_t n = PyTuple_GET_SIZE(args);
        for (Py_ssize_t i = 0; i < n; i++)
            stack[1 + i] = PyTuple_GET_ITEM(args, i);
        PyObject *result = PyObject_VectorcallMethod(name, stack, (size_t)(1 + n) | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);
        if (result == NULL)
            return -1;
        int value = PyObject_IsTrue(result);
        Py_DECREF(result);
        return value;
    }
    default:
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_ValueError, "a malformed rule program");
        return -1;
    }
}

const char nw_decide_doc[] =
    "decide(title_keys, text_keys, postings, other_groups, programs, article, rules)\n--\n\n"
    "Return [rules[i] for i in sorted(matched)] or, when `rules` is the number of rules, the\n"
    "sorted indexes themselves as native int32 in one bytes object. The keys are KeySets;\n"
    "`postings`: (at, pool), int32 arrays: pool[at[id]] codes follow for key id (at[id] -1: none),\n"
    "2 * i for a rule i the key decides, 2 * i + 1 for a rule i it makes a candidate; a candidate\n"
    "matches when every group of other_groups[i] (a tuple of packed int32 key ids per group) has a\n"
    "key that occurs and programs[i] is None or true for `article`.";

PyObject *
nw_decide(PyObject *module, PyObject *args)
{
    PyObject *at, *pool, *other_groups, *programs, *rules;
    Article a;
    if (!PyArg_ParseTuple(args, "O!O!(OO)O!O!OO:decide", &NwKeySetType, &a.fields[0], &NwKeySetType, &a.fields[1],
                          &at, &pool, &PyList_Type, &other_groups, &PyList_Type, &programs, &a.article, &rules))
        return NULL;
    Py_ssize_t count = PyList_Check(rules) ? PyList_GET_SIZE(rules) : PyLong_Check(rules) ? PyLong_AsSsize_t(rules) : -1;
    if (count < 0) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_TypeError, "rules must be a list or the number of rules");
        return NULL;
    }
    Indexes matched = {0}, candidates = {0};
    PyObject *out = NULL;
    Postings postings;
    if (int32_view(at, &postings.at) < 0)
        return NULL;
    if (int32_view(pool, &postings.pool) < 0) {
        PyBuffer_Release(&postings.at);
        return NULL;
    }
    for (int f = 0; f < 2; f++) {
        KeySet *keys = a.fields[f];
        for (Py_ssize_t i = 0; i < keys->count; i++) {
            int32_t id = keys->ids[i];
            if (f == 1 && nw_keyset_has(a.fields[0], id))
                continue; /* posted with the title's */
            if (post(&postings, id, &matched, &candidates) < 0)
                goto done;
        }
    }
    if (sort_unique(&candidates, count) < 0)
        goto done;
    for (Py_ssize_t c = 0; c < candidates.used; c++) {
        Py_ssize_t index = candidates.items[c];
        if (index < 0 || index >= count || index >= PyList_GET_SIZE(other_groups) || index >= PyList_GET_SIZE(programs)) {
            PyErr_SetString(PyExc_IndexError, "a rule index outside the rule tables");
            goto done;
        }
        PyObject *groups = PyList_GET_ITEM(other_groups, index);
        if (!PyTuple_Check(groups)) {
            PyErr_SetString(PyExc_TypeError, "a rule's other groups must be a tuple");
            goto done;
        }
        int hit = 1;
        for (Py_ssize_t g = 0; hit == 1 && g < PyTuple_GET_SIZE(groups); g++)
            hit = group_hit(&a, PyTuple_GET_ITEM(groups, g));
        PyObject *program = PyList_GET_ITEM(programs, index);
        if (hit == 1 && program != Py_None) {
            Py_INCREF(program); /* its checks run Python code */
            hit = run(&a, program, 0);
            Py_DECREF(program);
        }
        if (hit < 0 || (hit && push(&matched, index) < 0))
            goto done;
    }
    if (sort_unique(&matched, count) < 0)
        goto done;
    if (!PyList_Check(rules)) { /* the indexes themselves, packed */
        out = PyBytes_FromStringAndSize(NULL, matched.used * (Py_ssize_t)sizeof(int32_t));
        for (Py_ssize_t i = 0; out != NULL && i < matched.used; i++) {
            int32_t index = (int32_t)matched.items[i];
            memcpy(PyBytes_AS_STRING(out) + i * (Py_ssize_t)sizeof(int32_t), &index, sizeof(index));
        }
        goto done;
    }
    if (count != PyList_GET_SIZE(rules)) {
        PyErr_SetString(PyExc_ValueError, "the rules changed during the call");
        goto done;
    }
    out = PyList_New(matched.used);
    if (out == NULL)
        goto done;
    for (Py_ssize_t i = 0; i < matched.used; i++) {
        Py_ssize_t index = matched.items[i];
        if (index < 0 || index >= count) {
            PyErr_SetString(PyExc_IndexError, "a rule index outside the rule tables");
            Py_CLEAR(out);
            goto done;
        }
        PyObject *rule = PyList_GET_ITEM(rules, index);
        Py_INCREF(rule);
        PyList_SET_ITEM(out, i, rule);
    }
done:
    PyBuffer_Release(&postings.at);
    PyBuffer_Release(&postings.pool);
    PyMem_Free(matched.items);
    PyMem_Free(candidates.items);
    return out;
}
