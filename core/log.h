/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "core/macro.h"

/*
 * Libraries log only at debug level (enabled by CORRAL_DEBUG=1 in the environment);
 * what a user sees is decided by cli/.
 */
void cg_debug(const char *fmt, ...) _printf_(1, 2);
