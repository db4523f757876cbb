// Package nginxconf reads an nginx configuration the way nginx itself does
// (src/core/ngx_conf_file.c): the same tokens, the same include and glob
// rules, the same error wording. It keeps exact byte ranges for every
// directive and argument so that callers can make minimal edits, and it
// builds a small model of what matters for PHP-FPM diagnosis: worker user,
// logs, servers, locations, fastcgi_pass targets, upstreams and the
// effective fastcgi_* settings of a location.
//
// Use:
//
//	c, err := nginxconf.Load(ctx, "/etc/nginx/nginx.conf", nginxconf.Options{Root: snapshotDir})
//	// err: the main file is unreadable. Everything else is in c.Problems.
//	m := c.Model()
//	for _, p := range m.FastCGIPasses {
//		p.Target        // unix path, host:port, upstream, variable, or invalid with nginx's message
//		p.Settings()    // fastcgi_read_timeout, buffers, params… after inheritance
//		c.File(p.Directive.File).Src[p.Directive.Start:p.Directive.End] // "fastcgi_pass …;"
//	}
//
// Included files are spliced into the tree in place of the include; a file
// included from several places is read and parsed once and spliced at each
// place (each splice has its own Parent links, the Syntax is shared).
//
// The parser is syntax-level: it does not know every module's directives, so
// it reports what nginx's parser itself rejects (bad tokens, unbalanced
// braces, unreadable includes, block directives without a block) but not
// "unknown directive" or most "not allowed here", except for the few
// directives the model interprets. The tests compare it with nginx 1.22
// (nginx -T file lists and bytes, nginx -t messages and lines).
package nginxconf
