// Package repo reads configs kept in a repository that is not laid out
// like "/": fpmdoctor.yaml (or --map flags) mounts the repository's
// directories where the server has them (nginx/ → /etc/nginx), so that
// includes, links and socket paths resolve as in production. The result
// is a rootfs.Tree for the same offline Snapshot and checks that
// `diagnose --root` uses; Check runs them and maps findings back to the
// repository's files for SARIF and code-quality reports.
package repo

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// ConfigName is the file Load looks for in the checked directory.
const ConfigName = "fpmdoctor.yaml"

// maxConfigSize bounds fpmdoctor.yaml: it is a few lines; anything larger
// is not one.
const maxConfigSize = 1 << 20

// Config is fpmdoctor.yaml. Paths in it are relative to the file's
// directory (the repository); host paths are absolute.
type Config struct {
	// File is the config read, "" when there is none.
	File string
	// Root is a directory laid out like "/" ("" : the repository itself).
	Root string
	// Map mounts repository directories on host paths, in file order.
	Map []Mapping
	// NginxConf and FPMConfs name the main configs as host paths; empty
	// means the usual places, as diagnose looks.
	NginxConf string
	FPMConfs  []string
	// Memory is the RAM budget for PHP and WorkerMemory the size of one
	// worker, for memory-overcommit offline; 0 when not declared.
	Memory       uint64
	WorkerMemory uint64
	// FailOn is error, warning or never ("" : not set).
	FailOn string
}

// Mapping mounts the repository directory Repo at the host path Host.
// File and Line say where it was written (a flag: File "--map").
type Mapping struct {
	Repo, Host string
	File       string
	Line       int
}

// keys of fpmdoctor.yaml; anything else is an error, so that a typo does
// not silently check something else than meant.
var keys = []string{"root", "map", "nginx-conf", "fpm-conf", "memory", "worker-memory", "fail-on"}

// Error is a problem in fpmdoctor.yaml, at file:line.
type Error struct {
	File string
	Line int
	Msg  string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return e.File + ": " + e.Msg
}

// Load reads dir/fpmdoctor.yaml. A missing file is an empty Config.
func Load(dir string) (*Config, error) {
	file := filepath.Join(dir, ConfigName)
	f, err := os.Open(file)
	if errors.Is(err, os.ErrNotExist) {
		return &Config{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", file, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxConfigSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", file, err)
	}
	if len(data) > maxConfigSize {
		return nil, &Error{File: file, Msg: fmt.Sprintf("larger than %d bytes: not an fpmdoctor config", maxConfigSize)}
	}
	return Parse(file, data)
}

// Parse decodes fpmdoctor.yaml strictly: unknown keys, wrong types and
// bad values are errors at their line.
func Parse(file string, data []byte) (*Config, error) {
	c := &Config{File: file}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, yamlError(file, err)
	}
	if len(doc.Content) == 0 {
		return c, nil // empty file
	}
	top := doc.Content[0]
	if top.Kind != yaml.MappingNode {
		return nil, &Error{File: file, Line: top.Line, Msg: "want a mapping of keys (" + strings.Join(keys, ", ") + ")"}
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(top.Content); i += 2 {
		k, v := top.Content[i], top.Content[i+1]
		bad := func(msg string) error { return &Error{File: file, Line: v.Line, Msg: k.Value + ": " + msg} }
		if !slices.Contains(keys, k.Value) {
			return nil, &Error{File: file, Line: k.Line, Msg: fmt.Sprintf("unknown key %q (known: %s)", k.Value, strings.Join(keys, ", "))}
		}
		if seen[k.Value] {
			return nil, &Error{File: file, Line: k.Line, Msg: fmt.Sprintf("key %q given twice", k.Value)}
		}
		seen[k.Value] = true
		switch k.Value {
		case "root", "nginx-conf", "fail-on", "memory", "worker-memory":
			if v.Kind != yaml.ScalarNode || v.Tag == "!!null" {
				return nil, bad("want a single value")
			}
			switch k.Value {
			case "root":
				c.Root = v.Value
			case "nginx-conf":
				if !path.IsAbs(v.Value) {
					return nil, bad("want an absolute host path, like /etc/nginx/nginx.conf")
				}
				c.NginxConf = v.Value
			case "fail-on":
				if _, err := ParseFailOn(v.Value); err != nil {
					return nil, bad(err.Error())
				}
				c.FailOn = v.Value
			case "memory", "worker-memory":
				n, err := ParseSize(v.Value)
				if err != nil {
					return nil, bad(err.Error())
				}
				if k.Value == "memory" {
					c.Memory = n
				} else {
					c.WorkerMemory = n
				}
			}
		case "fpm-conf":
			var list []*yaml.Node
			switch v.Kind {
			case yaml.ScalarNode:
				list = []*yaml.Node{v}
			case yaml.SequenceNode:
				list = v.Content
			default:
				return nil, bad("want a host path or a list of them")
			}
			for _, e := range list {
				if e.Kind != yaml.ScalarNode || !path.IsAbs(e.Value) {
					return nil, &Error{File: file, Line: e.Line, Msg: "fpm-conf: want an absolute host path, like /etc/php/8.2/fpm/php-fpm.conf"}
				}
				c.FPMConfs = append(c.FPMConfs, e.Value)
			}
		case "map":
			if v.Kind != yaml.MappingNode {
				return nil, bad("want repository directories mapped to host paths, like nginx/: /etc/nginx")
			}
			for j := 0; j+1 < len(v.Content); j += 2 {
				rk, hv := v.Content[j], v.Content[j+1]
				if rk.Kind != yaml.ScalarNode || hv.Kind != yaml.ScalarNode {
					return nil, &Error{File: file, Line: rk.Line, Msg: "map: want repository directories mapped to host paths, like nginx/: /etc/nginx"}
				}
				c.Map = append(c.Map, Mapping{Repo: rk.Value, Host: hv.Value, File: file, Line: rk.Line})
			}
		}
	}
	return c, nil
}

