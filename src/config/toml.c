/*
 * The TOML value tree: allocation, destruction, and key lookup.
 *
 * Tables keep their entries in an array in document order. Small tables are searched
 * linearly; once a table holds INDEX_MIN entries it gets an open-addressing hash index
 * (linear probing, load factor at most 1/2) mapping keys to entry positions, so a table
 * with a million keys is built and searched in linear total time.
 */
#include <string.h>

#include "config/toml_impl.h"

enum { INDEX_MIN = 16 };

typedef struct table_index {
    size_t mask;   /* capacity - 1; the capacity is a power of two */
    size_t *slots; /* entry position + 1; 0 marks an empty slot */
} table_index;

/* FNV-1a over the key bytes followed by a final avalanche (the finaliser of MurmurHash3),
 * so that keys differing only in their last bytes spread over the whole table. */
static uint64_t key_hash(const char *key, size_t len)
{
    uint64_t h = 0xcbf29ce484222325u;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)key[i];
        h *= 0x100000001b3u;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdu;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53u;
    h ^= h >> 33;
    return h;
}

static void index_insert(table_index *index, const ps_toml_kv *items, size_t position)
{
    size_t slot = (size_t)key_hash(items[position].key, items[position].key_len) & index->mask;
    while (index->slots[slot] != 0)
        slot = (slot + 1) & index->mask;
    index->slots[slot] = position + 1;
}

/* Builds an index for the first `count` entries with room for at least 2 * want entries.
 * NULL when out of memory. */
static table_index *index_build(const ps_toml_kv *items, size_t count, size_t want)
{
    size_t cap = 32;
    while (cap < 2 * want) {
        if (cap > SIZE_MAX / 4)
            return NULL;
        cap *= 2;
    }
    table_index *index = ps_malloc(sizeof *index);
    if (index == NULL)
        return NULL;
    index->slots = ps_calloc(cap, sizeof *index->slots);
    if (index->slots == NULL) {
        ps_free(index);
        return NULL;
    }
    index->mask = cap - 1;
    for (size_t i = 0; i < count; i++)
        index_insert(index, items, i);
    return index;
}

static void index_free(table_index *index)
{
    if (index != NULL) {
        ps_free(index->slots);
        ps_free(index);
    }
}

ps_toml_value *ps_toml_value_new(ps_toml_type type, size_t offset)
{
    ps_toml_value *value = ps_calloc(1, sizeof *value);
    if (value == NULL)
        return NULL;
    value->type = type;
    value->offset = offset;
    return value;
}

void ps_toml_value_free(ps_toml_value *value)
{
    if (value == NULL)
        return;
    switch (value->type) {
    case PS_TOML_STRING:
        ps_free(value->u.string.data);
        break;
    case PS_TOML_ARRAY:
        for (size_t i = 0; i < value->u.array.len; i++)
            ps_toml_value_free(value->u.array.items[i]);
        ps_free(value->u.array.items);
        break;
    case PS_TOML_TABLE:
        for (size_t i = 0; i < value->u.table.len; i++) {
            ps_free(value->u.table.items[i].key);
            ps_toml_value_free(value->u.table.items[i].value);
        }
        ps_free(value->u.table.items);
        index_free(value->u.table.index);
        break;
    default:
        break;
    }
    ps_free(value);
}

ps_toml_kv *ps_toml_table_find(const ps_toml_value *table, const char *key, size_t key_len)
{
    if (table == NULL || table->type != PS_TOML_TABLE)
        return NULL;
    ps_toml_kv *items = table->u.table.items;
    const table_index *index = table->u.table.index;
    if (index == NULL) {
        for (size_t i = 0; i < table->u.table.len; i++)
            if (items[i].key_len == key_len && memcmp(items[i].key, key, key_len) == 0)
                return &items[i];
        return NULL;
    }
    size_t slot = (size_t)key_hash(key, key_len) & index->mask;
    while (index->slots[slot] != 0) {
        ps_toml_kv *kv = &items[index->slots[slot] - 1];
        if (kv->key_len == key_len && memcmp(kv->key, key, key_len) == 0)
            return kv;
        slot = (slot + 1) & index->mask;
    }
    return NULL;
}

