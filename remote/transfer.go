package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pkg/sftp"
)

// Upload copies localPath to remotePath over SFTP, or with cat when the
// server has no SFTP subsystem, then sets mode. A transfer cut by a lost
// link is retried once on a fresh link (it is idempotent).
func (s *SSH) Upload(ctx context.Context, localPath, remotePath string, mode uint32) error {
	err := s.upload(ctx, localPath, remotePath, mode)
	if IsRetryable(err) {
		err = s.upload(ctx, localPath, remotePath, mode)
	}
	return err
}

func (s *SSH) upload(ctx context.Context, localPath, remotePath string, mode uint32) error {
	src, err := os.Open(localPath)
	if err != nil {
		return fmt.Errorf("upload %s to %s: %w", localPath, s.name, err)
	}
	defer src.Close()
	dst := remotePath
	c, err := s.sftpClient(ctx)
	if err != nil {
		return fmt.Errorf("upload %s to %s:%s: %w", localPath, s.name, remotePath, err)
	}
	if c != nil {
		s.setTransport("sftp")
		err = withContext(ctx, c, func() error {
			f, err := c.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC)
			if err != nil {
				return err
			}
			if _, err := f.ReadFrom(src); err != nil {
				f.Close()
				return err
			}
			if err := f.Chmod(os.FileMode(mode & 0o7777)); err != nil {
				f.Close()
				return err
			}
			return f.Close()
		})
		if err != nil {
			return fmt.Errorf("upload %s to %s:%s over sftp: %w", localPath, s.name, remotePath, s.classify(ctx, "upload", err))
		}
		return nil
	}
	s.setTransport("exec")
	stderr := newCapBuffer(64 << 10)
	cmd := "sh -c " + Quote(`cat > "$1" && chmod "$2" "$1"`) + " leakgate-upload " + QuoteArgv([]string{dst, strconv.FormatUint(uint64(mode&0o7777), 8)})
	status, err := s.exec(ctx, "upload", cmd, src, io.Discard, stderr, nil)
	if err != nil {
		return fmt.Errorf("upload %s to %s:%s: %w", localPath, s.name, remotePath, err)
	}
	if status != 0 {
		return fmt.Errorf("upload %s to %s:%s: exit status %d: %s", localPath, s.name, remotePath, status, strings.TrimSpace(string(stderr.Bytes())))
	}
	return nil
}

// Download copies remotePath into localDir under its base name, never
// outside localDir, over SFTP or with cat. A transfer cut by a lost link is
// retried once on a fresh link.
func (s *SSH) Download(ctx context.Context, remotePath, localDir string) (string, error) {
	out, err := s.download(ctx, remotePath, localDir)
	if IsRetryable(err) {
		out, err = s.download(ctx, remotePath, localDir)
	}
	return out, err
}

func (s *SSH) download(ctx context.Context, remotePath, localDir string) (string, error) {
	src := remotePath
	c, err := s.sftpClient(ctx)
	if err != nil {
		return "", fmt.Errorf("download %s:%s: %w", s.name, remotePath, err)
	}
	if c != nil {
		s.setTransport("sftp")
		var out string
		err := withContext(ctx, c, func() error {
			f, err := c.Open(src)
			if err != nil {
				return err
			}
			defer f.Close()
			out, err = writeDownload(remotePath, localDir, f)
			return err
		})
		if err != nil {
			return "", fmt.Errorf("download %s:%s over sftp: %w", s.name, remotePath, s.classify(ctx, "download", err))
		}
		return out, nil
	}
	if _, err := downloadName(remotePath); err != nil {
		return "", err
	}
	if fi, err := os.Stat(localDir); err != nil || !fi.IsDir() {
		return "", fmt.Errorf("download %s:%s: destination %s is not a folder", s.name, remotePath, localDir)
	}
	s.setTransport("exec")
	pr, pw := io.Pipe()
	stderr := newCapBuffer(64 << 10)
	type written struct {
		path string
		err  error
	}
	done := make(chan written, 1)
	go func() {
		p, err := writeDownload(remotePath, localDir, pr)
		pr.CloseWithError(err)
		done <- written{p, err}
	}()
	status, err := s.exec(ctx, "download", "cat -- "+Quote(src), nil, pw, stderr, nil)
	if err == nil && status != 0 {
		err = fmt.Errorf("exit status %d: %s", status, strings.TrimSpace(string(stderr.Bytes())))
	}
	pw.CloseWithError(err)
	w := <-done
	if err != nil {
		if w.err == nil {
			os.Remove(w.path)
		}
		return "", fmt.Errorf("download %s:%s: %w", s.name, remotePath, err)
	}
	if w.err != nil {
		return "", w.err
	}
	return w.path, nil
}

