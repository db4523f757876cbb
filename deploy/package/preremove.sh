#!/bin/sh
# Stop the watcher before its binary goes, on removal only: dpkg passes
# "remove" (rpm: 0 packages left); an upgrade keeps it running.
set -e
case "$1" in
remove | 0)
	if [ -d /run/systemd/system ]; then
		systemctl --no-reload disable --now fpmdoctor-watch.service >/dev/null 2>&1 || true
	fi
	;;
esac
exit 0