bool ps_toml_table_append(ps_toml_value *table, char *key, size_t key_len, size_t key_offset,
                          ps_toml_value *value)
{
    size_t len = table->u.table.len;
    if (len == table->u.table.cap) {
        size_t cap = len < 4 ? 4 : len * 2, bytes;
        if (!ps_size_mul(cap, sizeof(ps_toml_kv), &bytes))
            return false;
        ps_toml_kv *items = ps_realloc(table->u.table.items, bytes);
        if (items == NULL)
            return false;
        table->u.table.items = items;
        table->u.table.cap = cap;
    }
    /* Grow or create the index before changing the table, so a failure leaves it as it
     * was. */
    table_index *index = table->u.table.index;
    if (index == NULL ? len + 1 >= INDEX_MIN : 2 * (len + 1) > index->mask + 1) {
        table_index *bigger = index_build(table->u.table.items, len, 2 * (len + 1));
        if (bigger == NULL)
            return false;
        index_free(index);
        table->u.table.index = index = bigger;
    }
    ps_toml_kv *kv = &table->u.table.items[len];
    kv->key = key;
    kv->key_len = key_len;
    kv->key_offset = key_offset;
    kv->value = value;
    table->u.table.len = len + 1;
    if (index != NULL)
        index_insert(index, table->u.table.items, len);
    return true;
}

bool ps_toml_array_append(ps_toml_value *array, ps_toml_value *item)
{
    size_t len = array->u.array.len;
    if (len == array->u.array.cap) {
        size_t cap = len < 4 ? 4 : len * 2, bytes;
        if (!ps_size_mul(cap, sizeof(ps_toml_value *), &bytes))
            return false;
        ps_toml_value **items = ps_realloc(array->u.array.items, bytes);
        if (items == NULL)
            return false;
        array->u.array.items = items;
        array->u.array.cap = cap;
    }
    array->u.array.items[len] = item;
    array->u.array.len = len + 1;
    return true;
}

bool ps_toml_array_is_aot(const ps_toml_value *array)
{
    return array->type == PS_TOML_ARRAY && array->u.array.len > 0 &&
           array->u.array.items[0]->type == PS_TOML_TABLE &&
           (array->u.array.items[0]->u.table.flags & PS_TOML_TABLE_AOT_ELEMENT) != 0;
}

void ps_toml_destroy(ps_toml_value **root)
{
    if (root == NULL)
        return;
    ps_toml_value_free(*root);
    *root = NULL;
}

const ps_toml_kv *ps_toml_get_kv(const ps_toml_value *table, const char *key)
{
    if (key == NULL)
        return NULL;
    return ps_toml_table_find(table, key, strlen(key));
}

const ps_toml_value *ps_toml_get(const ps_toml_value *table, const char *key)
{
    const ps_toml_kv *kv = ps_toml_get_kv(table, key);
    return kv != NULL ? kv->value : NULL;
}

const char *ps_toml_type_name(ps_toml_type type)
{
    switch (type) {
    case PS_TOML_STRING:
        return "string";
    case PS_TOML_INTEGER:
        return "integer";
    case PS_TOML_FLOAT:
        return "float";
    case PS_TOML_BOOL:
        return "boolean";
    case PS_TOML_DATETIME:
        return "offset date-time";
    case PS_TOML_DATETIME_LOCAL:
        return "local date-time";
    case PS_TOML_DATE_LOCAL:
        return "local date";
    case PS_TOML_TIME_LOCAL:
        return "local time";
    case PS_TOML_ARRAY:
        return "array";
    case PS_TOML_TABLE:
        return "table";
    }
    return "unknown";
}
