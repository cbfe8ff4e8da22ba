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

const char *
qs_quote(const char *name, char *buf, size_t size)
{
    const size_t max = 80;
    size_t n = 0;

    if (size == 0)
        return buf;
    for (const unsigned char *p = (const unsigned char *)name; *p && n + 1 < size; p++) {
        if (n == max && size > max + 4) {
            memcpy(buf + n, "...", 3);
            n += 3;
            break;
        }
        buf[n++] = (*p < 0x20 || *p == 0x7f) ? '?' : (char)*p;
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

const char *
qs_format_site(const struct qs_tensor_site *site, char *buf, size_t size)
{
    char graph[320];
    char node[100];
    char attr[100];

    qs_format_graph(site->graph, graph, sizeof(graph));
    if (site->node) {
        qs_quote(site->node->label, node, sizeof(node));
        qs_quote(site->attr ? site->attr : "", attr, sizeof(attr));
        snprintf(buf, size, "%s, node '%s' attribute '%s'", graph, node, attr);
    } else {
        snprintf(buf, size, "%s, %s %zu", graph, site->kind ? site->kind : "tensor",
                 site->index);
    }
    return buf;
}
