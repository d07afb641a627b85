/* C glue for what Kamailio offers only as macros (logging, pkg/shm allocators, tm API loading).
 * Compiled with the same defines as Kamailio; nothing here is exported from the module. */
#include "core/sr_module.h"
#include "core/dprint.h"
#include "core/mem/mem.h"
#include "core/mem/shm_mem.h"
#include "core/dset.h"
#include "modules/tm/tm_load.h"

/* Logs through Kamailio's logger as module "wacall", without the C file/function of this shim in the prefix. */
void wacall_shim_log(int level, const char *msg, int len)
{
	if(level < L_ERR) level = L_ERR;
	if(level > L_DBG) level = L_DBG;
	LOG_FX(DEFAULT_FACILITY, level, 0, "wacall: ", NULL, "%.*s\n", len, msg);
}

int wacall_shim_log_enabled(int level)
{
	return is_printable(level) ? 1 : 0;
}

void *wacall_shim_pkg_malloc(unsigned long size) { return pkg_malloc(size); }
void wacall_shim_pkg_free(void *p) { if(p) pkg_free(p); }
void *wacall_shim_shm_malloc(unsigned long size) { return shm_malloc(size); }
void wacall_shim_shm_free(void *p) { if(p) shm_free(p); }
void wacall_shim_ruri_mark_new(void) { ruri_mark_new(); }
int wacall_shim_load_tm(struct tm_binds *tmb) { return load_tm_api(tmb); }
