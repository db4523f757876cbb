package fix

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/fpmdoctor/fpmdoctor/internal/nginxconf"
	"github.com/fpmdoctor/fpmdoctor/internal/report"
	"github.com/fpmdoctor/fpmdoctor/internal/snapshot"
)

// maxHeaderBuffer caps what fix gives fastcgi_buffer_size: a response
// header larger than 64k is a bug of the application (a runaway cookie or
// debug header), not something to buffer.
const maxHeaderBuffer = 64 << 10

// headerTooBig gives the PHP location of every site of the pool a
// fastcgi_buffer_size that holds the refused header, the one buffer nginx
// reads the whole FastCGI response header into. nginx does not log how
// big the header was, so the logged failing GET/HEAD is sent straight to
// the pool over FastCGI and its header measured (headerBuffer: record
// overhead, a quarter of headroom, whole pages). fastcgi_buffers gets as
// many buffers as fastcgi_busy_buffers_size's rule needs when the new
// size would break it (nginx -t refuses that). The same request is then
// replayed through nginx to prove it. With --no-replay nothing is
// measured: the buffer is doubled and the result says "not verified".
var headerTooBig = Remedy{
	Cause: "header-too-big",
	Plan: func(p *Planner, f report.Finding) (*Action, error) {
		pl, err := p.pool(f)
		if err != nil {
			return nil, err
		}
		if len(pl.Sites) == 0 {
			return nil, fmt.Errorf("nginx routes no site to pool %s", pl.Name)
		}
		a := &Action{}
		reload := map[*snapshot.Nginx]bool{}
		done := map[*nginxconf.Directive]bool{}
		var sizes []string
		measured, how := 0, ""
		var biggest Replay
		if !p.noReplay {
			// Measured through the site that serves the logged Host (its
			// root decides which script answers), else the first.
			// Every distinct logged failing request is measured, and the
			// buffer sized for the biggest, which is also the one replayed.
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			rps, err := loggedRequests(ctx, f, pl.Sites[0], replayTimeout(pl.Sites[0]))
			cancel()
			if err != nil {
				return nil, fmt.Errorf("cannot measure the refused header: %w", err)
			}
			for _, rp := range rps {
				site := pl.Sites[0]
				for _, s := range pl.Sites {
					if serves(s, rp.Host) {
						site = s
						break
					}
				}
				ctx, cancel := context.WithTimeout(context.Background(), rp.Timeout)
				n, err := measureHeader(ctx, site, pl, rp)
				cancel()
				if err != nil {
					return nil, fmt.Errorf("cannot measure the refused header: %w; raise fastcgi_buffer_size by hand", err)
				}
				if n > measured {
					measured, biggest = n, rp
					how = fmt.Sprintf("the response header of %s measures %d bytes (a FastCGI request straight to the pool)", rp, n)
				}
			}
			if len(rps) > 1 {
				how += fmt.Sprintf(", the biggest of the %d distinct logged failing requests", len(rps))
			}
		}
		for _, site := range pl.Sites {
			loc := site.Pass.Location
			if loc == nil || done[loc.Directive] {
				continue
			}
			done[loc.Directive] = true
			if site.Pass.Directive.Parent != loc.Directive {
				return nil, fmt.Errorf("fastcgi_pass of %s sits inside an if block (%s), where fastcgi_buffer_size is not allowed: set it in the location by hand", site.Name, site.Pass.Directive.Pos())
			}
			if loaded, _ := site.Nginx.ConfigLoadedAt(); logsPredate(f, loaded) {
				return nil, fmt.Errorf("the refused headers were logged before nginx last loaded its config (%s): request the failing URL again to see whether it still fails", loaded.Format("15:04:05"))
			}
			edits, summary, err := bufferEdits(p, site, measured)
			if err != nil {
				return nil, err
			}
			a.Edits = append(a.Edits, edits...)
			sizes = append(sizes, summary)
			if !reload[site.Nginx] {
				reload[site.Nginx] = true
				a.Ops = append(a.Ops, Op{Kind: NginxReload, Nginx: site.Nginx})
			}
		}
		if len(a.Edits) == 0 {
			return nil, errors.New("no PHP location to change")
		}
		a.Summary = "raise " + strings.Join(sizes, "; ")
		a.Why = "nginx reads the whole FastCGI response header into one fastcgi_buffer_size buffer and answers 502 when it does not fit. "
		if measured > 0 {
			a.Why += how + "; the buffer holds it with its FastCGI record overhead and a quarter of headroom, in whole memory pages. "
		} else {
			a.Why += "Nothing is measured with --no-replay, so the buffer is doubled (at most 64k). "
		}
		a.Why += "fastcgi_buffers follows when fastcgi_busy_buffers_size must stay below all buffers but one; nginx -t runs before the reload, which applies the change without dropping requests"
		a.Checks = poolChecks(pl)
		p.replayChecks(a, f, replayTimeout(pl.Sites[0]))
		if biggest.Set() {
			// Replay the request the buffer was sized for: the first
			// line's may be the smallest.
			for i := range a.Checks {
				if a.Checks[i].Replay.Set() {
					a.Checks[i].Replay = biggest
				}
			}
		}
		return a, nil
	},
}

