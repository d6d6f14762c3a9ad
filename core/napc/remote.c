/* napc --host ssh://...: napc starts the user's own ssh with one end of a
 * socketpair as its stdin and stdout, ssh runs `napc dial-stdio` on the
 * server (dial.c), which connects to napd's socket there as the ssh user and
 * copies bytes, and libnap speaks the bus over the other end as if it were
 * napd's socket. napd sees the ssh user's uid (SO_PEERCRED of the bridge),
 * so its allow-list decides as it does for a local user.
 *
 * ssh's stderr (which carries the bridge's too) goes to a temporary file,
 * not a pipe: nobody has to drain it during a long `logs --follow`, and its
 * last line is what napc quotes when ssh or the bridge fails. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "napc.h"

/* How long napc waits for ssh to end by itself once it closed its end (the
 * bridge then sees EOF, napd closes, ssh exits: one round trip), and then
 * after SIGTERM, before it uses SIGKILL. */
#define SSH_EXIT_WAIT_MS 2000
#define SSH_TERM_WAIT_MS 1000
/* The exit status ssh itself fails with; any other is the remote command's. */
#define SSH_OWN_FAILURE 255
/* The shell's status for a command it cannot find. */
#define SHELL_NOT_FOUND 127

struct napc_ssh {
	pid_t pid;
	bool reaped;
	int status;          /* waitpid's, once reaped */
	FILE *err;           /* ssh's stderr */
	bool closed_by_napd; /* napd ended the connection and said why */
	bool closed_here;    /* libnap ended it: what came was not the protocol */
	char close_message[NAP_MESSAGE_MAX];
};

/* The child a signal handler must end before napc dies of the signal. */
static volatile sig_atomic_t child_pid;

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* Waits up to ms (-1: for ever) for pid; true once it is reaped. Only
 * async-signal-safe calls: the signal handler uses it too. */
static bool reap_within(pid_t pid, int *status, long ms)
{
	for (long waited = 0;; waited += 10) {
		pid_t r = waitpid(pid, status, ms < 0 ? 0 : WNOHANG);
		if (r == pid || (r < 0 && errno == ECHILD))
			return true;
		if (r < 0 && errno == EINTR)
			continue;
		if (ms >= 0 && waited >= ms)
			return false;
		sleep_ms(10);
	}
}

static void end_child(pid_t pid, int *status)
{
	if (reap_within(pid, status, 0))
		return;
	kill(pid, SIGTERM);
	if (reap_within(pid, status, SSH_TERM_WAIT_MS))
		return;
	kill(pid, SIGKILL);
	reap_within(pid, status, -1);
}

/* Ctrl-C (or a TERM/HUP) while ssh runs: end and reap it, then die of the
 * signal as napc would have. PR_SET_PDEATHSIG covers SIGKILL of napc. */
static void on_signal(int sig)
{
	pid_t pid = child_pid;
	int status;
	if (pid > 0)
		end_child(pid, &status);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* A signal napc was started ignoring (a background job of a script) stays
 * ignored, as it would be without ssh. */
static void catch_signals(void)
{
	static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
	struct sigaction sa = {.sa_handler = on_signal}, old;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler != SIG_IGN)
			sigaction(sigs[i], &sa, NULL);
}

static bool reap(struct napc_ssh *s, long ms)
{
	if (!s->reaped && reap_within(s->pid, &s->status, ms)) {
		s->reaped = true;
		child_pid = 0;
	}
	return s->reaped;
}

static const char *env_or(const char *name, const char *dflt)
{
	const char *v = getenv(name);
	return v && *v ? v : dflt;
}

/* Appends s to out (at least 4 * strlen(s) + 3 bytes free), quoted for the
 * server's shell: ssh hands the remote command to it as one string. */
static void shell_quote(char *out, const char *s)
{
	out += strlen(out);
	*out++ = '\'';
	for (; *s; s++) {
		if (*s == '\'') {
			memcpy(out, "'\\''", 4);
			out += 4;
		} else {
			*out++ = *s;
		}
	}
	*out++ = '\'';
	*out = '\0';
}

/* NAP_REMOTE_NAPC dial-stdio [--socket PATH], quoted; free() it. */
static char *remote_command(const struct napc *n)
{
	const char *napc = env_or("NAP_REMOTE_NAPC", "napc");
	const char *sock = n->host.socket ? n->host.socket : "";
	char *cmd = malloc(4 * (strlen(napc) + strlen(sock)) + 64);
	if (!cmd)
		abort();
	cmd[0] = '\0';
	shell_quote(cmd, napc);
	strcat(cmd, " dial-stdio");
	if (n->host.socket) {
		strcat(cmd, " --socket ");
		shell_quote(cmd, n->host.socket);
	}
	return cmd;
}

