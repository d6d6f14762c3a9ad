/* napc export / napc import: every app's desired state as one JSON document
 * (nap.Control.Export and Import, protocol 1.2), for backups and restores. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <nap/bus.h>
#include <nap/control.pb-c.h>
#include <nap/protocol.h>

#include "napc.h"

/* A document larger than this cannot travel in one request frame. */
#define IMPORT_MAX (NAP_FRAME_MAX - 4096u)

static uint32_t method(const char *name)
{
	return (uint32_t)nap_method_index(&nap__control__descriptor, name);
}

int napc_cmd_export(struct napc *n, int argc, char **argv)
{
	(void)argv;
	if (argc != 1) {
		fprintf(stderr, "usage: napc export > FILE\n");
		return NAPC_EXIT_USAGE;
	}
	int r = napc_connect(n);
	if (r)
		return r;
	Nap__ExportRequest req = NAP__EXPORT_REQUEST__INIT;
	Nap__ExportReply *rep = NULL;
	nap_error err = {0};
	r = nap_call_unary((ProtobufCMessage **)&rep, n->conn, "nap.Control", method("Export"),
			   &req.base, &nap__export_reply__descriptor, n->timeout_ms, &err);
	if (r < 0)
		return napc_fail(n, &err, r);
	int ok = printf("%s\n", rep->document) >= 0 && fflush(stdout) == 0;
	nap__export_reply__free_unpacked(rep, NULL);
	if (!ok) {
		fprintf(stderr, "napc: cannot write the export: %s\n", strerror(errno));
		return NAPC_EXIT_FAILED;
	}
	return NAPC_EXIT_OK;
}

/* The whole of path ("-": stdin) into *textp, at most IMPORT_MAX bytes. */
static int read_document(char **textp, const char *path)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	if (!f) {
		fprintf(stderr, "napc: cannot open %s: %s\n", path, strerror(errno));
		return NAPC_EXIT_USAGE;
	}
	char *text = malloc(IMPORT_MAX + 1);
	size_t len = text ? fread(text, 1, IMPORT_MAX + 1, f) : 0;
	int bad = !text || ferror(f);
	if (f != stdin)
		fclose(f);
	if (bad || len > IMPORT_MAX) {
		fprintf(stderr, "napc: %s: %s\n", path,
			bad ? "cannot read it" : "larger than one request carries (4 MiB)");
		free(text);
		return NAPC_EXIT_USAGE;
	}
	text[len] = '\0';
	*textp = text;
	return 0;
}

static void print_imported(const Nap__ImportedApp *im)
{
	printf("%s imported (release %u)%s\n", im->app, im->release,
	       im->replaced ? ", its record replaced" : "");
	for (size_t k = 0; k < im->n_missing_images; k++) {
		if (im->missing_images[k] == im->release)
			printf("  release %u's image is not in the registry: deploy %s again to "
			       "run it\n",
			       im->release, im->app);
		else
			printf("  release %u's image is not in the registry: no rollback to it\n",
			       im->missing_images[k]);
	}
}

static json_t *imported_json(const Nap__ImportReply *rep)
{
	json_t *apps = json_array();
	for (size_t i = 0; i < rep->n_apps; i++) {
		const Nap__ImportedApp *im = rep->apps[i];
		json_t *missing = json_array();
		for (size_t k = 0; k < im->n_missing_images; k++)
			json_array_append_new(missing, json_integer(im->missing_images[k]));
		json_array_append_new(apps,
				      json_pack("{s:s, s:I, s:b, s:o}", "app", im->app, "release",
						(json_int_t)im->release, "replaced", im->replaced,
						"missing_images", missing));
	}
	return apps;
}

int napc_cmd_import(struct napc *n, int argc, char **argv)
{
	static const struct option opts[] = {{"force", no_argument, NULL, 'f'}, {NULL, 0, NULL, 0}};
	bool force = false;
	int c;
	optind = 0; /* a full restart of getopt: main() parsed with "+" */
	while ((c = getopt_long(argc, argv, "+f", opts, NULL)) != -1) {
		if (c != 'f') {
			fprintf(stderr, "usage: napc import [--force] [FILE|-]\n");
			return NAPC_EXIT_USAGE;
		}
		force = true;
	}
	if (argc - optind > 1) {
		fprintf(stderr, "usage: napc import [--force] [FILE|-]\n");
		return NAPC_EXIT_USAGE;
	}
	char *text = NULL;
	int r = read_document(&text, optind < argc ? argv[optind] : "-");
	if (r)
		return r;
	if ((r = napc_connect(n))) {
		free(text);
		return r;
	}
	Nap__ImportRequest req = NAP__IMPORT_REQUEST__INIT;
	req.document = text;
	req.force = force;
	Nap__ImportReply *rep = NULL;
	nap_error err = {0};
	r = nap_call_unary((ProtobufCMessage **)&rep, n->conn, "nap.Control", method("Import"),
			   &req.base, &nap__import_reply__descriptor,
			   n->timeout_given ? n->timeout_ms : 0, &err);
	free(text);
	if (r < 0)
		return napc_fail(n, &err, r);
	if (n->json)
		napc_print_json(imported_json(rep));
	else if (!rep->n_apps)
		printf("no app in the document\n");
	for (size_t i = 0; !n->json && i < rep->n_apps; i++)
		print_imported(rep->apps[i]);
	nap__import_reply__free_unpacked(rep, NULL);
	return NAPC_EXIT_OK;
}
