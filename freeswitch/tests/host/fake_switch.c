/* A stand-in FreeSWITCH for ABI tests: it exports the switch_* symbols mod_wacall imports (as the real binary's
 * libfreeswitch does), dlopens the module, reads mod_wacall_module_interface, calls load, runs API commands and
 * applications read from stdin, then shutdown and dlclose. Struct layouts copy FreeSWITCH 1.10.12's headers.
 *
 * stdin lines:  api <name> [args]     -> prints "REPLY <name> status=<n>\n<text>\nEND"
 *               apinull <name>        -> calls with cmd=NULL
 *               nostream <name>       -> calls with stream=NULL, prints the status
 *               app <name> [args]     -> runs the app on the fake session, then prints its variables
 *               var <name> <value>    -> sets a variable on the fake session
 *               unescape <name>       -> turns literal \r \n in a variable into CR LF
 *               dumpvars              -> prints the fake session's variables
 *               clearvars             -> empties the fake session's variables
 *               reload                -> shutdown, dlclose, dlopen, load again
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int switch_status_t;
typedef struct { int dummy; } switch_loadable_module_interface_t;
typedef struct { int dummy; } switch_memory_pool_t;
typedef struct switch_core_session switch_core_session_t;
typedef struct switch_channel switch_channel_t;
typedef struct switch_stream_handle switch_stream_handle_t;

typedef switch_status_t (*switch_stream_handle_write_function_t)(switch_stream_handle_t *handle, const char *fmt, ...);
struct switch_stream_handle {
	void *read_function;
	switch_stream_handle_write_function_t write_function;
	void *raw_write_function;
	void *data;
	void *end;
	size_t data_size;
	size_t data_len;
	size_t alloc_len;
	size_t alloc_chunk;
	void *param_event;
};

typedef switch_status_t (*switch_api_function_t)(const char *cmd, switch_core_session_t *session, switch_stream_handle_t *stream);
typedef void (*switch_application_function_t)(switch_core_session_t *, const char *);

typedef struct switch_api_interface {
	const char *interface_name;
	const char *desc;
	switch_api_function_t function;
	const char *syntax;
	void *rwlock;
	int refs;
	void *reflock;
	switch_loadable_module_interface_t *parent;
	struct switch_api_interface *next;
} switch_api_interface_t;

typedef struct switch_application_interface {
	const char *interface_name;
	switch_application_function_t application_function;
	const char *long_desc;
	const char *short_desc;
	const char *syntax;
	uint32_t flags;
	void *rwlock;
	int refs;
	void *reflock;
	switch_loadable_module_interface_t *parent;
	struct switch_application_interface *next;
} switch_application_interface_t;

typedef struct {
	int switch_api_version;
	switch_status_t (*load)(switch_loadable_module_interface_t **, switch_memory_pool_t *);
	switch_status_t (*shutdown)(void);
	switch_status_t (*runtime)(void);
	uint32_t flags;
} switch_loadable_module_function_table_t;

_Static_assert(sizeof(switch_stream_handle_t) == 80, "stream handle");
_Static_assert(sizeof(switch_api_interface_t) == 72, "api interface");
_Static_assert(sizeof(switch_application_interface_t) == 88, "application interface");
_Static_assert(sizeof(switch_loadable_module_function_table_t) == 40, "function table");

/* ---- module interface registry ---- */
static switch_loadable_module_interface_t the_module;
static const char *module_name;
static switch_api_interface_t *apis[32];
static int n_apis;
static switch_application_interface_t *apps[32];
static int n_apps;

switch_loadable_module_interface_t *switch_loadable_module_create_module_interface(switch_memory_pool_t *pool, const char *name)
{
	(void)pool;
	module_name = name;
	printf("CREATE_MODULE %s\n", name);
	return &the_module;
}

