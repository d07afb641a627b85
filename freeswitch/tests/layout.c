/* Prints the sizes, offsets and enum values mod_wacall's hand-written bindings (src/sys.rs) rely on, from
 * FreeSWITCH's own headers. Run by hand against an installed FreeSWITCH (see ../VERIFIED.md):
 *   cc -I<prefix>/include/freeswitch tests/layout.c -o /tmp/layout && /tmp/layout */
#include <stddef.h>
#include <stdio.h>
#include <switch.h>

#define SZ(t) printf("sizeof %s = %zu\n", #t, sizeof(t))
#define OFF(t, f) printf("offsetof %s.%s = %zu\n", #t, #f, offsetof(t, f))
#define VAL(v) printf("%s = %d\n", #v, (int)(v))

int main(void)
{
	SZ(switch_loadable_module_function_table_t);
	OFF(switch_loadable_module_function_table_t, load);
	OFF(switch_loadable_module_function_table_t, shutdown);
	OFF(switch_loadable_module_function_table_t, runtime);
	OFF(switch_loadable_module_function_table_t, flags);
	SZ(switch_stream_handle_t);
	OFF(switch_stream_handle_t, write_function);
	OFF(switch_stream_handle_t, data);
	OFF(switch_stream_handle_t, data_len);
	OFF(switch_stream_handle_t, param_event);
	SZ(switch_api_interface_t);
	OFF(switch_api_interface_t, desc);
	OFF(switch_api_interface_t, function);
	OFF(switch_api_interface_t, syntax);
	OFF(switch_api_interface_t, parent);
	OFF(switch_api_interface_t, next);
	SZ(switch_application_interface_t);
	OFF(switch_application_interface_t, application_function);
	OFF(switch_application_interface_t, long_desc);
	OFF(switch_application_interface_t, short_desc);
	OFF(switch_application_interface_t, syntax);
	OFF(switch_application_interface_t, flags);
	OFF(switch_application_interface_t, next);
	SZ(struct switch_xml);
	OFF(struct switch_xml, name);
	OFF(struct switch_xml, attr);
	OFF(struct switch_xml, txt);
	OFF(struct switch_xml, next);
	OFF(struct switch_xml, sibling);
	OFF(struct switch_xml, child);
	SZ(switch_status_t);
	SZ(switch_bool_t);
	SZ(switch_module_interface_name_t);
	SZ(switch_log_level_t);
	SZ(switch_text_channel_t);
	VAL(SWITCH_API_VERSION);
	VAL(SWITCH_APPLICATION_INTERFACE);
	VAL(SWITCH_API_INTERFACE);
	VAL(SWITCH_STATUS_SUCCESS);
	VAL(SWITCH_STATUS_FALSE);
	VAL(SWITCH_STATUS_GENERR);
	VAL(SWITCH_STATUS_TERM);
	VAL(SWITCH_CHANNEL_ID_LOG);
	VAL(SWITCH_LOG_DEBUG);
	VAL(SWITCH_LOG_INFO);
	VAL(SWITCH_LOG_NOTICE);
	VAL(SWITCH_LOG_WARNING);
	VAL(SWITCH_LOG_ERROR);
	VAL(SAF_SUPPORT_NOMEDIA);
	VAL(SAF_ROUTING_EXEC);
	VAL(SWITCH_TRUE);
	VAL(SWITCH_FALSE);
	VAL(SWITCH_CAUSE_INCOMPATIBLE_DESTINATION);
	return 0;
}
