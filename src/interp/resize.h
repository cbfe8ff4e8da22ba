/*
 * Resize and Upsample geometry, shared by the op and its unit tests:
 * for each output index along one axis, the input indices it reads and
 * their weights.
 */
#ifndef QS_INTERP_RESIZE_H
#define QS_INTERP_RESIZE_H

#include <stdint.h>

enum resize_mode { RESIZE_NEAREST, RESIZE_LINEAR, RESIZE_CUBIC };

enum resize_coord {
    COORD_HALF_PIXEL, COORD_PYTORCH_HALF_PIXEL, COORD_ALIGN_CORNERS, COORD_ASYMMETRIC,
    COORD_TF_HALF_PIXEL_FOR_NN, COORD_TF_CROP_AND_RESIZE, COORD_HALF_PIXEL_SYMMETRIC
};

enum resize_nearest {
    NEAREST_ROUND_PREFER_FLOOR, NEAREST_ROUND_PREFER_CEIL, NEAREST_FLOOR, NEAREST_CEIL,
    NEAREST_SIMPLE                       /* before opset 11: floor, or ceil when downsampling */
};

struct resize_axis_params {
    enum resize_mode mode;
    enum resize_coord coord;
    enum resize_nearest nearest;
    float cubic_a;                       /* cubic_coeff_a */
    int exclude_outside;
    int64_t in_len, out_len;
    float scale;                         /* out / in as given or derived from sizes */
    float roi_start, roi_end;            /* tf_crop_and_resize region, normalized */
};

/* Taps of one axis: "taps" entries per output index. */
#define RESIZE_MAX_TAPS 4

struct resize_taps {
    int taps;
    int64_t *index;                      /* [out_len * taps]; -1 marks extrapolation */
    float *weight;                       /* [out_len * taps] */
};

/*
 * Fill "t" for one axis (allocates index and weight; free with
 * resize_taps_done).  An output whose source coordinate falls outside the
 * input under tf_crop_and_resize gets index -1 in its first tap.
 */
void resize_taps_init(const struct resize_axis_params *p, struct resize_taps *t);
void resize_taps_done(struct resize_taps *t);

/* Input coordinate of output index "x" (before clamping or rounding). */
float resize_source_coord(const struct resize_axis_params *p, int64_t x);

#endif
