/* ops_clip.h: CLIP's CPU ops in float (name_cpu) and double (name_cpu_f64); see ops_clip_decl.h. */
#ifndef DFGAN_OPS_CLIP_H
#define DFGAN_OPS_CLIP_H
#include <stddef.h>

#define R float
#define F(n) n##_cpu
#include "core/ops_clip_decl.h"
#undef R
#undef F

#define R double
#define F(n) n##_cpu_f64
#include "core/ops_clip_decl.h"
#undef R
#undef F

#endif