// yamlError turns the YAML library's "yaml: line 3: …" into file:line.
func yamlError(file string, err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if n, tail, ok := strings.Cut(rest, ": "); ok {
			if line, err := strconv.Atoi(n); err == nil {
				return &Error{File: file, Line: line, Msg: tail}
			}
		}
	}
	return &Error{File: file, Msg: msg}
}

// ParseMapFlag reads --map REPO=HOST (nginx/=/etc/nginx).
func ParseMapFlag(s string) (Mapping, error) {
	r, h, ok := strings.Cut(s, "=")
	if !ok || r == "" || h == "" {
		return Mapping{}, fmt.Errorf("--map %q: want REPO_DIR=HOST_PATH, like nginx/=/etc/nginx", s)
	}
	return Mapping{Repo: r, Host: h, File: "--map"}, nil
}

// ParseMapFlags reads every --map flag, in order.
func ParseMapFlags(flags []string) ([]Mapping, error) {
	var out []Mapping
	for _, f := range flags {
		m, err := ParseMapFlag(f)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// FailOn is the least severe finding that fails the check.
type FailOn int

// The --fail-on levels.
const (
	FailOnError FailOn = iota
	FailOnWarning
	FailOnNever
)

// ParseFailOn reads --fail-on.
func ParseFailOn(s string) (FailOn, error) {
	switch s {
	case "error", "":
		return FailOnError, nil
	case "warning":
		return FailOnWarning, nil
	case "never":
		return FailOnNever, nil
	}
	return 0, fmt.Errorf("unknown fail-on level %q (want error, warning or never)", s)
}

// ParseSize reads a memory size: bytes, or a number with K, M, G, T
// (powers of 1024, as php.ini and tune write them), optionally with iB or
// B: 4GiB, 512M, 64MiB.
func ParseSize(s string) (uint64, error) {
	t := strings.TrimSpace(s)
	num := strings.TrimRightFunc(t, func(r rune) bool { return r < '0' || r > '9' })
	unit := strings.ToUpper(strings.TrimSpace(t[len(num):]))
	unit = strings.TrimSuffix(strings.TrimSuffix(unit, "B"), "I")
	n, err := strconv.ParseUint(num, 10, 64)
	if err != nil || num == "" {
		return 0, fmt.Errorf("size %q: want a number with an optional unit, like 4GiB or 512M", s)
	}
	shift := map[string]uint{"": 0, "K": 10, "M": 20, "G": 30, "T": 40}
	sh, ok := shift[unit]
	if !ok {
		return 0, fmt.Errorf("size %q: unknown unit (want K, M, G or T, with an optional iB)", s)
	}
	if n > (^uint64(0))>>sh {
		return 0, fmt.Errorf("size %q: too large", s)
	}
	if n == 0 {
		return 0, fmt.Errorf("size %q: must be more than 0", s)
	}
	return n << sh, nil
}