void *switch_loadable_module_create_interface(switch_loadable_module_interface_t *mod, int iname)
{
	if (mod != &the_module) { printf("BAD_MODULE_POINTER\n"); return NULL; }
	if (iname == 5 && n_apis < 32) { return apis[n_apis++] = calloc(1, sizeof(switch_api_interface_t)); }
	if (iname == 4 && n_apps < 32) { return apps[n_apps++] = calloc(1, sizeof(switch_application_interface_t)); }
	printf("UNEXPECTED_INTERFACE_TYPE %d\n", iname);
	return NULL;
}

/* ---- logging, version ---- */
void switch_log_printf(int channel, const char *file, const char *func, int line, const char *userdata, int level, const char *fmt, ...)
{
	va_list ap;
	(void)channel; (void)file; (void)func; (void)line; (void)userdata;
	printf("LOG %d ", level);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
}

const char *switch_version_full(void) { return "1.10.12-fakehost"; }

/* ---- sessions and channel variables ---- */
struct var { char *name, *value; };
struct switch_channel { struct var vars[128]; int n; };
struct switch_core_session { switch_channel_t channel; };
static switch_core_session_t the_session;

switch_channel_t *switch_core_session_get_channel(switch_core_session_t *s) { return s ? &s->channel : NULL; }
char *switch_core_session_get_uuid(switch_core_session_t *s) { (void)s; return "00000000-fake-uuid"; }

static int session_locks;
switch_core_session_t *switch_core_session_perform_locate(const char *uuid, const char *file, const char *func, int line)
{
	(void)file; (void)func; (void)line;
	if (uuid && !strcmp(uuid, "00000000-fake-uuid")) { session_locks++; return &the_session; }
	return NULL;
}
void switch_core_session_rwunlock(switch_core_session_t *s) { if (s == &the_session) session_locks--; }
int switch_channel_perform_hangup(switch_channel_t *c, const char *file, const char *func, int line, int cause)
{
	(void)file; (void)func; (void)line;
	printf("HANGUP %s cause=%d\n", c == &the_session.channel ? "fake-session" : "other", cause);
	return 0;
}

static struct var *find_var(switch_channel_t *c, const char *name)
{
	for (int i = 0; i < c->n; i++) if (c->vars[i].name && !strcasecmp(c->vars[i].name, name)) return &c->vars[i];
	return NULL;
}

const char *switch_channel_get_variable_dup(switch_channel_t *c, const char *name, int dup, int idx)
{
	(void)idx;
	struct var *v = find_var(c, name);
	if (!v) return NULL;
	return dup ? strdup(v->value) : v->value; /* leaks with dup, as the real one would until the session ends */
}

switch_status_t switch_channel_set_variable_var_check(switch_channel_t *c, const char *name, const char *value, int check)
{
	(void)check;
	struct var *v = find_var(c, name);
	if (!value) { if (v) { free(v->name); free(v->value); v->name = v->value = NULL; } return 0; }
	if (!v) { if (c->n >= 128) return 1; v = &c->vars[c->n++]; v->name = strdup(name); }
	else free(v->value);
	v->value = strdup(value);
	return 0;
}

static void clear_vars(void)
{
	for (int i = 0; i < the_session.channel.n; i++) { free(the_session.channel.vars[i].name); free(the_session.channel.vars[i].value); }
	memset(&the_session, 0, sizeof(the_session));
}

/* ---- XML configuration: a fixed wacall.conf ---- */
/* struct switch_xml's real layout up to `child` (mod_wacall reads `next`); attributes kept after it. */
typedef struct xml {
	const char *name; char **attr; char *txt; char *free_path; size_t off;
	struct xml *next, *sibling, *ordered, *child;
	const char *attrs[8];
} xml_t;
_Static_assert(offsetof(xml_t, next) == 40 && offsetof(xml_t, child) == 64, "struct switch_xml layout");
static xml_t p_profile = { .name = "param", .attrs = { "name", "profile", "value", "wacall-meta" } };
static xml_t p_ports = { .name = "param", .attrs = { "name", "relay-ports", "value", "43000-43099" } };
static xml_t settings = { .name = "settings", .child = &p_profile };
static xml_t num2 = { .name = "number", .attrs = { "id", "+15550001111", "password", "pw-two", "srtp", "SDES" } };
static xml_t num1 = { .name = "number", .attrs = { "id", "+15551234567", "password", "s3cret", "gateway", "wa1" } };
static xml_t numbers = { .name = "numbers", .child = &num1 };
static xml_t configuration = { .name = "configuration", .attrs = { "name", "wacall.conf" }, .child = &settings };
static xml_t root = { .name = "document", .child = &configuration };
static int xml_opens, xml_frees;
static int xml_missing;

