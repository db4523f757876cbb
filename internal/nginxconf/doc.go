// Package nginxconf reads an nginx configuration the way nginx itself does
// (src/core/ngx_conf_file.c): the same tokens, the same include and glob
// rules, the same error wording. It keeps exact byte ranges for every
// directive and argument so that callers can make minimal edits, and it
// builds a small model of what matters for PHP-FPM diagnosis: worker user,
// logs, servers, locations, fastcgi_pass targets, upstreams and the
// effective fastcgi_* settings of a location.
//
// The parser is syntax-level: it does not know every module's directives, so
// it reports what nginx's parser itself would reject (bad tokens, unbalanced
// braces, unreadable includes, block directives without a block) but not
// "unknown directive" or "not allowed here", except for the few directives
// the model interprets.
package nginxconf
