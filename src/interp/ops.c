/*
 * The op table built from the list in ops.h, and lookups in it.
 */
#include "config.h"
#include "interp/internal.h"

#include <string.h>

static const struct interp_op op_table[] = {
#define INTERP_OP_ENTRY(domain, name, run, check, arg) { domain, name, run, check, arg },
    INTERP_OPS(INTERP_OP_ENTRY)
#undef INTERP_OP_ENTRY
};

static const char *const op_names[] = {
#define INTERP_OP_NAME(domain, name, run, check, arg) name,
    INTERP_OPS(INTERP_OP_NAME)
#undef INTERP_OP_NAME
    NULL
};

const struct interp_op *
interp_op_find(const char *domain, const char *op_type)
{
    for (size_t i = 0; i < sizeof(op_table) / sizeof(op_table[0]); i++) {
        if (strcmp(op_table[i].name, op_type) == 0 && strcmp(op_table[i].domain, domain) == 0)
            return &op_table[i];
    }
    return NULL;
}

int
qs_interp_supports(const char *domain, const char *op_type)
{
    if (strcmp(domain, "ai.onnx") == 0)
        domain = "";
    return interp_op_find(domain, op_type) != NULL;
}

const char *const *
qs_interp_op_names(void)
{
    return op_names;
}
