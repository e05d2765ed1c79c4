/* alerts/rules/_table.h: what the C files of alerts.rules._scan share — the chunk table's
 * layout, the keyed hash of a chunk, the probe of a slot and the split of a buffer into chunks
 * (inline: they run once per chunk of every article), and the functions defined in _scan.c that
 * _walk.c calls.
 */
#ifndef NEWSWATCH_TABLE_H
#define NEWSWATCH_TABLE_H

#ifndef PY_SSIZE_T_CLEAN
#define PY_SSIZE_T_CLEAN
#endif
#include <Python.h>
#include <stdint.h>
#include <string.h>

#include "_firsts.h"

typedef struct {
    uint64_t hash;   /* 0: empty slot */
    uint64_t head;   /* the chunk's first 8 bytes (zero-padded): most chunks are compared here */
    uint32_t offset; /* of the chunk's bytes in `blob` */
    int32_t length;
    int32_t value;   /* index into `values`; -1: a known chunk without keys */
    uint32_t stamp;  /* the scan that last reported this chunk */
    int32_t nwords;  /* how many words the chunk is */
    int32_t word;    /* nwords == 1: the word's id; nwords > 1: offset of the ids in `sequences` */
    uint32_t folded_offset; /* of the chunk's words, joined by spaces, in `blob` */
    int32_t folded_length;  /* -1: the chunk is its one folded word */
    int32_t spans;          /* offset in `sequences` of each word's (start, end) in characters
                               from the chunk's start; -1: none or one word, the whole chunk;
                               -2: not given */
} Slot;

typedef struct {
    uint64_t key;  /* (node << 32 | word) + 1; 0: empty */
    int32_t child;
} Edge;

/* A node of the phrase trie (one read gives all a walk needs of it). */
typedef struct {
    int32_t value;  /* the phrase that ends here: an index into `values`, or -1 */
    uint32_t stamp; /* the scan that last reported it */
    uint64_t next;  /* a bit for each word that continues from here (word_bit): most words
                       do not, and are turned away without a look in the edges */
} Node;

/* The bit of a word id in Node.next. */
static inline uint64_t
word_bit(int32_t word)
{
    return (uint64_t)1 << (((uint32_t)word * 2654435761u) >> 26);
}

typedef struct ChunkTable {
    PyObject_HEAD
    Slot *slots;
    Py_ssize_t capacity; /* a power of two */
    Py_ssize_t used;
    char *blob;
    Py_ssize_t blob_used, blob_capacity;
    int32_t *sequences;
    Py_ssize_t sequences_used, sequences_capacity;
    PyObject *values; /* list of key sets: a key (bytes) or a frozenset of keys */
    /* values[i] as key ids: value_at[i] is the offset in `key_pool` of (count, id, id, …), or
     * -1 when not made yet (made when a chunk or phrase first refers to it). A prefix's id is
     * kept as -(id + 1) (pooled_id() reads either). */
    int32_t *value_at;
    Py_ssize_t value_at_capacity;
    int32_t *key_pool;
    Py_ssize_t key_pool_used, key_pool_capacity;
    int32_t key_bound; /* every id in key_pool is below it: the bits a scan's KeySet starts with */
    uint32_t epoch;
    /* The phrase trie: node 0 is the root; node[n].value is an index into `values` or -1. */
    Edge *edges;
    Py_ssize_t edges_capacity, edges_used;
    Node *node;
    Py_ssize_t nodes, nodes_capacity;
    int32_t *root_child; /* word id -> the root's child for it (0: none), so the first step of
                            every walk is one array read */
    Py_ssize_t root_capacity;
    /* Set by learn_plain(): the rules' words and prefixes (tables of their own) and the
     * prefixes' lengths. A new ASCII chunk that is none of the words and that none of the
     * prefixes starts is then entered by the scan itself. */
    struct ChunkTable *words, *prefixes;
    int32_t *prefix_lengths;
    Py_ssize_t prefix_count;
} ChunkTable;

/* Up to 8 bytes as one little-endian word, zero-padded (byte loads: no library call). */
static inline uint64_t
load_word(const unsigned char *p, Py_ssize_t n)
{
    if (n >= 8) {
        uint64_t word;
        memcpy(&word, p, 8); /* a constant size: one load */
        return word;
    }
    uint64_t word = 0;
    for (Py_ssize_t i = 0; i < n; i++)
        word |= (uint64_t)p[i] << (8 * i);
    return word;
}

