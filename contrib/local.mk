# contrib: the systemd unit, the default configuration, napc's bash
# completion and the git push scripts.
#
# napd.service is made from napd.service.in at build time, so that it names
# the sbindir this build installs napd into and napd's state directory
# (the notifier's spool, which make install creates); it goes to
# $(systemdsystemunitdir) (configure --with-systemdsystemunitdir=DIR).
systemdsystemunit_DATA = contrib/napd.service
CLEANFILES += contrib/napd.service contrib/napd.conf
EXTRA_DIST += contrib/napd.service.in contrib/napd.conf.in contrib/completion/napc

contrib/napd.service: $(srcdir)/contrib/napd.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) contrib && \
	$(SED) -e 's|@sbindir[@]|$(sbindir)|g' -e 's|@localstatedir[@]|$(localstatedir)|g' \
		$(srcdir)/contrib/napd.service.in > $@.tmp && \
	mv $@.tmp $@

# git push: nap-git-init (bindir) makes a bare repository whose
# pre-receive hook is nap-git-receive (pkglibexecdir, a hook, not a
# command); each is made from its .in so that it names where the other, and
# napc, are installed.
bin_SCRIPTS = contrib/git/nap-git-init
pkglibexec_SCRIPTS = contrib/git/nap-git-receive
CLEANFILES += contrib/git/nap-git-init contrib/git/nap-git-receive
EXTRA_DIST += contrib/git/nap-git-init.in contrib/git/nap-git-receive.in

contrib/git/nap-git-init contrib/git/nap-git-receive: Makefile
	$(AM_V_GEN)$(MKDIR_P) contrib/git && \
	$(SED) -e 's|@bindir[@]|$(bindir)|g' -e 's|@pkglibexecdir[@]|$(pkglibexecdir)|g' \
		$(srcdir)/$@.in > $@.tmp && \
	chmod +x $@.tmp && \
	mv $@.tmp $@
contrib/git/nap-git-init: $(srcdir)/contrib/git/nap-git-init.in
contrib/git/nap-git-receive: $(srcdir)/contrib/git/nap-git-receive.in

# napd.conf, the default configuration, is made from napd.conf.in: it lists
# the plugins a napd on one host needs, in their order, as far as this build
# has them (scheduler-fleet needs a cluster, so it is not among them). make
# install puts it in $(napconfdir) only if no napd.conf is there: an
# operator's file is never overwritten, as a Debian conffile; uninstall
# removes it only while it is unchanged.
napconfdir = $(sysconfdir)/nap
NAP_DEFAULT_PLUGINS =
if BUILD_PLUGIN_ORCHESTRATOR
NAP_DEFAULT_PLUGINS += orchestrator
endif
if BUILD_PLUGIN_BUILDER
NAP_DEFAULT_PLUGINS += builder
endif
if BUILD_PLUGIN_SCHEDULER_LOCAL
NAP_DEFAULT_PLUGINS += scheduler-local
endif
if BUILD_PLUGIN_DISCOVERY_ETCD
NAP_DEFAULT_PLUGINS += discovery-etcd
endif
if BUILD_PLUGIN_NOTIFIER
NAP_DEFAULT_PLUGINS += notifier
endif
noinst_DATA = contrib/napd.conf

contrib/napd.conf: $(srcdir)/contrib/napd.conf.in Makefile
	$(AM_V_GEN)$(MKDIR_P) contrib && \
	$(SED) -e 's|@DEFAULT_PLUGINS[@]|$(strip $(NAP_DEFAULT_PLUGINS))|g' \
		-e 's|@localstatedir[@]|$(localstatedir)|g' \
		$(srcdir)/contrib/napd.conf.in > $@.tmp && \
	mv $@.tmp $@

# napc's bash completion, installed as "napc" where bash-completion looks
# for it (configure --with-bashcompletiondir=DIR).
install-data-local: install-napd-conf install-napc-completion install-state-dir
uninstall-local: uninstall-napd-conf uninstall-napc-completion

# napd's state: the notifier's spool (plugins/notifier/local.mk), private.
install-state-dir:
	@$(NORMAL_INSTALL)
	$(MKDIR_P) '$(DESTDIR)$(notifierspooldir)'
	chmod 700 '$(DESTDIR)$(notifierspooldir)'

install-napd-conf: contrib/napd.conf
	@$(NORMAL_INSTALL)
	$(MKDIR_P) '$(DESTDIR)$(napconfdir)'
	@if test -f '$(DESTDIR)$(napconfdir)/napd.conf'; then \
	  echo "keeping $(DESTDIR)$(napconfdir)/napd.conf (the default is contrib/napd.conf)"; \
	else \
	  echo " $(INSTALL_DATA) contrib/napd.conf '$(DESTDIR)$(napconfdir)/napd.conf'"; \
	  $(INSTALL_DATA) contrib/napd.conf '$(DESTDIR)$(napconfdir)/napd.conf'; \
	fi

uninstall-napd-conf:
	@$(NORMAL_UNINSTALL)
	@if cmp -s contrib/napd.conf '$(DESTDIR)$(napconfdir)/napd.conf'; then \
	  echo " rm -f '$(DESTDIR)$(napconfdir)/napd.conf'"; \
	  rm -f '$(DESTDIR)$(napconfdir)/napd.conf'; \
	fi

install-napc-completion:
	@$(NORMAL_INSTALL)
	$(MKDIR_P) '$(DESTDIR)$(bashcompletiondir)'
	$(INSTALL_DATA) $(srcdir)/contrib/completion/napc '$(DESTDIR)$(bashcompletiondir)/napc'

uninstall-napc-completion:
	@$(NORMAL_UNINSTALL)
	rm -f '$(DESTDIR)$(bashcompletiondir)/napc'

.PHONY: install-state-dir install-napd-conf uninstall-napd-conf install-napc-completion uninstall-napc-completion

# contrib's tests, beside what they test: the installed napd.conf (and a
# napd that deploys on it alone) and napc's completion.
TESTS += tests/integration/test-default-config.sh tests/integration/test-completion.sh \
	tests/integration/test-git-push.sh
EXTRA_DIST += tests/integration/test-default-config.sh tests/integration/test-completion.sh \
	tests/integration/test-git-push.sh
