// Package rehearse runs a private copy of a host's nginx and php-fpm
// configs on the real servers: every path the servers write or listen on is
// moved into one lab directory, every TCP port onto a free loopback port,
// and each PHP site is asked for a probe script placed in its (empty) lab
// document root. The application's code is never copied nor run.
//
// It is what `fpmdoctor lab` runs, and what internal/lab's test helpers
// build on: it returns errors and never imports "testing".
package rehearse

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/fpmdoctor/fpmdoctor/internal/discover"
	"github.com/fpmdoctor/fpmdoctor/internal/host"
	"github.com/fpmdoctor/fpmdoctor/internal/labproc"
)

// Options say which servers run and where.
type Options struct {
	// NginxBin and FPMBin are the server binaries; "" finds them with
	// internal/discover (php-fpm per config: Debian's versioned binaries).
	NginxBin, FPMBin string
	// Dir is the lab directory; it must not exist. "" creates one in the
	// system's temporary directory.
	Dir string
	// Keep leaves the servers running and the directory in place on Close.
	Keep bool
}

// Lab is one private copy of a host's nginx and php-fpm.
type Lab struct {
	// Dir holds everything: root/ mirrors the host's paths (configs,
	// sockets, logs, pid files, document roots), log/ and run/ hold what
	// the lab adds itself.
	Dir  string
	opts Options

	tree    *tree
	started []string // pid files of the servers started, for Close
}

// stateFile lists a lab's pid files so `fpmdoctor lab stop DIR` can stop
// it later; its presence also marks DIR as a lab, safe to remove.
const stateFile = "fpmdoctor-lab.json"

type state struct {
	PidFiles []string `json:"pid_files"`
}

// New creates the lab directory. Nothing runs yet.
func New(ctx context.Context, opts Options) (*Lab, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("the lab needs root: it starts nginx and php-fpm, whose workers switch to their configured users")
	}
	dir := opts.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "fpmdoctor-lab-")
		if err != nil {
			return nil, fmt.Errorf("create the lab directory: %w", err)
		}
		dir = d
	} else {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return nil, fmt.Errorf("lab directory %s: %w", dir, err)
		}
		dir = abs
		if err := searchable(filepath.Dir(dir)); err != nil {
			return nil, err
		}
		if err := os.Mkdir(dir, 0o755); err != nil {
			return nil, fmt.Errorf("create the lab directory (it must not exist yet): %w", err)
		}
	}
	// Workers (www-data, …) must search every directory down to their
	// sockets and document roots.
	if err := os.Chmod(dir, 0o755); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("lab directory %s: %w", dir, err)
	}
	l := &Lab{Dir: dir, opts: opts}
	for _, sub := range []string{"root", "log", "run"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("lab directory: %w", err)
		}
	}
	if err := l.saveState(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return l, ctx.Err()
}

// searchable checks that the workers, which run as unprivileged users,
// can reach a lab below dir: every directory above must be searchable by
// others (a 0700 home or test directory is not).
func searchable(dir string) error {
	for d := dir; ; d = filepath.Dir(d) {
		st, err := os.Stat(d)
		if err != nil {
			return fmt.Errorf("lab directory: %w", err)
		}
		if st.Mode().Perm()&0o001 == 0 {
			return fmt.Errorf("lab directory: %s is mode %04o, so the servers' workers could not reach the lab below it (choose another --dir)", d, st.Mode().Perm())
		}
		if d == "/" || d == "." {
			return nil
		}
	}
}

func (l *Lab) saveState() error {
	b, _ := json.Marshal(state{PidFiles: l.started})
	if err := os.WriteFile(filepath.Join(l.Dir, stateFile), b, 0o644); err != nil {
		return fmt.Errorf("write the lab's state: %w", err)
	}
	return nil
}

// Close stops the servers and removes the directory, unless Options.Keep.
// It runs to the end even after the run's context is cancelled (Ctrl-C).
func (l *Lab) Close() error {
	if l.opts.Keep {
		return nil
	}
	return stopDir(l.Dir, l.started)
}

// StopCommand is the command that stops a kept lab.
func (l *Lab) StopCommand() string { return "fpmdoctor lab stop " + l.Dir }

// StopDir stops the servers of the lab kept in dir and removes it. It
// refuses a directory that is not a lab.
func StopDir(dir string) error {
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		return fmt.Errorf("%s is not a lab directory (no %s): %w", dir, stateFile, err)
	}
	var st state
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("read %s: %w", filepath.Join(dir, stateFile), err)
	}
	return stopDir(dir, st.PidFiles)
}

func stopDir(dir string, pidFiles []string) error {
	// nginx first: it stops sending requests before the pools go.
	for i := len(pidFiles) - 1; i >= 0; i-- {
		if !strings.HasPrefix(pidFiles[i], dir+"/") {
			continue // never signal a process of another installation
		}
		labproc.Stop(labproc.ReadPid(pidFiles[i]), syscall.SIGQUIT, false)
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove the lab %s: %w", dir, err)
	}
	return nil
}

// nginxBin is the nginx binary: the option, the running master's (when
// the lab copies this host's own configs), or the first installed one.
func (l *Lab) nginxBin() (string, error) {
	if l.opts.NginxBin != "" {
		return l.opts.NginxBin, nil
	}
	if l.tree != nil && l.tree.nginxBin != "" {
		return l.tree.nginxBin, nil
	}
	for _, b := range []string{"/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx", "/usr/bin/nginx"} {
		if _, err := os.Stat(b); err == nil {
			return b, nil
		}
	}
	return "", errors.New("no nginx binary found (install nginx or give --nginx-bin)")
}

// fpmBin is the php-fpm binary that reads conf (a host path).
func (l *Lab) fpmBin(conf string) (string, error) {
	if l.opts.FPMBin != "" {
		return l.opts.FPMBin, nil
	}
	if b := discover.FPMBinaryFor(host.New(""), conf); b != "" {
		return b, nil
	}
	return "", fmt.Errorf("no php-fpm binary found for %s (install php-fpm or give --fpm-bin)", conf)
}

// startNginx starts nginx on the lab copy and waits for its first worker.
func (l *Lab) startNginx(ctx context.Context, bin string) error {
	t := l.tree
	pidFile := t.nginxPid
	args := []string{"-p", t.nginxPrefix + "/", "-c", t.nginxConf, "-e", filepath.Join(l.Dir, "log/nginx-startup.log")}
	if t.nginxPidAdded {
		args = append(args, "-g", "pid "+pidFile+";")
	}
	cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	out, err := runCmd(cctx, bin, args...)
	if err != nil {
		return fmt.Errorf("nginx did not start: %w: %s", err, strings.TrimSpace(out))
	}
	if err := labproc.WaitFor(ctx, func() bool { return labproc.NginxWorkerUp(labproc.ReadPid(pidFile)) }, 10*time.Second); err != nil {
		return fmt.Errorf("nginx started no worker: %w", err)
	}
	return nil
}

// startFPM starts one php-fpm master (daemonized: its parent exits once
// the master is ready, or with php-fpm's own error).
func (l *Lab) startFPM(ctx context.Context, f *fpmCopy) error {
	cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	out, err := runCmd(cctx, f.bin, "--fpm-config", f.conf, "--prefix", f.prefix, "--pid", f.pid, "--daemonize")
	if err != nil {
		return fmt.Errorf("php-fpm (%s) did not start: %w: %s", f.orig, err, strings.TrimSpace(out))
	}
	return nil
}

func (l *Lab) track(pidFile string) error {
	l.started = append(l.started, pidFile)
	return l.saveState()
}
