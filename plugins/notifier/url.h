/* notifier: webhook URLs, checked by libcurl's URL parser (curl_url), the
 * one that sends them, and made safe to log. */
#ifndef NAP_NOTIFIER_URL_H
#define NAP_NOTIFIER_URL_H

/* Parses url. Returns 0 when it is an http:// or https:// URL with a host,
 * -EINVAL when it is not, -ENOMEM. On 0, *checked is the URL as libcurl
 * will send it; on 0 and -EINVAL, *redacted is the URL for the log: without
 * its "user:password@" part, and with a query string or fragment replaced
 * by "?...", since both often carry credentials (a URL libcurl cannot read
 * at all is only described). The caller frees what was set; nothing is set
 * on -ENOMEM. */
int webhook_url_parse(const char *url, char **checked, char **redacted);

#endif
