package host

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/fpmdoctor/fpmdoctor/internal/ident"
)

// Process is what fpmdoctor needs to know about one nginx or php-fpm
// process.
type Process struct {
	PID, PPID int
	// Title is the command line as the process shows it; both servers
	// rewrite it ("nginx: master process …", "php-fpm: pool www").
	Title string
	Args  []string
	Exe   string
	// UID, GID are effective ids; Groups the supplementary groups.
	UID, GID int
	Groups   []int
	Start    time.Time
}

// ShuttingDown: an nginx worker of the config before a reload, still
// finishing its requests ("nginx: worker process is shutting down").
func (p *Process) ShuttingDown() bool {
	return strings.HasSuffix(p.Title, "is shutting down")
}

// Role of a server process, read from its title.
type Role int

const (
	RoleOther Role = iota
	RoleNginxMaster
	RoleNginxWorker
	RoleFPMMaster
	RoleFPMWorker
)

// Role classifies p by its title.
func (p Process) Role() Role {
	switch {
	case strings.HasPrefix(p.Title, "nginx: master process"):
		return RoleNginxMaster
	case strings.HasPrefix(p.Title, ident.NginxWorkerTitle):
		return RoleNginxWorker
	case strings.HasPrefix(p.Title, "php-fpm: master process"):
		return RoleFPMMaster
	case strings.HasPrefix(p.Title, "php-fpm: pool "):
		return RoleFPMWorker
	}
	return RoleOther
}

// FPMConfig is the config path in a php-fpm master's title,
// "php-fpm: master process (/etc/php/8.2/fpm/php-fpm.conf)".
func (p Process) FPMConfig() string {
	t := p.Title
	i, j := strings.IndexByte(t, '('), strings.LastIndexByte(t, ')')
	if i < 0 || j <= i {
		return ""
	}
	return t[i+1 : j]
}

// FPMPool is the pool name in a php-fpm worker's title.
func (p Process) FPMPool() string {
	return strings.TrimSpace(strings.TrimPrefix(p.Title, "php-fpm: pool "))
}

// NginxArgs returns the -c and -p arguments of an nginx master's title,
// "nginx: master process /usr/sbin/nginx -c /etc/nginx/nginx.conf".
func (p Process) NginxArgs() (conf, prefix string) {
	f := strings.Fields(strings.TrimPrefix(p.Title, "nginx: master process"))
	for i := 0; i < len(f); i++ {
		switch {
		case f[i] == "-c" && i+1 < len(f):
			conf = f[i+1]
			i++
		case f[i] == "-p" && i+1 < len(f):
			prefix = f[i+1]
			i++
		case strings.HasPrefix(f[i], "-c") && len(f[i]) > 2:
			conf = f[i][2:]
		case strings.HasPrefix(f[i], "-p") && len(f[i]) > 2:
			prefix = f[i][2:]
		}
	}
	return conf, prefix
}

// readProcesses lists the nginx and php-fpm processes under procRoot. Other
// processes are skipped after reading only their title.
func readProcesses(ctx context.Context, procRoot string) ([]Process, error) {
	if _, err := os.Stat(procRoot); err != nil {
		return nil, fmt.Errorf("read %s: %w", procRoot, err)
	}
	procs, err := pids(procRoot)
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	boot, err := bootTime(procRoot)
	if err != nil {
		return nil, fmt.Errorf("read %s/stat: %w", procRoot, err)
	}
	var out []Process
	for _, pid := range procs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		// comm is the executable's name and survives the title rewrites
		// both servers do: reading it (16 bytes) first spares the full
		// command line of every other process on the host.
		if !serverComm(ident.Comm(procRoot, strconv.Itoa(pid))) {
			continue
		}
		args, err := nulList(procPath(procRoot, pid, "cmdline"))
		if err != nil || len(args) == 0 {
			continue // exited meanwhile, or a kernel thread
		}
		p := Process{PID: pid, Args: args, Title: strings.Join(args, " ")}
		if p.Role() == RoleOther {
			continue
		}
		if st, err := readProcStat(procPath(procRoot, pid, "stat")); err == nil {
			p.PPID = st.PPID
			// starttime is in clock ticks since boot; USER_HZ is 100 on Linux.
			p.Start = time.Unix(int64(boot), 0).Add(time.Duration(st.Starttime) * time.Second / 100)
		}
		p.Exe, _ = executable(procRoot, pid)
		if err := readIDs(filepath.Join(procRoot, strconv.Itoa(pid), "status"), &p); err != nil {
			continue
		}
		out = append(out, p)
	}
	return out, nil
}

// readIDs reads effective uid/gid and supplementary groups from
// /proc/PID/status (procfs does not expose Groups).
func readIDs(path string, p *Process) error {
	c, err := ident.StatusCred(path)
	if err != nil {
		return err
	}
	p.UID, p.GID, p.Groups = c.UID, c.GID, c.Groups
	return nil
}

// serverComm reports whether a process's comm can be nginx's or php-fpm's
// (nginx; php-fpm, php-fpm8.2, php-fpm7.4, …).
func serverComm(comm string) bool {
	return strings.HasPrefix(comm, "nginx") || strings.HasPrefix(comm, "php")
}

// Environ returns the environment process pid started with, as
// "KEY=value" strings (/proc/PID/environ): php-fpm expands ${VAR} in its
// config from it, and a restart must hand it on.
func Environ(pid int) ([]string, error) {
	b, err := os.ReadFile(procPath("/proc", pid, "environ"))
	if err != nil {
		return nil, err
	}
	env := strings.Split(string(b), "\x00")
	if env[len(env)-1] == "" {
		env = env[:len(env)-1]
	}
	return env, nil
}
