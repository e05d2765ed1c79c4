/* alerts/rules/_firsts.h: where a field's keys first occur, as the chunk table's view pass
 * (_walk.c) writes it and the hits (_explain.c, _entries.c) read it — by key id, in one bytes
 * object of native int32s.
 *
 * Why: the hits of a match are, per atom, the first occurrence of each distinct form it hits.
 * For a word that is its key's first position; for a prefix, the first position of each word it
 * starts, in text order; for a phrase, where it first starts. The view pass meets all of them
 * in text order anyway, so it notes them by key id (alerts/rules/keys.py) instead of making a
 * dict of every word with keys and leaving the prefixes to a sorted search per atom.
 *
 * Layout: FirstsHeader, then `capacity` FirstSlots (open addressing on the key id), then
 * `entries` FirstEntries (the words of the prefixes, each slot's in a list in text order).
 */
#ifndef NEWSWATCH_FIRSTS_H
#define NEWSWATCH_FIRSTS_H

#include <stdint.h>
#include <string.h>

typedef struct {
    int32_t capacity; /* slots: a power of two */
    int32_t entries;  /* FirstEntries after the slots */
} FirstsHeader;

typedef struct {
    int32_t key;   /* the key id + 1; 0: an empty slot */
    int32_t first; /* position of the first word (of a word or phrase key); -1 for a prefix */
    int32_t head;  /* a prefix's first entry, -1: none */
    int32_t tail;  /* its last entry */
} FirstSlot;

typedef struct {
    int32_t position; /* of the word */
    int32_t offset;   /* of the word in the field's joined words (b" w1 w2 … ") */
    int32_t length;
    int32_t next;     /* the next entry of the same prefix (always a later one), -1: the last */
} FirstEntry;

static inline uint32_t
nw_first_hash(int32_t id)
{
    return (uint32_t)id * 2654435761u;
}

/* The slot of key `id` in a buffer of `size` bytes, or NULL when the key did not occur (or the
 * buffer is not such a layout). */
static inline const FirstSlot *
nw_first_slot(const char *buffer, Py_ssize_t size, int32_t id)
{
    if (id < 0 || size < (Py_ssize_t)sizeof(FirstsHeader))
        return NULL;
    FirstsHeader header;
    memcpy(&header, buffer, sizeof(header));
    if (header.capacity <= 0 || (header.capacity & (header.capacity - 1)) || header.entries < 0
        || size != (Py_ssize_t)sizeof(FirstsHeader) + (Py_ssize_t)header.capacity * (Py_ssize_t)sizeof(FirstSlot)
                       + (Py_ssize_t)header.entries * (Py_ssize_t)sizeof(FirstEntry))
        return NULL;
    const FirstSlot *slots = (const FirstSlot *)(buffer + sizeof(FirstsHeader));
    uint32_t mask = (uint32_t)header.capacity - 1;
    for (uint32_t n = 0, i = nw_first_hash(id) & mask; n <= mask; n++, i = (i + 1) & mask) {
        if (slots[i].key == 0)
            return NULL;
        if (slots[i].key == id + 1)
            return &slots[i];
    }
    return NULL;
}

/* Entry `index` of the buffer, or NULL when out of range. */
static inline const FirstEntry *
nw_first_entry(const char *buffer, int32_t index)
{
    FirstsHeader header;
    memcpy(&header, buffer, sizeof(header));
    if (index < 0 || index >= header.entries)
        return NULL;
    return (const FirstEntry *)(buffer + sizeof(FirstsHeader) + (size_t)header.capacity * sizeof(FirstSlot)) + index;
}

#endif