/* ssh [NAP_SSH_OPTS...] -T -o BatchMode=yes -o ConnectTimeout=S [-p PORT]
 * [-l USER] -- HOST 'napc' dial-stdio [--socket 'PATH']. NAP_SSH_OPTS
 * come first because ssh keeps the first value of an option: a user may
 * override BatchMode or ConnectTimeout there. opts is a writable copy of
 * NAP_SSH_OPTS, split in place on blanks (no quoting). */
static char **ssh_argv(const struct napc *n, char *opts, char *cmd, char *timeout,
		       size_t timeout_size)
{
	size_t max = 16;
	for (const char *p = opts; *p; p++)
		max += *p == ' ' || *p == '\t';
	char **argv = calloc(max + 1, sizeof(*argv));
	if (!argv)
		abort();
	size_t i = 0;
	argv[i++] = (char *)env_or("NAP_SSH", "ssh");
	for (char *w = strtok(opts, " \t"); w; w = strtok(NULL, " \t"))
		argv[i++] = w;
	argv[i++] = "-T";
	argv[i++] = "-o";
	argv[i++] = "BatchMode=yes";
	snprintf(timeout, timeout_size, "ConnectTimeout=%u", (n->timeout_ms + 999) / 1000);
	argv[i++] = "-o";
	argv[i++] = timeout;
	if (n->host.port) {
		argv[i++] = "-p";
		argv[i++] = n->host.port;
	}
	if (n->host.user) {
		argv[i++] = "-l";
		argv[i++] = n->host.user;
	}
	argv[i++] = "--";
	argv[i++] = n->host.host;
	argv[i++] = cmd;
	return argv;
}

/* Starts ssh with fd as its stdin and stdout and err as its stderr;
 * returns its pid, or -errno when it could not be executed. */
