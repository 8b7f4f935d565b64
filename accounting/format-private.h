/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Shared by format.c and format-json.c only. */

#include <stdio.h>

#include "accounting/report.h"

/* The JSON form of a report (report.h). */
int acct_report_print_json(FILE *f, const struct acct_report *r);