typedef struct {
    uint64_t hash; /* never 0 */
    uint64_t head; /* the first 8 bytes, zero-padded: most chunks are compared by it alone */
    int high;      /* a byte >= 0x80 */
} ChunkKey;

/* The per-process key of the chunk hash (set when the module is loaded). */
extern uint64_t nw_sip_k0, nw_sip_k1;

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                                                   \
    do {                                                                                           \
        v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32);                                  \
        v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;                                                     \
        v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;                                                     \
        v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32);                                  \
    } while (0)

/* SipHash-1-3 of n bytes under (nw_sip_k0, nw_sip_k1): the keyed hash CPython uses for str and bytes
 * (there too, so that chosen keys cannot be made to collide). `tail`: the last n % 8 bytes as
 * load_word() reads them; `seen` gets the OR of all 8-byte words and the tail. */
static inline uint64_t
siphash13_tail(const unsigned char *p, Py_ssize_t n, uint64_t tail, uint64_t *seen)
{
    uint64_t v0 = 0x736f6d6570736575ULL ^ nw_sip_k0;
    uint64_t v1 = 0x646f72616e646f6dULL ^ nw_sip_k1;
    uint64_t v2 = 0x6c7967656e657261ULL ^ nw_sip_k0;
    uint64_t v3 = 0x7465646279746573ULL ^ nw_sip_k1;
    uint64_t bits = tail;
    Py_ssize_t whole = n & ~(Py_ssize_t)7;
    for (Py_ssize_t i = 0; i < whole; i += 8) {
        uint64_t m = load_word(p + i, 8);
        bits |= m;
        v3 ^= m;
        SIPROUND;
        v0 ^= m;
    }
    uint64_t last = ((uint64_t)n << 56) | tail;
    v3 ^= last;
    SIPROUND;
    v0 ^= last;
    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    *seen = bits;
    return v0 ^ v1 ^ v2 ^ v3;
}

static inline uint64_t
siphash13(const unsigned char *p, Py_ssize_t n)
{
    Py_ssize_t whole = n & ~(Py_ssize_t)7;
    uint64_t seen;
    return siphash13_tail(p, n, load_word(p + whole, n - whole), &seen);
}

/* Hash a chunk (keyed: see the top of this file). */
static inline ChunkKey
chunk_key(const unsigned char *p, Py_ssize_t n)
{
    ChunkKey key;
    unsigned char bits = 0;
    for (Py_ssize_t i = 0; i < n; i++)
        bits |= p[i];
    uint64_t h = siphash13(p, n);
    key.head = load_word(p, n);
    key.hash = h ? h : 1;
    key.high = (bits & 0x80) != 0;
    return key;
}

/* chunk_key() of a chunk inside a buffer that ends at `end`: the same key, but the last few
 * bytes are read with one load where 8 bytes can be read without passing `end` (most chunks
 * are shorter than 8 bytes and are followed by more of the text). */
static inline ChunkKey
chunk_key_at(const unsigned char *p, Py_ssize_t n, const unsigned char *end)
{
#if PY_LITTLE_ENDIAN
    Py_ssize_t whole = n & ~(Py_ssize_t)7, rest = n - whole;
    if (rest == 0 || end - (p + whole) < 8)
        return chunk_key(p, n);
    uint64_t tail, seen;
    memcpy(&tail, p + whole, 8);
    tail &= ~0ULL >> (64 - 8 * rest);
    uint64_t h = siphash13_tail(p, n, tail, &seen);
    ChunkKey key;
    key.head = whole ? load_word(p, 8) : tail;
    key.hash = h ? h : 1;
    key.high = (seen & 0x8080808080808080ULL) != 0;
    return key;
#else
    (void)end;
    return chunk_key(p, n);
#endif
}

static inline Slot *
find_slot(ChunkTable *self, const char *p, Py_ssize_t n, ChunkKey key)
{
    Py_ssize_t mask = self->capacity - 1;
    Py_ssize_t i = (Py_ssize_t)(key.hash & (uint64_t)mask);
    for (;;) {
        Slot *slot = &self->slots[i];
        if (slot->hash == 0)
            return slot;
        if (slot->hash == key.hash && slot->head == key.head && slot->length == n &&
            (n <= 8 || memcmp(self->blob + slot->offset + 8, p + 8, (size_t)(n - 8)) == 0))
            return slot;
        i = (i + 1) & mask;
    }
}