static void xml_init(void)
{
	p_profile.next = &p_ports;
	num1.next = &num2;
	settings.sibling = &numbers;
}

void *switch_xml_open_cfg(const char *file, xml_t **node, void *params)
{
	(void)params;
	printf("OPEN_CFG %s\n", file);
	if (xml_missing || strcmp(file, "wacall.conf")) { *node = NULL; return NULL; }
	xml_opens++;
	*node = &configuration;
	return &root;
}

xml_t *switch_xml_child(xml_t *x, const char *name)
{
	if (!x) return NULL;
	for (xml_t *c = x->child; c; c = c->sibling) if (!strcmp(c->name, name)) return c;
	return NULL;
}

const char *switch_xml_attr_soft(xml_t *x, const char *attr)
{
	if (!x) return "";
	for (int i = 0; i + 1 < 8 && x->attrs[i]; i += 2) if (!strcmp(x->attrs[i], attr)) return x->attrs[i + 1];
	return "";
}

void switch_xml_free(void *x) { if (x == &root) xml_frees++; }

/* ---- the stream handle ---- */
static char out_buf[65536];
static size_t out_len;

static switch_status_t stream_write(switch_stream_handle_t *h, const char *fmt, ...)
{
	va_list ap;
	(void)h;
	va_start(ap, fmt);
	int n = vsnprintf(out_buf + out_len, sizeof(out_buf) - out_len, fmt, ap);
	va_end(ap);
	if (n > 0) out_len += (size_t)n < sizeof(out_buf) - out_len ? (size_t)n : sizeof(out_buf) - out_len - 1;
	return 0;
}

/* ---- the driver ---- */
static void *lib;
static switch_loadable_module_function_table_t *table;

static int load_module(const char *path)
{
	n_apis = n_apps = 0;
	lib = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
	if (!lib) { printf("DLOPEN_FAILED %s\n", dlerror()); return 1; }
	table = dlsym(lib, "mod_wacall_module_interface");
	if (!table) { printf("NO_INTERFACE_TABLE\n"); return 1; }
	printf("TABLE api_version=%d load=%s shutdown=%s runtime=%s flags=%u\n", table->switch_api_version,
		   table->load ? "set" : "null", table->shutdown ? "set" : "null", table->runtime ? "set" : "null", table->flags);
	if (table->switch_api_version != 5) { printf("WRONG_API_VERSION\n"); return 1; }
	switch_loadable_module_interface_t *mi = NULL;
	switch_memory_pool_t pool;
	switch_status_t st = table->load(&mi, &pool);
	printf("LOAD status=%d module_interface=%s\n", st, mi == &the_module ? "ok" : "wrong");
	for (int i = 0; i < n_apis; i++)
		printf("API %s|%s|%s|%s\n", apis[i]->interface_name, apis[i]->desc, apis[i]->syntax, apis[i]->function ? "fn" : "null");
	for (int i = 0; i < n_apps; i++)
		printf("APP %s|%s|%s|flags=%u|%s\n", apps[i]->interface_name, apps[i]->short_desc, apps[i]->syntax, apps[i]->flags,
			   apps[i]->application_function ? "fn" : "null");
	return st;
}

static void unload_module(void)
{
	printf("SHUTDOWN status=%d\n", table->shutdown());
	for (int i = 0; i < n_apis; i++) free(apis[i]);
	for (int i = 0; i < n_apps; i++) free(apps[i]);
	dlclose(lib);
	printf("XML opens=%d frees=%d\n", xml_opens, xml_frees);
	printf("SESSION locks held=%d\n", session_locks);
}

