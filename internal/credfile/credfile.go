// Package credfile keeps the credentials of a file (a mounted Secret) in
// use while the process runs: the receiver's webhook tokens and signing
// secrets, and the Ingresse API credentials, with one policy.
//
// A Secret volume is updated by writing a new directory and swapping a
// symlink to it, which an inotify watch on the file itself does not see;
// reading the path again and comparing a hash of its content does, and
// costs one small read each time.
//
// A content that is read and parses replaces the one in use, even when it
// holds no credential: emptying the Secret revokes every credential
// without a restart. A file that is missing, unreadable or refused by the
// parser keeps the last good content: a Secret being replaced, or a typo,
// must not lock anyone out.
package credfile

import (
	"crypto/sha256"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// File is a credentials file and the last good content read from it,
// parsed into a T.
type File[T any] struct {
	kind  string // what it holds, for errors: "token", "Ingresse credentials"
	path  string
	parse func(b []byte, now time.Time) (T, error)

	current atomic.Pointer[T] // nil before the first good read

	loading sync.Mutex // one reader of the file at a time

	mu       sync.Mutex // guards what follows
	sum      [sha256.Size]byte
	gen      uint64 // changes with each new content in use
	loadedAt time.Time
	readAt   time.Time
	ok       bool
}

// New is the file at path holding kind, parsed with parse, which may also
// refuse a content that parses but cannot serve (now is when it is read).
// Nothing is read until Load.
func New[T any](kind, path string, parse func(b []byte, now time.Time) (T, error)) *File[T] {
	return &File[T]{kind: kind, path: path, parse: parse}
}

// Path is the file's path.
func (f *File[T]) Path() string { return f.path }

// Current is the content in use and its generation, which changes with
// each new content; ok is false before the first good read.
func (f *File[T]) Current() (content T, gen uint64, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if p := f.current.Load(); p != nil {
		return *p, f.gen, true
	}
	return content, f.gen, false
}

// Get is the content in use without its generation, lock-free (a request
// path reads it); nil before the first good read.
func (f *File[T]) Get() *T { return f.current.Load() }

// Status is what the metrics of a file report.
type Status struct {
	// LoadedAt is when the content in use was read; zero before the
	// first good read.
	LoadedAt time.Time
	// ReadAt is when the file was last read, well or not.
	ReadAt time.Time
	// OK reports whether that last read gave a content in use.
	OK bool
}

// Status is the file's Status.
func (f *File[T]) Status() Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	return Status{LoadedAt: f.loadedAt, ReadAt: f.readAt, OK: f.ok}
}

// Load reads the file, and puts its content in use when it changed and
// parses. changed reports whether a new content was put in use; on any
// error the last good content stays. Errors name the path and the cause,
// never the content.
func (f *File[T]) Load(now time.Time) (changed bool, err error) {
	f.loading.Lock()
	defer f.loading.Unlock()
	return f.load(now)
}

// LoadIfDue is Load when interval has passed since the file was last read
// and no other caller is reading it; attempted says whether it read. A
// caller on a request path calls it on each request instead of running a
// goroutine.
func (f *File[T]) LoadIfDue(now time.Time, interval time.Duration) (attempted, changed bool, err error) {
	if !f.due(now, interval) || !f.loading.TryLock() {
		return false, false, nil
	}
	defer f.loading.Unlock()
	if !f.due(now, interval) { // another caller may have just read it
		return false, false, nil
	}
	changed, err = f.load(now)
	return true, changed, err
}

func (f *File[T]) due(now time.Time, interval time.Duration) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return now.Sub(f.readAt) >= interval
}

// load is Load, with f.loading held.
func (f *File[T]) load(now time.Time) (bool, error) {
	f.mu.Lock()
	f.readAt, f.ok = now, false
	same := f.current.Load() != nil
	sum := f.sum
	f.mu.Unlock()

	b, err := os.ReadFile(f.path)
	if err != nil {
		// An *os.PathError names the path and the cause, never the content.
		return false, fmt.Errorf("reading the %s file: %w", f.kind, err)
	}
	newSum := sha256.Sum256(b)
	if same && newSum == sum {
		f.mu.Lock()
		f.ok = true
		f.mu.Unlock()
		return false, nil
	}
	content, err := f.parse(b, now)
	if err != nil {
		return false, fmt.Errorf("parsing the %s file %s: %w", f.kind, f.path, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.current.Store(&content)
	f.sum, f.loadedAt, f.ok = newSum, now, true
	f.gen++
	return true, nil
}
