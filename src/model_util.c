/*
 * Small helpers of the loader: pointer vectors and the text of messages
 * (quoted names, dims, where a tensor sits).
 */
#include "config.h"
#include "model_build.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
qs_ptrvec_push(struct qs_ptrvec *vec, void *item)
{
    if (vec->count == vec->cap) {
        vec->cap = vec->cap ? vec->cap * 2 : 16;
        vec->items = qs_reallocarray(vec->items, vec->cap, sizeof(*vec->items));
    }
    vec->items[vec->count++] = item;
}

void
qs_ptrvec_done(struct qs_ptrvec *vec)
{
    free(vec->items);
    memset(vec, 0, sizeof(*vec));
}

void **
qs_ptrvec_to_arena(const struct qs_ptrvec *vec, struct qs_arena *arena)
{
    void **items;

    if (vec->count == 0)
        return NULL;
    items = qs_arena_calloc(arena, vec->count, sizeof(*items));
    memcpy(items, vec->items, vec->count * sizeof(*items));
    return items;
}

/*
 * Length of the well-formed UTF-8 sequence at "p" (1 to 4), or 0 where the
 * bytes are not one: a stray continuation byte, an overlong form, a
 * surrogate, a code point above U+10FFFF or a cut sequence.  Reads no
 * further than the first byte that breaks the sequence, so never past the
 * terminating NUL.
 */
static size_t
utf8_length(const unsigned char *p)
{
    unsigned char low = 0x80;
    unsigned char high = 0xbf;
    size_t len;

    if (p[0] < 0x80)
        return 1;
    if (p[0] < 0xc2 || p[0] > 0xf4)
        return 0;
    if (p[0] < 0xe0)
        len = 2;
    else if (p[0] < 0xf0)
        len = 3;
    else
        len = 4;

    /* The second byte's range excludes overlong forms, surrogates and values above U+10FFFF. */
    if (p[0] == 0xe0)
        low = 0xa0;
    else if (p[0] == 0xed)
        high = 0x9f;
    else if (p[0] == 0xf0)
        low = 0x90;
    else if (p[0] == 0xf4)
        high = 0x8f;
    if (p[1] < low || p[1] > high)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (p[i] < 0x80 || p[i] > 0xbf)
            return 0;
    return len;
}

/*
 * Characters a terminal may act on: C0 controls, DEL, and the C1 controls
 * U+0080..U+009F (encoded 0xC2 0x80..0x9F), among them CSI, which starts
 * escape sequences as ESC [ does.
 */
static int
is_control(const unsigned char *p, size_t len)
{
    if (len == 1)
        return p[0] < 0x20 || p[0] == 0x7f;
    return len == 2 && p[0] == 0xc2 && p[1] < 0xa0;
}

const char *
qs_quote(const char *name, char *buf, size_t size)
{
    const size_t max = 80;
    const unsigned char *p = (const unsigned char *)name;
    size_t n = 0;

    if (size == 0)
        return buf;
    while (*p) {
        size_t len = utf8_length(p);
        int replace = len == 0 || is_control(p, len);
        size_t width = replace ? 1 : len;

        if (n + width > max && size > max + 4) {
            memcpy(buf + n, "...", 3);
            n += 3;
            break;
        }
        if (n + width >= size)
            break;
        if (replace)
            buf[n] = '?';
        else
            memcpy(buf + n, p, len);
        n += width;
        p += len ? len : 1;
    }
    buf[n] = '\0';
    return buf;
}

const char *
qs_format_dims(const int64_t *dims, size_t rank, char *buf, size_t size)
{
    size_t used = 0;

    used += (size_t)snprintf(buf, size, "[");
    for (size_t i = 0; i < rank && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%" PRId64, i ? "," : "", dims[i]);
    if (used < size)
        snprintf(buf + used, size - used, "]");
    return buf;
}

const char *
qs_format_graph(const struct qs_graph *graph, char *buf, size_t size)
{
    char name[100];
    char scope[200];
    size_t len;

    qs_quote(graph->name, name, sizeof(name));
    if (graph->depth == 0) {
        if (*name)
            snprintf(buf, size, "graph '%s'", name);
        else
            snprintf(buf, size, "main graph");
        return buf;
    }

    /* The scope ends with '/', which reads badly in a sentence. */
    qs_quote(graph->scope, scope, sizeof(scope));
    len = strlen(scope);
    if (len > 0 && scope[len - 1] == '/')
        scope[len - 1] = '\0';
    if (*name)
        snprintf(buf, size, "subgraph '%s' at %s", name, scope);
    else
        snprintf(buf, size, "subgraph at %s", scope);
    return buf;
}

/* Count the attributes of "node" named like a Constant value ("value", "value_*" and so on). */
static size_t
constant_value_attrs(const struct qs_node *node)
{
    size_t count = 0;

    for (size_t i = 0; i < node->n_attrs; i++) {
        const char *name = node->attrs[i]->name ? node->attrs[i]->name : "";

        if (strcmp(name, "value") == 0 || strcmp(name, "sparse_value") == 0 ||
            strncmp(name, "value_", 6) == 0)
            count++;
    }
    return count;
}

/*
 * The node part of a site.  A site without an attribute name is a
 * Constant node whose value attribute is missing or not unique.
 */
static void
format_node_site(const struct qs_tensor_site *site, const char *graph, char *buf, size_t size)
{
    char node[100];
    char attr[100];
    size_t count;

    qs_quote(site->node->label, node, sizeof(node));
    if (site->attr && *site->attr) {
        qs_quote(site->attr, attr, sizeof(attr));
        snprintf(buf, size, "%s, node '%s' attribute '%s'", graph, node, attr);
        return;
    }
    if (site->attr) {
        snprintf(buf, size, "%s, node '%s', attribute without a name", graph, node);
        return;
    }

    count = constant_value_attrs(site->node);
    qs_quote(site->node->op_type, attr, sizeof(attr));
    if (count == 0)
        snprintf(buf, size, "%s, node '%s', %s without a value attribute", graph, node, attr);
    else
        snprintf(buf, size, "%s, node '%s', %s with %zu value attributes", graph, node, attr,
                 count);
}

const char *
qs_format_site(const struct qs_tensor_site *site, char *buf, size_t size)
{
    char graph[320];

    qs_format_graph(site->graph, graph, sizeof(graph));
    if (site->node)
        format_node_site(site, graph, buf, size);
    else
        snprintf(buf, size, "%s, %s %zu", graph, site->kind ? site->kind : "tensor",
                 site->index);
    return buf;
}