static switch_api_interface_t *find_api(const char *name)
{
	for (int i = 0; i < n_apis; i++) if (!strcmp(apis[i]->interface_name, name)) return apis[i];
	return NULL;
}

static switch_application_interface_t *find_app(const char *name)
{
	for (int i = 0; i < n_apps; i++) if (!strcmp(apps[i]->interface_name, name)) return apps[i];
	return NULL;
}

int main(int argc, char **argv)
{
	char line[65536];
	if (argc < 2) { fprintf(stderr, "usage: %s module.so [--no-config]\n", argv[0]); return 2; }
	xml_missing = argc > 2 && !strcmp(argv[2], "--no-config");
	setvbuf(stdout, NULL, _IONBF, 0);
	xml_init();
	if (load_module(argv[1])) return 1;
	while (fgets(line, sizeof(line), stdin)) {
		line[strcspn(line, "\n")] = 0;
		char *verb = line, *name = strchr(line, ' '), *args = NULL;
		if (name) { *name++ = 0; args = strchr(name, ' '); if (args) *args++ = 0; }
		if (!strcmp(verb, "api") || !strcmp(verb, "apinull") || !strcmp(verb, "nostream")) {
			switch_api_interface_t *a = name ? find_api(name) : NULL;
			if (!a) { printf("NO_SUCH_API %s\n", name ? name : ""); continue; }
			switch_stream_handle_t stream = { 0 };
			stream.write_function = stream_write;
			out_len = 0; out_buf[0] = 0;
			int st = a->function(!strcmp(verb, "apinull") ? NULL : (args ? args : ""), NULL, !strcmp(verb, "nostream") ? NULL : &stream);
			printf("REPLY %s status=%d\n%sEND\n", name, st, out_buf);
		} else if (!strcmp(verb, "app")) {
			switch_application_interface_t *a = name ? find_app(name) : NULL;
			if (!a) { printf("NO_SUCH_APP %s\n", name ? name : ""); continue; }
			a->application_function(&the_session, args ? args : "");
			printf("VARS %s\n", name);
			for (int i = 0; i < the_session.channel.n; i++)
				if (the_session.channel.vars[i].name) printf("%s=%s\n", the_session.channel.vars[i].name, the_session.channel.vars[i].value);
			printf("END\n");
		} else if (!strcmp(verb, "appnull")) {
			switch_application_interface_t *a = name ? find_app(name) : NULL;
			if (a) a->application_function(NULL, NULL);
			printf("APPNULL done\n");
		} else if (!strcmp(verb, "var") && name && args) {
			switch_channel_set_variable_var_check(&the_session.channel, name, args, 0);
		} else if (!strcmp(verb, "unescape") && name) {
			/* turn the two characters \r \n written on one stdin line into a real CRLF */
			struct var *v = find_var(&the_session.channel, name);
			if (v) {
				char *r = v->value, *w = v->value;
				while (*r) {
					if (r[0] == '\\' && r[1] == 'r') { *w++ = '\r'; r += 2; }
					else if (r[0] == '\\' && r[1] == 'n') { *w++ = '\n'; r += 2; }
					else *w++ = *r++;
				}
				*w = 0;
			}
		} else if (!strcmp(verb, "dumpvars")) {
			printf("DUMPVARS\n");
			for (int i = 0; i < the_session.channel.n; i++)
				if (the_session.channel.vars[i].name) printf("%s=%s\n", the_session.channel.vars[i].name, the_session.channel.vars[i].value);
			printf("END\n");
		} else if (!strcmp(verb, "clearvars")) {
			clear_vars();
		} else if (!strcmp(verb, "reload")) {
			unload_module();
			if (load_module(argv[1])) return 1;
		}
	}
	unload_module();
	printf("DONE\n");
	return 0;
}
