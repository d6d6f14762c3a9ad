/* nap-upload: a client-streaming call through libnap, for the bus tests and
 * bench/run upload. It calls nap.Echo.Sum (protocol 1.2) and streams BYTES
 * in chunks, waiting for credit as a blocking client does
 * (nap_call_send_wait), then half-closes and prints the reply.
 *
 *   nap-upload [-s SOCKET] [-b BYTES] [-k CHUNK] [-t TIMEOUT_MS]
 *              [-d DELAY_MS] [-p] [-C CANCEL_AT] [-X EXIT_AT] [-w PAUSE_MS]
 *
 *   -b  bytes to send (default 1 MiB); -k  bytes per chunk (default 64 KiB)
 *   -d  ask the handler to wait DELAY_MS before taking each chunk
 *   -p  send a pattern instead of zeros (so that the checksum sees order)
 *   -C  cancel the call once CANCEL_AT bytes were sent, then wait -w ms
 *   -X  exit without a word (the caller disconnects) once EXIT_AT bytes
 *       were sent
 *   -R  no napd: the same bytes in the same chunks over a raw Unix socket
 *       pair to a child process that reads them and sums them as Sum does
 *       (the baseline of bench/run upload)
 *
 * Prints "OK bytes=N messages=M adler32=A match=yes|no" (match: the
 * handler's checksum is the one of what was sent) and
 * "rate_mib_s=R seconds=S", or "END STATUS message"; "CANCELLED at N
 * unix_ms=T" for -C (T: when, for comparing with napd's log). Exit status: the call's status code, 100 when napd cannot be reached,
 * 101 for a local error (printed). */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nap/bus.h>
#include <nap/echo.pb-c.h>

struct state {
	bool done;
	int status;
	uint32_t adler32; /* the handler's, on success */
};

static void on_reply(nap_call *call, const nap_reply *r, void *ud)
{
	(void)call;
	struct state *s = ud;
	if (!r->end)
		return;
	s->done = true;
	s->status = r->status;
	if (r->status != NAP_OK) {
		printf("END %s %s\n", nap_status_name(r->status), r->message);
		return;
	}
	Nap__SumReply *m = nap__sum_reply__unpack(NULL, r->payload_len, r->payload);
	if (!m) {
		printf("UNDECODABLE\n");
		s->status = NAP_INTERNAL;
		return;
	}
	printf("OK bytes=%llu messages=%llu adler32=%u", (unsigned long long)m->bytes,
	       (unsigned long long)m->messages, m->adler32);
	s->adler32 = m->adler32;
	nap__sum_reply__free_unpacked(m, NULL);
}

static uint32_t adler_a = 1, adler_b;

static void adler_add(const uint8_t *p, size_t n)
{
	while (n > 0) {
		size_t k = n < 5552 ? n : 5552;
		n -= k;
		while (k--) {
			adler_a += *p++;
			adler_b += adler_a;
		}
		adler_a %= 65521u;
		adler_b %= 65521u;
	}
}

/* The baseline: write(2) the chunks to a socket pair, a child reads and sums
 * them and writes back its checksum. Prints the same lines as a Sum. */
static int raw_copy(unsigned long long total, size_t chunk, uint8_t *data)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return 101;
	uint64_t t0 = nap_now_usec();
	pid_t pid = fork();
	if (pid == 0) {
		close(sv[0]);
		uint8_t *buf = malloc(chunk);
		unsigned long long got = 0;
		ssize_t n;
		while (buf && got < total && (n = read(sv[1], buf, chunk)) > 0) {
			adler_add(buf, (size_t)n);
			got += (unsigned long long)n;
		}
		uint32_t sum = adler_b << 16 | adler_a;
		_exit(write(sv[1], &sum, sizeof(sum)) == sizeof(sum) ? 0 : 1);
	}
	close(sv[1]);
	for (unsigned long long sent = 0; sent < total;) {
		size_t n = total - sent < chunk ? (size_t)(total - sent) : chunk;
		ssize_t w = write(sv[0], data, n);
		if (w <= 0)
			return 101;
		sent += (unsigned long long)w;
	}
	uint32_t sum = 0;
	if (read(sv[0], &sum, sizeof(sum)) != sizeof(sum))
		return 101;
	double secs = (double)(nap_now_usec() - t0) / 1e6;
	waitpid(pid, NULL, 0);
	printf("OK bytes=%llu raw adler32=%u\n", total, sum);
	printf("rate_mib_s=%.1f seconds=%.3f\n", (double)total / 1048576.0 / secs, secs);
	return 0;
}

