/*
 * Private state of a calibration, shared by calib.c (collection) and
 * calib_json.c (the .qstats file).
 */
#ifndef QS_CALIB_INTERNAL_H
#define QS_CALIB_INTERNAL_H

#include <stddef.h>

#include "calib.h"
#include "strmap.h"

struct qs_calib_private {
    struct qs_strmap *tensors;   /* scoped name -> index + 1 in calib->tensors */
    struct qs_strmap *inputs;    /* activation name -> index + 1 of its first layer input */
    size_t *next_input;          /* per layer input: index + 1 of the next one on the same name */
    size_t tensor_cap;           /* allocated entries of calib->tensors */
};

/*
 * Append an empty tensor entry named "name" (taken over: freed with the
 * calibration) with a zeroed histogram, and index it by name.  The
 * caller checks that the name is new.
 */
struct qs_calib_tensor *calib_tensor_append(struct qs_calib *calib, char *name);

#endif
