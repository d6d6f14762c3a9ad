# man: the manual pages, written by hand in man(7) roff and distributed as
# they are. Check one with: groff -ww -man -z man/napd.8
dist_man_MANS += man/napd.8 man/napd.conf.5 man/napc.1 man/nap-plugin.7 man/nap-git-init.1