static pid_t spawn(char **argv, int fd, int err)
{
	int ep[2];
	if (pipe2(ep, O_CLOEXEC) < 0)
		return -errno;
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(ep[0]);
		close(ep[1]);
		return -e;
	}
	if (pid == 0) {
		/* No orphan: ssh ends with napc, however napc ends. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(1);
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(err, 2);
		execvp(argv[0], argv);
		int e = errno;
		(void)!write(ep[1], &e, sizeof(e));
		_exit(SHELL_NOT_FOUND);
	}
	close(ep[1]);
	int e = 0;
	ssize_t r;
	while ((r = read(ep[0], &e, sizeof(e))) < 0 && errno == EINTR)
		;
	close(ep[0]);
	if (r == (ssize_t)sizeof(e)) {
		int status;
		reap_within(pid, &status, -1);
		return -e;
	}
	return pid;
}

/* The last line ssh (or the bridge) wrote to stderr, without its newline. */
static void last_line(FILE *f, char *line, size_t size)
{
	char buf[1024];
	line[0] = '\0';
	fflush(f);
	rewind(f);
	while (fgets(buf, sizeof(buf), f)) {
		buf[strcspn(buf, "\r\n")] = '\0';
		if (buf[0])
			snprintf(line, size, "%s", buf);
	}
}

static void on_close(nap_conn *conn, int err, int status, const char *message, void *ud)
{
	(void)conn;
	(void)status;
	struct napc_ssh *s = ud;
	if (err == -ESHUTDOWN || err == -ECONNABORTED) {
		/* -ESHUTDOWN: napd ended the connection (END call id 0) and
		 * said why; -ECONNABORTED: libnap did, on bytes that are not
		 * the protocol. */
		s->closed_by_napd = err == -ESHUTDOWN;
		s->closed_here = err == -ECONNABORTED;
		snprintf(s->close_message, sizeof(s->close_message), "%s", message);
	}
}

/* Waits for napd's HELLO, which napd sends as soon as it accepts: its
 * arrival proves all three hops work. */
static int await_hello(struct napc *n)
{
	uint64_t deadline = nap_now_usec() + (uint64_t)n->timeout_ms * 1000u;
	while (!nap_conn_closed(n->conn) && !nap_conn_peer_ready(n->conn)) {
		uint64_t now = nap_now_usec();
		if (now >= deadline) {
			char line[512];
			last_line(n->ssh->err, line, sizeof(line));
			fprintf(stderr,
				"napc: no answer from napd through ssh to %s within %u s "
				"(--timeout)%s%s\n",
				n->host.url, n->timeout_ms / 1000, line[0] ? "; ssh said: " : "",
				line);
			return NAPC_EXIT_UNREACHABLE;
		}
		nap_conn_wait(n->conn, (int)((deadline - now + 999) / 1000));
	}
	if (!nap_conn_closed(n->conn))
		return 0;
	if (n->ssh->closed_by_napd) {
		fprintf(stderr, "napc: %s\n", n->ssh->close_message);
		return NAPC_EXIT_UNREACHABLE;
	}
	if (n->ssh->closed_here) {
		/* Typically a login script on the server that prints to
		 * standard output, ahead of napd's HELLO. */
		fprintf(stderr,
			"napc: what came back through ssh from %s is not the nap protocol (%s): "
			"does a login script there print to standard output?\n",
			n->host.host, n->ssh->close_message);
		return NAPC_EXIT_UNREACHABLE;
	}
	int r = napc_ssh_diagnose(n);
	if (r)
		return r;
	fprintf(stderr, "napc: the bridge on %s closed the connection before napd answered\n",
		n->host.host);
	return NAPC_EXIT_UNREACHABLE;
}

int napc_ssh_connect(struct napc *n)
{
	struct napc_ssh *s = calloc(1, sizeof(*s));
	if (!s)
		abort();
	s->err = tmpfile();
	int sv[2];
	if (!s->err || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		fprintf(stderr, "napc: cannot set up the pipe to ssh: %s\n", strerror(errno));
		if (s->err)
			fclose(s->err);
		free(s);
		return NAPC_EXIT_UNREACHABLE;
	}
	char *opts = strdup(env_or("NAP_SSH_OPTS", ""));
	char *cmd = remote_command(n), timeout[32];
	char **argv = ssh_argv(n, opts, cmd, timeout, sizeof(timeout));
	catch_signals();
	pid_t pid = spawn(argv, sv[1], fileno(s->err));
	close(sv[1]);
	if (pid < 0) {
		fprintf(stderr,
			"napc: cannot run '%s': %s; install openssh-client or point NAP_SSH at ssh\n",
			argv[0], strerror((int)-pid));
		free(argv);
		free(opts);
		free(cmd);
		close(sv[0]);
		fclose(s->err);
		free(s);
		return NAPC_EXIT_UNREACHABLE;
	}
	free(argv);
	free(opts);
	free(cmd);
	s->pid = pid;
	child_pid = pid;
	n->ssh = s;
	int r = nap_conn_adopt(&n->conn, sv[0], "napc", true);
	if (r < 0) {
		close(sv[0]);
		fprintf(stderr, "napc: cannot speak to ssh: %s\n", nap_strerror(r));
		return NAPC_EXIT_UNREACHABLE;
	}
	nap_conn_set_close(n->conn, on_close, s);
	return await_hello(n);
}

int napc_ssh_diagnose(struct napc *n)
{
	struct napc_ssh *s = n->ssh;
	if (!s || !reap(s, SSH_EXIT_WAIT_MS))
		return 0;
	char line[512];
	last_line(s->err, line, sizeof(line));
	int code = WIFEXITED(s->status) ? WEXITSTATUS(s->status) : -1;
	if (code == 0)
		return 0;
	if (code == SSH_OWN_FAILURE)
		fprintf(stderr, "napc: ssh to %s failed: %s\n", n->host.url,
			line[0] ? line : "ssh exited with status 255 and said nothing");
	else if (code == SHELL_NOT_FOUND ||
		 (code == NAPC_EXIT_USAGE && strstr(line, "unknown command 'dial-stdio'")))
		fprintf(stderr,
			"napc: napc on %s has no dial-stdio: install nap >= 0.2 there "
			"(or set NAP_REMOTE_NAPC to its path); the server said: %s\n",
			n->host.host, line);
	else if (code == NAPC_EXIT_UNREACHABLE)
		/* The bridge could not reach napd there and said why, in
		 * napc's words: say whose words they are. */
		fprintf(stderr, "napc: napd on %s: %s\n", n->host.host,
			strncmp(line, "napc: ", 6) == 0 ? line + 6 : line);
	else if (code >= 0)
		fprintf(stderr, "napc: the bridge on %s exited with status %d: %s\n", n->host.host,
			code, line);
	else
		fprintf(stderr, "napc: ssh to %s was killed by signal %d\n", n->host.url,
			WTERMSIG(s->status));
	return NAPC_EXIT_UNREACHABLE;
}

void napc_ssh_close(struct napc *n)
{
	/* Closing our end first lets the bridge see EOF and end cleanly. */
	n->conn = nap_conn_free(n->conn);
	struct napc_ssh *s = n->ssh;
	if (!s)
		return;
	if (!reap(s, SSH_EXIT_WAIT_MS)) {
		end_child(s->pid, &s->status);
		child_pid = 0;
	}
	fclose(s->err);
	free(s);
	n->ssh = NULL;
}
