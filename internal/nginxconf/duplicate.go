package nginxconf

// nginx keeps one value per configuration context for most directives:
// the generic setters (ngx_conf_set_flag_slot, _str_slot, _num_slot,
// _size_slot, _msec_slot, _bufs_slot, _enum_slot…) and many handlers of
// their own (try_files, fastcgi_pass, proxy_pass, root/alias, expires,
// keepalive_timeout…) return "is duplicate" when the value was already
// set, and nginx -t fails with `"NAME" directive is duplicate in FILE:LINE`
// at the second one. Directives that collect values (index, fastcgi_param,
// add_header, error_page, access_log, fastcgi_hide_header, set, rewrite,
// allow/deny…) may repeat, and the bitmask ones (fastcgi_next_upstream,
// fastcgi_ignore_headers) only warn.
//
// Only directives checked one by one against nginx 1.22 -t are listed
// (TestDuplicateAgainstNginx): a directive missing here is never reported.
// Each block (http, server, location, if, events, the main level) is its
// own context; an included file's directives belong to the block that
// includes them, which is how a location with its own try_files that
// includes Debian's snippets/fastcgi-php.conf gets two.
func onePerContext(name string) bool {
	switch name {
	case
		// main and events
		"user", "pid", "worker_processes", "worker_rlimit_nofile", "daemon", "master_process", "pcre_jit",
		"timer_resolution", "worker_shutdown_timeout", "worker_connections", "use", "multi_accept", "accept_mutex",
		// http
		"server_names_hash_bucket_size", "server_names_hash_max_size", "variables_hash_max_size", "map_hash_bucket_size",
		// server
		"underscores_in_headers", "ignore_invalid_headers", "large_client_header_buffers", "client_header_buffer_size",
		"client_header_timeout", "merge_slashes",
		// http, server, location
		"try_files", "root", "alias", "fastcgi_pass", "proxy_pass", "fastcgi_index", "fastcgi_read_timeout",
		"fastcgi_connect_timeout", "fastcgi_send_timeout", "fastcgi_buffer_size", "fastcgi_buffers",
		"fastcgi_busy_buffers_size", "fastcgi_intercept_errors", "fastcgi_keep_conn", "fastcgi_buffering",
		"fastcgi_request_buffering", "fastcgi_max_temp_file_size", "fastcgi_temp_file_write_size", "fastcgi_cache",
		"fastcgi_cache_key", "fastcgi_temp_path", "fastcgi_pass_request_body", "fastcgi_store", "fastcgi_cache_lock",
		"fastcgi_socket_keepalive", "fastcgi_bind", "fastcgi_limit_rate", "fastcgi_force_ranges",
		"proxy_read_timeout", "proxy_connect_timeout", "proxy_send_timeout", "proxy_buffer_size", "proxy_buffers",
		"proxy_buffering", "proxy_http_version", "proxy_redirect", "client_max_body_size", "client_body_buffer_size",
		"client_body_timeout", "client_body_temp_path", "send_timeout", "keepalive_timeout", "sendfile", "tcp_nopush",
		"tcp_nodelay", "autoindex", "gzip", "server_tokens", "log_not_found", "default_type", "charset", "expires",
		"internal", "auth_basic", "auth_basic_user_file", "limit_rate", "absolute_redirect", "port_in_redirect",
		"server_name_in_redirect", "open_file_cache", "etag", "if_modified_since", "types_hash_max_size",
		"log_subrequest", "satisfy", "directio", "output_buffers", "postpone_output", "resolver", "resolver_timeout",
		"msie_padding", "recursive_error_pages", "chunked_transfer_encoding", "ssi", "uninitialized_variable_warn",
		"lingering_close", "reset_timedout_connection":
		return true
	}
	return false
}

// duplicates reports the second and later uses of a one-per-context
// directive in each block, with nginx's message.
func duplicates(top []*Directive, problem func(*Directive, string, ...any)) {
	// The one-per-context directives seen in the block being checked: a
	// handful per block, so a slice reused for every block costs less
	// than a map per block on a host with thousands of them.
	var seen []*Directive
	check := func(ds []*Directive) {
		seen = seen[:0]
		for _, d := range ds {
			if d.IsBlock || !onePerContext(d.Name) {
				continue
			}
			// root and alias share one setting: the second of either is
			// a duplicate, named after the first when they differ.
			var first *Directive
			for _, s := range seen {
				if s.Name == d.Name || sameSetting(s.Name, d.Name) {
					first = s
					break
				}
			}
			switch {
			case first == nil:
				seen = append(seen, d)
			case first.Name != d.Name:
				problem(d, `"%s" directive is duplicate, "%s" directive was specified earlier`, d.Name, first.Name)
			default:
				problem(d, `"%s" directive is duplicate`, d.Name)
			}
		}
	}
	check(top)
	Walk(top, func(d *Directive) bool {
		if !d.IsBlock || isCustomBlock(d.Name) || d.Name == "upstream" {
			return false // data blocks, and upstream's own rules
		}
		check(d.Block)
		return true
	})
}

// sameSetting: root and alias set the same field of a location.
func sameSetting(a, b string) bool {
	return a == "root" && b == "alias" || a == "alias" && b == "root"
}
