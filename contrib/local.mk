# contrib: the systemd unit and an example configuration.
#
# napd.service is made from napd.service.in at build time, so that it names
# the sbindir this build installs napd into; it goes to
# $(systemdsystemunitdir) (configure --with-systemdsystemunitdir=DIR).
# The commented example napd.conf goes to $(docdir), for the operator to copy
# to $(sysconfdir)/nap/napd.conf.
systemdsystemunit_DATA = contrib/napd.service
CLEANFILES += contrib/napd.service
EXTRA_DIST += contrib/napd.service.in contrib/napd.conf

contribdocdir = $(docdir)
contribdoc_DATA = contrib/napd.conf

contrib/napd.service: $(srcdir)/contrib/napd.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) contrib && \
	$(SED) -e 's|@sbindir[@]|$(sbindir)|g' $(srcdir)/contrib/napd.service.in > $@.tmp && \
	mv $@.tmp $@
