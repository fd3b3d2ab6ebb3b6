// SPDX-License-Identifier: GPL-2.0-only
/* trace.c - instantiates the tracepoints declared in xpmem_trace.h. */
#define CREATE_TRACE_POINTS
#include "xpmem_trace.h"
