package ident

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// NginxWorkerTitle starts the title an nginx worker gives itself.
const NginxWorkerTitle = "nginx: worker process"

// FindNginxWorker returns the pid and credentials of a running nginx worker
// that is not root, the identity nginx connects to upstreams with. ok is
// false when none runs. It reads as little of procRoot as it can, because
// `probe --as-user auto` pays for it on every run: each process's comm (a
// few bytes, and it survives nginx's title rewrite) first, the command line
// and status only for nginx processes, and it stops at the first worker.
func FindNginxWorker(ctx context.Context, procRoot string) (pid int, c Cred, ok bool, err error) {
	d, err := os.Open(procRoot)
	if err != nil {
		return 0, Cred{}, false, fmt.Errorf("list processes: %w", err)
	}
	defer d.Close()
	var buf [512]byte
	for {
		names, rerr := d.Readdirnames(128)
		for _, name := range names {
			if err := ctx.Err(); err != nil {
				return 0, Cred{}, false, err
			}
			id, aerr := strconv.Atoi(name)
			if aerr != nil {
				continue // not a process: /proc/self, /proc/meminfo, …
			}
			dir := procRoot + "/" + name + "/"
			if !strings.HasPrefix(Comm(procRoot, name), "nginx") {
				continue
			}
			// The title is nginx's rewrite of argv, NUL-padded.
			n := readSmall(dir+"cmdline", buf[:])
			if !bytes.HasPrefix(buf[:n], []byte(NginxWorkerTitle)) {
				continue
			}
			cred, serr := StatusCred(dir + "status")
			if serr != nil || cred.UID == 0 {
				continue // exited meanwhile, or a worker left as root
			}
			return id, cred, true, nil
		}
		if rerr != nil || len(names) == 0 {
			return 0, Cred{}, false, nil // io.EOF: no worker runs
		}
	}
}

// Comm is the executable name of process pid under procRoot
// (/proc/PID/comm, without the newline); "" when it cannot be read.
func Comm(procRoot, pid string) string {
	var buf [32]byte // comm is at most 16 bytes (TASK_COMM_LEN)
	n := readSmall(procRoot+"/"+pid+"/comm", buf[:])
	return strings.TrimSuffix(string(buf[:n]), "\n")
}

// readSmall reads up to len(buf) bytes of path with three system calls and
// no allocation; 0 when it cannot (the process exited meanwhile).
func readSmall(path string, buf []byte) int {
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return 0
	}
	defer syscall.Close(fd)
	n, err := syscall.Read(fd, buf)
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// StatusCred reads the effective uid and gid and the supplementary groups
// from /proc/PID/status.
func StatusCred(path string) (Cred, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Cred{}, err
	}
	var c Cred
	for _, line := range strings.Split(string(b), "\n") {
		key, val, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(val)
		switch key {
		case "Uid":
			if len(f) > 1 {
				c.UID, _ = strconv.Atoi(f[1])
			}
		case "Gid":
			if len(f) > 1 {
				c.GID, _ = strconv.Atoi(f[1])
			}
		case "Groups":
			for _, g := range f {
				if n, err := strconv.Atoi(g); err == nil {
					c.Groups = append(c.Groups, n)
				}
			}
		}
	}
	return c, nil
}