// replayTimeout bounds a replayed request: as long as nginx waits for
// the pool, and a little more, at most two minutes.
func replayTimeout(site *snapshot.Site) time.Duration {
	return min(site.Pass.Settings().ReadTimeout+5*time.Second, 2*time.Minute)
}

// bufferEdits sizes the buffers of one site's PHP location for a header
// of measured bytes (0: not measured, the buffer doubles).
func bufferEdits(p *Planner, site *snapshot.Site, measured int) ([]Edit, string, error) {
	loc := site.Pass.Location.Directive
	set := site.Pass.Settings()
	cur := set.BufferSize
	page := int64(os.Getpagesize())
	var size int64
	if measured > 0 {
		size = headerBuffer(measured, page)
		if size > maxHeaderBuffer {
			return nil, "", fmt.Errorf("the response header measures %d bytes: a header that big is the application's bug (a runaway cookie or debug header); find what sets it", measured)
		}
		if size <= cur {
			return nil, "", fmt.Errorf("the logged request's response header measures %d bytes now, which fits fastcgi_buffer_size %s of %s: the failure does not reproduce (the header depends on state, cookies or the user); request the failing URL again", measured, sizeText(cur), site.Name)
		}
	} else {
		if cur >= maxHeaderBuffer {
			return nil, "", fmt.Errorf("fastcgi_buffer_size of %s is already %s: a header that big is the application's bug; find what sets it", site.Name, sizeText(cur))
		}
		size = int64(1)
		for size < 2*cur {
			size <<= 1
		}
		size = min(size, maxHeaderBuffer)
	}

	n, bufSize := set.BuffersNumber, set.BuffersSize
	ok, err := buffersValid(loc, size, n, bufSize)
	if err != nil {
		return nil, "", err
	}
	newBufs := false
	if !ok {
		// As many buffers of the current size as nginx's rule needs:
		// fastcgi_busy_buffers_size < (n-1) × size of one buffer.
		s := max(size, bufSize)
		busy := 2 * s
		if d := loc.Inherited("fastcgi_busy_buffers_size"); d != nil {
			busy, _ = nginxconf.ParseSize(d.Arg(0))
		}
		n, newBufs = max(n, int(busy/bufSize)+2), true
		if ok, err := buffersValid(loc, size, n, bufSize); err != nil || !ok {
			return nil, "", fmt.Errorf("fastcgi_busy_buffers_size or fastcgi_temp_file_write_size of %s does not allow fastcgi_buffer_size %s with fastcgi_buffers %d %s: set them by hand", site.Name, sizeText(size), n, sizeText(bufSize))
		}
	}
	n2 := site.Nginx
	var edits []Edit
	var inserts []string
	if d := set.From["fastcgi_buffer_size"]; d != nil && d.Parent == loc {
		e, err := p.NginxArg(n2, d, 0, sizeText(size))
		if err != nil {
			return nil, "", err
		}
		edits = append(edits, e)
	} else {
		inserts = append(inserts, "fastcgi_buffer_size "+sizeText(size)+";")
	}
	summary := fmt.Sprintf("fastcgi_buffer_size %s → %s", sizeText(cur), sizeText(size))
	if newBufs {
		summary += fmt.Sprintf(", fastcgi_buffers %d %s → %d %s", set.BuffersNumber, sizeText(set.BuffersSize), n, sizeText(bufSize))
		if d := set.From["fastcgi_buffers"]; d != nil && d.Parent == loc && len(d.Args) == 2 {
			for i, v := range []string{strconv.Itoa(n), sizeText(bufSize)} {
				e, err := p.NginxArg(n2, d, i, v)
				if err != nil {
					return nil, "", err
				}
				edits = append(edits, e)
			}
		} else {
			inserts = append(inserts, fmt.Sprintf("fastcgi_buffers %d %s;", n, sizeText(bufSize)))
		}
	}
	if len(inserts) > 0 {
		e, err := p.nginxInsertAfter(n2, site.Pass.Directive, inserts)
		if err != nil {
			return nil, "", err
		}
		edits = append(edits, e)
	}
	return edits, summary + " for " + site.Name + " (" + site.Pass.Location.Directive.Pos() + ")", nil
}