/* The next chunk of [*p, end): set *start and *n and return 1, or return 0 at the end. */
static inline int
next_chunk(const unsigned char **p, const unsigned char *end, const unsigned char **start, Py_ssize_t *n)
{
    const unsigned char *q = *p;
    while (q < end && *q == ' ')
        q++;
    if (q == end)
        return 0;
    *start = q;
#if PY_LITTLE_ENDIAN && (defined(__GNUC__) || defined(__clang__))
    while (end - q >= 8) { /* eight bytes at a time: the lowest byte that is a space */
        uint64_t word;
        memcpy(&word, q, 8);
        uint64_t x = word ^ 0x2020202020202020ULL; /* a space becomes 0 */
        uint64_t zero = (x - 0x0101010101010101ULL) & ~x & 0x8080808080808080ULL;
        if (zero) {
            q += __builtin_ctzll(zero) >> 3;
            goto found;
        }
        q += 8;
    }
#endif
    while (q < end && *q != ' ')
        q++;
#if PY_LITTLE_ENDIAN && (defined(__GNUC__) || defined(__clang__))
found:
#endif
    *n = q - *start;
    *p = q;
    return 1;
}

/* The chunks of a buffer with their keys, a batch at a time: the slots of a whole batch are
 * asked of memory (prefetched) before the first is read. The table is far bigger than the
 * caches and each look-up lands on a slot of its own, so waiting for one slot after another
 * was most of a scan's time. */
#define BATCH 16
#if defined(__GNUC__) || defined(__clang__)
#define PREFETCH(address) __builtin_prefetch(address)
#else
#define PREFETCH(address) ((void)(address))
#endif

typedef struct {
    const unsigned char *p, *end;
    const unsigned char *start[BATCH];
    Py_ssize_t n[BATCH];
    ChunkKey key[BATCH];
    int count, at;
} Chunks;

static inline void
chunks_of(Chunks *chunks, const unsigned char *p, const unsigned char *end)
{
    chunks->p = p;
    chunks->end = end;
    chunks->count = chunks->at = 0;
}

/* The next chunk and its key (as next_chunk and chunk_key_at give them), or 0 at the end. */
static inline int
next_keyed_chunk(Slot *slots, Py_ssize_t capacity, Chunks *chunks, const unsigned char **start, Py_ssize_t *n,
                 ChunkKey *key)
{
    if (chunks->at == chunks->count) {
        int count = 0;
        while (count < BATCH && next_chunk(&chunks->p, chunks->end, &chunks->start[count], &chunks->n[count])) {
            chunks->key[count] = chunk_key_at(chunks->start[count], chunks->n[count], chunks->end);
            PREFETCH(&slots[chunks->key[count].hash & (uint64_t)(capacity - 1)]);
            count++;
        }
        chunks->count = count;
        chunks->at = 0;
        if (count == 0)
            return 0;
    }
    *start = chunks->start[chunks->at];
    *n = chunks->n[chunks->at];
    *key = chunks->key[chunks->at];
    chunks->at++;
    return 1;
}

/* The ids of a known chunk's words (slot->nwords of them). */
static inline const int32_t *
slot_words(ChunkTable *self, Slot *slot)
{
    if (slot->nwords == 0)
        return NULL; /* (no arithmetic on `sequences`, which may not be allocated yet) */
    return slot->nwords == 1 ? &slot->word : self->sequences + slot->word;
}

static inline uint64_t
edge_key(int32_t node, int32_t word)
{
    return (((uint64_t)(uint32_t)node << 32) | (uint32_t)word) + 1;
}

/* The keys of one field (alerts/rules/_keys.c). */
typedef struct {
    PyObject_HEAD
    uint8_t *bits;    /* bit id % 8 of byte id / 8: the key of that id is here */
    Py_ssize_t nbits; /* a multiple of 64 */
    int32_t *ids;     /* the ids here, in the order they came */
    Py_ssize_t count, capacity;
    Py_ssize_t exports; /* buffers of the bits handed out and not released (they cannot move) */
} KeySet;

