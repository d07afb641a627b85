/* C glue for what Kamailio offers only as macros (logging, pkg/shm allocators, tm API loading).
 * Compiled with the same defines as Kamailio; nothing here is exported from the module. */
#include "core/sr_module.h"
#include "core/dprint.h"
#include "core/mem/mem.h"
#include "core/mem/shm_mem.h"
#include "core/dset.h"
#include "modules/tm/tm_load.h"

void wacall_shim_log(int level, const char *msg, int len)
{
	switch(level) {
		case L_ERR: LM_ERR("%.*s\n", len, msg); break;
		case L_WARN: LM_WARN("%.*s\n", len, msg); break;
		case L_NOTICE: LM_NOTICE("%.*s\n", len, msg); break;
		case L_INFO: LM_INFO("%.*s\n", len, msg); break;
		default: LM_DBG("%.*s\n", len, msg); break;
	}
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
