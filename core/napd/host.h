/* The plugin host: napd re-executed with --plugin-host runs one plugin in a
 * process of its own, connected to napd by a socket pair on HOST_FD. */
#ifndef NAPD_HOST_H
#define NAPD_HOST_H

#define HOST_FD 3
/* The plugin cannot work as built or configured: do not restart it. */
#define HOST_EXIT_REFUSED 78
/* Anything else that went wrong: restart with backoff. */
#define HOST_EXIT_FAILED 70

/* argv: napd[NAME] --plugin-host PATH NAME LOGLEVEL stderr|syslog */
int host_main(int argc, char **argv);

#endif