extern PyTypeObject NwKeySetType;
KeySet *nw_keyset_new(Py_ssize_t nbits);
int nw_keyset_add(KeySet *set, int32_t id);
int32_t nw_key_id(PyObject *key); /* alerts.rules.keys.key_id(key), -1 on error */

static inline int
nw_keyset_has(const KeySet *set, int32_t id)
{
    return id >= 0 && id < set->nbits && ((set->bits[id >> 3] >> (id & 7)) & 1);
}

/* A key id as key_pool keeps it, and whether it is a prefix's. */
static inline int32_t
pooled_id(int32_t raw)
{
    return raw < 0 ? -raw - 1 : raw;
}

/* Defined in _learn.c: learning, and the growth of the tables. */
int nw_grow_slots(ChunkTable *self);
int nw_grow_edges(ChunkTable *self);
int32_t nw_new_node(ChunkTable *self);
Py_ssize_t nw_read_ids(PyObject *sequence, int32_t **out); /* ints >= 0 into a new int32 array */
extern const char nw_table_add_doc[], nw_table_add_phrase_doc[];
PyObject *nw_table_add(ChunkTable *self, PyObject *args);
PyObject *nw_table_add_phrase(ChunkTable *self, PyObject *args);

/* Defined in _places.c: the module's functions on word places. */
extern const char nw_chunk_hash_doc[], nw_places_doc[], nw_word_places_doc[], nw_near_doc[];
PyObject *nw_chunk_hash(PyObject *module, PyObject *arg);
PyObject *nw_places(PyObject *module, PyObject *args);
PyObject *nw_word_places(PyObject *module, PyObject *args);
PyObject *nw_near(PyObject *module, PyObject *args);

/* Defined in _scan.c. */
int nw_reserve(void **array, Py_ssize_t *capacity, Py_ssize_t used, Py_ssize_t more, size_t size);
Edge *nw_find_edge(ChunkTable *self, uint64_t key);
uint32_t nw_next_epoch(ChunkTable *self);
/* What to do with a phrase found: its value index, the word position it starts at. */
typedef int (*PhraseFound)(ChunkTable *self, int32_t value, Py_ssize_t start, void *into);
int nw_find_phrases(ChunkTable *self, const int32_t *stream, Py_ssize_t streamed, uint32_t epoch, PhraseFound found,
                    void *into);
/* The key of an id (borrowed), from alerts.rules.keys.KEY_LIST; NULL with an error. Defined in
 * _keys.c. */
PyObject *nw_key_bytes(int32_t id);

/* One pass's view of a field (_walk.c): the folded words joined, their offsets, where its keys
 * first occur. Made by walk() or, in the same pass, by the scan. */
enum { VIEW_JOINED = 1, VIEW_OFFSETS = 2, VIEW_FIRST = 4 };
typedef struct { /* where the field's keys first occur, as it is noted (laid out by firsts_bytes) */
    FirstSlot *slots;
    int32_t capacity, used;
    FirstEntry *entries;
    Py_ssize_t count, entries_capacity;
} Firsts;
typedef struct {
    int wanted, with_offsets;
    char *out; /* the joined words */
    Py_ssize_t used, capacity;
    int32_t *offsets;
    Py_ssize_t pairs, pairs_capacity;
    const unsigned char *base, *counted; /* the data; how far its characters were counted */
    Py_ssize_t chars, position;          /* characters in [base, counted); words so far */
    Firsts firsts;
} View;
int nw_view_start(View *v, int wanted, const unsigned char *base, Py_ssize_t length);
int nw_view_chunk(ChunkTable *self, View *v, const Slot *slot, const unsigned char *start, Py_ssize_t n, int high,
                  int first_time);
int nw_view_phrase(ChunkTable *self, View *v, int32_t value, Py_ssize_t start);
PyObject *nw_view_finish(View *v); /* (joined, offsets, firsts) */
void nw_view_free(View *v);

/* Defined in _walk.c: the table's methods joined(), offsets() and view(), and the module's
 * first_positions(). */
extern const char nw_table_joined_doc[], nw_table_offsets_doc[], nw_table_view_doc[], nw_first_positions_doc[];
PyObject *nw_first_positions(PyObject *module, PyObject *args);
PyObject *nw_table_joined(ChunkTable *self, PyObject *arg);
PyObject *nw_table_offsets(ChunkTable *self, PyObject *arg);
PyObject *nw_table_view(ChunkTable *self, PyObject *arg);

#endif
