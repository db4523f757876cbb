package repo

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/fpmdoctor/fpmdoctor/internal/report"
)

// maxArchive bounds what a base tree may unpack to: a repository of
// configs is megabytes; more is not one.
const maxArchive = 1 << 30

// CheckDiff checks the repository and reports only the findings that git
// revision ref did not have: ref's tree is unpacked (git archive) into a
// temporary directory, checked the same way, and every finding whose
// fingerprint (cause, repository file, directive text) it had is dropped.
// A repository with old debt can then gate only what a change adds.
func CheckDiff(ctx context.Context, o Options, ref string) (*Result, error) {
	head, err := Check(ctx, o)
	if err != nil {
		return nil, err
	}
	dir := o.Dir
	if dir == "" {
		dir = "."
	}
	top, err := git(ctx, dir, "rev-parse", "--show-toplevel")
	if err != nil {
		return nil, fmt.Errorf("--diff-base: %s is not in a git work tree: %w", dir, err)
	}
	prefix, err := git(ctx, dir, "rev-parse", "--show-prefix")
	if err != nil {
		return nil, fmt.Errorf("--diff-base: %w", err)
	}
	if _, err := git(ctx, dir, "rev-parse", "--verify", "--quiet", ref+"^{tree}"); err != nil {
		return nil, fmt.Errorf("--diff-base %s: no such revision in %s", ref, top)
	}
	tmp, err := os.MkdirTemp("", "fpmdoctor-base-")
	if err != nil {
		return nil, fmt.Errorf("--diff-base: %w", err)
	}
	defer os.RemoveAll(tmp)
	if err := unpack(ctx, top, ref, tmp); err != nil {
		return nil, fmt.Errorf("--diff-base %s: %w", ref, err)
	}
	bo := o
	bo.Dir = filepath.Join(tmp, filepath.FromSlash(prefix))
	if o.Root != "" {
		// A --root inside the repository is that directory of the base.
		abs, _ := filepath.Abs(o.Root)
		if rel, err := filepath.Rel(top, abs); err == nil && !strings.HasPrefix(rel, "..") {
			bo.Root = filepath.Join(tmp, rel)
		}
	}
	base, err := Check(ctx, bo)
	had := map[string]bool{}
	if err != nil {
		head.Report.Skip("diff-base", fmt.Sprintf("%s could not be checked (%v): every finding is reported", ref, err))
	} else {
		for _, p := range report.PlaceAll(base.Report, base.Repo) {
			had[p.Fingerprint] = true
		}
	}
	kept := head.Report.Findings[:0]
	dropped := 0
	for i, p := range report.PlaceAll(head.Report, head.Repo) {
		if had[p.Fingerprint] {
			dropped++
			continue
		}
		kept = append(kept, head.Report.Findings[i])
	}
	head.Report.Findings = kept
	if err == nil {
		head.Report.Skip("diff-base", fmt.Sprintf("%d findings that %s already had are not reported", dropped, ref))
	}
	return head, nil
}

func git(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", append([]string{"-C", dir}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			return "", fmt.Errorf("git %s: %s", args[0], msg)
		}
		return "", fmt.Errorf("git %s: %w", args[0], err)
	}
	return strings.TrimSpace(string(out)), nil
}

// unpack writes ref's tree into dst with git archive. Entries are
// checked: no absolute names, none leaving dst; links are written as they
// are (rootfs resolves them inside the tree, like the work tree's).
func unpack(ctx context.Context, top, ref, dst string) error {
	cmd := exec.CommandContext(ctx, "git", "-C", top, "archive", "--format=tar", ref)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("git archive: %w", err)
	}
	xerr := extract(tar.NewReader(out), dst)
	if xerr != nil {
		_, _ = io.Copy(io.Discard, out)
	}
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("git archive: %s: %w", strings.TrimSpace(stderr.String()), err)
	}
	return xerr
}

func extract(tr *tar.Reader, dst string) error {
	var total int64
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read archive: %w", err)
		}
		name := filepath.Clean(filepath.FromSlash(h.Name))
		if filepath.IsAbs(name) || name == ".." || strings.HasPrefix(name, "../") {
			return fmt.Errorf("archive entry %q leaves the tree", h.Name)
		}
		target := filepath.Join(dst, name)
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if total += h.Size; total > maxArchive {
				return fmt.Errorf("the tree is larger than %d bytes", maxArchive)
			}
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
			if err != nil {
				return err
			}
			_, err = io.Copy(f, io.LimitReader(tr, h.Size))
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		case tar.TypeSymlink:
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			if err := os.Symlink(h.Linkname, target); err != nil {
				return err
			}
		}
		// Other entries (the pax global header with the commit id) carry
		// nothing a config check reads.
	}
}
