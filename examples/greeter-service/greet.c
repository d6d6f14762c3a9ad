/* greet: a client of acme.Greeter through napd, with libnap.
 *   greet SOCKET NAME
 * prints the greeting. Exit status: 0, or 1 with the reason on stderr. */
#include <stdio.h>

#include <nap/bus.h>

#include "greeter.pb-c.h"

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: greet SOCKET NAME\n");
		return 1;
	}
	nap_conn *conn;
	int r = nap_conn_connect(&conn, argv[1], "greet");
	if (r < 0) {
		fprintf(stderr, "greet: %s: %s\n", argv[1], nap_strerror(r));
		return 1;
	}
	Acme__GreetRequest req = ACME__GREET_REQUEST__INIT;
	req.name = argv[2];
	Acme__GreetReply *rep;
	nap_error err;
	/* Method 0 of the service: Greet, as the descriptor numbers it. */
	r = nap_call_unary((ProtobufCMessage **)&rep, conn, acme__greeter__descriptor.name, 0,
			   &req.base, &acme__greet_reply__descriptor, 5000, &err);
	if (r < 0) {
		fprintf(stderr, "greet: %s\n", err.message);
		nap_conn_free(conn);
		return 1;
	}
	printf("%s\n", rep->greeting);
	acme__greet_reply__free_unpacked(rep, NULL);
	nap_conn_free(conn);
	return 0;
}