// buffersValid applies nginx's rules (ngx_http_fastcgi_merge_loc_conf)
// to a buffer size and buffers in location loc: with s the larger of the
// buffer size and one buffer, fastcgi_busy_buffers_size (2s by default)
// must be at least s and less than all buffers but one;
// fastcgi_temp_file_write_size (2s by default) at least s;
// fastcgi_max_temp_file_size 0 or at least s. The values set explicitly
// are read from the config.
func buffersValid(loc *nginxconf.Directive, size int64, n int, bufSize int64) (bool, error) {
	s := max(size, bufSize)
	value := func(name string, def int64) (int64, error) {
		d := loc.Inherited(name)
		if d == nil {
			return def, nil
		}
		v, err := nginxconf.ParseSize(d.Arg(0))
		if err != nil {
			return 0, fmt.Errorf("%s: cannot read %s %q", d.Pos(), name, d.Arg(0))
		}
		return v, nil
	}
	busy, err := value("fastcgi_busy_buffers_size", 2*s)
	if err != nil {
		return false, err
	}
	write, err := value("fastcgi_temp_file_write_size", 2*s)
	if err != nil {
		return false, err
	}
	maxTemp, err := value("fastcgi_max_temp_file_size", 1<<30)
	if err != nil {
		return false, err
	}
	return busy >= s && busy < int64(n-1)*bufSize && write >= s && (maxTemp == 0 || maxTemp >= s), nil
}

// sizeText writes a size as nginx configs usually do.
func sizeText(b int64) string {
	switch {
	case b%(1<<20) == 0:
		return strconv.FormatInt(b>>20, 10) + "m"
	case b%(1<<10) == 0:
		return strconv.FormatInt(b>>10, 10) + "k"
	}
	return strconv.FormatInt(b, 10)
}

// nginxInsertAfter inserts directives after d, in d's block: on lines of
// their own with d's indentation when d ends its line (a comment after it
// stays with it), else on d's line after it.
func (p *Planner) nginxInsertAfter(n *snapshot.Nginx, d *nginxconf.Directive, directives []string) (Edit, error) {
	b, err := p.nginxContent(n, d.File)
	if err != nil {
		return Edit{}, err
	}
	if d.End > len(b) || d.Start > d.End {
		return Edit{}, fmt.Errorf("%s: %w", d.File, ErrChanged)
	}
	lineEnd := bytes.IndexByte(b[d.End:], '\n')
	if lineEnd < 0 {
		lineEnd = len(b)
	} else {
		lineEnd += d.End
	}
	rest := strings.TrimSpace(string(b[d.End:lineEnd]))
	if rest != "" && !strings.HasPrefix(rest, "#") {
		e := Edit{File: d.File, Start: d.End, End: d.End, New: " " + strings.Join(directives, " ")}
		return e, p.check(e)
	}
	lineStart := bytes.LastIndexByte(b[:d.Start], '\n') + 1
	line := b[lineStart:d.Start]
	indent := line[:len(line)-len(bytes.TrimLeft(line, " \t"))]
	if len(bytes.TrimSpace(line)) != 0 {
		indent = nil // something precedes d on its line: no indentation to copy
	}
	at, nl := lineEnd, "\n"
	if at > d.End && b[at-1] == '\r' {
		at, nl = at-1, "\r\n" // the file's CRLF line endings
	}
	var text strings.Builder
	for _, dir := range directives {
		text.WriteString(nl + string(indent) + dir)
	}
	e := Edit{File: d.File, Start: at, End: at, New: text.String()}
	return e, p.check(e)
}