/* The chunk buffer, freed at exit whichever way main ends. */
static uint8_t *chunk_buf;

static void free_chunk(void)
{
	free(chunk_buf);
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

int main(int argc, char **argv)
{
	const char *sock = NULL;
	unsigned long long total = 1 << 20, cancel_at = 0, exit_at = 0;
	size_t chunk = 65536;
	unsigned timeout = 0, delay = 0, pause_ms = 0;
	bool pattern = false, raw = false;
	int c;
	while ((c = getopt(argc, argv, "s:b:k:t:d:pC:X:w:R")) != -1) {
		switch (c) {
		case 's':
			sock = optarg;
			break;
		case 'b':
			total = strtoull(optarg, NULL, 10);
			break;
		case 'k':
			chunk = strtoul(optarg, NULL, 10);
			break;
		case 't':
			timeout = (unsigned)atoi(optarg);
			break;
		case 'd':
			delay = (unsigned)atoi(optarg);
			break;
		case 'p':
			pattern = true;
			break;
		case 'C':
			cancel_at = strtoull(optarg, NULL, 10);
			break;
		case 'X':
			exit_at = strtoull(optarg, NULL, 10);
			break;
		case 'w':
			pause_ms = (unsigned)atoi(optarg);
			break;
		case 'R':
			raw = true;
			break;
		default:
			fprintf(stderr, "usage: see the comment at the top of nap-upload.c\n");
			return 2;
		}
	}
	uint8_t *data = calloc(1, chunk ? chunk : 1);
	if (!data)
		return 101;
	chunk_buf = data;
	atexit(free_chunk);
	if (raw)
		return raw_copy(total, chunk, data);
	nap_conn *conn;
	int r = nap_conn_connect(&conn, sock, "nap-upload");
	if (r < 0) {
		fprintf(stderr, "nap-upload: cannot connect: %s\n", nap_strerror(r));
		return 100;
	}
	struct state s = {0};
	nap_call *call;
	Nap__SumChunk msg = NAP__SUM_CHUNK__INIT;
	msg.delay_ms = delay;
	unsigned long long sent = 0;
	uint64_t t0 = nap_now_usec();
	r = nap_call_start(&call, conn, "nap.Echo", 2, &msg.base, timeout, on_reply, &s);
	if (r < 0) {
		fprintf(stderr, "nap-upload: cannot start the call: %s\n", nap_strerror(r));
		return 101;
	}
	while (sent < total && !s.done) {
		size_t n = total - sent < chunk ? (size_t)(total - sent) : chunk;
		if (pattern)
			for (size_t i = 0; i < n; i++)
				data[i] = (uint8_t)((sent + i) * 7 + ((sent + i) >> 13));
		msg.data.data = data;
		msg.data.len = n;
		r = nap_call_send_wait(call, &msg.base, -1);
		if (r == -EPIPE)
			break; /* ended: the callback printed how */
		if (r < 0) {
			if (!s.done)
				printf("SEND %s\n", nap_strerror(r));
			break;
		}
		adler_add(data, n);
		sent += n;
		if (exit_at && sent >= exit_at) {
			while (nap_conn_pending(conn) > 0 && nap_conn_flush(conn) == 0)
				sleep_ms(1);
			_exit(0);
		}
		if (cancel_at && sent >= cancel_at) {
			nap_call_cancel(call);
			nap_conn_flush(conn);
			struct timespec now;
			clock_gettime(CLOCK_REALTIME, &now);
			printf("CANCELLED at %llu unix_ms=%lld\n", sent,
			       (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000);
			fflush(stdout);
			sleep_ms(pause_ms);
			nap_conn_free(conn);
			return NAP_CANCELLED;
		}
	}
	if (!s.done) {
		r = nap_call_close_send(call);
		if (r < 0 && !s.done)
			printf("CLOSE %s\n", nap_strerror(r));
	}
	while (!s.done)
		if (nap_conn_wait(conn, -1) < 0 && !s.done)
			break;
	double secs = (double)(nap_now_usec() - t0) / 1e6;
	nap_conn_free(conn);
	if (!s.done) {
		printf("END UNAVAILABLE the connection ended first\n");
		return NAP_UNAVAILABLE;
	}
	if (s.status == NAP_OK) {
		printf(" match=%s\n", s.adler32 == (adler_b << 16 | adler_a) ? "yes" : "no");
		printf("rate_mib_s=%.1f seconds=%.3f\n", (double)sent / 1048576.0 / secs, secs);
	}
	return s.status;
}
