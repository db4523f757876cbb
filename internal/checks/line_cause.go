package checks

import "github.com/fpmdoctor/fpmdoctor/internal/logscan"

// LineCause is the cause one nginx upstream-failure line points at by
// itself, the way the checks read the same kind of line: connect failures
// as applyLogs reads them (connectCause), a full backlog as
// backlog-overflow-log, an oversized header as header-too-big, a timeout
// as upstream-timeout. It is "" for lines whose cause the checks decide
// only by correlating them with php-fpm's events (a reset or an early
// close: a crash, a request_terminate_timeout, allowed_clients), so a
// watcher counting lines one at a time never names a cause the diagnosis
// would not.
func LineCause(e *logscan.Entry) string {
	switch e.Kind {
	case logscan.KindConnectEAGAIN:
		return "backlog-overflow"
	case logscan.KindTooBigHeader:
		return "header-too-big"
	case logscan.KindUpstreamTimeout:
		if !e.ConnectTimeout() {
			return "upstream-timeout"
		}
	}
	return connectCause(e)
}
