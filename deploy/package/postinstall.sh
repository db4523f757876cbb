#!/bin/sh
# Make systemd see the new or upgraded unit. The watcher is not enabled:
# `systemctl enable --now fpmdoctor-watch` is the administrator's choice.
# An upgrade restarts a watcher that runs, so it runs the new binary.
set -e
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null 2>&1 || true
	if systemctl is-active --quiet fpmdoctor-watch.service; then
		systemctl try-restart fpmdoctor-watch.service || true
	fi
fi
exit 0