func (s *SSH) setTransport(t string) {
	s.mu.Lock()
	s.transport = t
	s.mu.Unlock()
}

// sftpClient returns the link's SFTP client, or nil when the server has no
// SFTP subsystem (or DisableSFTP is set): then transfers fall back to exec.
func (s *SSH) sftpClient(ctx context.Context) (*sftp.Client, error) {
	s.mu.Lock()
	noSFTP := s.noSFTP
	s.mu.Unlock()
	if s.opts.DisableSFTP || noSFTP {
		return nil, nil
	}
	l, err := s.ensure(ctx)
	if err != nil {
		return nil, err
	}
	l.sftpOnce.Do(func() {
		done := make(chan struct{})
		go func() {
			defer close(done)
			l.sftp, l.sftpErr = sftp.NewClient(l.client)
		}()
		select {
		case <-done:
		case <-ctx.Done():
			s.lost(l, "sftp", ctx.Err()) // closing the link ends NewClient
			<-done
			l.sftpErr = ctx.Err()
		}
	})
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if l.sftpErr == nil {
		return l.sftp, nil
	}
	// No subsystem, or a server that accepted it and then had nothing to
	// run: if the link still answers, fall back to exec.
	if !l.alive(5 * time.Second) {
		return nil, s.lost(l, "sftp", l.sftpErr)
	}
	s.mu.Lock()
	s.noSFTP = true // remembered across reconnects: the server will not grow one
	s.mu.Unlock()
	return nil, nil
}

// classify turns an SFTP failure into a LinkError when the link is gone.
func (s *SSH) classify(ctx context.Context, op string, err error) error {
	s.mu.Lock()
	l := s.link
	s.mu.Unlock()
	if l == nil {
		return err
	}
	if ctx.Err() != nil {
		// The SFTP client was closed to stop the transfer: start afresh next time.
		s.lost(l, op, ctx.Err())
		return ctx.Err()
	}
	if errors.Is(err, sftp.ErrSSHFxConnectionLost) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return s.lost(l, op, err)
	}
	return err
}

// withContext runs fn, closing the SFTP client if ctx ends first so fn
// returns promptly.
func withContext(ctx context.Context, c *sftp.Client, fn func() error) error {
	done := make(chan error, 1)
	go func() { done <- fn() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		c.Close()
		<-done
		return ctx.Err()
	}
}

// writeDownload writes r into localDir under the base name of remotePath.
// os.Root keeps every write inside localDir, whatever symlinks it holds.
func writeDownload(remotePath, localDir string, r io.Reader) (string, error) {
	name, err := downloadName(remotePath)
	if err != nil {
		return "", err
	}
	root, err := os.OpenRoot(localDir)
	if err != nil {
		return "", fmt.Errorf("download %s: open destination folder: %w", remotePath, err)
	}
	defer root.Close()
	if fi, err := root.Lstat(name); err == nil && !fi.Mode().IsRegular() {
		return "", fmt.Errorf("download %s: %s already exists in %s and is not a regular file; remove it", remotePath, name, localDir)
	}
	tmp := "." + name + ".partial"
	f, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|syscall.O_NOFOLLOW, 0o644)
	if err != nil {
		return "", fmt.Errorf("download %s into %s: %w", remotePath, localDir, err)
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		root.Remove(tmp)
		return "", fmt.Errorf("download %s into %s: %w", remotePath, localDir, err)
	}
	if err := f.Close(); err != nil {
		root.Remove(tmp)
		return "", fmt.Errorf("download %s into %s: %w", remotePath, localDir, err)
	}
	if err := root.Rename(tmp, name); err != nil {
		root.Remove(tmp)
		return "", fmt.Errorf("download %s into %s: %w", remotePath, localDir, err)
	}
	return filepath.Join(localDir, name), nil
}

// downloadName is the local file name for remotePath: its base name, which
// must be a plain name.
func downloadName(remotePath string) (string, error) {
	trimmed := strings.TrimRight(remotePath, "/")
	name := trimmed[strings.LastIndexByte(trimmed, '/')+1:]
	if name == "" || name == "." || name == ".." || strings.ContainsRune(name, 0) || strings.ContainsRune(name, '\\') {
		return "", fmt.Errorf("download %q: no usable file name in the path; name a file", remotePath)
	}
	return name, nil
}
